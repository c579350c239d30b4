import assert from "node:assert/strict";
import fc from "fast-check";
import { FieldType, type FieldValue, INT64_MAX, INT64_MIN, UINT64_MAX } from "../../core/point.ts";
import { type BlockStats, computeBlockStats } from "./block_stats.ts";

function stats(type: FieldType, values: Float64Array | FieldValue[]): BlockStats {
  const n = values.length;
  const timesMs = Float64Array.from({ length: n }, (_, i) => 1000 + i * 10);
  const timesSubMs = Float64Array.from({ length: n }, (_, i) => i);
  return computeBlockStats({ type, timesMs, timesSubMs, values });
}

Deno.test("block stats: table", () => {
  const cases: [string, FieldType, Float64Array | FieldValue[], Partial<BlockStats>][] = [
    ["floats", FieldType.Float, Float64Array.of(3, -1.5, 2), { min: -1.5, max: 3, sum: 3.5 }],
    ["NaN ignored by min/max, kept by sum", FieldType.Float, Float64Array.of(NaN, 2, 1), {
      min: 1,
      max: 2,
      sum: NaN,
    }],
    ["all NaN", FieldType.Float, Float64Array.of(NaN), { min: NaN, max: NaN }],
    ["infinities", FieldType.Float, Float64Array.of(-Infinity, 1, Infinity), {
      min: -Infinity,
      max: Infinity,
      sum: NaN,
    }],
    ["integers", FieldType.Integer, [5, -3, 10], { min: -3, max: 10, sum: 12 }],
    ["sum leaves the safe range", FieldType.Integer, [Number.MAX_SAFE_INTEGER, 2, -1], {
      sum: 9007199254740992n,
    }],
    ["sum comes back", FieldType.Integer, [Number.MAX_SAFE_INTEGER, 2, -5], {
      sum: 9007199254740988,
    }],
    ["int64 extremes", FieldType.Integer, [INT64_MIN, INT64_MAX, INT64_MAX], {
      min: INT64_MIN,
      max: INT64_MAX,
      sum: INT64_MAX - 1n,
    }],
    ["Float64Array integers", FieldType.Integer, Float64Array.of(1, 2, 3), {
      min: 1,
      max: 3,
      sum: 6,
    }],
    ["unsigned beyond uint64 in the sum", FieldType.Unsigned, [UINT64_MAX, 1], {
      min: 1,
      max: UINT64_MAX,
      sum: UINT64_MAX + 1n,
    }],
    ["booleans", FieldType.Boolean, [true, false], { first: true, last: false, min: undefined }],
    ["strings", FieldType.String, ["a", "b", "c"], { first: "a", last: "c", sum: undefined }],
  ];
  for (const [name, type, values, want] of cases) {
    const s = stats(type, values);
    assert.equal(s.count, values.length, name);
    assert.equal(s.minTimeMs, 1000, name);
    assert.equal(s.maxTimeMs, 1000 + (values.length - 1) * 10, name);
    assert.equal(s.maxTimeSubMs, values.length - 1, name);
    for (const [k, v] of Object.entries(want)) {
      assert.ok(
        Object.is(s[k as keyof BlockStats], v),
        `${name}: ${k} = ${String(s[k as keyof BlockStats])}, want ${String(v)}`,
      );
    }
  }
  assert.throws(() => stats(FieldType.Float, new Float64Array(0)), /BUG: .*empty/);
});

Deno.test("block stats: integer sums are exact (property)", () => {
  const v = fc.oneof(fc.maxSafeInteger(), fc.bigInt({ min: INT64_MIN, max: INT64_MAX }));
  fc.assert(
    fc.property(fc.array(v, { minLength: 1, maxLength: 50 }), (values) => {
      const s = stats(FieldType.Integer, values);
      const exact = values.reduce<bigint>((a, b) => a + BigInt(b), 0n);
      assert.equal(BigInt(s.sum as number | bigint), exact);
      assert.equal(
        typeof s.sum,
        Number.isSafeInteger(Number(exact)) && BigInt(Number(exact)) === exact
          ? "number"
          : "bigint",
      );
      const sorted = values.map(BigInt).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      assert.equal(BigInt(s.min!), sorted[0]);
      assert.equal(BigInt(s.max!), sorted[sorted.length - 1]);
    }),
  );
});
