/**
 * Differential test: the same line protocol is written to InfluxDB 1.6.7 and to two EpochNexus
 * servers, then the same queries are asked of all three and the raw answers compared, byte for
 * byte (status, Content-Type and body).
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
import { type ServerProcess, startServer } from "../_server.ts";
import { batches, groupsOf } from "./_dataset.ts";
import { type Answer, ask, DB } from "./_ask.ts";
import { KNOWN_DIFFERENCES } from "./_known_differences.ts";
import { HTTP_REQUESTS, type HttpRequest, QUERIES } from "./_queries.ts";

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

/** Writes the batches to every system, flushing the segments server after each. */
async function load(influx: string, head: string, segments: string) {
  const written = batches();
  const segmentsPerGroup = new Map<number, number>();
  for (const [i, batch] of written.entries()) {
    for (const url of [influx, head, segments]) {
      const r = await fetch(`${url}/write?db=${DB}&precision=s`, {
        method: "POST",
        body: batch.join("\n"),
      });
      assert.equal(r.status, 204, `batch ${i} to ${url}: ${await r.text()}`);
    }
    await waitHealth(segments, `batch ${i} flushed`, (h) => h.headValues === 0 && h.flushes > i);
    for (const g of groupsOf(batch)) segmentsPerGroup.set(g, (segmentsPerGroup.get(g) ?? 0) + 1);
  }
  // Each group gets one merge of its first FANOUT segments, and no second one.
  let compactions = 0, segmentsLeft = 0;
  for (const [g, n] of segmentsPerGroup) {
    if (n < FANOUT || n >= 2 * FANOUT) throw new Error(`BUG: group ${g} has ${n} segments`);
    compactions++;
    segmentsLeft += n - FANOUT + 1;
  }
  await waitHealth(
    segments,
    `${compactions} compactions leaving ${segmentsLeft} segments`,
    (h) => h.compactions === compactions && h.segments === segmentsLeft && h.headValues === 0,
  );
}

function show(a: Answer): string {
  return `${a.status} ${a.type}\n    ${a.body.trimEnd()}`;
}

Deno.test("differential: EpochNexus answers as InfluxDB 1.6.7 does, from heads and segments", async () => {
  const [influx, head, segments] = await Promise.all([
    startInfluxd(),
    startServer({ env: { EPOCHNEXUS_DEFAULT_DATABASE: DB } }),
    startServer({ env: { EPOCHNEXUS_DEFAULT_DATABASE: DB, ...SEGMENTS_ENV } }),
  ]);
  const nexus: [string, ServerProcess][] = [["head", head], ["segments", segments]];
  try {
    const different: string[] = [];
    let compared = 0, known = 0;
    /** influxd's answer and each EpochNexus server's, asked at once. */
    const askAll = (request: HttpRequest) =>
      Promise.all([ask(influx.url, request), ...nexus.map(([, s]) => ask(s.url, request))]);
    /** Compares the answers to one request byte for byte: status, Content-Type and body. */
    const compare = async (label: string, request: HttpRequest) => {
      const [expected, ...actuals] = await askAll(request);
      for (const [i, actual] of actuals.entries()) {
        compared++;
        if (
          actual.status !== expected.status || actual.type !== expected.type ||
          actual.body !== expected.body
        ) {
          different.push(
            `${label} [${nexus[i][0]}]\n  influxdb:   ${show(expected)}\n  epochnexus: ${
              show(actual)
            }`,
          );
        }
      }
    };
    for (
      const q of [
        `CREATE DATABASE ${DB}`,
        `ALTER RETENTION POLICY autogen ON ${DB} SHARD DURATION 1h`,
      ]
    ) {
      await compare(q, { params: { q }, method: "POST" });
    }
    await load(influx.url, head.url, segments.url);

    // The segments server answers from block statistics, not only from decoded blocks.
    const explain = await ask(segments.url, {
      params: {
        q: "EXPLAIN ANALYZE SELECT count(usage_user), max(cores) FROM cpu GROUP BY time(10m)",
      },
    });
    const fromStatistics = Number(/BLOCKS FROM STATISTICS: (\d+)/.exec(explain.body)?.[1] ?? 0);
    assert.ok(fromStatistics > 100, `blocks read as statistics: ${explain.body}`);

    // Known differences first: the last queries of QUERIES change the data.
    for (const difference of KNOWN_DIFFERENCES) {
      const [expected, ...actuals] = await askAll({ params: { q: difference.q } });
      for (const [i, actual] of actuals.entries()) {
        compared++;
        try {
          difference.check(expected, actual);
          known++;
        } catch (error) {
          different.push(
            `known difference changed: ${difference.q} [${nexus[i][0]}]\n  ${
              (error as Error).message
            }` +
              `\n  influxdb:   ${show(expected)}\n  epochnexus: ${show(actual)}`,
          );
        }
      }
    }
    for (const q of QUERIES) {
      for (const epoch of [undefined, "ns"]) {
        await compare(`${q}${epoch ? ` (epoch=${epoch})` : ""}`, {
          params: epoch ? { q, epoch } : { q },
        });
      }
    }
    // The HTTP details of /query: pretty, every epoch, chunked, CSV, forms, errors.
    for (const r of HTTP_REQUESTS) await compare(`HTTP ${JSON.stringify(r)}`, r);
    console.log(
      `differential: ${compared} answers compared, ${compared - different.length} as expected ` +
        `(${known} of them known differences), ${different.length} different`,
    );
    assert.deepEqual(different, [], different.join("\n"));
  } finally {
    await Promise.all([head.stop(), segments.stop(), influx.stop()]);
  }
});
