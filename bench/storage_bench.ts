/**
 * Segment storage figures on TSBS-like cpu data: 100 hosts with 10 tags each, 10 float fields
 * (random walks clamped to [0, 100] with normal steps, full float64 precision), one point per
 * host every 10 s.
 *
 * Printed once (setup): bytes per value of the segment files after flush and compaction (and of
 * the whole data folder, by du; storage_peers.ts compares that with the peers), the time to
 * reopen the engine in this process after a clean close (page cache warm: bench:restart has the
 * cold restart after kill -9), and a scan of mean(usage_user) GROUP BY hostname over the whole
 * range with and without block statistics. The Deno.bench entries repeat the two scans.
 *
 *   deno task bench:storage                             (figures only; HOURS=6 by default)
 *   HOURS=140 deno task bench:storage                   (50.4M values: the README's figures)
 *   deno bench -A bench/storage_bench.ts                (the scans as Deno.bench entries too)
 *
 * @module
 */
import { silentLogger } from "../src/core/mod.ts";
import { denoFileSystem, systemClock } from "../src/runtime/mod.ts";
import { StorageEngine } from "../src/storage/mod.ts";

import { diskUsage } from "./peers/systems.ts";
import { FIELDS, HOSTS, STEPS, writeCpuData } from "./storage_data.ts";

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
    flushHeadBytes: Number(Deno.env.get("FLUSH_MB") ?? "64") * 1024 * 1024,
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
const values = await writeCpuData(engine, "bench");
const ingestMs = performance.now() - t0;
t0 = performance.now();
await engine.flush();
const flushMs = performance.now() - t0;
const flushes = engine.stats().flushes;
const afterFlush = await diskBytes(`${dir}/data`, ".seg");
t0 = performance.now();
let steps = 0;
while ((await engine.compact()) > 0) steps++;
const compactMs = performance.now() - t0;
const afterCompaction = await diskBytes(`${dir}/data`, ".seg");
await engine.close();
const folder = await diskUsage([dir]);

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
console.log(
  `  flushes: ${flushes} (heads of ${Deno.env.get("FLUSH_MB") ?? "64"} MiB), last ${
    fmt(flushMs)
  } ms; ` +
    `bytes/value after flush: ${fmt(afterFlush / values, 3)}`,
);
console.log(
  `  compaction: ${steps} steps in ${fmt(compactMs)} ms; segment bytes/value after: ${
    fmt(afterCompaction / values, 3)
  }`,
);
console.log(
  `  whole data folder after close (du): ${fmt(folder.allocated / values, 3)} bytes/value ` +
    `(apparent ${fmt(folder.apparent / values, 3)})`,
);
console.log(
  `  reopen in this process after a clean close, page cache warm (segment indexes, empty WAL): ${
    fmt(restartMs)
  } ms`,
);
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
