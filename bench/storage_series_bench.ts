/**
 * Series index figures: SERIES (1,000,000 by default) series of one float field, one point each,
 * written in batches of 5,000: series created per second, then flush, then the restart time
 * (segment indexes opened, series index rebuilt from them) and the heap after restart.
 *
 *   SERIES=1000000 deno run -A --v8-flags=--max-old-space-size=4000 bench/storage_series_bench.ts
 *
 * @module
 */
import { FieldType, type Point, silentLogger } from "../src/core/mod.ts";
import { denoFileSystem, systemClock } from "../src/runtime/mod.ts";
import { StorageEngine } from "../src/storage/mod.ts";

const SERIES = Number(Deno.env.get("SERIES") ?? "1000000");
const open = (dir: string) =>
  StorageEngine.open({
    dir,
    fs: denoFileSystem,
    clock: systemClock,
    logger: silentLogger,
    maintenanceIntervalMs: 0,
    flushHeadBytes: 1 << 30,
    maxSeriesPerDatabase: 0,
    maxValuesPerTag: 0,
  });

const reopenOnly = Deno.env.get("REOPEN");
if (reopenOnly) {
  // The restart, in a fresh process (no heap left over from writing).
  const t0 = performance.now();
  const engine = await open(reopenOnly);
  const ms = performance.now() - t0;
  console.log(
    `  restart in a fresh process: ${ms.toFixed(0)} ms; heap ${
      (Deno.memoryUsage().heapUsed / 1e6).toFixed(0)
    } MB; ${engine.stats().series} series`,
  );
  await engine.close();
  Deno.exit(0);
}

const dir = await Deno.makeTempDir({ prefix: "epochnexus-series-bench-" });
const engine = await open(dir);
await engine.createDatabase("bench");
const t = 1_700_000_000_000;
let t0 = performance.now();
for (let from = 0; from < SERIES; from += 5000) {
  const batch: Point[] = [];
  for (let i = from; i < Math.min(SERIES, from + 5000); i++) {
    batch.push({
      measurement: "m",
      tags: [{ key: "host", value: `h${i % 1000}` }, { key: "id", value: `s${i}` }],
      fields: [{ key: "v", type: FieldType.Float, value: i }],
      timeMs: t,
      timeSubMs: 0,
    });
  }
  await engine.write("bench", undefined, batch);
}
const writeMs = performance.now() - t0;
t0 = performance.now();
await engine.flush();
const flushMs = performance.now() - t0;
await engine.close();
const heapBefore = Deno.memoryUsage().heapUsed;
t0 = performance.now();
const reopened = await open(dir);
const restartMs = performance.now() - t0;
const heapAfter = Deno.memoryUsage().heapUsed;
console.log(`series bench: ${SERIES} series`);
console.log(`  created: ${(SERIES / writeMs * 1000).toFixed(0)} series/s (WAL + head + index)`);
console.log(
  `  flush: ${flushMs.toFixed(0)} ms; restart in the same process: ${restartMs.toFixed(0)} ms`,
);
console.log(`  stats after restart: ${JSON.stringify(reopened.stats())}`);
console.log(
  `  heap: ${(heapAfter / 1e6).toFixed(0)} MB (was ${
    (heapBefore / 1e6).toFixed(0)
  } MB before reopening)`,
);
await reopened.close();
const child = await new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", "--v8-flags=--max-old-space-size=6000", new URL(import.meta.url).pathname],
  env: { REOPEN: dir },
}).output();
console.log(new TextDecoder().decode(child.stdout).trimEnd());
await Deno.remove(dir, { recursive: true });
