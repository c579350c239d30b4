/**
 * What every `epochnexus` command is: a name, a one-line summary, its usage and options (its
 * `--help` is built from them), and a `run` that returns the exit code. A new command is a file
 * exporting one {@linkcode Command} and a line in `commands.ts`.
 *
 * Exit codes: 0 done, 1 it failed (a statement, rejected points, a server error), 2 bad usage
 * (with the command's help on stderr).
 * @module
 */
import { optionsHelp, type OptionSpec, type ParsedArgs } from "./args.ts";

/** What a command may use of its surroundings (the runtime's, or a test's). */
export interface CliContext {
  /**
   * A path as the user typed it, made absolute against the directory they ran the command from
   * (`deno task` runs in the repository and names the caller's folder in `INIT_CWD`).
   */
  resolvePath(path: string): string;
  /** The server a client command talks to unless `--url` says: see {@linkcode defaultServerUrl}. */
  defaultUrl: string;
}

/** One command. */
export interface Command {
  name: string;
  /** One line for the list of commands. */
  summary: string;
  /** The usage line(s) after `epochnexus`, e.g. `query [options] "<statements>"`. */
  usage: string;
  /** More lines for `--help`, after the options (examples, notes). */
  details?: string;
  options: readonly OptionSpec[];
  /**
   * Runs with the arguments after the command's name, parsed by its `options` (`--help` is
   * answered before); resolves with the exit code.
   * @throws {UsageError} on bad usage (exit code 2, the command's help shown).
   */
  run(args: ParsedArgs, context: CliContext): Promise<number>;
}

/** The `--help` text of a command. */
export function commandHelp(command: Command): string {
  let text = `usage: epochnexus ${command.usage}\n\n${command.summary}\n\noptions:\n` +
    optionsHelp(command.options) + "\n";
  if (command.details) text += `\n${command.details.trimEnd()}\n`;
  return text;
}

/**
 * The server URL a client command defaults to: `EPOCHNEXUS_BIND_ADDRESS` when set (the address a
 * local node listens on; a wildcard host becomes `localhost`), else `http://localhost:8080`.
 */
export function defaultServerUrl(bindAddress: string | undefined): string {
  if (!bindAddress) return "http://localhost:8080";
  const colon = bindAddress.lastIndexOf(":");
  let host = bindAddress.slice(0, colon);
  const port = bindAddress.slice(colon + 1);
  if (host === "" || host === "0.0.0.0" || host === "[::]" || host === "::") host = "localhost";
  return `http://${host}:${port}`;
}
