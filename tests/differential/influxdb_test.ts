/**
 * Differential test: the same line protocol is written to InfluxDB 1.6.7 and to EpochNexus, then
 * the same queries are asked of both and the answers compared (status and JSON, exactly).
 * Requires `influxd` (installed by .ci/run): without it the test fails, it is never skipped.
 */
import assert from "node:assert/strict";
import { startInfluxd } from "../_influxd.ts";
import { parseExactJson, startServer } from "../_server.ts";

const DB = "diff";
const START_S = 1678838400; // 2023-03-15T00:00:00Z

/** Deterministic data: 3 hosts x 2 regions, floats, integers, strings, booleans, 2 hours at 1 min. */
function dataset(): string {
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const lines: string[] = [];
  for (let minute = 0; minute < 120; minute++) {
    for (const [host, region] of [["h1", "us-east"], ["h2", "us-east"], ["h3", "eu-west"]]) {
      if (host === "h3" && minute % 7 === 3) continue; // gaps, so fill() matters
      const t = (START_S + minute * 60).toString();
      const user = Math.round(random() * 10000) / 100;
      const system = Math.round(random() * 5000) / 100;
      const cores = 2 + Math.floor(random() * 6);
      const status = random() > 0.8 ? "degraded" : "ok";
      const up = random() > 0.1 ? "true" : "false";
      lines.push(
        `cpu,host=${host},region=${region} usage_user=${user},usage_system=${system},cores=${cores}i,status="${status}",up=${up} ${t}`,
      );
    }
    if (minute % 10 === 0) {
      lines.push(
        `mem,host=h1 used=${minute * 1024}i,free=${1e6 - minute}i ${START_S + minute * 60}`,
      );
    }
  }
  return lines.join("\n");
}

const T0 = "'2023-03-15T00:00:00Z'";
const T1 = "'2023-03-15T01:00:00Z'";
const RANGE = `time >= ${T0} AND time < ${T1}`;
const RANGE2 = `time >= ${T0} AND time < '2023-03-15T02:00:00Z'`;

