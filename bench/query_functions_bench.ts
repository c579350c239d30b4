/**
 * Each InfluxQL function family over 1,000,000 points (10 series x 100,000 points, one every
 * second; a float field `v` and an integer field `n`), through the whole engine (plan, per-shard
 * partial states, merge, finish; no encoding). Columns are prebuilt typed arrays so the figures
 * are the query engine's, not a store's.
 *
 *   deno bench --allow-all bench/query_functions_bench.ts
 */
import { executeQuery } from "../src/query/executor.ts";
import type { FieldColumn, QueryStore, SeriesRef, ShardReader } from "../src/query/store.ts";
import { FieldType } from "../src/core/point.ts";

const SERIES = 10;
const POINTS = 100_000;
const START_MS = 1678886400000;
const RANGE = "time >= '2023-03-15T13:20:00Z' AND time < '2023-03-16T17:10:00Z'";

class ColumnStore implements QueryStore {
  readonly #shard: ShardReader;
  constructor() {
    const refs: SeriesRef[] = [];
    const cols = new Map<string, FieldColumn>();
    for (let s = 0; s < SERIES; s++) {
      const host = `h${s}`;
      refs.push({
        id: s,
        key: `cpu,host=${host}`,
        measurement: "cpu",
        tags: [{ key: "host", value: host }],
      });
      const timesMs = new Float64Array(POINTS);
      const v = new Float64Array(POINTS);
      const n: number[] = new Array(POINTS);
      for (let i = 0; i < POINTS; i++) {
        timesMs[i] = START_MS + i * 1000;
        v[i] = ((i * 7919 + s * 104729) % 10007) / 100;
        n[i] = (i * 31 + s) % 1000;
      }
      const timesSubMs = new Float64Array(POINTS);
      cols.set(`${s}v`, { type: FieldType.Float, length: POINTS, timesMs, timesSubMs, values: v });
      cols.set(`${s}n`, {
        type: FieldType.Integer,
        length: POINTS,
        timesMs,
        timesSubMs,
        values: n,
      });
    }
    this.#shard = {
      measurements: () => ["cpu"],
      series: () => refs,
      fieldTypes: () => new Map([["v", FieldType.Float], ["n", FieldType.Integer]]),
      readField: (ref, field) => Promise.resolve(cols.get(`${ref.id}${field}`)),
    };
  }
  databases = () => ["db"];
  createDatabase = () => Promise.resolve();
  dropDatabase = () => Promise.resolve();
  retentionPolicies = () => [{
    name: "autogen",
    durationNs: 0n,
    shardGroupDurationNs: 604_800_000_000_000n,
    replicaN: 1,
    isDefault: true,
  }];
  defaultRetentionPolicy = () => "autogen";
  shards = () => [this.#shard];
}

const store = new ColumnStore();
const NOW = 1764000000000000000n;

async function run(q: string): Promise<void> {
  const r = await executeQuery(store, q, { database: "db", nowNs: NOW });
  if (r[0].error) throw new Error(`${q}: ${r[0].error}`);
}

const CASES: [string, string][] = [
  ["aggregates: count, sum, mean (1M points)", "SELECT count(v), sum(v), mean(v) FROM cpu"],
  ["aggregates: median, stddev, spread", "SELECT median(v), stddev(v), spread(v) FROM cpu"],
  ["aggregates: mode, count(distinct), distinct", "SELECT mode(n), count(distinct(n)) FROM cpu"],
  ["aggregates: integral", "SELECT integral(v) FROM cpu"],
  [
    "aggregates: mean GROUP BY time(1m), host",
    `SELECT mean(v) FROM cpu WHERE ${RANGE} GROUP BY time(1m), host`,
  ],
  ["selectors: first, last, min, max", "SELECT first(v), last(v), min(v), max(v) FROM cpu"],
  ["selectors: percentile(v, 95)", "SELECT percentile(v, 95) FROM cpu"],
  ["selectors: top(v, 10), bottom(v, 10)", "SELECT top(v, 10) FROM cpu"],
  ["selectors: sample(v, 100)", "SELECT sample(v, 100) FROM cpu"],
  ["transformations: derivative(v, 1s) raw", "SELECT derivative(v, 1s) FROM cpu"],
  ["transformations: moving_average(v, 10) raw", "SELECT moving_average(v, 10) FROM cpu"],
  ["transformations: cumulative_sum(n) raw", "SELECT cumulative_sum(n) FROM cpu"],
  ["math: sqrt(v) raw", "SELECT sqrt(v) FROM cpu"],
  [
    "math: round(mean(v)) GROUP BY time(1m)",
    `SELECT round(mean(v)) FROM cpu WHERE ${RANGE} GROUP BY time(1m)`,
  ],
  [
    "technical: exponential_moving_average(v, 20) raw",
    "SELECT exponential_moving_average(v, 20) FROM cpu",
  ],
  [
    "technical: relative_strength_index(v, 14) raw",
    "SELECT relative_strength_index(v, 14) FROM cpu",
  ],
  [
    "predictors: holt_winters(mean(v), 10, 4) GROUP BY time(10m)",
    `SELECT holt_winters(mean(v), 10, 4) FROM cpu WHERE ${RANGE} GROUP BY time(10m)`,
  ],
];

for (const [name, q] of CASES) {
  Deno.bench({
    name,
    n: 3,
    warmup: 1,
    async fn() {
      await run(q);
    },
  });
}
