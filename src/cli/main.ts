/**
 * The `epochnexus` command: `epochnexus <command> [options]`, the commands listed in
 * `commands.ts` (serve, query, shell, import, version). Without a command, or with `help`,
 * `--help` or `-h`, it prints the list; `epochnexus help <command>` and `<command> --help` print a
 * command's help. Exit codes: 0 done, 1 failed, 2 bad usage.
 * @module
 */
import { EpochError, VERSION } from "../core/mod.ts";
import {
  callerDirectory,
  commandLineArgs,
  environment,
  exit,
  writeStderr,
  writeStdout,
} from "../runtime/mod.ts";
import { parseArgs, UsageError } from "./args.ts";
import { type CliContext, type Command, commandHelp, defaultServerUrl } from "./command.ts";
import { COMMANDS } from "./commands.ts";

/** The list of commands (`epochnexus`, `epochnexus help`). */
export function generalHelp(commands: readonly Command[] = COMMANDS): string {
  const width = Math.max(...commands.map((c) => c.name.length), 4);
  return `epochnexus ${VERSION}: a time-series database (InfluxDB 1.x API compatible)

usage: epochnexus <command> [options]

commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join("\n")}
  ${"help".padEnd(width)}  This list, or a command's help: epochnexus help <command>

Every command takes --help (-h). Start a node with: epochnexus serve
`;
}

/** Runs the command line `args`; resolves with the exit code. */
export async function runCli(args: readonly string[], context: CliContext): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    const about = name === "help" ? rest[0] : undefined;
    if (about === undefined) {
      await writeStdout(generalHelp());
      return 0;
    }
    const command = COMMANDS.find((c) => c.name === about);
    if (!command) return await usage(`unknown command ${about}`);
    await writeStdout(commandHelp(command));
    return 0;
  }
  if (name === "--version" || name === "-V") return await run(COMMANDS, "version", [], context);
  if (name.startsWith("-")) {
    return await usage(
      `${name} before a command: the command comes first (epochnexus serve ${args.join(" ")})`,
    );
  }
  return await run(COMMANDS, name, rest, context);
}

async function run(
  commands: readonly Command[],
  name: string,
  args: readonly string[],
  context: CliContext,
): Promise<number> {
  const command = commands.find((c) => c.name === name);
  if (!command) return await usage(`unknown command ${name}`);
  try {
    const parsed = parseArgs(args, command.options);
    if (parsed.help) {
      await writeStdout(commandHelp(command));
      return 0;
    }
    return await command.run(parsed, context);
  } catch (error) {
    if (error instanceof UsageError) return await usage(error.message, command);
    throw error;
  }
}

async function usage(message: string, command?: Command): Promise<number> {
  await writeStderr(`epochnexus: ${message}\n\n${command ? commandHelp(command) : generalHelp()}`);
  return 2;
}

/**
 * The context of the real process: paths from the caller's folder, the server from the env.
 * Both are read when first used, so `query --url ...` runs with `--allow-net` alone.
 */
export function processContext(): CliContext {
  return {
    resolvePath: (path) =>
      path.startsWith("/") ? path : `${callerDirectory().replace(/\/+$/, "")}/${path}`,
    get defaultUrl() {
      return defaultServerUrl(environment(["EPOCHNEXUS_BIND_ADDRESS"]).EPOCHNEXUS_BIND_ADDRESS);
    },
  };
}

if (import.meta.main) {
  try {
    exit(await runCli(commandLineArgs(), processContext()));
  } catch (error) {
    await writeStderr(
      `epochnexus: ${error instanceof EpochError ? error.message : String(error)}\n`,
    );
    exit(1);
  }
}
