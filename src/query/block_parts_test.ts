import assert from "node:assert/strict";
import fc from "fast-check";
import { type Clock, FieldType, type Point, silentLogger } from "../core/mod.ts";
import { denoFileSystem } from "../runtime/mod.ts";
import { StorageEngine } from "../storage/mod.ts";
import { encodeJson } from "./encode_json.ts";
import { executeQuery } from "./executor.ts";

// Aggregates over segments are read block by block (whole blocks as statistics, the others as
// views of the decoded block, never one merged column): every answer must be byte-identical to
// the one the same data gives from the head, where each field is one column. Tiny blocks make
// every bucket boundary and block boundary fall anywhere.

const NOW_MS = 1_700_000_000_000;
const NOW = BigInt(NOW_MS) * 1_000_000n;
const T0 = NOW_MS - 3_600_000;
const clock: Clock = { nowMs: () => NOW_MS, nowNanos: () => NOW, monotonicMs: () => 0 };

const QUERIES = [
  "SELECT mean(v), sum(v), count(v) FROM cpu WHERE time >= $t0 AND time < $t1 GROUP BY time(1m)",
  "SELECT max(v), min(v), first(v), last(v), spread(v) FROM cpu WHERE time >= $t0 AND time < $t1 GROUP BY time(30s), host",
  "SELECT stddev(v), median(v), integral(v) FROM cpu WHERE time >= $t0 AND time < $t1 GROUP BY time(2m), host",
  "SELECT mean(v), sum(i), max(i) FROM cpu WHERE time >= $t0 AND time < $t1 GROUP BY time(1m) fill(none)",
  "SELECT mean(v), sum(v) FROM cpu WHERE time >= $t0 + 7s AND time < $t1 - 3s",
  "SELECT sum(v), mean(i), max(v) FROM cpu WHERE time >= $t0 AND time < $t1 GROUP BY time(45s, 10s), host",
];

const pointsArb = fc.array(
  fc.record({
    host: fc.constantFrom("a", "b"),
    dtS: fc.integer({ min: 0, max: 900 }),
    // Decimal fractions: (sum / n) * n differs from sum often, so splitting one series'
    // bucket into two partial means shows.
    v: fc.oneof(
      fc.constantFrom(0.1, 0.2, 0.3, 0.7, 1 / 3, 2 / 3, 1e-7, 12345.678),
      fc.double({ min: -1e6, max: 1e6, noNaN: true }),
    ),
    i: fc.integer({ min: -1000, max: 1000 }),
  }),
  { minLength: 1, maxLength: 60 },
);

async function answers(points: Point[], flushes: number[]): Promise<string[]> {
  const dir = await Deno.makeTempDir();
  const engine = await StorageEngine.open({
    dir,
    fs: denoFileSystem,
    clock,
    logger: silentLogger,
    maintenanceIntervalMs: 0,
    blockValues: 3,
  });
  try {
    await engine.createDatabase("db");
    // Written in slices with a flush after each slice listed: several segments and the head.
    let from = 0;
    for (const to of [...flushes, points.length]) {
      if (to > from) await engine.write("db", undefined, points.slice(from, to));
      if (to < points.length) await engine.flush();
      from = Math.max(from, to);
    }
    const out: string[] = [];
    for (const q of QUERIES) {
      const text = q.replaceAll("$t0", `${T0}ms`).replaceAll("$t1", `${T0 + 1_000_000}ms`);
      out.push(encodeJson(await executeQuery(engine, text, { database: "db", nowNs: NOW })));
    }
    return out;
  } finally {
    await engine.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("aggregates over segment blocks answer byte-identically to one head column", async () => {
  await fc.assert(
    fc.asyncProperty(
      pointsArb,
      fc.array(fc.nat(60), { maxLength: 3 }),
      async (raw, cuts) => {
        // Time order within a series (as the TSBS load), so head and segments hold the same
        // points; equal times keep the last write either way.
        const points: Point[] = raw
          .map((r, k) => ({ ...r, t: T0 + r.dtS * 1000 + (k % 3) * 100 }))
          .sort((a, b) => a.t - b.t)
          .map((r) => ({
            measurement: "cpu",
            tags: [{ key: "host", value: r.host }],
            fields: [
              { key: "v", type: FieldType.Float, value: r.v },
              { key: "i", type: FieldType.Integer, value: BigInt(r.i) },
            ],
            timeMs: r.t,
            timeSubMs: 0,
          }));
        const inHead = await answers(points, []);
        const inSegments = await answers(points, [...new Set(cuts)].sort((a, b) => a - b));
        for (let q = 0; q < QUERIES.length; q++) {
          assert.equal(inSegments[q], inHead[q], QUERIES[q]);
        }
      },
    ),
    { numRuns: 30 },
  );
});
