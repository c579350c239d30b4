/**
 * Series index figures: SERIES (1,000,000 by default) series of one float field, one point each,
 * written in batches of 5,000: series created per second, then flush, then the restart time
 * (segment indexes opened, series index rebuilt from them) and heap and RSS after restart, in the
 * same process and in a fresh one (REOPENS times; the median is reported).
 *
 *   deno task bench:series               (SERIES=1000000 by default)
 *
 * Both restarts follow a clean close with the page cache warm; `deno task bench:restart --data
 * series` has the server's cold restart after kill -9 with the page cache dropped.
 *
 * `DIR=<folder>` keeps the data there (written once, reused by later runs); `REOPEN=<folder>`
 * only reopens it (one fresh-process sample), which is what `--cpu-prof` should profile. A
 * `QUERY=1` restart also lists the series of the measurement, so the lazily parsed index is paid,
 * then times the first writes after the restart: 5,000 existing series (each confirmed against
 * the segments once), then one new series (the measurement's tag values are gathered).
 * `REOPEN=<folder> FIELDS=1` instead opens the folder's segment files alone and parses the fields
 * (every block entry) of every series: the cost of the lazily parsed part of the index, for any
 * segment version this code reads.
 * @module
 */
import { FieldType, type Point, silentLogger } from "../src/core/mod.ts";
import { denoFileSystem, systemClock } from "../src/runtime/mod.ts";
import { StorageEngine } from "../src/storage/mod.ts";
import { BlockCache, SegmentReader } from "../src/storage/segment/mod.ts";

const SERIES = Number(Deno.env.get("SERIES") ?? "1000000");
const REOPENS = Number(Deno.env.get("REOPENS") ?? "3");
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
const mb = (n: number) => (n / 1e6).toFixed(0);
const T0 = 1_700_000_000_000;
/** Series [from, to) of measurement m, one float value each at T0 + dt ms. */
function batchOf(from: number, to: number, dt: number): Point[] {
  const batch: Point[] = [];
  for (let i = from; i < to; i++) {
    batch.push({
      measurement: "m",
      tags: [{ key: "host", value: `h${i % 1000}` }, { key: "id", value: `s${i}` }],
      fields: [{ key: "v", type: FieldType.Float, value: i }],
      timeMs: T0 + dt,
      timeSubMs: 0,
    });
  }
  return batch;
}

async function segmentFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...await segmentFiles(p));
    else if (e.name.endsWith(".seg")) out.push(p);
  }
  return out;
}

const reopenOnly = Deno.env.get("REOPEN");
if (reopenOnly && Deno.env.get("FIELDS") === "1") {
  let blocks = 0, series = 0, openMs = 0, parseMs = 0;
  const versions = new Set<number>();
  for (const path of await segmentFiles(reopenOnly)) {
    const t0 = performance.now();
    const reader = await SegmentReader.open(denoFileSystem, path, new BlockCache(0));
    const t1 = performance.now();
    for (const s of reader.series.values()) {
      series++;
      for (const f of s.fields.values()) blocks += f.blocks.length;
    }
    parseMs += performance.now() - t1;
    openMs += t1 - t0;
    versions.add(reader.version);
    reader.close();
  }
  console.log(JSON.stringify({
    versions: [...versions],
    series,
    blocks,
    openMs: Math.round(openMs),
    parseMs: Math.round(parseMs),
    heapMB: Number(mb(Deno.memoryUsage().heapUsed)),
  }));
  Deno.exit(0);
}
if (reopenOnly) {
  // The restart, in a fresh process (no heap left over from writing).
  const t0 = performance.now();
  const engine = await open(reopenOnly);
  const ms = performance.now() - t0;
  let queryMs = 0;
  if (Deno.env.get("QUERY") === "1") {
    const q0 = performance.now();
    let n = 0;
    for (const shard of engine.shards("bench", "autogen", -(2n ** 62n), 2n ** 62n)) {
      n += shard.series("m").length;
    }
    queryMs = performance.now() - q0;
    if (n !== engine.stats().series) throw new Error(`listed ${n} series`);
    const w0 = performance.now();
    await engine.write("bench", undefined, batchOf(0, 5000, 1));
    const existingMs = performance.now() - w0;
    const w1 = performance.now();
    await engine.write("bench", undefined, batchOf(SERIES + 1, SERIES + 2, 1));
    const newMs = performance.now() - w1;
    console.error(
      `  after restart: list ${queryMs.toFixed(0)} ms; write 5000 existing series ${
        existingMs.toFixed(0)
      } ms; first new series ${newMs.toFixed(0)} ms`,
    );
  }
  const mem = Deno.memoryUsage();
  console.log(JSON.stringify({
    ms: Math.round(ms),
    queryMs: Math.round(queryMs),
    heapMB: Number(mb(mem.heapUsed)),
    rssMB: Number(mb(mem.rss)),
    series: engine.stats().series,
  }));
  await engine.close();
  Deno.exit(0);
}