/** The queries the foundation covers. */
const QUERIES = [
  "SELECT * FROM cpu WHERE host = 'h1' LIMIT 5",
  "SELECT usage_user FROM cpu WHERE host = 'h2' AND time < '2023-03-15T00:10:00Z'",
  `SELECT usage_user, usage_system FROM cpu WHERE host =~ /h[12]/ AND ${RANGE} LIMIT 4`,
  `SELECT usage_user FROM cpu WHERE host !~ /h[12]/ AND ${RANGE} LIMIT 4`,
  `SELECT usage_user FROM cpu WHERE host != 'h1' AND ${RANGE} ORDER BY time DESC LIMIT 3 OFFSET 2`,
  "SELECT count(usage_user), sum(usage_user), mean(usage_user), min(usage_user), max(usage_user) FROM cpu",
  "SELECT first(usage_user), last(usage_user) FROM cpu",
  "SELECT min(usage_user) FROM cpu",
  "SELECT max(usage_user) FROM cpu WHERE host = 'h3'",
  "SELECT last(status) FROM cpu",
  "SELECT count(cores), sum(cores), mean(cores) FROM cpu",
  "SELECT count(up) FROM cpu",
  `SELECT mean(usage_user) FROM cpu WHERE ${RANGE} GROUP BY time(10m)`,
  `SELECT mean(usage_user) FROM cpu WHERE ${RANGE} GROUP BY time(10m, 5m)`,
  `SELECT mean(usage_user), max(usage_system) FROM cpu WHERE ${RANGE} GROUP BY time(15m), host`,
  `SELECT count(usage_user) FROM cpu WHERE host = 'h3' AND ${RANGE} GROUP BY time(2m)`,
  `SELECT mean(usage_user) FROM cpu WHERE host = 'h3' AND ${RANGE} GROUP BY time(2m) fill(none)`,
  `SELECT mean(usage_user) FROM cpu WHERE host = 'h3' AND ${RANGE} GROUP BY time(2m) fill(0)`,
  `SELECT mean(usage_user) FROM cpu WHERE host = 'h3' AND ${RANGE} GROUP BY time(2m) fill(previous)`,
  `SELECT mean(usage_user) FROM cpu WHERE host = 'h3' AND ${RANGE} GROUP BY time(2m) fill(linear)`,
  `SELECT mean(usage_user) FROM cpu WHERE host = 'h3' AND ${RANGE} GROUP BY time(2m) fill(null)`,
  "SELECT max(usage_user) FROM cpu GROUP BY host",
  "SELECT mean(usage_user) FROM cpu GROUP BY *",
  "SELECT usage_user * 2 + 1 AS x FROM cpu WHERE host = 'h1' LIMIT 5",
  "SELECT (usage_user - usage_system) / 2 FROM cpu WHERE host = 'h1' LIMIT 3",
  `SELECT * FROM cpu WHERE usage_user > 95 AND ${RANGE}`,
  `SELECT usage_user FROM cpu WHERE (host = 'h1' OR host = 'h3') AND usage_user < 10 AND ${RANGE}`,
  "SELECT usage_user FROM cpu WHERE time > 1678838400s + 119m",
  "SELECT used FROM mem WHERE time >= 1678838400000ms AND time <= 1678840200000ms",
  "SELECT used, free FROM mem",
  "SELECT mean(usage_user) FROM cpu WHERE time > now() - 1h",
  "SELECT count(usage_user) FROM cpu; SELECT count(used) FROM mem",
  "SELECT nosuchfield FROM cpu",
  "SELECT usage_user FROM nosuchmeasurement",
  "SELECT foo(usage_user) FROM cpu",
  "SELECT usage_user, mean(usage_user) FROM cpu",
  "SELECT FROM cpu",
  "SELECT usage_user FROM cpu WHERE",
  "SHOW DATABASES",
  "SHOW MEASUREMENTS",
  "SHOW TAG KEYS",
  "SHOW TAG KEYS FROM mem",
  'SHOW TAG VALUES WITH KEY = "host"',
  'SHOW TAG VALUES FROM cpu WITH KEY = "region"',
  "SHOW FIELD KEYS",
  "SHOW FIELD KEYS FROM cpu",
  // Ties and summation order: first/last with GROUP BY time break same-time ties by value;
  // float sums and means fold per-series partials in series-key order.
  `SELECT first(usage_user), last(usage_user) FROM cpu WHERE ${RANGE} GROUP BY time(30m)`,
  `SELECT sum(usage_user), mean(usage_system) FROM cpu WHERE ${RANGE} GROUP BY time(10m), host`,
  `SELECT sum(usage_system), mean(usage_user) FROM cpu WHERE ${RANGE} GROUP BY time(7m), region`,
  "SELECT sum(usage_user), mean(usage_user), mean(cores) FROM cpu GROUP BY region",
  // Issue 8: math functions on raw values and over aggregates.
  "SELECT abs(usage_user), sqrt(cores), pow(cores, 2), atan2(usage_user, cores), round(usage_user), log(usage_user, 2) FROM cpu WHERE host='h1' LIMIT 2",
  `SELECT round(mean(usage_user)) FROM cpu WHERE ${RANGE} GROUP BY time(10m)`,
  "SELECT round(mean(usage_user)) FROM cpu",
  "SELECT ceil(cores), floor(cores), exp(cores), ln(cores), log2(cores), log10(cores) FROM cpu WHERE host='h1' LIMIT 3",
  "SELECT sin(usage_user), cos(usage_user), tan(usage_user), asin(usage_user/100), acos(usage_user/100), atan(usage_user) FROM cpu WHERE host='h2' LIMIT 3",
  "SELECT abs(status) FROM cpu WHERE host='h1' LIMIT 1",
  "SELECT abs(*) FROM cpu WHERE host='h1' LIMIT 1",
  "SELECT sin(usage_user) + 1 FROM cpu LIMIT 1",
  "SELECT abs(usage_user, 2) FROM cpu",
  // Issue 8: multi-point selectors and aggregates.
  `SELECT top(usage_user, 3) FROM cpu WHERE ${RANGE} GROUP BY time(10m)`,
  `SELECT top(usage_user, host, 2), region FROM cpu WHERE ${RANGE}`,
  `SELECT bottom(cores, 3) FROM cpu WHERE ${RANGE}`,
  "SELECT bottom(usage_system, host, 3) FROM cpu",
  "SELECT top(usage_user, 5) FROM cpu GROUP BY host",
  `SELECT distinct(cores) FROM cpu WHERE ${RANGE} GROUP BY time(10m)`,
  "SELECT distinct(status) FROM cpu",
  "SELECT distinct(cores) FROM cpu GROUP BY host",
  "SELECT count(distinct(cores)) FROM cpu GROUP BY host",
  `SELECT count(distinct(status)) FROM cpu WHERE ${RANGE} GROUP BY time(10m)`,
  // sample() is random in InfluxDB: compared only where every point is returned.
  `SELECT sample(usage_user, 200) FROM cpu WHERE host = 'h1' AND ${RANGE} GROUP BY time(10m)`,
  `SELECT integral(usage_user, 1m) FROM cpu WHERE host = 'h3' AND ${RANGE} GROUP BY time(10m)`,
  "SELECT integral(cores, 1h) FROM cpu WHERE host = 'h1' AND time >= '2023-03-15T00:00:00Z' AND time < '2023-03-15T01:30:00Z' GROUP BY time(7m)",
  "SELECT integral(usage_user) FROM cpu WHERE host = 'h2'",
  "SELECT integral(status) FROM cpu",
  "SELECT percentile(usage_user, 50), host FROM cpu",
  `SELECT percentile(usage_user, 90) FROM cpu WHERE ${RANGE} GROUP BY time(10m)`,
  "SELECT top(usage_user) FROM cpu",
  "SELECT top(usage_user, 0) FROM cpu",
  "SELECT sample(usage_user, 0) FROM cpu",
  "SELECT distinct(usage_user), host FROM cpu",
  "SELECT max(usage_user), percentile(usage_user,10), host FROM cpu",
  "SELECT top(usage_user, 2), bottom(usage_user,2) FROM cpu",
  "SELECT max(usage_user) - min(usage_user) FROM cpu GROUP BY host",
  `SELECT median(usage_user), spread(usage_user) FROM cpu WHERE ${RANGE} GROUP BY time(10m), host`,
  // Issue 8: technical analysis (InfluxDB's gota algorithms, warm-up and hold periods).
  `SELECT exponential_moving_average(usage_user, 5) FROM cpu WHERE host='h1' AND ${RANGE}`,
  `SELECT exponential_moving_average(usage_user, 5, 2, 'simple') FROM cpu WHERE host='h1' AND ${RANGE}`,
  `SELECT double_exponential_moving_average(usage_user, 4) FROM cpu WHERE host='h1' AND ${RANGE}`,
  `SELECT double_exponential_moving_average(usage_user, 4, -1, 'simple') FROM cpu WHERE host='h1' AND ${RANGE}`,
  `SELECT triple_exponential_moving_average(usage_user, 3) FROM cpu WHERE host='h2' AND ${RANGE}`,
  `SELECT triple_exponential_moving_average(cores, 3, 0, 'simple') FROM cpu WHERE host='h2' AND ${RANGE}`,
  `SELECT relative_strength_index(usage_user, 5) FROM cpu WHERE host='h1' AND ${RANGE}`,
  `SELECT relative_strength_index(mean(usage_user), 3) FROM cpu WHERE ${RANGE} GROUP BY time(5m)`,
  `SELECT triple_exponential_derivative(usage_user, 3) FROM cpu WHERE host='h1' AND ${RANGE}`,
  `SELECT triple_exponential_derivative(usage_user, 3, -1, 'simple') FROM cpu WHERE host='h1' AND ${RANGE}`,
  `SELECT kaufmans_efficiency_ratio(usage_user, 5) FROM cpu WHERE host='h3' AND ${RANGE}`,
  `SELECT kaufmans_adaptive_moving_average(usage_user, 5) FROM cpu WHERE host='h3' AND ${RANGE}`,
  `SELECT chande_momentum_oscillator(usage_user, 5) FROM cpu WHERE host='h1' AND ${RANGE}`,
  `SELECT chande_momentum_oscillator(usage_user, 5, -1, 'exponential') FROM cpu WHERE host='h1' AND ${RANGE}`,
  `SELECT chande_momentum_oscillator(mean(usage_user), 4) FROM cpu WHERE ${RANGE} GROUP BY time(5m), host`,
  `SELECT exponential_moving_average(max(cores), 3) FROM cpu WHERE ${RANGE} GROUP BY time(10m)`,
  "SELECT exponential_moving_average(usage_user) FROM cpu",
  "SELECT exponential_moving_average(usage_user, 0) FROM cpu",
  "SELECT exponential_moving_average(usage_user, 2, 1, 'bogus') FROM cpu",
  "SELECT chande_momentum_oscillator(usage_user, 2, 1, 'bogus') FROM cpu",
  "SELECT kaufmans_efficiency_ratio(usage_user, 2, 1, 'simple') FROM cpu",
  "SELECT exponential_moving_average(usage_user, 2.5) FROM cpu",
  "SELECT exponential_moving_average(usage_user, 2, -2) FROM cpu",
  "SELECT exponential_moving_average(mean(usage_user), 2) FROM cpu",
  // Issue 8: holt_winters (Nelder-Mead fit replayed step for step).
  `SELECT holt_winters(mean(usage_user), 5, 4) FROM cpu WHERE ${RANGE2} GROUP BY time(10m)`,
  `SELECT holt_winters_with_fit(mean(usage_user), 3, 0) FROM cpu WHERE ${RANGE2} GROUP BY time(10m)`,
  "SELECT holt_winters(usage_user, 5, 4) FROM cpu",
  `SELECT holt_winters(mean(usage_user), 5) FROM cpu WHERE ${RANGE2} GROUP BY time(10m)`,
  `SELECT holt_winters(mean(usage_user), 5, 4), mean(usage_user) FROM cpu WHERE ${RANGE2} GROUP BY time(10m)`,
  `SELECT holt_winters(mean(usage_user), 2, 1) FROM cpu WHERE ${RANGE2} GROUP BY time(10m), host`,
  `SELECT holt_winters_with_fit(max(cores), 4, 3) FROM cpu WHERE host = 'h1' AND ${RANGE2} GROUP BY time(15m)`,
  `SELECT holt_winters(first(usage_system), 3, 2) FROM cpu WHERE host = 'h2' AND ${RANGE2} GROUP BY time(7m)`,
  "SELECT holt_winters(mean(usage_user), 5, 4) FROM cpu",
  // Issue 8: clauses — several measurements, regex and qualified sources, casts, bitwise.
  "SELECT * FROM cpu, mem WHERE host = 'h1' AND time < '2023-03-15T00:02:00Z'",
  "SELECT used, usage_user FROM mem, cpu WHERE host = 'h1' AND time < '2023-03-15T00:01:00Z'",
  `SELECT mean(*) FROM /c.*|m.*/ WHERE ${RANGE} GROUP BY time(30m)`,
  "SELECT count(usage_user) FROM diff.autogen.cpu",
  "SELECT count(usage_user) FROM diff..cpu",
  "SELECT count(usage_user) FROM autogen.cpu",
  "SELECT usage_user::float, cores::integer, host::tag, status::field FROM cpu WHERE host = 'h3' LIMIT 2",
  "SELECT usage_user::integer, cores::float FROM cpu WHERE host = 'h2' LIMIT 2",
  "SELECT status::integer, usage_user::string, up::boolean FROM cpu WHERE host='h1' LIMIT 2",
  "SELECT mean(usage_user::integer), sum(usage_user::integer) FROM cpu",
  "SELECT cores & 3, cores | 8, cores ^ 1, cores % 4 FROM cpu WHERE host='h1' LIMIT 3",
  "SELECT usage_user % 7 FROM cpu WHERE host='h1' LIMIT 3",
  "SELECT up & true, up | false, up ^ true FROM cpu WHERE host='h1' LIMIT 2",
  "SELECT mean(usage_user) FROM cpu GROUP BY /reg.*/",
  "SELECT max(usage_user) FROM cpu GROUP BY /.*/",
  // Issue 8: subqueries.
  `SELECT mean(x) FROM (SELECT usage_user AS x FROM cpu WHERE host = 'h2' AND ${RANGE})`,
  `SELECT max(m) FROM (SELECT mean(usage_user) AS m FROM cpu WHERE ${RANGE} GROUP BY time(10m), host) GROUP BY host`,
  `SELECT sum(c) FROM (SELECT count(usage_user) AS c FROM cpu WHERE ${RANGE} GROUP BY time(10m))`,
  `SELECT * FROM (SELECT usage_user, host FROM cpu WHERE ${RANGE}) WHERE usage_user > 95`,
  `SELECT mean(usage_user) FROM (SELECT usage_user FROM cpu WHERE ${RANGE} GROUP BY host) GROUP BY host`,
  `SELECT first(x), last(x) FROM (SELECT max(usage_user) AS x FROM cpu WHERE ${RANGE} GROUP BY time(5m))`,
  `SELECT max(s) FROM (SELECT usage_user + usage_system AS s FROM cpu WHERE host = 'h1') WHERE ${RANGE}`,
  `SELECT mean(d) FROM (SELECT derivative(mean(usage_user)) AS d FROM cpu WHERE ${RANGE} GROUP BY time(5m), host) GROUP BY host`,
  `SELECT count(m) FROM (SELECT max(x) AS m FROM (SELECT usage_user AS x FROM cpu WHERE ${RANGE} GROUP BY host) GROUP BY time(10m), host)`,
  // Issue 8: tz() — offsets in the time column, DST-correct day buckets (2023-03-12 in New York).
  `SELECT mean(usage_user) FROM cpu WHERE ${RANGE} GROUP BY time(20m) tz('America/New_York')`,
  "SELECT mean(usage_user) FROM cpu WHERE time >= '2023-03-11T00:00:00Z' AND time < '2023-03-16T00:00:00Z' GROUP BY time(1d) tz('America/New_York')",
  "SELECT mean(usage_user) FROM cpu WHERE time >= '2023-03-14T00:00:00Z' AND time < '2023-03-16T00:00:00Z' GROUP BY time(1d) tz('Europe/Paris')",
  "SELECT usage_user FROM cpu WHERE host='h1' LIMIT 2 tz('Asia/Kolkata')",
  "SELECT mean(usage_user) FROM cpu WHERE time >= '2023-03-14T00:00:00Z' AND time < '2023-03-16T00:00:00Z' GROUP BY time(1d) tz('Nowhere/City')",
  `SELECT derivative(mean(usage_user)) FROM cpu WHERE ${RANGE} GROUP BY time(10m) tz('America/Los_Angeles')`,
  "SELECT count(usage_user) FROM cpu WHERE time >= '2023-03-10T00:00:00Z' AND time < '2023-03-16T00:00:00Z' GROUP BY time(12h) tz('America/New_York')",
  "SELECT count(usage_user) FROM cpu WHERE time >= '2023-03-15T00:00:00Z' AND time < '2023-03-15T02:00:00Z' GROUP BY time(45m) tz('Asia/Kolkata')",
  "SELECT count(usage_user) FROM cpu WHERE time >= '2023-03-15T00:00:00Z' AND time < '2023-03-15T02:00:00Z' GROUP BY time(1h, 15m) tz('Asia/Kathmandu')",
  "SELECT max(usage_user) FROM cpu WHERE time >= '2023-03-15T00:00:00Z' AND time < '2023-03-15T02:00:00Z' tz('Europe/Berlin')",
  "SELECT count(usage_user) FROM cpu WHERE time >= '2023-03-15T00:00:00Z' AND time < '2023-03-15T02:00:00Z' GROUP BY time(1h) tz('UTC')",
  // Issue 8: more shapes — math around transformations, SLIMIT, nested aggregates.
  `SELECT abs(derivative(mean(usage_user))) FROM cpu WHERE ${RANGE} GROUP BY time(10m)`,
  `SELECT derivative(abs(usage_user)) FROM cpu WHERE host='h1' AND ${RANGE} LIMIT 3`,
  `SELECT mean(usage_user) * 2, max(cores) % 3 FROM cpu WHERE ${RANGE} GROUP BY time(20m)`,
  `SELECT mean(usage_user) FROM cpu WHERE ${RANGE} GROUP BY time(10m) SLIMIT 1`,
  `SELECT mean(usage_user) FROM cpu WHERE ${RANGE} GROUP BY time(10m), host SLIMIT 2 SOFFSET 1`,
  `SELECT count(usage_user) FROM cpu WHERE usage_user > 50 AND ${RANGE} GROUP BY time(20m)`,
  `SELECT top(usage_user, 2), host FROM cpu WHERE ${RANGE} GROUP BY time(30m)`,
  "SELECT sample(usage_user, 1000), region FROM cpu WHERE host = 'h1' AND time < '2023-03-15T00:03:00Z'",
  "SELECT distinct(host) FROM cpu",
  "SELECT count(distinct(host)) FROM cpu",
  `SELECT max(usage_user), min(usage_user) FROM cpu WHERE ${RANGE} GROUP BY time(30m)`,
  `SELECT first(status), last(up) FROM cpu WHERE ${RANGE} GROUP BY time(30m)`,
  `SELECT usage_user FROM cpu WHERE host = 'h1' AND ${RANGE} ORDER BY time DESC LIMIT 3`,
  `SELECT moving_average(mean(usage_user), 2) FROM cpu WHERE ${RANGE} GROUP BY time(10m)`,
  `SELECT cumulative_sum(count(usage_user)) FROM cpu WHERE ${RANGE} GROUP BY time(10m)`,
  `SELECT elapsed(usage_user, 1s) FROM cpu WHERE host='h3' AND ${RANGE} LIMIT 4`,
  `SELECT non_negative_difference(cores) FROM cpu WHERE host='h3' AND ${RANGE} LIMIT 5`,
  `SELECT median(cores) FROM cpu WHERE ${RANGE} GROUP BY time(15m), region`,
  `SELECT spread(cores), stddev(cores) FROM cpu WHERE ${RANGE} GROUP BY region`,
  "SELECT percentile(usage_user, 0), percentile(usage_user, 100) FROM cpu WHERE host='h1'",
  `SELECT integral(cores) FROM cpu WHERE host='h1' AND ${RANGE} GROUP BY time(20m)`,
  `SELECT sqrt(mean(usage_user)) + 1 FROM cpu WHERE ${RANGE} GROUP BY time(20m), host`,
  `SELECT pow(max(cores), 2) FROM cpu WHERE ${RANGE} GROUP BY time(20m)`,
  "SELECT ceil(usage_user) - floor(usage_user) FROM cpu WHERE host='h2' LIMIT 3",
  `SELECT round(holt_winters(mean(usage_user), 2, 0)) FROM cpu WHERE ${RANGE} GROUP BY time(10m)`,
  `SELECT derivative(mean(usage_user)) * 2 + 1 FROM cpu WHERE ${RANGE} GROUP BY time(10m)`,
  // Issue 8: argument errors, out-of-range percentiles.
  "SELECT derivative(usage_user, 1s, 2) FROM cpu",
  "SELECT elapsed(usage_user, 1s, 2) FROM cpu",
  "SELECT integral(usage_user, 1s, 2) FROM cpu",
  `SELECT exponential_moving_average(usage_user, 2, 1, 'simple', 4) FROM cpu`,
  "SELECT kaufmans_efficiency_ratio(usage_user, 2, 1, 3) FROM cpu",
  "SELECT top(usage_user, host) FROM cpu",
  "SELECT top(usage_user, 2.5) FROM cpu",
  `SELECT bottom(usage_user, 'x', 2) FROM cpu`,
  `SELECT holt_winters(mean(usage_user), 0, 1) FROM cpu WHERE time >= '2023-03-15T00:00:00Z' AND time < '2023-03-15T01:00:00Z' GROUP BY time(10m)`,
  `SELECT holt_winters(mean(usage_user), 2, -1) FROM cpu WHERE time >= '2023-03-15T00:00:00Z' AND time < '2023-03-15T01:00:00Z' GROUP BY time(10m)`,
  "SELECT holt_winters(mean(usage_user), 2, 1) FROM cpu",
  "SELECT sample(usage_user, 2.5) FROM cpu",
  "SELECT percentile(usage_user, 101) FROM cpu",
  "SELECT count(distinct(usage_user), 1) FROM cpu",
  "SELECT distinct(usage_user, 1) FROM cpu",
  "SELECT pow(usage_user) FROM cpu",
  "SELECT relative_strength_index(usage_user, 0) FROM cpu",
  "SELECT moving_average(usage_user, 0) FROM cpu",
  `SELECT percentile(usage_user, 0), percentile(usage_user, 100) FROM cpu WHERE host='h1'`,
  `SELECT percentile(usage_user, -5) FROM cpu WHERE time >= '2023-03-15T00:00:00Z' AND time < '2023-03-15T00:30:00Z' GROUP BY time(10m)`,
  // Issue 8: SHOW statements, cardinality, KILL QUERY; mode/stddev/integral edge cases.
  "SHOW SERIES CARDINALITY",
  "SHOW SERIES EXACT CARDINALITY",
  "SHOW MEASUREMENT CARDINALITY",
  "SHOW MEASUREMENT EXACT CARDINALITY",
  "SHOW TAG KEY CARDINALITY",
  "SHOW TAG KEY EXACT CARDINALITY",
  "SHOW TAG VALUES CARDINALITY WITH KEY = host",
  "SHOW TAG VALUES EXACT CARDINALITY WITH KEY = host",
  "SHOW FIELD KEY CARDINALITY",
  "SHOW FIELD KEY EXACT CARDINALITY",
  "SHOW SERIES EXACT CARDINALITY FROM cpu WHERE host='h1'",
  "KILL QUERY 999",
  "SHOW SERIES",
  "SHOW SERIES FROM cpu WHERE region='us-east' LIMIT 1",
  "SHOW MEASUREMENTS WITH MEASUREMENT =~ /c.*/ LIMIT 1",
  "SHOW MEASUREMENTS WHERE host = 'h2'",
  "SHOW TAG VALUES WITH KEY IN (host, region) WHERE host='h1'",
  "SHOW TAG VALUES WITH KEY =~ /reg.*/",
  "SHOW TAG VALUES FROM cpu WITH KEY != host",
  "SHOW RETENTION POLICIES",
  "SHOW SERIES FROM mem",
  "SHOW TAG KEY CARDINALITY FROM cpu",
  "DROP SERIES FROM cpu WHERE time > 0",
  `SELECT mode(cores) FROM cpu WHERE ${RANGE} GROUP BY time(10m), host`,
  `SELECT stddev(usage_user) FROM cpu WHERE ${RANGE} GROUP BY time(10m), host`,
  "SELECT mode(status), mode(up) FROM cpu GROUP BY host",
  `SELECT mode(cores) FROM cpu WHERE ${RANGE} GROUP BY time(20m)`,
  `SELECT percentile(cores, 30) FROM cpu WHERE ${RANGE} GROUP BY time(20m), host`,
  // Issue 8: SELECT ... INTO (last: it writes), then the written data read back.
  `SELECT mean(usage_user) INTO cpu_10m FROM cpu WHERE ${RANGE} GROUP BY time(10m), host`,
  "SELECT * FROM cpu_10m",
  "SELECT usage_user, host INTO diff.autogen.copy FROM cpu WHERE time < '2023-03-15T00:01:00Z'",
  "SELECT * FROM copy",
  `SELECT count(usage_user) INTO counts FROM cpu WHERE ${RANGE} GROUP BY time(30m)`,
  "SELECT * FROM counts",
  // Issue 8: retention policies and deletes through the storage engine (last: they change data).
  "CREATE RETENTION POLICY week ON diff DURATION 7d REPLICATION 1",
  "CREATE RETENTION POLICY month ON diff DURATION 30d REPLICATION 1 SHARD DURATION 2d",
  "SHOW RETENTION POLICIES",
  "ALTER RETENTION POLICY week ON diff DURATION 14d",
  "SHOW RETENTION POLICIES ON diff",
  "DROP RETENTION POLICY month ON diff",
  "SHOW RETENTION POLICIES",
  "CREATE RETENTION POLICY x ON nodb DURATION 1d REPLICATION 1",
  "DELETE FROM mem WHERE time < '2023-03-15T00:30:00Z'",
  "SELECT count(used) FROM mem",
  "DROP SERIES FROM cpu WHERE host = 'h3'",
  "SELECT count(usage_user) FROM cpu GROUP BY host",
  "SHOW SERIES",
  "DROP MEASUREMENT copy",
  "SHOW MEASUREMENTS",
  "DELETE WHERE host = 'h2'",
  "SELECT count(usage_user) FROM cpu GROUP BY host",
];

