import assert from "node:assert/strict";
import fc from "fast-check";
import { seededRandom } from "../../core/testing/mod.ts";
import { ByteWriter, CodecError } from "./bytes.ts";
import { Encoding } from "./encoding.ts";
import { decodeFloats, encodeFloats } from "./floats.ts";
import {
  BUCKETED_MAX_SCALE,
  bucketedBits,
  bucketedBitsByValue,
  bucketedChooseScale,
  bucketedEncode,
} from "./floats_bucketed.ts";
import { scanFloats } from "./floats_scan.ts";
import { assertCorruptionSafe, bitsOf, hex } from "./_testing.ts";

function fromBits(pairs: readonly (readonly [number, number])[]): Float64Array {
  const f = new Float64Array(pairs.length);
  const u = new Uint32Array(f.buffer);
  pairs.forEach(([hi, lo], i) => {
    u[2 * i + 1] = hi;
    u[2 * i] = lo;
  });
  return f;
}

/** A FloatsBucketed block at a forced scale (encodeFloats would pick its own or another codec). */
function bucketedAt(values: Float64Array, scale: number): Uint8Array {
  const u = new Uint32Array(values.buffer, values.byteOffset, 2 * values.length);
  const deltas = scanFloats(u, values.length);
  const bits = bucketedBits(deltas, scale);
  const w = new ByteWriter(16);
  w.u8(Encoding.FloatsBucketed);
  w.uvarint(values.length);
  w.u32(u[0]);
  w.u32(u[1]);
  w.uvarint(scale);
  const before = w.length;
  bucketedEncode(u, { scan: deltas, scale, bits }, w);
  assert.equal(w.length - before, Math.ceil(bits / 8), "bucketedBits is the exact size");
  return w.finish();
}

/** mulberry32 + Box-Muller: a TSBS-like walk clamped to [0, 100], 53-bit draws. */
function walk(n: number, seed: number, step = 1): Float64Array {
  const r32 = seededRandom(seed);
  const rnd = () => (Math.floor(r32() * 2 ** 26) * 2 ** 27 + Math.floor(r32() * 2 ** 27)) / 2 ** 53;
  const out = new Float64Array(n);
  let v = rnd() * 100;
  for (let i = 0; i < n; i++) {
    v = Math.min(
      100,
      Math.max(
        0,
        v + step * Math.sqrt(-2 * Math.log(1 - rnd())) *
            Math.cos(2 * Math.PI * rnd()),
      ),
    );
    out[i] = v;
  }
  return out;
}

Deno.test("floats bucketed: byte-exact block (bucket, REPEAT, ESCAPE, ZERO, INT)", () => {
  // 1.0, 1.0 + 5 ulps, the same, 2.5, 0, 100, -3 at K = 1024: after 1.0 (biased exponent 1023)
  // k = 1. Canonical codes: bucket 2 = 011, REPEAT = 1111100, INT = 1111101, ZERO = 11111101,
  // ESCAPE = 11111110.
  //  +5 ulps: bucket 5 >> 1 = 2, sign 0, low bit 1                 -> 011 0 1
  //  same bits: REPEAT                                              -> 1111100
  //  2.5 is about 2^51 ulps away, above bucket 15 << 1: ESCAPE      -> 11111110 + 64 bits
  //  0.0: ZERO                                                      -> 11111101
  //  100: INT, sign 0, width 7 − 1 in 5 bits, the 6 bits below 1    -> 1111101 0 00110 100100
  //  -3: INT, sign 1, width 2 − 1, 1 bit                            -> 1111101 1 00001 1
  //  then 3 zero bits of padding.
  const values = Float64Array.of(1, 1 + 5 * 2 ** -52, 1 + 5 * 2 ** -52, 2.5, 0, 100, -3);
  const block = bucketedAt(values, 1024);
  assert.equal(
    hex(block),
    "24 07 00 00 00 00 00 00 f0 3f 80 08 6f cf e4 00 40 00 00 00 00 00 0f df a3 49 f6 18",
  );
  assert.deepEqual(bitsOf(decodeFloats(block)), bitsOf(values));
});

