/**
 * InfluxQL parse throughput (statements/s = 1e9 / ns per iteration for the one-statement
 * cases; the batch case parses 10 statements per iteration).
 */
import { parseQuery } from "../src/query/parser.ts";

const SIMPLE = "SELECT usage FROM cpu";
const GRAFANA =
  `SELECT mean("usage_idle") AS "idle" FROM "telegraf"."autogen"."cpu" WHERE ("host" =~ /^web-\\d+$/ AND "cpu" = 'cpu-total') AND time >= now() - 6h AND time <= now() GROUP BY time(1m), "host" fill(null) ORDER BY time DESC LIMIT 1000`;
const BATCH = Array.from(
  { length: 10 },
  (_, i) => `SELECT max(v${i}) - min(v${i}) FROM m${i} WHERE t = 'x' GROUP BY time(10s)`,
).join("; ");

Deno.bench("parse: SELECT usage FROM cpu", () => {
  parseQuery(SIMPLE);
});
Deno.bench("parse: Grafana-style mean() GROUP BY time, tag, regex", () => {
  parseQuery(GRAFANA);
});
Deno.bench("parse: 10 statements", () => {
  parseQuery(BATCH);
});
