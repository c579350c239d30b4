/**
 * The cold tier on the storage benches' workload (bench/storage_data.ts: TSBS-like cpu, 100
 * hosts × 10 float fields, one point per 10 s, HOURS hours, 1 h shard groups): bytes per value
 * hot (compacted segments) and cold (DEFLATE cold segments, COLD_BLOCK_VALUES values per block),
 * and query latency over the same data hot and cold, on a folder store and on s3rver (loopback,
 * in-process). Every query's answer is checked identical hot and cold.
 *
 *   deno run -A bench/cold_tier_bench.ts   # HOURS=6 STORES=dir,s3 WORKLOADS=full,rounded RUNS=5
 *
 * Latency: `first` is the first run (empty block caches: blocks fetched and inflated), `median`
 * of RUNS runs after it (the cold tier's own block cache, `coldBlockCacheValues`, warm).
 * @module
 */
import S3rver from "s3rver";
import { type Point, silentLogger } from "../src/core/mod.ts";
import { executeQuery } from "../src/query/executor.ts";
import { denoFileSystem, systemClock } from "../src/runtime/mod.ts";
import { type ColdStore, DirColdStore, S3ColdStore, StorageEngine } from "../src/storage/mod.ts";
import { cpuData, FIELDS, HOURS, START_MS } from "./storage_data.ts";

const STORES = (Deno.env.get("STORES") ?? "dir,s3").split(",");
/**
 * `full`: the storage benches' full-precision random walks; `rounded`: the same values with two
 * decimals, as most collectors report percentages.
 */
const WORKLOADS = (Deno.env.get("WORKLOADS") ?? "full,rounded").split(",");
const RUNS = Number(Deno.env.get("RUNS") ?? "5");
const HOUR_NS = 3_600_000_000_000n;
const END_MS = START_MS + HOURS * 3_600_000;
const RANGE = `time >= ${START_MS}ms AND time < ${END_MS}ms`;

const QUERIES: [string, string][] = [
  ["one series raw, 1 field", `SELECT usage_user FROM cpu WHERE hostname = 'host_7' AND ${RANGE}`],
  [
    "one series, max per 10m",
    `SELECT max(usage_idle) FROM cpu WHERE hostname = 'host_3' AND ${RANGE} GROUP BY time(10m)`,
  ],
  [
    "all series, mean per 1h",
    `SELECT mean(usage_user) FROM cpu WHERE ${RANGE} GROUP BY time(1h)`,
  ],
  [
    "all series, p99 per 1h (every block)",
    `SELECT percentile(usage_system, 99) FROM cpu WHERE ${RANGE} GROUP BY time(1h)`,
  ],
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function run(engine: StorageEngine, q: string): Promise<{ ms: number; answer: string }> {
  const t = performance.now();
  const result = await executeQuery(engine, q, {
    database: "bench",
    nowNs: BigInt(END_MS) * 1_000_000n,
  });
  const ms = performance.now() - t;
  return { ms, answer: JSON.stringify(result, (_k, v) => typeof v === "bigint" ? `${v}` : v) };
}

async function latencies(
  engine: StorageEngine,
): Promise<Map<string, { first: number; median: number; answer: string }>> {
  const out = new Map();
  for (const [name, q] of QUERIES) {
    const first = await run(engine, q);
    const ms: number[] = [];
    for (let i = 0; i < RUNS; i++) ms.push((await run(engine, q)).ms);
    out.set(name, { first: first.ms, median: median(ms), answer: first.answer });
  }
  return out;
}

async function startS3(): Promise<{ store: ColdStore; close: () => Promise<void> }> {
  const directory = await Deno.makeTempDir({ prefix: "epochnexus-bench-s3-" });
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    directory,
    silent: true,
    configureBuckets: [{ name: "cold" }],
  });
  const { port } = await server.run();
  const store = new S3ColdStore({
    endpoint: `http://127.0.0.1:${port}`,
    bucket: "cold",
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
    fetch: globalThis.fetch,
  });
  return {
    store,
    close: async () => {
      await server.close();
      await Deno.remove(directory, { recursive: true });
    },
  };
}

