/**
 * Segment storage figures on TSBS-like cpu data: 100 hosts with 10 tags each, 10 float fields
 * (random walks clamped to [0, 100] with normal steps, full float64 precision), one point per
 * host every 10 s.
 *
 * Printed once (setup): bytes on disk per value after flush and compaction, restart time, and
 * a scan of mean(usage_user) GROUP BY hostname over the whole range with and without block
 * statistics. The Deno.bench entries repeat the two scans.
 *
 *   deno bench -A bench/storage_bench.ts                (HOURS=6 by default)
 *   HOURS=24 deno run -A bench/storage_bench.ts         (figures only)
 *
 * @module
 */
import { FieldType, type Point, silentLogger } from "../src/core/mod.ts";
import { denoFileSystem, systemClock } from "../src/runtime/mod.ts";
import { StorageEngine } from "../src/storage/mod.ts";

const HOSTS = 100;
const FIELDS = [
  "usage_user",
  "usage_system",
  "usage_idle",
  "usage_nice",
  "usage_iowait",
  "usage_irq",
  "usage_softirq",
  "usage_steal",
  "usage_guest",
  "usage_guest_nice",
];
const HOURS = Number(Deno.env.get("HOURS") ?? "6");
const STEPS = Math.round(HOURS * 360);
const START_MS = 1_700_000_000_000;

/** A small seeded generator (mulberry32) and Box-Muller normals: the same data every run. */
function rng(seed: number) {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () =>
    Math.sqrt(-2 * Math.log(uniform() + 1e-300)) * Math.cos(2 * Math.PI * uniform());
  return { uniform, normal };
}

/** The points of one 10 s step for every host (random walks carried in `state`). */
export function* cpuData(): Generator<Point[]> {
  const r = rng(42);
  const regions = ["us-east-1", "us-west-1", "eu-west-1", "eu-central-1", "ap-south-1"];
  const tagsOf = Array.from({ length: HOSTS }, (_, h) =>
    [
      ["arch", ["x64", "x86"][h % 2]],
      ["datacenter", `${regions[h % 5]}${"abc"[h % 3]}`],
      ["hostname", `host_${h}`],
      ["os", ["Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"][h % 3]],
      ["rack", String(h % 100)],
      ["region", regions[h % 5]],
      ["service", String(h % 20)],
      ["service_environment", ["production", "staging", "test"][h % 3]],
      ["service_version", String(h % 2)],
      ["team", ["SF", "NYC", "LON", "CHI"][h % 4]],
    ].map(([key, value]) => ({ key, value })));
  const state = Array.from({ length: HOSTS * FIELDS.length }, () => r.uniform() * 100);
  for (let step = 0; step < STEPS; step++) {
    const points: Point[] = [];
    for (let h = 0; h < HOSTS; h++) {
      const fields = FIELDS.map((key, f) => {
        const i = h * FIELDS.length + f;
        state[i] = Math.min(100, Math.max(0, state[i] + r.normal()));
        return { key, type: FieldType.Float, value: state[i] };
      });
      points.push({
        measurement: "cpu",
        tags: tagsOf[h],
        fields,
        timeMs: START_MS + step * 10_000,
        timeSubMs: 0,
      });
    }
    yield points;
  }
}

async function diskBytes(dir: string, suffix: string): Promise<number> {
  let total = 0;
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) total += await diskBytes(p, suffix);
    else if (e.name.endsWith(suffix)) total += (await Deno.stat(p)).size;
  }
  return total;
}

const open = (dir: string, cacheValues = 0) =>
  StorageEngine.open({
    dir,
    fs: denoFileSystem,
    clock: systemClock,
    logger: silentLogger,
    maintenanceIntervalMs: 0,
    flushHeadBytes: 1 << 30,
    blockCacheValues: cacheValues,
    maxSeriesPerDatabase: 0,
  });

const ALL = [-(2n ** 63n), 2n ** 63n - 1n] as const;

