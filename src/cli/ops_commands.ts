/**
 * The data lifecycle commands, `export`, `backup` and `restore`: their arguments and usage. Each
 * runs against a server's HTTP API (`--url`, `--token` when authentication is on).
 * @module
 */
import { EpochError } from "../core/mod.ts";
import { runExport } from "./export_command.ts";
import { runBackup } from "./backup_command.ts";
import { runRestore } from "./restore_command.ts";

/** Usage lines of these commands (also in `epochnexus help`). */
export const OPS_USAGE =
  `  epochnexus export --db NAME [--rp RP] [--start T] [--end T] [--measurement M]...
                    [--format lp|csv|ndjson] [--out FILE] [--url URL] [--token T]`;

/** Bad usage of an ops command (exit code 2, with the usage). */
export class OpsUsageError extends EpochError {
  constructor(message: string) {
    super("invalid_argument", message);
    this.name = "OpsUsageError";
  }
}

/** `--name value`, `--name=value` (a name may repeat) and positional arguments. */
export function parseFlags(
  args: readonly string[],
  known: readonly string[],
): { flags: Map<string, string[]>; positional: string[] } {
  const flags = new Map<string, string[]>();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("--")) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (!known.includes(name)) throw new OpsUsageError(`unknown option --${name}`);
    const value = eq >= 0 ? arg.slice(eq + 1) : args[++i];
    if (value === undefined) throw new OpsUsageError(`option --${name} needs a value`);
    flags.set(name, [...flags.get(name) ?? [], value]);
  }
  return { flags, positional };
}

function one(flags: Map<string, string[]>, name: string): string | undefined {
  const values = flags.get(name);
  if (values && values.length > 1) throw new OpsUsageError(`--${name} given more than once`);
  return values?.[0];
}

function required(flags: Map<string, string[]>, name: string): string {
  const value = one(flags, name);
  if (value === undefined || value === "") throw new OpsUsageError(`--${name} is required`);
  return value;
}

function positiveInt(flags: Map<string, string[]>, name: string): number | undefined {
  const text = one(flags, name);
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    throw new OpsUsageError(`--${name} must be a positive integer, not ${text}`);
  }
  return n;
}

function bool(flags: Map<string, string[]>, name: string): boolean | undefined {
  const text = one(flags, name);
  if (text === undefined) return undefined;
  if (text !== "true" && text !== "false") {
    throw new OpsUsageError(`--${name} must be true or false, not ${text}`);
  }
  return text === "true";
}

/**
 * Runs `export`, `backup` or `restore` with their arguments; resolves with the exit code.
 * @throws {OpsUsageError} for bad usage.
 */
export async function runOpsCommand(command: string, args: readonly string[]): Promise<number> {
  switch (command) {
    case "export": {
      const { flags, positional } = parseFlags(args, [
        "url",
        "db",
        "rp",
        "start",
        "end",
        "measurement",
        "format",
        "out",
        "token",
        "window-values",
        "progress",
      ]);
      if (positional.length > 0) throw new OpsUsageError(`unexpected argument ${positional[0]}`);
      const format = one(flags, "format") ?? "lp";
      if (format !== "lp" && format !== "csv" && format !== "ndjson") {
        throw new OpsUsageError(`--format must be lp, csv or ndjson, not ${format}`);
      }
      await runExport({
        url: one(flags, "url") ?? "http://localhost:8080",
        db: required(flags, "db"),
        rp: one(flags, "rp"),
        start: one(flags, "start"),
        end: one(flags, "end"),
        measurements: flags.get("measurement"),
        format,
        out: one(flags, "out"),
        token: one(flags, "token"),
        windowValues: positiveInt(flags, "window-values"),
        progress: bool(flags, "progress"),
      });
      return 0;
    }
    case "backup": {
      const { flags, positional } = parseFlags(args, [
        "url",
        "out",
        "db",
        "since",
        "token",
        "progress",
      ]);
      if (positional.length > 0) throw new OpsUsageError(`unexpected argument ${positional[0]}`);
      await runBackup({
        url: one(flags, "url") ?? "http://localhost:8080",
        out: required(flags, "out"),
        databases: flags.get("db"),
        since: one(flags, "since"),
        token: one(flags, "token"),
        progress: bool(flags, "progress"),
      });
      return 0;
    }
    case "restore": {
      const { flags, positional } = parseFlags(args, [
        "url",
        "from",
        "backup",
        "db",
        "newdb",
        "token",
        "progress",
      ]);
      if (positional.length > 0) throw new OpsUsageError(`unexpected argument ${positional[0]}`);
      const newdb = one(flags, "newdb");
      const db = one(flags, "db");
      if (newdb !== undefined && db === undefined) throw new OpsUsageError("--newdb needs --db");
      const summary = await runRestore({
        url: one(flags, "url") ?? "http://localhost:8080",
        from: required(flags, "from"),
        backup: one(flags, "backup"),
        db,
        newdb,
        token: one(flags, "token"),
        progress: bool(flags, "progress"),
      });
      return summary.rejected > 0 ? 1 : 0;
    }
    default:
      throw new OpsUsageError(`unknown command ${command}`);
  }
}