const keep = Deno.env.get("DIR");
const dir = keep ?? await Deno.makeTempDir({ prefix: "epochnexus-series-bench-" });
const written = keep !== undefined && (await Deno.stat(`${keep}/catalog.json`).catch(() => null));
if (!written) {
  const engine = await open(dir);
  await engine.createDatabase("bench");
  let t0 = performance.now();
  for (let from = 0; from < SERIES; from += 5000) {
    await engine.write("bench", undefined, batchOf(from, Math.min(SERIES, from + 5000), 0));
  }
  const writeMs = performance.now() - t0;
  t0 = performance.now();
  await engine.flush();
  const flushMs = performance.now() - t0;
  await engine.close();
  console.log(`series bench: ${SERIES} series`);
  console.log(`  created: ${(SERIES / writeMs * 1000).toFixed(0)} series/s (WAL + head + index)`);
  console.log(`  flush: ${flushMs.toFixed(0)} ms`);
  const heapBefore = Deno.memoryUsage().heapUsed;
  t0 = performance.now();
  const reopened = await open(dir);
  const restartMs = performance.now() - t0;
  console.log(
    `  restart in the same process (clean close, page cache warm): ${
      restartMs.toFixed(0)
    } ms; heap ${mb(Deno.memoryUsage().heapUsed)} MB (was ${mb(heapBefore)} MB before reopening)`,
  );
  console.log(`  stats after restart: ${JSON.stringify(reopened.stats())}`);
  await reopened.close();
}
const samples: { ms: number; queryMs: number; heapMB: number; rssMB: number }[] = [];
for (let i = 0; i < REOPENS; i++) {
  const child = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--max-old-space-size=6000", new URL(import.meta.url).pathname],
    env: { REOPEN: dir, QUERY: "" },
  }).output();
  const text = new TextDecoder().decode(child.stdout).trim();
  if (!child.success) throw new Error(`reopen failed: ${new TextDecoder().decode(child.stderr)}`);
  samples.push(JSON.parse(text));
}
if (Deno.env.get("QUERY") === "1") {
  // Writes after the restart change the folder: they go to a copy.
  const copy = `${dir}-query`;
  await new Deno.Command("cp", { args: ["-r", dir, copy] }).output();
  const child = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--max-old-space-size=6000", new URL(import.meta.url).pathname],
    env: { REOPEN: copy, QUERY: "1" },
  }).output();
  await Deno.stderr.write(child.stderr);
  await Deno.remove(copy, { recursive: true });
}
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(
  `  restart in a fresh process (clean close, page cache warm; median of ${REOPENS}): ${
    median(samples.map((s) => s.ms))
  } ms; heap ${median(samples.map((s) => s.heapMB))} MB; RSS ${
    median(samples.map((s) => s.rssMB))
  } MB (samples ${samples.map((s) => s.ms).join(", ")} ms)`,
);
if (!keep) await Deno.remove(dir, { recursive: true });