/** mean(usage_user) per hostname over everything; returns [means, values scanned]. */
export async function meanByHost(engine: StorageEngine, useStats: boolean) {
  const acc = new Map<string, { sum: number; count: number }>();
  for (const shard of engine.shards("bench", "autogen", ...ALL)) {
    for (const s of shard.series("cpu")) {
      const host = s.tags.find((t) => t.key === "hostname")!.value;
      let a = acc.get(host);
      if (!a) acc.set(host, a = { sum: 0, count: 0 });
      if (useStats) {
        for (const p of await shard.readFieldSummaries(s, "usage_user", ...ALL)) {
          if (p.kind === "summary") {
            a.sum += p.sum as number;
            a.count += p.count;
          } else {
            const v = p.column.values as Float64Array;
            for (let i = 0; i < v.length; i++) a.sum += v[i];
            a.count += v.length;
          }
        }
      } else {
        const c = await shard.readField(s, "usage_user", ...ALL);
        if (!c) continue;
        const v = c.values as Float64Array;
        for (let i = 0; i < v.length; i++) a.sum += v[i];
        a.count += v.length;
      }
    }
  }
  let values = 0;
  for (const a of acc.values()) values += a.count;
  return { means: acc, values };
}

const dir = await Deno.makeTempDir({ prefix: "epochnexus-storage-bench-" });
const engine = await open(dir);
await engine.createDatabase("bench");
let t0 = performance.now();
let batch: Point[] = [];
let values = 0;
for (const points of cpuData()) {
  batch.push(...points);
  values += points.length * FIELDS.length;
  if (batch.length >= 2000) {
    await engine.write("bench", undefined, batch);
    batch = [];
  }
}
if (batch.length > 0) await engine.write("bench", undefined, batch);
const ingestMs = performance.now() - t0;
t0 = performance.now();
await engine.flush();
const flushMs = performance.now() - t0;
const afterFlush = await diskBytes(`${dir}/data`, ".seg");
t0 = performance.now();
let steps = 0;
while ((await engine.compact()) > 0) steps++;
const compactMs = performance.now() - t0;
const afterCompaction = await diskBytes(`${dir}/data`, ".seg");
await engine.close();

t0 = performance.now();
const reopened = await open(dir);
const restartMs = performance.now() - t0;

t0 = performance.now();
const raw = await meanByHost(reopened, false);
const rawMs = performance.now() - t0;
t0 = performance.now();
const summarised = await meanByHost(reopened, true);
const statsMs = performance.now() - t0;
for (const [host, a] of raw.means) {
  const b = summarised.means.get(host)!;
  if (a.count !== b.count || Math.abs(a.sum - b.sum) > 1e-6 * Math.abs(a.sum)) {
    throw new Error(
      `BUG: block statistics disagree for ${host}: ${a.sum}/${a.count} vs ${b.sum}/${b.count}`,
    );
  }
}

const fmt = (n: number, d = 2) => n.toFixed(d);
console.log(
  `storage bench: ${HOSTS} hosts x ${FIELDS.length} fields x ${STEPS} steps = ${values} values`,
);
console.log(
  `  ingest (WAL, group commit, 2000-point writes): ${fmt(ingestMs / 1000)} s = ${
    fmt(values / ingestMs / 1000, 2)
  } M values/s`,
);
console.log(`  flush: ${fmt(flushMs)} ms; bytes/value after flush: ${fmt(afterFlush / values, 3)}`);
console.log(
  `  compaction: ${steps} steps in ${fmt(compactMs)} ms; bytes/value after: ${
    fmt(afterCompaction / values, 3)
  }`,
);
console.log(`  restart (open segment indexes, empty WAL): ${fmt(restartMs)} ms`);
console.log(
  `  mean(usage_user) GROUP BY hostname, decoding every block: ${fmt(rawMs)} ms = ${
    fmt(raw.values / rawMs / 1000, 2)
  } M values/s`,
);
console.log(
  `  same with block statistics: ${fmt(statsMs)} ms = ${
    fmt(summarised.values / statsMs / 1000, 2)
  } M values/s`,
);

Deno.bench("mean(usage_user) by host: decode every block (no cache)", async () => {
  await meanByHost(reopened, false);
});
Deno.bench("mean(usage_user) by host: block statistics", async () => {
  await meanByHost(reopened, true);
});
addEventListener("unload", () => {
  reopened.close();
  Deno.removeSync(dir, { recursive: true });
});
