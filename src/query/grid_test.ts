import assert from "node:assert/strict";
import fc from "fast-check";
import { Grid } from "./grid.ts";
import { lookupFunction } from "./functions/mod.ts";
import type { AggregateFunction } from "./functions/mod.ts";
import { FieldType } from "../core/point.ts";
import type { FieldColumn } from "./store.ts";

// runEnd's galloping search must find what a linear scan finds, for runs of 1 point to all.
Deno.test("Grid.runEnd equals a linear scan for any sorted times and interval", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 300 }),
      fc.integer({ min: 1, max: 400 }),
      (gaps, intervalMs) => {
        const times = new Float64Array(gaps.length);
        let t = 1_000_000;
        gaps.forEach((g, i) => (times[i] = t += g + 1));
        const subs = new Float64Array(gaps.length);
        const grid = new Grid({ ns: BigInt(intervalMs) * 1_000_000n, offsetNs: 0n }, 0n);
        for (let from = 0; from < times.length; from++) {
          const idx = grid.index(times[from], 0);
          let linear = from + 1;
          while (linear < times.length && grid.index(times[linear], 0) === idx) linear++;
          assert.equal(grid.runEnd(times, subs, from, times.length), linear);
        }
      },
    ),
    { numRuns: 200 },
  );
});

// max()/min() take a typed-array scan for float columns: the same point as the generic
// comparison (greater/smaller wins, equal only when earlier; NaN and -0 as === and > decide).
Deno.test("max() and min() over float columns pick the point the generic rule picks", () => {
  const value = fc.oneof(
    fc.constantFrom(0, -0, 1, -1, NaN, Infinity, -Infinity),
    fc.double(),
  );
  for (const name of ["max", "min"]) {
    const fn = lookupFunction(name) as AggregateFunction<
      { has: boolean; value: unknown; ms: number; subMs: number }
    >;
    const better = (x: number, cur: number) => name === "max" ? x > cur : x < cur;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(value, fc.integer({ min: 0, max: 20 })), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 40 }),
        (points, split) => {
          const n = points.length;
          const col: FieldColumn = {
            type: FieldType.Float,
            length: n,
            // Not sorted: ties between equal values go by time, not position.
            timesMs: Float64Array.from(points, (p) => 1000 + p[1]),
            timesSubMs: new Float64Array(n),
            values: Float64Array.from(points, (p) => p[0]),
          };
          const s = fn.init({ valueTies: false });
          const cut = Math.min(split, n);
          fn.add(s, col, 0, cut);
          fn.add(s, col, cut, n);
          let at = 0;
          for (let k = 1; k < n; k++) {
            const x = col.values[k] as number, cur = col.values[at] as number;
            if (better(x, cur) || (x === cur && col.timesMs[k] < col.timesMs[at])) at = k;
          }
          assert.ok(s.has);
          assert.ok(Object.is(s.value, col.values[at]), `${s.value} vs ${col.values[at]}`);
          assert.equal(s.ms, col.timesMs[at]);
        },
      ),
      { numRuns: 300 },
    );
  }
});
