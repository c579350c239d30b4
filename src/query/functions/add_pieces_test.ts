import assert from "node:assert/strict";
import fc from "fast-check";
import { FieldType } from "../../core/point.ts";
import type { FieldColumn } from "../store.ts";
import { type AggregateFunction, lookupFunction } from "./mod.ts";

function column(values: number[], from = 0): FieldColumn {
  return {
    type: FieldType.Float,
    length: values.length,
    timesMs: Float64Array.from(values, (_, i) => from + i),
    timesSubMs: new Float64Array(values.length),
    values: Float64Array.from(values),
  };
}

// addPieces must add exactly as add() over the concatenation: float means depend on the order
// of additions to the last bit, and differential tests compare them with influxd bit for bit.
Deno.test("every addPieces equals add over the pieces concatenated, to the bit", () => {
  const fns = ["mean"].map((n) => lookupFunction(n) as AggregateFunction);
  for (const fn of fns) {
    assert.ok(fn.addPieces, `${fn.name} has addPieces`);
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.double({ noNaN: false }), { minLength: 1, maxLength: 20 }), {
          minLength: 1,
          maxLength: 5,
        }),
        (chunks) => {
          const whole = chunks.flat();
          const a = fn.init(undefined), b = fn.init(undefined);
          fn.add(a, column(whole), 0, whole.length);
          let at = 0;
          fn.addPieces!(b, chunks.map((c) => column(c, (at += c.length) - c.length)));
          const ra = fn.result(a, undefined)?.value, rb = fn.result(b, undefined)?.value;
          assert.ok(Object.is(ra, rb), `${fn.name}: ${ra} vs ${rb}`);
        },
      ),
      { numRuns: 300 },
    );
  }
});
