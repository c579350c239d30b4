/**
 * Memory per series at high cardinality, in-process: the bench:peers high-cardinality workload
 * (HOSTS hosts x STEPS points of 10 fields, TSBS tags, in time order) parsed with one
 * LineProtocolCache and written to a StorageEngine in batches of 5,000 lines, as the server does.
 * Reports the heap (and typed arrays' data) after a full GC per series once every host has its first point (all series in
 * one head), at the end, and the peak RSS sampled after each batch.
 *
 *   HOSTS=20000 STEPS=6 deno run -A --v8-flags=--expose-gc bench/series_memory_bench.ts
 *
 * `FLUSH=0` keeps every point in the head (flushHeadBytes 1 GiB) so the head's own cost shows;
 * by default the engine's defaults apply (heads flushed past 25 MiB, compaction in the
 * background), as in the server. `SNAPSHOT=<file>` writes a V8 heap snapshot at the end.
 * @module
 */
import { silentLogger } from "../src/core/mod.ts";
import { LineProtocolCache, parseLineProtocol } from "../src/ingest/mod.ts";
import { denoFileSystem, systemClock } from "../src/runtime/mod.ts";
import { StorageEngine } from "../src/storage/mod.ts";
import { generateBatches } from "./peers/workload.ts";

const HOSTS = Number(Deno.env.get("HOSTS") ?? "20000");
const STEPS = Number(Deno.env.get("STEPS") ?? "6");
const FLUSH = Deno.env.get("FLUSH") !== "0";
const SNAPSHOT = Deno.env.get("SNAPSHOT");
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --v8-flags=--expose-gc");

const { bodies, points } = generateBatches({
  hosts: HOSTS,
  hours: (STEPS * 10) / 3600,
  batchLines: 5000,
  seed: 1,
});
const dir = await Deno.makeTempDir({ prefix: "series_memory_" });
const engine = await StorageEngine.open({
  dir,
  fs: denoFileSystem,
  clock: systemClock,
  logger: silentLogger,
  flushHeadBytes: FLUSH ? undefined : 1 << 30,
  maxSeriesPerDatabase: 0,
  maxValuesPerTag: 0,
  blockCacheValues: Deno.env.get("CACHE") ? Number(Deno.env.get("CACHE")) : undefined,
});
await engine.createDatabase("bench");
const cache = new LineProtocolCache();
const heap = () => {
  gc!();
  const m = Deno.memoryUsage();
  return m.heapUsed + m.external; // external: typed arrays' data
};
const base = heap();
let peakRss = Deno.memoryUsage().rss;
let written = 0, afterFirstStep = 0;
const batchesPerStep = Math.ceil(HOSTS / 5000);
const started = performance.now();
for (let b = 0; b < bodies.length; b++) {
  const { points, errors } = parseLineProtocol(bodies[b], {
    precision: "s",
    defaultTime: { ms: 0, subMs: 0 },
    cache,
  });
  if (errors.length > 0) throw new Error(JSON.stringify(errors[0]));
  const outcome = await engine.write("bench", undefined, points);
  written += outcome.accepted;
  peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
  if (b + 1 === batchesPerStep) afterFirstStep = heap() - base;
}
const seconds = (performance.now() - started) / 1000;
const end = heap() - base;
if (SNAPSHOT) (await import("node:v8")).writeHeapSnapshot(SNAPSHOT);
await engine.close();
await Deno.remove(dir, { recursive: true });
const kb = (n: number) => (n / 1024).toFixed(2);
console.log(
  `${HOSTS} series x ${STEPS} points (${points} points, ${written} written, flush ${FLUSH}): ` +
    `heap/series after step 1 ${kb(afterFirstStep / HOSTS)} KiB, at end ${
      kb(end / HOSTS)
    } KiB; peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB; ${seconds.toFixed(1)} s; load ${
      (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ")
    }`,
);
