/**
 * Tag predicates and per-series cost through the real storage engine and executor:
 * - `WHERE hostname = 'host_7'` over 100,000 series (an index lookup, or a scan of every series);
 * - TSBS double-groupby-1 and lastpoint over 20,000 series x 6 points x 10 fields
 *   (high cardinality: the per-series overhead dominates).
 * Both data sets are asked in the head and again after a flush to segments.
 *
 * Run: deno bench --allow-all bench/series_index_bench.ts
 */
import { type Clock, FieldType, type Point, silentLogger } from "../src/core/mod.ts";
import { denoFileSystem } from "../src/runtime/mod.ts";
import { StorageEngine } from "../src/storage/mod.ts";
import { executeQuery } from "../src/query/executor.ts";
import { CPU_FIELDS, START_SECONDS } from "./peers/workload.ts";

const START_MS = START_SECONDS * 1000;
const FIELDS = CPU_FIELDS;
const REGIONS = ["us-east-1", "us-west-1", "eu-west-1", "ap-southeast-1"];

const clock: Clock = {
  nowMs: () => START_MS + 3_600_000,
  nowNanos: () => BigInt(START_MS + 3_600_000) * 1_000_000n,
  monotonicMs: () => 0,
};

function tagsOf(h: number) {
  return [
    { key: "arch", value: h % 2 === 0 ? "x64" : "x86" },
    { key: "datacenter", value: `dc_${h % 30}` },
    { key: "hostname", value: `host_${h}` },
    { key: "rack", value: String(h % 100) },
    { key: "region", value: REGIONS[h % REGIONS.length] },
  ];
}

/** An engine holding `hosts` series of `points` points with `fields` fields each. */
async function load(hosts: number, points: number, fields: number, flushed: boolean) {
  const dir = await Deno.makeTempDir({ prefix: "series_index_bench_" });
  const engine = await StorageEngine.open({
    dir,
    fs: denoFileSystem,
    clock,
    logger: silentLogger,
    maintenanceIntervalMs: 0,
    maxSeriesPerDatabase: 0,
    maxValuesPerTag: 0,
  });
  await engine.createDatabase("db");
  let seed = 1;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  for (let from = 0; from < hosts; from += 5000) {
    const batch: Point[] = [];
    for (let h = from; h < Math.min(hosts, from + 5000); h++) {
      const tags = tagsOf(h);
      for (let i = 0; i < points; i++) {
        batch.push({
          measurement: "cpu",
          tags,
          fields: FIELDS.slice(0, fields).map((key) => ({
            key,
            type: FieldType.Float,
            value: random() * 100,
          })),
          timeMs: START_MS + i * 10_000,
          timeSubMs: 0,
        });
      }
    }
    await engine.write("db", undefined, batch);
  }
  if (flushed) await engine.flush();
  const close = async () => {
    await engine.close();
    await Deno.remove(dir, { recursive: true });
  };
  return { engine, close };
}

const options = { database: "db", nowNs: BigInt(START_MS + 3_600_000) * 1_000_000n };
const RANGE = `time >= '2023-01-01T00:00:00Z' AND time < '2023-01-01T12:00:00Z'`;
const QUERIES = {
  host: `SELECT mean(usage_user) FROM cpu WHERE hostname = 'host_7' AND ${RANGE}`,
  doubleGroupby: `SELECT mean(usage_user) FROM cpu WHERE ${RANGE} GROUP BY time(1h), hostname`,
  lastpoint: `SELECT last(*) FROM cpu GROUP BY hostname`,
};

// A fixed count: a full scan of 100k series takes seconds, and the machine is shared.
const RUNS = { n: 10, warmup: 2 };

const wide = await load(100_000, 1, 1, false);
const wideFlushed = await load(100_000, 1, 1, true);
const high = await load(20_000, 6, 10, false);
const highFlushed = await load(20_000, 6, 10, true);

// The first query builds the shard's index; the benches measure steady state.
for (const s of [wide, wideFlushed, high, highFlushed]) {
  await executeQuery(s.engine, QUERIES.host, options);
}

for (const [name, s] of [["head", wide], ["segments", wideFlushed]] as const) {
  Deno.bench(
    `hostname='host_7' over 100k series (${name})`,
    { group: "host", ...RUNS },
    async () => {
      await executeQuery(s.engine, QUERIES.host, options);
    },
  );
}
for (const [name, s] of [["head", high], ["segments", highFlushed]] as const) {
  Deno.bench(`double-groupby-1, 20k series x 6 (${name})`, { group: "dgb", ...RUNS }, async () => {
    await executeQuery(s.engine, QUERIES.doubleGroupby, options);
  });
  Deno.bench(
    `lastpoint, 20k series x 6 x 10 fields (${name})`,
    { group: "last", ...RUNS },
    async () => {
      await executeQuery(s.engine, QUERIES.lastpoint, options);
    },
  );
}

globalThis.addEventListener("unload", () => {
  for (const s of [wide, wideFlushed, high, highFlushed]) s.close();
});
