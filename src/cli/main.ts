/**
 * The `epochnexus` command.
 *
 * ```
 * epochnexus [serve] [--config FILE]        start a node (the default command)
 * epochnexus query "<statements>" [--url http://localhost:8080] [--db NAME]
 *                  [--epoch ns|u|ms|s|m|h] [--format table|json|csv] [--token T]
 * epochnexus import FILE... [--url URL] [--db NAME] [--format lp|csv|ndjson] [--precision P]
 *                  [--measurement M] [--tags a,b] [--types col:type,...] [--time-column C]
 *                  [--batch-points N] [--progress false]
 * epochnexus version
 * ```
 * @module
 */
import { EpochError } from "../core/mod.ts";
import { commandLineArgs, exit } from "../runtime/mod.ts";
import { runQueryCommand } from "./query_command.ts";
import { type ImportFormat, ImportUsageError, runImport } from "./import_command.ts";
import { configFromProcess, serve } from "./serve.ts";
import { OPS_USAGE, OpsUsageError, runOpsCommand } from "./ops_commands.ts";

const USAGE = `usage:
  epochnexus [serve] [--config FILE]
  epochnexus query "<statements>" [--url URL] [--db NAME] [--epoch UNIT] [--format table|json|csv]
                   [--token API_TOKEN|user:password]
  epochnexus import FILE...|- [--url URL] [--db NAME] [--format lp|csv|ndjson] [--precision P]
                    [--measurement M] [--tags a,b] [--types col:type,...] [--time-column C]
${OPS_USAGE}
  epochnexus version

environment: EPOCHNEXUS_DATA_DIR, EPOCHNEXUS_BIND_ADDRESS, EPOCHNEXUS_RAFT_ADDRESS,
             EPOCHNEXUS_JOIN_ADDRESS, EPOCHNEXUS_DEFAULT_DATABASE, EPOCHNEXUS_MAX_BODY_BYTES`;

/** Splits `--name value` / `--name=value` flags from positional arguments. */
export function parseArgs(
  args: string[],
  known: readonly string[],
): { flags: Record<string, string>; positional: string[] } {
  const flags: Record<string, string> = {};
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("--")) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (!known.includes(name)) throw new UsageError(`unknown option --${name}`);
    const value = eq >= 0 ? arg.slice(eq + 1) : args[++i];
    if (value === undefined) throw new UsageError(`option --${name} needs a value`);
    flags[name] = value;
  }
  return { flags, positional };
}

class UsageError extends Error {}

async function main(args: string[]): Promise<number> {
  const command = args[0] && !args[0].startsWith("--") ? args[0] : "serve";
  const rest = command === args[0] ? args.slice(1) : args;
  switch (command) {
    case "serve": {
      const { flags } = parseArgs(rest, ["config"]);
      await serve(await configFromProcess(flags.config));
      return 0;
    }
    case "query": {
      const { flags, positional } = parseArgs(rest, ["url", "db", "epoch", "format", "token"]);
      if (positional.length !== 1) throw new UsageError("query takes one argument: the statements");
      const format = (flags.format ?? "table") as "table" | "json" | "csv";
      if (!["table", "json", "csv"].includes(format)) {
        throw new UsageError(`--format must be table, json or csv, not ${flags.format}`);
      }
      return await runQueryCommand(positional[0], {
        url: flags.url ?? "http://localhost:8080",
        db: flags.db,
        epoch: flags.epoch,
        format,
        token: flags.token,
      });
    }
    case "import": {
      const { flags, positional } = parseArgs(rest, [
        "url",
        "db",
        "rp",
        "format",
        "precision",
        "measurement",
        "tags",
        "types",
        "time-column",
        "batch-points",
        "progress",
      ]);
      if (positional.length === 0) throw new UsageError("import needs at least one FILE (or -)");
      if (flags.format && !["lp", "csv", "ndjson"].includes(flags.format)) {
        throw new UsageError(`--format must be lp, csv or ndjson, not ${flags.format}`);
      }
      try {
        const summary = await runImport(positional, {
          url: flags.url ?? "http://localhost:8080",
          db: flags.db ?? "epochnexus",
          rp: flags.rp,
          format: flags.format as ImportFormat | undefined,
          precision: flags.precision,
          measurement: flags.measurement,
          tags: flags.tags?.split(",").filter((t) => t !== ""),
          types: flags.types,
          timeColumn: flags["time-column"],
          batchPoints: flags["batch-points"] ? Number(flags["batch-points"]) : undefined,
          progress: flags.progress !== "false",
        });
        return summary.rejected > 0 ? 1 : 0;
      } catch (error) {
        if (error instanceof ImportUsageError) throw new UsageError(error.message);
        throw error;
      }
    }
    case "export":
    case "backup":
    case "restore":
      try {
        return await runOpsCommand(command, rest);
      } catch (error) {
        if (error instanceof OpsUsageError) throw new UsageError(error.message);
        throw error;
      }
    case "version":
      console.log("epochnexus 0.1.0 (InfluxDB 1.x API compatible)");
      return 0;
    case "help":
      console.log(USAGE);
      return 0;
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

if (import.meta.main) {
  try {
    exit(await main(commandLineArgs()));
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`epochnexus: ${error.message}\n${USAGE}`);
      exit(2);
    }
    console.error(`epochnexus: ${error instanceof EpochError ? error.message : String(error)}`);
    exit(1);
  }
}
