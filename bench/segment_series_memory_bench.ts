/**
 * Memory per series held once a settled folder is open and warm: the bench:peers
 * high-cardinality workload (HOSTS hosts x STEPS points of 10 fields, TSBS tags) written and
 * flushed to segments once into DATA (kept for the next run, so two branches measure the same
 * files), then a copy of DATA opened as an engine; after its background warm-up (every segment's
 * series and fields parsed, the series index built) the heap plus external after a full GC, less
 * the heap before the open, per series. `SNAPSHOT=<file>` writes a V8 heap snapshot then.
 *
 *   HOSTS=100000 DATA=/tmp/segmem_100k deno run -A --v8-flags=--expose-gc \
 *     bench/segment_series_memory_bench.ts
 * @module
 */
import { silentLogger } from "../src/core/mod.ts";
import { LineProtocolCache, parseLineProtocol } from "../src/ingest/mod.ts";
import { denoFileSystem, systemClock } from "../src/runtime/mod.ts";
import { StorageEngine } from "../src/storage/mod.ts";
import { generateBatches } from "./peers/workload.ts";

const HOSTS = Number(Deno.env.get("HOSTS") ?? "100000");
const STEPS = Number(Deno.env.get("STEPS") ?? "2");
const DATA = Deno.env.get("DATA") ?? `/tmp/segment_series_memory_${HOSTS}x${STEPS}`;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --v8-flags=--expose-gc");

const options = (dir: string) => ({
  dir,
  fs: denoFileSystem,
  clock: systemClock,
  logger: silentLogger,
  maxSeriesPerDatabase: 0,
  maxValuesPerTag: 0,
});

async function writeData(): Promise<void> {
  const { bodies } = generateBatches({
    hosts: HOSTS,
    hours: (STEPS * 10) / 3600,
    batchLines: 5000,
    seed: 1,
  });
  const engine = await StorageEngine.open({ ...options(DATA), warmUpAtOpen: false });
  await engine.createDatabase("bench");
  const cache = new LineProtocolCache();
  for (const body of bodies) {
    const { points, errors } = parseLineProtocol(body, {
      precision: "s",
      defaultTime: { ms: 0, subMs: 0 },
      cache,
    });
    if (errors.length > 0) throw new Error(JSON.stringify(errors[0]));
    await engine.write("bench", undefined, points);
  }
  await engine.flush();
  while ((await engine.compact()) > 0); // one settled segment, as a server's folder after a while
  await engine.close();
}

if (Deno.env.get("WRITE_ONLY") === "1") {
  await writeData();
  Deno.exit(0);
}
if (!(await Deno.stat(DATA).catch(() => undefined))) {
  // In a process of its own: what the write leaves in this heap would be counted, or shared.
  const { success } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--expose-gc", new URL(import.meta.url).pathname],
    env: { HOSTS: String(HOSTS), STEPS: String(STEPS), DATA, WRITE_ONLY: "1" },
  }).spawn().status;
  if (!success) throw new Error("writing the data failed");
}
const copy = await Deno.makeTempDir({ prefix: "segment_series_memory_" });
await new Deno.Command("cp", { args: ["-a", `${DATA}/.`, copy] }).output();
const heap = () => {
  gc!();
  const m = Deno.memoryUsage();
  return m.heapUsed + m.external; // external: typed arrays' data (index bytes)
};
const base = heap();
// No maintenance: a compaction running meanwhile would hold its buffers.
const engine = await StorageEngine.open({ ...options(copy), maintenanceIntervalMs: 0 });
await engine.warmedUp();
const held = heap() - base;
const rss = Deno.memoryUsage().rss;
const snapshot = Deno.env.get("SNAPSHOT");
if (snapshot) (await import("node:v8")).writeHeapSnapshot(snapshot);
await engine.close();
await Deno.remove(copy, { recursive: true });
console.log(
  `${HOSTS} series x ${STEPS} points, open and warm: ${(held / HOSTS).toFixed(0)} B/series ` +
    `(${(held / 2 ** 20).toFixed(1)} MiB held), RSS ${(rss / 2 ** 20).toFixed(0)} MiB; load ${
      (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ")
    }`,
);