/**
 * Queries whose answers differ from influxd 1.6.7, each for a stated reason. They are compared
 * and counted (and printed) but do not fail the test.
 */
const DOCUMENTED_DIFFERENCES: { q: string; why: string }[] = [
  {
    q: "SELECT chande_momentum_oscillator(usage_user, 1) FROM cpu WHERE host = 'h1' LIMIT 3",
    why: "fix: influxd 1.6.7 panics (index out of range) on a period of 1; EpochNexus answers",
  },
  {
    q: `SELECT count(usage_user) FROM cpu WHERE ${RANGE} GROUP BY time(1mo)`,
    why: "deliberate extension: calendar buckets (InfluxDB answers 400 `invalid duration`)",
  },
  {
    q: `SELECT mean(x) FROM (SELECT usage_user AS x FROM cpu WHERE ${RANGE})`,
    why: "raw subquery rows of several series at equal times are read as parallel series, so " +
      "the float mean folds per-series partials: the last digit may differ (48.77654970760234 " +
      "for InfluxDB's ...32); with one series per time the answers are identical",
  },
  {
    q: "SELECT * FROM cpu, mem WHERE time < '2023-03-15T00:02:00Z'",
    why: "raw rows of equal time from several series without GROUP BY come in InfluxDB's merge " +
      "heap order, which depends on the query's shape (here h1, h3, h2); EpochNexus orders " +
      "them by series key, as InfluxDB does for the simple shapes",
  },
  {
    q: "SELECT mode(cores) FROM cpu GROUP BY host",
    why: "ties between equally frequent values are decided by Go's unstable sort; EpochNexus " +
      "replays it exactly for buckets of up to 12 points (insertion sort) but not the quicksort " +
      "partitioning of larger buckets",
  },
  {
    q: "SELECT percentile(cores, 50) FROM cpu WHERE host = 'h2'",
    why:
      "the same value, but among equal values the point (hence the time column) picked by Go's " +
      "unstable sort over more than 12 points",
  },
  {
    q: `SELECT integral(usage_user) FROM cpu WHERE ${RANGE}`,
    why: "across several series without GROUP BY, InfluxDB feeds points of equal time to the " +
      "trapezium rule in its merge heap's order, which is unspecified; EpochNexus orders them by " +
      "series key (per series, and per host with GROUP BY, answers are identical)",
  },
];

