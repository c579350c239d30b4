/**
 * `epochnexus serve`: starts a node (see `serve.ts`), configured by `EPOCHNEXUS_*` variables
 * and an optional YAML file; runs until SIGINT or SIGTERM.
 * @module
 */
import { UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { configFromProcess, serve } from "./serve.ts";

/** The `serve` command. */
export const serveCommand: Command = {
  name: "serve",
  summary: "Start a node (a one-node cluster, or one joining others); stop it with Ctrl-C.",
  usage: "serve [--config FILE]",
  options: [
    {
      name: "config",
      value: "FILE",
      help: "a YAML configuration file; EPOCHNEXUS_* variables win over it",
    },
  ],
  details: `Every YAML key k is also the variable EPOCHNEXUS_<K>; the common ones:
  EPOCHNEXUS_DATA_DIR        data folder (/tmp/epochnexus_data)
  EPOCHNEXUS_BIND_ADDRESS    HTTP address (0.0.0.0:8080)
  EPOCHNEXUS_RAFT_ADDRESS    node-to-node address (0.0.0.0:9000)
  EPOCHNEXUS_JOIN_ADDRESS    a member's HTTP address, to join its cluster
  EPOCHNEXUS_ACCESS_LOG      a file (or stderr) for one JSON line per request
The README's Configuration section lists every key.`,
  async run({ flags, positional }, context) {
    if (positional.length > 0) {
      throw new UsageError(`serve takes no arguments, got ${JSON.stringify(positional[0])}`);
    }
    const path = flags.config === undefined ? undefined : context.resolvePath(flags.config);
    await serve(await configFromProcess(path));
    return 0;
  },
};
