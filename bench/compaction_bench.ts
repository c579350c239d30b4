/**
 * Ingest latency while a compaction runs: SEGMENTS (4) flushed segments of SERIES (10,000) series
 * × VALUES (20) values each are merged by one compaction while a writer sends batches of 100
 * points one after the other (each awaited: WAL fsync included). Reports the write latency
 * (p50, p99, max) during the merge, the same writer's latency with no merge, and how long the
 * merge took, for each CPU share in SHARES (default "1,0.25"; 1 = no budget, only a turn of the
 * event loop every ~10 ms slice).
 *
 *   deno run -A bench/compaction_bench.ts
 *
 * `WRITER=0` runs the merge alone (its duration with nothing else on the event loop).
 *
 * @module
 */
import { FieldType, type Point, silentLogger } from "../src/core/mod.ts";
import { denoFileSystem, systemClock } from "../src/runtime/mod.ts";
import { StorageEngine } from "../src/storage/mod.ts";

const SEGMENTS = Number(Deno.env.get("SEGMENTS") ?? "4");
const SERIES = Number(Deno.env.get("SERIES") ?? "10000");
const VALUES = Number(Deno.env.get("VALUES") ?? "20");
const SHARES = (Deno.env.get("SHARES") ?? "1,0.25").split(",").map(Number);
const WRITER = Deno.env.get("WRITER") !== "0";
const T0 = 1_700_000_000_000;

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function describe(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  return `p50 ${quantile(s, 0.5).toFixed(1)} ms, p99 ${quantile(s, 0.99).toFixed(1)} ms, max ${
    s[s.length - 1].toFixed(1)
  } ms (${s.length} writes)`;
}

let writerSeq = 0;
/** Batches of 100 points to another measurement, until `until` resolves; latencies in ms. */
async function writer(engine: StorageEngine, until: Promise<unknown>): Promise<number[]> {
  let done = false;
  until.finally(() => done = true);
  const out: number[] = [];
  while (!done) {
    const batch: Point[] = [];
    for (let i = 0; i < 100; i++) {
      batch.push({
        measurement: "live",
        tags: [{ key: "id", value: `w${i}` }],
        fields: [{ key: "v", type: FieldType.Float, value: i }],
        timeMs: T0 + 1_000_000 + writerSeq++,
        timeSubMs: 0,
      });
    }
    const t = performance.now();
    await engine.write("bench", undefined, batch);
    out.push(performance.now() - t);
  }
  return out;
}

for (const share of SHARES) {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-compaction-bench-" });
  const engine = await StorageEngine.open({
    dir,
    fs: denoFileSystem,
    clock: systemClock,
    logger: silentLogger,
    maintenanceIntervalMs: 0,
    flushHeadBytes: 1 << 30,
    compactionFanout: SEGMENTS,
    compactionCpuShare: share,
  });
  await engine.createDatabase("bench");
  for (let s = 0; s < SEGMENTS; s++) {
    for (let from = 0; from < SERIES; from += 1000) {
      const batch: Point[] = [];
      for (let i = from; i < Math.min(SERIES, from + 1000); i++) {
        for (let v = 0; v < VALUES; v++) {
          batch.push({
            measurement: "m",
            tags: [{ key: "host", value: `h${i % 100}` }, { key: "id", value: `s${i}` }],
            fields: [{ key: "v", type: FieldType.Float, value: Math.sin(i + v) * 100 }],
            timeMs: T0 + (s * VALUES + v) * 1000,
            timeSubMs: 0,
          });
        }
      }
      await engine.write("bench", undefined, batch);
    }
    await engine.flush();
  }
  // The same writer with no merge running, as long as a merge would take (2 s).
  const idle = WRITER
    ? await writer(engine, new Promise((resolve) => setTimeout(resolve, 2000)))
    : [0];
  const t = performance.now();
  const compaction = engine.compact();
  const busy = WRITER ? await writer(engine, compaction) : [0];
  const ran = await compaction;
  const ms = performance.now() - t;
  const stats = engine.stats();
  if (ran !== 1 || stats.compactions !== 1) throw new Error(`compactions: ${ran}`);
  console.log(
    `share ${share}: merge of ${SEGMENTS}×${SERIES * VALUES} values in ${ms.toFixed(0)} ms ` +
      `(worked ${(stats.compactionBusyMs ?? 0).toFixed(0)} ms, slept ${
        (stats.compactionSleptMs ?? 0).toFixed(0)
      } ms)\n  writes during the merge: ${describe(busy)}\n  writes with no merge:    ${
        describe(idle)
      }`,
  );
  await engine.close();
  await Deno.remove(dir, { recursive: true });
}