interface HttpRequest {
  params: Record<string, string>;
  method?: "GET" | "POST";
  accept?: string;
  /** POST the parameters as multipart/form-data rather than in the URL. */
  multipart?: boolean;
}

const Q1 = "SELECT usage_user, cores FROM cpu WHERE host = 'h1' LIMIT 3";
const Q2 = `SELECT mean(usage_user) FROM cpu WHERE ${RANGE} GROUP BY time(20m), host`;
const HTTP_REQUESTS: HttpRequest[] = [
  { params: { q: Q1, pretty: "true" } },
  { params: { q: Q2, pretty: "true" } },
  ...["ns", "n", "u", "µ", "ms", "s", "m", "h"].map((epoch) => ({ params: { q: Q1, epoch } })),
  { params: { q: `${Q1}; ${Q2}`, chunked: "true", chunk_size: "2" } },
  { params: { q: Q2, chunked: "true" } },
  { params: { q: "SELECT nope FROM", chunked: "true" } },
  { params: { q: Q1 }, multipart: true },
  { params: { q: Q1 }, accept: "application/csv" },
  { params: { q: `${Q2}; SHOW TAG KEYS; SELECT nope(x) FROM cpu` }, accept: "application/csv" },
  { params: { q: Q1, epoch: "s" }, accept: "application/csv" },
  { params: { q: "SHOW DATABASES" }, method: "POST" },
  { params: { q: "SELECT FROM cpu" } },
  { params: { q: "SELECT usage_user FROM cpu WHERE host = 'h1' AND" } },
  { params: { q: "SELEKT 1" } },
  { params: { q: "SHOW TAG VALUES FROM cpu" } },
  { params: { q: "SELECT * FROM cpu LIMIT x" } },
  { params: { q: "SELECT $x FROM cpu", params: '{"x": 1}' } },
  { params: { q: "SELECT usage_user FROM cpu WHERE host = $h LIMIT 2", params: '{"h": "h2"}' } },
  { params: { q: "SELECT usage_user FROM cpu WHERE host = $h LIMIT 2" } },
];

