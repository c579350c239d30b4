import assert from "node:assert/strict";
import { FieldType } from "../core/point.ts";
import type { FieldPart } from "../core/column.ts";
import { SeriesWindows } from "./raw_windows.ts";

const MS = 1_000_000n;

/** A block of `count` points from `fromMs` to `toMs`, as its statistics. */
function block(fromMs: number, toMs: number, count: number): FieldPart {
  return {
    kind: "summary",
    type: FieldType.Float,
    count,
    minTimeMs: fromMs,
    minTimeSubMs: 0,
    maxTimeMs: toMs,
    maxTimeSubMs: 0,
    first: 0,
    last: 0,
  };
}

/** Decoded points at these ms (the head, or a block the range cuts). */
function column(...ms: number[]): FieldPart {
  return {
    kind: "column",
    column: {
      type: FieldType.Float,
      length: ms.length,
      timesMs: Float64Array.from(ms),
      timesSubMs: new Float64Array(ms.length),
      values: new Float64Array(ms.length),
    },
  };
}

function all(w: SeriesWindows): { minNs: bigint; maxNs: bigint }[] {
  const out = [];
  for (let k = 0; k < 1000; k++) {
    const next = w.next();
    if (next === undefined) return out;
    out.push(next);
  }
  throw new Error("no end");
}

const PARTS = [
  [block(0, 99, 100), block(100, 199, 100), block(200, 299, 100), column(300, 301, 302, 303)],
  [block(0, 149, 10), block(150, 299, 10)], // a sparse field: the dense one decides
];

Deno.test("windows tile the range without gap or overlap, each ending with a part", () => {
  const asc = all(new SeriesWindows(PARTS, -5n * MS, 1000n * MS, 150, false));
  assert.deepEqual(asc, [
    // 150 points are reached inside the second block: the window takes it whole.
    { minNs: -5n * MS, maxNs: 199n * MS },
    // Fewer than 150 left: the rest of the range.
    { minNs: 199n * MS + 1n, maxNs: 1000n * MS },
  ]);
  const desc = all(new SeriesWindows(PARTS, -5n * MS, 1000n * MS, 150, true));
  assert.deepEqual(desc, [
    { minNs: 100n * MS, maxNs: 1000n * MS },
    { minNs: -5n * MS, maxNs: 100n * MS - 1n },
  ]);
  // A window per part at most; the sparse field's parts end windows too.
  const small = all(new SeriesWindows(PARTS, 0n, 1000n * MS, 1, false));
  assert.deepEqual(small.map((w) => w.maxNs / MS), [99n, 149n, 199n, 299n, 303n, 1000n]);
  for (let i = 1; i < small.length; i++) assert.equal(small[i].minNs, small[i - 1].maxNs + 1n);
});

Deno.test("without statistics, or over an empty range, one window or none", () => {
  assert.deepEqual(all(new SeriesWindows([], 0n, 10n, 5, false)), [{ minNs: 0n, maxNs: 10n }]);
  assert.deepEqual(all(new SeriesWindows([[column()]], 0n, 10n, 5, true)), [
    { minNs: 0n, maxNs: 10n },
  ]);
  assert.deepEqual(all(new SeriesWindows(PARTS, 10n, 9n, 5, false)), []);
});

Deno.test("over columns already held, windows cut inside them at `want` points", () => {
  const parts = [[column(1, 2, 3, 4, 5)]];
  assert.deepEqual(all(new SeriesWindows(parts, 0n, 10n * MS, 2, false, true)), [
    { minNs: 0n, maxNs: 2n * MS },
    { minNs: 2n * MS + 1n, maxNs: 4n * MS },
    { minNs: 4n * MS + 1n, maxNs: 10n * MS },
  ]);
  assert.deepEqual(all(new SeriesWindows(parts, 0n, 10n * MS, 2, true, true)), [
    { minNs: 4n * MS, maxNs: 10n * MS },
    { minNs: 2n * MS, maxNs: 4n * MS - 1n },
    { minNs: 0n, maxNs: 2n * MS - 1n },
  ]);
});
