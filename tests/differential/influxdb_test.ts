/**
 * Differential test: the same line protocol is written to InfluxDB 1.6.7 and to two EpochNexus
 * servers, then the same queries are asked of all three and the raw answers compared, byte for
 * byte (status, Content-Type and body); `_compare.ts` runs it (and `cluster_test.ts` does the
 * same against a 3-node cluster).
 *
 * - "head": default settings, so every point stays in the in-memory head;
 * - "segments": every write is flushed to its own segment (tiny `flush_head_bytes`), blocks are
 *   4 values, and the background compaction has merged segments before the first query. Hour-long
 *   shard groups and batches written out of time order give each series several overlapping
 *   segments per group, so aggregates read block statistics, and merges of segments, heads and
 *   overwritten points are compared with InfluxDB too.
 *
 * Where EpochNexus answers otherwise on purpose, `_known_differences.ts` asserts that exact
 * difference. Requires `influxd` (installed by .ci/run): without it the test fails, it is never
 * skipped.
 */
import assert from "node:assert/strict";
import { startInfluxd } from "../_influxd.ts";
import { startServer } from "../_server.ts";
import { groupsOf } from "./_dataset.ts";
import { ask, DB } from "./_ask.ts";
import { runDifferential } from "./_compare.ts";

/**
 * Settings of the "segments" server. One partition keeps the count of segments and compactions
 * predictable from the batches; the "head" server spreads the same data over the default
 * partitions, and both must answer as InfluxDB does.
 */
const SEGMENTS_ENV = {
  EPOCHNEXUS_DEFAULT_PARTITIONS: "1",
  EPOCHNEXUS_FLUSH_HEAD_BYTES: "1",
  EPOCHNEXUS_SEGMENT_BLOCK_VALUES: "4",
  EPOCHNEXUS_COMPACTION_CPU_SHARE: "1",
};
/** Compaction merges this many segments of a level (the engine's default fanout). */
const FANOUT = 4;
const SETTLE_TIMEOUT_MS = 30_000;

interface Health {
  headValues: number;
  segments: number;
  flushes: number;
  compactions: number;
}

async function health(url: string): Promise<Health> {
  const r = await fetch(`${url}/health`);
  return await r.json();
}

/** Polls /health until `done` holds; fails with the last answer after the timeout. */
async function waitHealth(url: string, what: string, done: (h: Health) => boolean) {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  for (;;) {
    const h = await health(url);
    if (done(h)) return h;
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within ${SETTLE_TIMEOUT_MS} ms; /health: ${JSON.stringify(h)}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("differential: EpochNexus answers as InfluxDB 1.6.7 does, from heads and segments", async () => {
  const [influx, head, segments] = await Promise.all([
    startInfluxd(),
    startServer({ env: { EPOCHNEXUS_DEFAULT_DATABASE: DB } }),
    startServer({ env: { EPOCHNEXUS_DEFAULT_DATABASE: DB, ...SEGMENTS_ENV } }),
  ]);
  try {
    const segmentsPerGroup = new Map<number, number>();
    const result = await runDifferential(influx.url, [
      { name: "head", url: () => head.url, ask: (r) => ask(head.url, r) },
      { name: "segments", url: () => segments.url, ask: (r) => ask(segments.url, r) },
    ], {
      // Each batch becomes a segment of the segments server.
      afterBatch: async (i, batch) => {
        await waitHealth(
          segments.url,
          `batch ${i} flushed`,
          (h) => h.headValues === 0 && h.flushes > i,
        );
        for (const g of groupsOf(batch)) {
          segmentsPerGroup.set(g, (segmentsPerGroup.get(g) ?? 0) + 1);
        }
      },
      afterLoad: async () => {
        // Each group gets one merge of its first FANOUT segments, and no second one.
        let compactions = 0, segmentsLeft = 0;
        for (const [g, n] of segmentsPerGroup) {
          if (n < FANOUT || n >= 2 * FANOUT) throw new Error(`BUG: group ${g} has ${n} segments`);
          compactions++;
          segmentsLeft += n - FANOUT + 1;
        }
        await waitHealth(
          segments.url,
          `${compactions} compactions leaving ${segmentsLeft} segments`,
          (h) => h.compactions === compactions && h.segments === segmentsLeft && h.headValues === 0,
        );
        // The segments server answers from block statistics, not only from decoded blocks.
        const explain = await ask(segments.url, {
          params: {
            q: "EXPLAIN ANALYZE SELECT count(usage_user), max(cores) FROM cpu GROUP BY time(10m)",
          },
        });
        const fromStatistics = Number(
          /BLOCKS FROM STATISTICS: (\d+)/.exec(explain.body)?.[1] ?? 0,
        );
        assert.ok(fromStatistics > 100, `blocks read as statistics: ${explain.body}`);
      },
    });
    const { compared, known, different } = result;
    console.log(
      `differential: ${compared} answers compared, ${compared - different.length} as expected ` +
        `(${known} of them known differences), ${different.length} different`,
    );
    assert.deepEqual(different, [], different.join("\n"));
  } finally {
    await Promise.all([head.stop(), segments.stop(), influx.stop()]);
  }
});