Deno.test("floats bucketed: found cases (dense table)", () => {
  const cases: [string, Float64Array, number][] = [
    // The second INT starts on a 32-bit word boundary, where a read once came back unsigned
    // (sign lost: -1 decoded as 1).
    ["INT at a word boundary", Float64Array.of(0, 5e-324, -1, 0, -1, 0), 0],
    ["largest INT, both signs", Float64Array.of(2 ** 32 - 1, -(2 ** 32 - 1), 2 ** 32), 1075],
    ["k = 63 after zero", Float64Array.of(0, 1.5, 0, -1.5), 2110],
  ];
  for (const [name, values, scale] of cases) {
    assert.deepEqual(bitsOf(decodeFloats(bucketedAt(values, scale))), bitsOf(values), name);
  }
});

Deno.test("floats bucketed: chosen for full-precision random walks, under 6.2 bytes per value", () => {
  for (const seed of [1, 2, 3, 4]) {
    const values = walk(1000, seed);
    const w = new ByteWriter(16);
    const id = encodeFloats(values, w);
    const bytes = w.finish();
    assert.equal(id, Encoding.FloatsBucketed, `seed ${seed}`);
    assert.ok(bytes.length / 1000 < 6.2, `seed ${seed}: ${bytes.length / 1000} B/value`);
    assert.deepEqual(bitsOf(decodeFloats(bytes)), bitsOf(values));
    // The scale search finds the best K: its neighbours are no smaller.
    const u = new Uint32Array(values.buffer);
    const d = scanFloats(u, 1000);
    const { scale, bits } = bucketedChooseScale(d);
    assert.ok(bucketedBits(d, scale - 1) >= bits && bucketedBits(d, scale + 1) >= bits);
  }
});

Deno.test("floats bucketed: limits — scale above the maximum, truncation, trailing bytes", () => {
  const block = bucketedAt(walk(50, 9), 1070);
  assertCorruptionSafe(block, decodeFloats);
  assertCorruptionSafe(
    bucketedAt(Float64Array.of(1, 1 + 5 * 2 ** -52, 2.5, 0, -0, NaN, 100, -(2 ** 32 - 1)), 0),
    decodeFloats,
  );
  // The scale is a uvarint right after the first value.
  const tooLarge = bucketedAt(Float64Array.of(1, 2), BUCKETED_MAX_SCALE);
  assert.deepEqual(Array.from(decodeFloats(tooLarge)), [1, 2]);
  const bad = Uint8Array.of(0x24, 2, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0xbf, 0x10, 0);
  assert.throws(
    () => decodeFloats(bad),
    (e) => e instanceof CodecError && /scale 2111 above 2110/.test(e.message),
  );
});

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const special: [number, number][] = [
  [0x7ff80000, 0], // NaN
  [0x7ff00000, 1], // signalling NaN with payload
  [0xfff80000, 0xdeadbeef], // negative NaN with payload
  [0x7ff00000, 0], // +Inf
  [0xfff00000, 0], // -Inf
  [0x80000000, 0], // -0
  [0, 0], // +0
  [0, 1], // smallest subnormal
  [0x000fffff, 0xffffffff], // largest subnormal
  [0x7fefffff, 0xffffffff], // largest finite
  [0x41efffff, 0xffe00000], // 2^32 − 1, the largest INT
  [0x41f00000, 0], // 2^32, beyond INT
  [0xc1efffff, 0xffe00000], // −(2^32 − 1)
  [0x3ff00000, 0], // 1
  [0xbff00000, 0], // -1
];
const pairArb = fc.oneof(
  fc.tuple(u32, u32),
  fc.constantFrom(...special),
  fc.double().map((d) => {
    const u = new Uint32Array(Float64Array.of(d).buffer);
    return [u[1], u[0]] as [number, number];
  }),
);
/**
 * Steps of up to `w` bits (either sign, wrapping) from a base, with a scale that puts k near
 * w − 2 for the base's exponent: buckets of every k (0 to 63, the k ≥ 29 carries into the high
 * half included) carry most values instead of escapes.
 */
