/**
 * The data lifecycle commands, `export`, `backup` and `restore`. Each runs against a server's
 * HTTP API (`--url`, `--token` when authentication is on); paths are the caller's.
 * @module
 */
import { type OptionSpec, UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { runExport } from "./export_command.ts";
import { runBackup } from "./backup_command.ts";
import { runRestore } from "./restore_command.ts";
import { CONNECTION_OPTIONS } from "./query_command.ts";

const PROGRESS: OptionSpec = {
  name: "progress",
  value: "true|false",
  help: "show the progress bar",
  defaultText: "true when writing to a file",
};

function required(flags: Record<string, string>, name: string): string {
  const value = flags[name];
  if (value === undefined || value === "") throw new UsageError(`--${name} is required`);
  return value;
}

function positiveInt(flags: Record<string, string>, name: string): number | undefined {
  const text = flags[name];
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(`--${name} must be a positive integer, not ${text}`);
  }
  return n;
}

function bool(flags: Record<string, string>, name: string): boolean | undefined {
  const text = flags[name];
  if (text === undefined) return undefined;
  if (text !== "true" && text !== "false") {
    throw new UsageError(`--${name} must be true or false, not ${text}`);
  }
  return text === "true";
}

function noPositional(positional: string[]): void {
  if (positional.length > 0) throw new UsageError(`unexpected argument ${positional[0]}`);
}

/** `epochnexus export`. */
export const exportCommand: Command = {
  name: "export",
  summary: "Export a database as line protocol, CSV or NDJSON (reads back with import).",
  usage: "export --db NAME [options]",
  options: [
    ...CONNECTION_OPTIONS,
    { name: "db", value: "NAME", help: "the database" },
    { name: "rp", value: "NAME", help: "the retention policy", defaultText: "the default" },
    { name: "start", value: "TIME", help: "from this time (RFC3339 or integer ns)" },
    { name: "end", value: "TIME", help: "before this time (RFC3339 or integer ns)" },
    { name: "measurement", value: "M,...", help: "only these measurements, comma-separated" },
    { name: "format", value: "FORMAT", help: "lp, csv or ndjson", defaultText: "lp" },
    { name: "out", value: "FILE", help: "the file to write", defaultText: "stdout" },
    { name: "window-values", value: "N", help: "most values per window (server's default)" },
    PROGRESS,
  ],
  details: `examples:
  epochnexus export --db telegraf --out telegraf.lp
  epochnexus export --db telegraf --format csv --measurement cpu,mem --start 2024-01-01T00:00:00Z`,
  async run({ flags, positional }, context) {
    noPositional(positional);
    const format = flags.format ?? "lp";
    if (format !== "lp" && format !== "csv" && format !== "ndjson") {
      throw new UsageError(`--format must be lp, csv or ndjson, not ${format}`);
    }
    const out = flags.out;
    await runExport({
      url: flags.url ?? context.defaultUrl,
      db: required(flags, "db"),
      rp: flags.rp,
      start: flags.start,
      end: flags.end,
      measurements: flags.measurement?.split(",").filter((m) => m !== ""),
      format,
      out: out === undefined || out === "-" ? out : context.resolvePath(out),
      token: flags.token,
      windowValues: positiveInt(flags, "window-values"),
      progress: bool(flags, "progress"),
    });
    return 0;
  },
};

/** `epochnexus backup`. */
export const backupCommand: Command = {
  name: "backup",
  summary: "Back up a node or cluster, online, into a folder (incremental after the first).",
  usage: "backup --out DIR [options]",
  options: [
    ...CONNECTION_OPTIONS,
    { name: "out", value: "DIR", help: "the backup folder (later backups link what is unchanged)" },
    { name: "db", value: "NAME", help: "only this database", defaultText: "all" },
    { name: "since", value: "TIME", help: "only shard groups ending after this time" },
    PROGRESS,
  ],
  async run({ flags, positional }, context) {
    noPositional(positional);
    await runBackup({
      url: flags.url ?? context.defaultUrl,
      out: context.resolvePath(required(flags, "out")),
      databases: flags.db === undefined ? undefined : [flags.db],
      since: flags.since,
      token: flags.token,
      progress: bool(flags, "progress"),
    });
    return 0;
  },
};

/** `epochnexus restore`. */
export const restoreCommand: Command = {
  name: "restore",
  summary: "Restore a backup into a node or cluster, or one database under a new name.",
  usage: "restore --from DIR [options]",
  options: [
    ...CONNECTION_OPTIONS,
    { name: "from", value: "DIR", help: "the backup folder" },
    { name: "backup", value: "ID", help: "which backup of the folder", defaultText: "the newest" },
    { name: "db", value: "NAME", help: "only this database", defaultText: "all, with users" },
    { name: "newdb", value: "NAME", help: "restore --db under this name" },
    PROGRESS,
  ],
  details: "Exit code 1 when points were refused (beyond a retention policy's duration).",
  async run({ flags, positional }, context) {
    noPositional(positional);
    if (flags.newdb !== undefined && flags.db === undefined) {
      throw new UsageError("--newdb needs --db");
    }
    const summary = await runRestore({
      url: flags.url ?? context.defaultUrl,
      from: context.resolvePath(required(flags, "from")),
      backup: flags.backup,
      db: flags.db,
      newdb: flags.newdb,
      token: flags.token,
      progress: bool(flags, "progress"),
    });
    return summary.rejected > 0 ? 1 : 0;
  },
};
