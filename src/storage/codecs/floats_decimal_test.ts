import assert from "node:assert/strict";
import fc from "fast-check";
import { seededRandom } from "../../core/testing/mod.ts";
import { ByteWriter, CodecError } from "./bytes.ts";
import { Encoding, encodingName } from "./encoding.ts";
import { decodeFloats, encodeFloats } from "./floats.ts";
import { DECIMAL_MAX_SCALE, decimalEncode, decimalScale } from "./floats_decimal.ts";
import { assertCorruptionSafe, bitsOf } from "./_testing.ts";

function encode(values: Float64Array): { id: number; bytes: Uint8Array } {
  const w = new ByteWriter(16);
  const id = encodeFloats(values, w);
  const bytes = w.finish();
  assert.deepEqual(bitsOf(decodeFloats(bytes)), bitsOf(values));
  return { id, bytes };
}

/** A sensor with two decimals: a seeded random walk of ±0.05 steps around 21 °C. */
function sensor(n: number, seed: number): Float64Array {
  const r = seededRandom(seed);
  let c = 2100; // hundredths
  return Float64Array.from({ length: n }, () => (c += Math.round((r() - 0.5) * 10)) / 100);
}

Deno.test("floats decimal: the smallest exact scale, or none (dense table)", () => {
  const cases: [string, number[], number][] = [
    ["integers", [1, 2, 3, -7], 0],
    ["one decimal", [1.5, 2, -0.5], 1],
    ["two decimals", [21.37, 21.4, 0.01], 2],
    ["+0 is fine", [0, 0.25], 2],
    ["-0 is not", [1, -0], -1],
    ["NaN", [1, NaN], -1],
    ["Infinity", [Infinity], -1],
    ["π: 16 digits, a mantissa below 2^53", [Math.PI], 15],
    ["0.1 + 0.2: 17 digits, above 2^53", [0.1 + 0.2], -1],
    ["16 digits, but m = 9512345678901234 is above 2^53", [95.12345678901234], -1],
    ["2^53 + 2 is not a safe mantissa", [2 ** 53 + 2], -1],
    ["1e-22", [1e-22], 22],
  ];
  for (const [name, values, want] of cases) {
    assert.equal(decimalScale(Float64Array.from(values)), want, name);
  }
});

Deno.test("floats decimal: a two-decimal sensor takes under 1 byte per value (was ~6)", () => {
  for (const seed of [1, 2, 3]) {
    const { id, bytes } = encode(sensor(1000, seed));
    assert.equal(encodingName(id), "FloatsDecimal", `seed ${seed}`);
    assert.ok(bytes.length / 1000 < 1, `seed ${seed}: ${bytes.length / 1000} B/value`);
  }
});

Deno.test("floats decimal: limits — scale, nested block, mantissa range", () => {
  const { bytes } = encode(sensor(40, 7));
  assertCorruptionSafe(bytes, decodeFloats);
  // 25 count=1 scale=23 ...: above 10^22.
  assert.throws(
    () => decodeFloats(Uint8Array.of(0x25, 1, 23, 0x31, 1, 0, 0)),
    (e) => e instanceof CodecError && /decimal scale 23 above 22/.test(e.message),
  );
  // The nested block must be an integer block of the same count.
  assert.throws(
    () => decodeFloats(Uint8Array.of(0x25, 2, 0, 0x31, 1, 0, 0)),
    (e) => e instanceof CodecError && /1 values in a block of 2/.test(e.message),
  );
  assert.throws(
    () => decodeFloats(Uint8Array.of(0x25, 1, 0, 0x22, 1, 0, 0, 0, 0, 0, 0, 0, 0)),
    (e) => e instanceof CodecError && /unknown decimal mantissa encoding id 0x22/.test(e.message),
  );
  // IntegersRaw holding 2^60: beyond a safe mantissa.
  assert.throws(
    () => decodeFloats(Uint8Array.of(0x25, 1, 0, 0x30, 1, 0, 0, 0, 0, 0, 0, 0, 0x10)),
    (e) => e instanceof CodecError && /beyond 2\^53/.test(e.message),
  );
});

Deno.test("floats decimal: any m / 10^e round-trips bit-exact (property)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: DECIMAL_MAX_SCALE }),
      fc.array(fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.maxSafeInteger()), {
        minLength: 1,
        maxLength: 200,
      }),
      (e, ms) => {
        const values = Float64Array.from(ms, (m) => m / 10 ** e);
        const scale = decimalScale(values);
        // Near 2^53, v·10^e can round a unit away from m: such blocks may be missed (never
        // mis-coded: the check is exact). Below 2^40 the scale is always found.
        if (ms.every((m) => Math.abs(m) < 2 ** 40)) {
          assert.ok(scale >= 0 && scale <= e, `scale ${scale} for e ${e}`);
        }
        if (scale < 0) return;
        // The encoder keeps the smallest: never more than the decimal block (FloatsConstant,
        // tried first, is the exception: at most 3 bytes more, once per block).
        const { id, bytes } = encode(values);
        if (id === Encoding.FloatsConstant) return;
        const w = new ByteWriter(16);
        decimalEncode(values, scale, w);
        assert.ok(bytes.length <= w.length, `${bytes.length} > decimal ${w.length}`);
      },
    ),
    { numRuns: 300 },
  );
  // Walks with an occasional value no decimal holds (NaN, -0, a full-precision one).
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 1 << 30 }),
      fc.integer({ min: 1, max: 500 }),
      fc.constantFrom(NaN, -0, Math.E, Infinity),
      fc.nat(),
      (seed, n, odd, at) => {
        const values = sensor(n, seed);
        encode(values);
        values[at % n] = odd;
        const { id } = encode(values);
        assert.notEqual(id, Encoding.FloatsDecimal);
      },
    ),
    { numRuns: 80 },
  );
});