const nearArb = fc.tuple(
  u32,
  u32,
  fc.integer({ min: 1, max: 64 }),
  fc.integer({ min: -6, max: 2 }),
  fc.array(fc.tuple(u32, u32, fc.boolean()), { maxLength: 150 }),
).map(([hi, lo, w, off, steps]) => {
  const scale = Math.max(0, Math.min(BUCKETED_MAX_SCALE, ((hi >>> 20) & 0x7ff) + w + off));
  const pairs: [number, number][] = [[hi, lo]];
  for (const [sh, sl, neg] of steps) {
    const dh = w > 32 ? sh >>> (64 - w) : 0;
    const dl = w >= 32 ? sl : sl >>> (32 - w);
    if (neg) {
      const borrow = lo < dl ? 1 : 0;
      lo = (lo - dl) >>> 0;
      hi = (hi - dh - borrow) >>> 0;
    } else {
      const sum = lo + dl;
      lo = sum >>> 0;
      hi = (hi + dh + (sum > 0xffffffff ? 1 : 0)) >>> 0;
    }
    pairs.push([hi, lo]);
  }
  return { pairs, scale };
});

Deno.test("floats bucketed: any bits at any scale round-trip (property)", () => {
  const scaleArb = fc.oneof(
    fc.integer({ min: 0, max: BUCKETED_MAX_SCALE }),
    fc.integer({ min: 1000, max: 1090 }),
  );
  const check = (values: Float64Array, scale: number) => {
    assert.deepEqual(bitsOf(decodeFloats(bucketedAt(values, scale))), bitsOf(values));
    // And through the encoder's own choice.
    const w = new ByteWriter(16);
    encodeFloats(values, w);
    assert.deepEqual(bitsOf(decodeFloats(w.finish())), bitsOf(values));
  };
  fc.assert(
    fc.property(fc.array(pairArb, { minLength: 1, maxLength: 200 }), scaleArb, (pairs, scale) => {
      check(fromBits(pairs), scale);
    }),
    { numRuns: 200 },
  );
  fc.assert(
    fc.property(nearArb, ({ pairs, scale }) => check(fromBits(pairs), scale)),
    { numRuns: 400 },
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 1 << 30 }),
      fc.integer({ min: 2, max: 1500 }),
      fc.constantFrom(1e-9, 1e-3, 1, 1e3),
      (seed, n, step) => {
        const values = walk(n, seed, step);
        const w = new ByteWriter(16);
        encodeFloats(values, w);
        assert.deepEqual(bitsOf(decodeFloats(w.finish())), bitsOf(values));
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("floats bucketed: sizing from the histograms equals sizing value by value, any K", () => {
  // Walks whose exponents span a few binades (clamped K − e for the K far from the choice),
  // near zero (subnormals, ZERO), with integers (INT), repeats and wide jumps (ESCAPE).
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 1 << 30 }),
      fc.integer({ min: 2, max: 600 }),
      fc.constantFrom(1, 2 ** -30, 2 ** -1060, 1e9),
      fc.integer({ min: -80, max: 80 }),
      (seed, n, scale, offset) => {
        const v = walk(n, seed);
        for (let i = 0; i < n; i++) {
          v[i] *= scale;
          if (i % 97 === 5) v[i] = Math.round(v[i]);
          if (i % 89 === 7) v[i] = v[i - 1];
        }
        const u = new Uint32Array(v.buffer);
        const d = scanFloats(u, n);
        const { scale: chosen } = bucketedChooseScale(d);
        for (const K of [0, chosen + offset, chosen - 1, chosen, chosen + 1, BUCKETED_MAX_SCALE]) {
          if (K < 0 || K > BUCKETED_MAX_SCALE) continue;
          assert.equal(bucketedBits(d, K), bucketedBitsByValue(d, K), `K = ${K}`);
        }
      },
    ),
    { numRuns: 150 },
  );
});