/** Writes the cpu data set in 2000-point batches; returns the values written. */
async function writeData(engine: StorageEngine, rounded: boolean): Promise<number> {
  let batch: Point[] = [];
  let values = 0;
  for (const points of cpuData()) {
    for (const p of points) {
      if (rounded) {
        for (const f of p.fields) f.value = Math.round((f.value as number) * 100) / 100;
      }
      batch.push(p);
    }
    values += points.length * FIELDS.length;
    if (batch.length >= 2000) {
      await engine.write("bench", undefined, batch);
      batch = [];
    }
  }
  if (batch.length > 0) await engine.write("bench", undefined, batch);
  return values;
}

async function bench(kind: string, workload: string): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-bench-cold-" });
  const s3 = kind === "s3" ? await startS3() : undefined;
  const store = s3?.store ?? new DirColdStore(denoFileSystem, `${dir}/cold`);
  // Block caches: as large hot and cold (the default cold budget is smaller).
  const engine = await StorageEngine.open({
    dir: `${dir}/data`,
    fs: denoFileSystem,
    clock: systemClock,
    logger: silentLogger,
    maintenanceIntervalMs: 0,
    coldStore: store,
    blockCacheValues: 4_000_000,
    coldBlockCacheValues: 4_000_000,
    ...(Deno.env.get("COLD_BLOCK_VALUES") &&
      { coldBlockValues: Number(Deno.env.get("COLD_BLOCK_VALUES")) }),
  });
  try {
    await engine.createDatabase("bench");
    await engine.createRetentionPolicy("bench", {
      name: "rp",
      durationNs: 0n,
      shardGroupDurationNs: HOUR_NS,
      replicaN: 1,
      isDefault: true,
    });
    const values = await writeData(engine, workload === "rounded");
    await engine.flush();
    for (let i = 0; i < 100 && await engine.compact() > 0; i++) { /* until nothing is planned */ }
    const hot = engine.stats();
    const hotLatency = await latencies(engine);

    await engine.alterRetentionPolicy("bench", "rp", { coldAfterNs: HOUR_NS });
    const t = performance.now();
    const { moved } = await engine.enforceTiering("bench");
    const moveMs = performance.now() - t;
    const cold = engine.stats();
    const coldLatency = await latencies(engine);

    console.log(
      `\n## ${workload} values, store ${kind}: ${values} values over ${HOURS} h, load ${
        Deno.loadavg().map((l) => l.toFixed(1))
      }`,
    );
    console.log(
      `hot:  ${hot.segmentBytes} bytes in ${hot.segments} segments, ${
        (hot.segmentBytes / values).toFixed(3)
      } bytes/value`,
    );
    console.log(
      `cold: ${cold.coldBytes} bytes in ${cold.coldGroups} objects (${moved} moved in ${
        moveMs.toFixed(0)
      } ms), ${(cold.coldBytes / values).toFixed(3)} bytes/value, ${
        (cold.coldBytes / hot.segmentBytes).toFixed(3)
      } of hot; ${cold.segments} local segments left`,
    );
    console.log("| query | hot first | hot median | cold first | cold median | cold/hot median |");
    console.log("|---|---|---|---|---|---|");
    for (const [name] of QUERIES) {
      const h = hotLatency.get(name)!, c = coldLatency.get(name)!;
      if (h.answer !== c.answer) throw new Error(`${name}: the cold answer differs from the hot`);
      console.log(
        `| ${name} | ${h.first.toFixed(1)} ms | ${h.median.toFixed(1)} ms | ${
          c.first.toFixed(1)
        } ms | ${c.median.toFixed(1)} ms | ${(c.median / h.median).toFixed(2)} |`,
      );
    }
  } finally {
    await engine.close();
    await s3?.close();
    await Deno.remove(dir, { recursive: true });
  }
}

for (const workload of WORKLOADS) {
  for (const kind of STORES) await bench(kind, workload);
}
