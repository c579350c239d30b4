import assert from "node:assert/strict";
import fc from "fast-check";
import { type Clock, FieldType, type Point, silentLogger } from "../core/mod.ts";
import { denoFileSystem } from "../runtime/mod.ts";
import { StorageEngine } from "../storage/mod.ts";
import { executeQuery } from "./executor.ts";
import type { ResultSeries } from "./result.ts";

// Raw selects with LIMIT read each series from the plan's end only (raw_edge.ts). Their answers
// must equal the full read's rows cut per group, whatever the data's layout: tiny blocks, several
// segments overlapping in time, the head, sparse fields, deletes and conditions.

const NOW_MS = 1_700_000_000_000;
const NOW = BigInt(NOW_MS) * 1_000_000n;
const T0 = NOW_MS - 3_600_000;
const clock: Clock = { nowMs: () => NOW_MS, nowNanos: () => NOW, monotonicMs: () => 0 };

/** [query without LIMIT, the OFFSET and LIMIT to add]. */
const QUERIES: [string, number, number][] = [
  ["SELECT * FROM cpu GROUP BY host ORDER BY time DESC", 0, 1],
  ["SELECT v, w FROM cpu GROUP BY host ORDER BY time DESC", 2, 3],
  ["SELECT w FROM cpu GROUP BY host", 0, 4],
  ["SELECT * FROM cpu WHERE v > 0 ORDER BY time DESC", 0, 5],
  ["SELECT v FROM cpu WHERE w < 0 GROUP BY host ORDER BY time DESC", 1, 2],
  [
    "SELECT * FROM cpu WHERE time >= $t0 + 100s AND time < $t0 + 600s GROUP BY host ORDER BY time DESC",
    0,
    3,
  ],
  ["SELECT v + 1, host FROM cpu WHERE host = 'b' OR v < 0 GROUP BY host", 3, 2],
  ["SELECT * FROM cpu WHERE v > 100 OR w > 100 GROUP BY host ORDER BY time DESC", 0, 2],
];

const pointsArb = fc.array(
  fc.record({
    host: fc.constantFrom("a", "b", "c"),
    dtS: fc.integer({ min: 0, max: 900 }),
    v: fc.option(fc.integer({ min: -200, max: 200 }), { nil: undefined }),
    w: fc.option(fc.integer({ min: -200, max: 200 }), { nil: undefined }),
  }),
  { minLength: 1, maxLength: 80 },
);

async function withEngine<T>(
  points: Point[],
  flushes: number[],
  deleteHost: string | undefined,
  run: (engine: StorageEngine) => Promise<T>,
): Promise<T> {
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
    let from = 0;
    for (const to of [...flushes, points.length]) {
      if (to > from) await engine.write("db", undefined, points.slice(from, to));
      if (to < points.length) await engine.flush();
      from = Math.max(from, to);
    }
    if (deleteHost !== undefined) {
      await executeQuery(
        engine,
        `DELETE FROM cpu WHERE host = '${deleteHost}' AND time >= ${T0 + 200_000}ms AND ` +
          `time < ${T0 + 400_000}ms`,
        { database: "db", nowNs: NOW },
      );
    }
    return await run(engine);
  } finally {
    await engine.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const text = (q: string) => q.replaceAll("$t0", `${T0}ms`);

/** Each group's rows cut as LIMIT and OFFSET cut them; groups left empty disappear. */
function cut(series: ResultSeries[], offset: number, limit: number): ResultSeries[] {
  return series.map((s) => ({ ...s, values: s.values.slice(offset, offset + limit) }))
    .filter((s) => s.values.length > 0);
}

Deno.test("raw selects with LIMIT read from one end and answer as the full read cut per group", async () => {
  await fc.assert(
    fc.asyncProperty(
      pointsArb,
      fc.array(fc.nat(80), { maxLength: 3 }),
      fc.option(fc.constantFrom("a", "b"), { nil: undefined }),
      async (raw, cuts, deleteHost) => {
        // Not in time order: segments overlap in time, and the head too.
        const points: Point[] = raw.map((r, k) => ({
          measurement: "cpu",
          tags: [{ key: "host", value: r.host }],
          fields: [
            ...(r.v === undefined ? [] : [{ key: "v", type: FieldType.Float, value: r.v }]),
            ...(r.w === undefined || (r.v !== undefined && k % 4 === 0)
              ? [{ key: "w", type: FieldType.Float, value: k }]
              : [{ key: "w", type: FieldType.Float, value: r.w }]),
          ],
          timeMs: T0 + r.dtS * 1000,
          timeSubMs: 0,
        }));
        const flushes = [...new Set(cuts)].sort((a, b) => a - b);
        await withEngine(points, flushes, deleteHost, async (engine) => {
          for (const [q, offset, limit] of QUERIES) {
            const options = { database: "db", nowNs: NOW };
            const [full] = await executeQuery(engine, text(q), options);
            const [limited] = await executeQuery(
              engine,
              `${text(q)} LIMIT ${limit} OFFSET ${offset}`,
              options,
            );
            assert.equal(limited.error, undefined, q);
            assert.deepEqual(limited.series ?? [], cut(full.series ?? [], offset, limit), q);
          }
        });
      },
    ),
    { numRuns: 40 },
  );
});

Deno.test("lastpoint reads one block per field and series, not every point", async () => {
  // 3 hosts x 2,000 points in segments of 100-value blocks and a head: a full read is 12,000
  // points; from the newest end a series needs its newest block of each field.
  const points: Point[] = [];
  for (let i = 0; i < 2_000; i++) {
    for (const host of ["a", "b", "c"]) {
      points.push({
        measurement: "cpu",
        tags: [{ key: "host", value: host }],
        fields: [
          { key: "v", type: FieldType.Float, value: i },
          { key: "w", type: FieldType.Float, value: -i },
        ],
        timeMs: T0 + i * 1000,
        timeSubMs: 0,
      });
    }
  }
  const dir = await Deno.makeTempDir();
  const engine = await StorageEngine.open({
    dir,
    fs: denoFileSystem,
    clock,
    logger: silentLogger,
    maintenanceIntervalMs: 0,
    blockValues: 100,
  });
  try {
    await engine.createDatabase("db");
    await engine.write("db", undefined, points.slice(0, 5_400));
    await engine.flush();
    await engine.write("db", undefined, points.slice(5_400));
    const options = { database: "db", nowNs: NOW, limits: { maxPoints: 1_000 } };
    const [last] = await executeQuery(
      engine,
      "SELECT * FROM cpu GROUP BY host ORDER BY time DESC LIMIT 1",
      options,
    );
    assert.equal(last.error, undefined);
    assert.deepEqual(last.series!.map((s) => s.values[0].slice(1)), [
      [1999, -1999],
      [1999, -1999],
      [1999, -1999],
    ]);
    // The oldest rows likewise (all in the first segment's first blocks).
    const [first] = await executeQuery(engine, "SELECT v FROM cpu WHERE v > 4 LIMIT 2", options);
    assert.equal(first.error, undefined);
    assert.deepEqual(first.series![0].values.map((r) => r[1]), [5, 5]);
  } finally {
    await engine.close();
    await Deno.remove(dir, { recursive: true });
  }
});
