/**
 * The commands of `epochnexus`, in the order `epochnexus help` lists them. A new command (backup,
 * restore, export ...) is a file exporting a {@linkcode Command} and one line here.
 * @module
 */
import { VERSION } from "../core/mod.ts";
import { clusterCommand } from "./cluster_command.ts";
import type { Command } from "./command.ts";
import { importCommand } from "./import_command.ts";
import { backupCommand, exportCommand, restoreCommand } from "./ops_commands.ts";
import { queryCommand } from "./query_command.ts";
import { serveCommand } from "./serve_command.ts";
import { shellCommand } from "./shell_command.ts";
import { writeStdout } from "../runtime/mod.ts";
import { UsageError } from "./args.ts";

const versionCommand: Command = {
  name: "version",
  summary: "Print the version.",
  usage: "version",
  options: [],
  async run({ positional }) {
    if (positional.length > 0) throw new UsageError("version takes no arguments");
    await writeStdout(`epochnexus ${VERSION} (InfluxDB 1.x API compatible: 1.6.7)\n`);
    return 0;
  },
};

/** Every command. `help` is answered by main.ts. */
export const COMMANDS: readonly Command[] = [
  serveCommand,
  queryCommand,
  shellCommand,
  importCommand,
  exportCommand,
  backupCommand,
  restoreCommand,
  clusterCommand,
  versionCommand,
];
