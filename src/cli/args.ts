/**
 * Command-line arguments: `--name value`, `--name=value`, boolean switches (`--pretty`), `-h`
 * and `--help` on every command, and `--` to end the options (so a statement may start with a
 * dash). Unknown options are usage errors naming the option.
 * @module
 */

/** An option a command takes. */
export interface OptionSpec {
  name: string;
  /** One letter after a single dash. */
  short?: string;
  /** A switch takes no value (`--pretty`); others take the next word or `=value`. */
  switch?: boolean;
  /** Placeholder of the value in the help (`URL`, `NAME`). */
  value?: string;
  /** One line for the help. */
  help: string;
  /** The default, shown in the help. */
  defaultText?: string;
}

/** Parsed arguments. */
export interface ParsedArgs {
  /** Option values by name; switches are `"true"`. */
  flags: Record<string, string>;
  positional: string[];
  /** `-h` or `--help` was given. */
  help: boolean;
}

/** Bad usage: exit code 2, and the command's help. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Splits options from positional arguments (see the module doc). */
export function parseArgs(args: readonly string[], options: readonly OptionSpec[]): ParsedArgs {
  const flags: Record<string, string> = {};
  const positional: string[] = [];
  let help = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (arg === "-h" || arg === "--help") {
      help = true;
      continue;
    }
    // A lone "-" is stdin, and "-5" a number: positional.
    if (arg === "-" || !arg.startsWith("-") || /^-\d/.test(arg)) {
      positional.push(arg);
      continue;
    }
    let spec: OptionSpec | undefined;
    let value: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      spec = options.find((o) => o.name === name);
      if (!spec) throw new UsageError(`unknown option --${name}`);
      if (eq >= 0) value = arg.slice(eq + 1);
    } else {
      const letter = arg.slice(1);
      spec = options.find((o) => o.short === letter);
      if (!spec) throw new UsageError(`unknown option ${arg}`);
    }
    if (spec.switch) {
      if (value !== undefined && value !== "true" && value !== "false") {
        throw new UsageError(`option --${spec.name} is a switch: give it alone, or =true/=false`);
      }
      flags[spec.name] = value ?? "true";
      continue;
    }
    if (value === undefined) {
      value = args[++i];
      if (value === undefined) throw new UsageError(`option --${spec.name} needs a value`);
    }
    flags[spec.name] = value;
  }
  return { flags, positional, help };
}

/** The options' lines of a help text, aligned. */
export function optionsHelp(options: readonly OptionSpec[]): string {
  const all: OptionSpec[] = [...options, {
    name: "help",
    short: "h",
    switch: true,
    help: "this help",
  }];
  const heads = all.map((o) =>
    `${o.short ? `-${o.short}, ` : "    "}--${o.name}${o.switch ? "" : ` ${o.value ?? "VALUE"}`}`
  );
  const width = Math.max(...heads.map((h) => h.length));
  return all.map((o, i) =>
    `  ${heads[i].padEnd(width)}  ${o.help}${o.defaultText ? ` (default: ${o.defaultText})` : ""}`
  ).join("\n");
}
