/**
 * `epochnexus query "<statements>"`: runs InfluxQL against a server and prints the answer, as
 * tables by default. Without `--db` the server's default database is used.
 * @module
 */
import { writeStderr, writeStdout } from "../runtime/mod.ts";
import { UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { outputFormat, runStatements } from "./query_client.ts";

const EPOCHS = ["ns", "u", "ms", "s", "m", "h"];

/** Options the client commands share. */
export const CONNECTION_OPTIONS = [
  {
    name: "url",
    value: "URL",
    help: "the server",
    defaultText: "EPOCHNEXUS_BIND_ADDRESS's, else http://localhost:8080",
  },
  {
    name: "token",
    value: "TOKEN",
    help: "an API token, or user:password (with authentication on)",
  },
] as const;

/** The `query` command. */
export const queryCommand: Command = {
  name: "query",
  summary: "Run InfluxQL statements against a server and print the answer.",
  usage: 'query [options] "<statements>"',
  options: [
    ...CONNECTION_OPTIONS,
    { name: "db", value: "NAME", help: "the database", defaultText: "the server's default" },
    { name: "rp", value: "NAME", help: "the retention policy" },
    {
      name: "epoch",
      value: "UNIT",
      help: "times as integers in ns, u, ms, s, m or h (RFC3339 without)",
    },
    {
      name: "format",
      value: "FORMAT",
      help: "column (a table), json or csv",
      defaultText: "column",
    },
    { name: "pretty", switch: true, help: "indent the json format" },
  ],
  details: `examples:
  epochnexus query "SHOW DATABASES"
  epochnexus query "SELECT mean(usage) FROM cpu WHERE time > now() - 1h GROUP BY host" --db telegraf
  epochnexus query "SELECT * FROM cpu LIMIT 5" --format csv --epoch ms`,
  async run({ flags, positional }, context) {
    if (positional.length !== 1) {
      throw new UsageError('query takes one argument: the statements, quoted ("SELECT ...")');
    }
    const format = outputFormat(flags.format ?? "column");
    if (!format) throw new UsageError(`--format must be column, json or csv, not ${flags.format}`);
    if (flags.epoch && !EPOCHS.includes(flags.epoch)) {
      throw new UsageError(`--epoch must be one of ${EPOCHS.join(", ")}, not ${flags.epoch}`);
    }
    const outcome = await runStatements(positional[0], {
      url: flags.url ?? context.defaultUrl,
      db: flags.db,
      rp: flags.rp,
      epoch: flags.epoch,
      format,
      pretty: flags.pretty === "true",
      token: flags.token,
    });
    if (outcome.output) await writeStdout(outcome.output);
    if (outcome.errors) await writeStderr(outcome.errors);
    return outcome.code;
  },
};