async function raw(url: string, r: HttpRequest) {
  const params = new URLSearchParams({ db: DB, ...r.params });
  const headers: Record<string, string> = {};
  if (r.accept) headers.accept = r.accept;
  let res: Response;
  if (r.multipart) {
    const form = new FormData();
    for (const [k, v] of params) form.set(k, v);
    res = await fetch(`${url}/query`, { method: "POST", body: form, headers });
  } else {
    res = await fetch(`${url}/query?${params}`, { method: r.method ?? "GET", headers });
  }
  return {
    status: res.status,
    type: res.headers.get("content-type"),
    body: await res.text(),
  };
}

async function ask(url: string, q: string, epoch?: string) {
  const params = new URLSearchParams({ db: DB, q });
  if (epoch) params.set("epoch", epoch);
  const r = await fetch(`${url}/query?${params}`);
  const text = await r.text();
  return { status: r.status, body: parseExactJson(text) };
}

Deno.test({
  name: "differential: EpochNexus answers as InfluxDB 1.6.7 does",
  async fn() {
    const influx = await startInfluxd();
    const nexus = await startServer({ env: { EPOCHNEXUS_DEFAULT_DATABASE: DB } });
    try {
      const lines = dataset();
      for (const url of [influx.url, nexus.url]) {
        const created = await fetch(`${url}/query`, {
          method: "POST",
          body: new URLSearchParams({ q: `CREATE DATABASE ${DB}` }),
        });
        assert.equal(created.status, 200, await created.text());
        const written = await fetch(`${url}/write?db=${DB}&precision=s`, {
          method: "POST",
          body: lines,
        });
        assert.equal(written.status, 204, await written.text());
      }
      const different: string[] = [];
      let compared = 0;
      // Documented differences first: the last queries of QUERIES change the data.
      let documented = 0;
      for (const { q, why } of DOCUMENTED_DIFFERENCES) {
        compared++;
        const expected = await ask(influx.url, q);
        const actual = await ask(nexus.url, q);
        if (JSON.stringify(expected, bigints) !== JSON.stringify(actual, bigints)) {
          documented++;
          console.log(`documented difference: ${q}\n  why: ${why}`);
        }
      }
      for (const q of QUERIES) {
        for (const epoch of [undefined, "ns"]) {
          compared++;
          const expected = await ask(influx.url, q, epoch);
          const actual = await ask(nexus.url, q, epoch);
          try {
            assert.deepEqual(actual, expected);
          } catch {
            different.push(
              `${q}${epoch ? ` (epoch=${epoch})` : ""}\n  influxdb:   ${
                JSON.stringify(expected, bigints)
              }\n  epochnexus: ${JSON.stringify(actual, bigints)}`,
            );
          }
        }
      }
      // The HTTP details of /query, byte for byte: pretty, every epoch, chunked, CSV, forms.
      for (const r of HTTP_REQUESTS) {
        compared++;
        const expected = await raw(influx.url, r);
        const actual = await raw(nexus.url, r);
        if (JSON.stringify(expected) !== JSON.stringify(actual)) {
          different.push(
            `HTTP ${JSON.stringify(r)}\n  influxdb:   ${JSON.stringify(expected)}\n  epochnexus: ${
              JSON.stringify(actual)
            }`,
          );
        }
      }
      console.log(
        `differential: ${compared} queries compared, ${
          compared - different.length - documented
        } identical, ${different.length + documented} different (${documented} documented)`,
      );
      assert.deepEqual(different, [], different.join("\n"));
    } finally {
      await nexus.stop();
      await influx.stop();
    }
  },
});

function bigints(_key: string, value: unknown) {
  return typeof value === "bigint" ? value.toString() : value;
}
