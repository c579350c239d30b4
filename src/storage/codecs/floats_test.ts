import assert from "node:assert/strict";
import fc from "fast-check";
import { seededRandom } from "../../core/testing/mod.ts";
import { ByteWriter } from "./bytes.ts";
import { Encoding, encodingName } from "./encoding.ts";
import { decodeFloats, encodeFloats, encodeFloatsAs } from "./floats.ts";
import { decimalScale } from "./floats_decimal.ts";
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

function encode(values: Float64Array): { id: number; bytes: Uint8Array } {
  const w = new ByteWriter(8);
  const id = encodeFloats(values, w);
  return { id, bytes: w.finish() };
}

function roundTrip(values: Float64Array): { id: number; bytes: Uint8Array } {
  const e = encode(values);
  assert.equal(e.bytes[0], e.id);
  assert.deepEqual(bitsOf(decodeFloats(e.bytes)), bitsOf(values));
  return e;
}

/**
 * A TSBS-like cpu metric: a random walk with normal steps clamped to [0, 100], at full float
 * precision (53 random bits per draw, as Go's rand.Float64 gives TSBS).
 */
function walk(n: number, seed = 1): Float64Array {
  const r32 = seededRandom(seed);
  const rnd = () => (Math.floor(r32() * 2 ** 26) * 2 ** 27 + Math.floor(r32() * 2 ** 27)) / 2 ** 53;
  const out = new Float64Array(n);
  let v = rnd() * 100;
  for (let i = 0; i < n; i++) {
    const normal = Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
    v = Math.min(100, Math.max(0, v + normal));
    out[i] = v;
  }
  return out;
}

const NAN_PAYLOAD = fromBits([[0x7ff00000, 1]])[0];

Deno.test("floats: encoding choice and exact sizes (dense table)", () => {
  const noise = fromBits(Array.from({ length: 64 }, (_, i) =>
    [
      (i * 0x9e3779b9) >>> 0,
      (i * 0x85ebca6b + 7) >>> 0,
    ] as const));
  const cases: [string, Float64Array, number, number | undefined][] = [
    ["one value", Float64Array.of(42.5), Encoding.FloatsConstant, 10],
    ["1000 zeros", new Float64Array(1000), Encoding.FloatsConstant, 11],
    [
      "constant NaN with payload",
      fromBits([[0x7ff00000, 1], [0x7ff00000, 1]]),
      Encoding.FloatsConstant,
      10,
    ],
    ["1.5 1.5 2.25", Float64Array.of(1.5, 1.5, 2.25), Encoding.FloatsDecimal, 10],
    ["1.5 1.5 2.25 NaN", Float64Array.of(1.5, 1.5, 2.25, NaN), Encoding.FloatsGorilla, 16],
    [
      // (0, 5, 10, ...) / 10: an IntegersRle block inside (31 64 00 0a).
      "steps of a counter",
      Float64Array.from({ length: 100 }, (_, i) => i * 0.5),
      Encoding.FloatsDecimal,
      1 + 1 + 1 + 4,
    ],
    [
      "steps of a counter, one NaN",
      Float64Array.from({ length: 100 }, (_, i) => i === 50 ? NaN : i * 0.5),
      Encoding.FloatsGorilla,
      undefined,
    ],
    [
      "oscillating across a carry",
      fromBits(
        Array.from(
          { length: 100 },
          (_, i) => [0x40000000, i % 2 ? 0x80000000 : 0x7fffffff] as const,
        ),
      ),
      Encoding.FloatsDeltaPacked,
      1 + 1 + 8 + 1 + 25,
    ],
    ["random bits", noise, Encoding.FloatsRaw, 1 + 1 + 8 * 64],
    [
      "-0, 0, NaN, ±Inf",
      Float64Array.of(-0, 0, NaN, Infinity, -Infinity, NAN_PAYLOAD),
      Encoding.FloatsGorilla,
      undefined,
    ],
  ];
  for (const [name, values, want, size] of cases) {
    const { id, bytes } = roundTrip(values);
    assert.equal(encodingName(id), encodingName(want), name);
    if (size !== undefined) assert.equal(bytes.length, size, name);
  }
});

Deno.test("floats: byte-exact Gorilla block", () => {
  // 1.5 = 0x3ff8000000000000, then '0' (same), then 2.25: XOR 0x7ffa000000000000 has 1 leading
  // and 49 trailing zeros: '11' 00001 001101 (14 - 1) then the 14 bits 11111111111101; then
  // NaN (0x7ff8000000000000, which also keeps the block from FloatsDecimal): XOR
  // 0x3ffa000000000000 fits the window (2 >= 1 leading, 49 trailing): '10' + 01111111111101.
  // 0 11 00001 001101 11111111111101 10 01111111111101 (+ 4 zero bits).
  const { bytes } = encode(Float64Array.of(1.5, 1.5, 2.25, NaN));
  assert.equal(hex(bytes), "21 04 00 00 00 00 00 00 f8 3f 61 37 ff d9 ff d0");
  // As written before FloatsDecimal existed, the three-value block still decodes.
  const old = Uint8Array.of(0x21, 3, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0x61, 0x37, 0xff, 0xd0);
  assert.deepEqual(Array.from(decodeFloats(old)), [1.5, 1.5, 2.25]);
});

Deno.test("floats: byte-exact decimal block", () => {
  // 1.5 1.5 2.25 = (150 150 225) / 10^2: scale 2, then an IntegersPacked block: count 3,
  // zigzag(150) = 300 as uvarint (ac 02), one group of width 8: deltas 0 and zigzag(75) = 150.
  const { bytes } = encode(Float64Array.of(1.5, 1.5, 2.25));
  assert.equal(hex(bytes), "25 03 02 33 03 ac 02 08 00 96");
});

Deno.test("floats: a FloatsDeltaPacked block written before FloatsBucketed still decodes", () => {
  // Written by encodeFloats as of commit 7df8a26 (24 values, steps of ~2^-31 around 50.12).
  const old = Uint8Array.from(
    ("23 18 b0 a2 9a 6e cd 0f 49 40 11 e0 46 fa 16 99 79 c1 5f 63 05 e8 8a 4e 14 a2 36 9a 75 ab " +
      "3d ff ec 09 f0 e6 e0 96 c4 d8 85 0e 6a d3 b5 11 c9 34 23 7d 2d 50 28 5c 16 c4 f2 86 d9 ca")
      .split(" "),
    (h) => parseInt(h, 16),
  );
  const values = Float64Array.of(
    50.12345678854524,
    50.12345678813728,
    50.123456788581436,
    50.123456788766795,
    50.12345678878677,
    50.12345678869878,
    50.12345678866733,
    50.123456788425116,
    50.123456788474776,
    50.12345678868881,
    50.12345678846326,
    50.12345678814283,
    50.123456788388786,
    50.123456788405925,
    50.12345678812386,
    50.12345678800089,
    50.12345678780834,
    50.12345678784069,
    50.12345678765101,
    50.12345678809613,
    50.123456787861,
    50.123456788212835,
    50.12345678792486,
    50.123456787592986,
  );
  assert.deepEqual(bitsOf(decodeFloats(old)), bitsOf(values));
  // Today's encoder never writes more bytes for the same values.
  assert.ok(encode(values).bytes.length <= old.length);
});

Deno.test("floats: full-precision random walks (TSBS cpu) take under 6.5 bytes per value", () => {
  for (const seed of [1, 2, 3]) {
    const { id, bytes } = roundTrip(walk(1000, seed));
    assert.notEqual(id, Encoding.FloatsRaw);
    assert.ok(bytes.length / 1000 < 6.5, `seed ${seed}: ${bytes.length / 1000} bytes per value`);
  }
});

Deno.test("floats: limits — empty and oversized blocks are BUG errors", () => {
  const w = new ByteWriter();
  assert.throws(() => encodeFloats(new Float64Array(0), w), /BUG: encodeFloats: empty/);
  assert.throws(() => encodeFloats(new Float64Array((1 << 20) + 1), w), /MAX_BLOCK_VALUES/);
  // A plain number array is accepted too.
  w.reset();
  encodeFloats([1, 2, 3], w);
  assert.deepEqual(Array.from(decodeFloats(w.finish())), [1, 2, 3]);
});

Deno.test("floats: corrupt and truncated blocks raise CodecError", () => {
  for (const values of [Float64Array.of(7), Float64Array.of(1.5, 1.5, 2.25, -0, NaN), walk(40)]) {
    assertCorruptionSafe(encode(values).bytes, decodeFloats);
  }
  assertCorruptionSafe(roundTrip(fromBits([[1, 2], [0x80000000, 7], [3, 3]])).bytes, decodeFloats);
  // A '10' (reuse the window) before any window was set.
  assert.throws(
    () => decodeFloats(Uint8Array.of(0x21, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0x80)),
    /reuses a window before any was set/,
  );
  // A window of 40 bits after 31 leading zeros.
  assert.throws(
    () =>
      decodeFloats(Uint8Array.of(0x21, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xe7, 0, 0, 0, 0, 0, 0)),
    /exceeds 64/,
  );
});

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const special: [number, number][] = [
  [0x7ff80000, 0], // NaN
  [0x7ff00000, 1], // signalling NaN with payload
  [0xfff80000, 0xdeadbeef], // negative quiet NaN with payload
  [0x7ff00000, 0], // +Inf
  [0xfff00000, 0], // -Inf
  [0x80000000, 0], // -0
  [0, 0], // 0
  [0, 1], // smallest subnormal
  [0x7fefffff, 0xffffffff], // largest finite
];
const pairArb = fc.oneof(
  fc.tuple(u32, u32),
  fc.constantFrom(...special),
  fc.double().map((d) => {
    const [pair] = [Array.from(new Uint32Array(Float64Array.of(d).buffer))];
    return [pair[1], pair[0]] as [number, number];
  }),
);

Deno.test("floats: any bits round-trip, NaN payloads, ±Inf and -0 included (property)", () => {
  fc.assert(
    fc.property(fc.array(pairArb, { minLength: 1, maxLength: 300, size: "medium" }), (pairs) => {
      roundTrip(fromBits(pairs));
    }),
    { numRuns: 300 },
  );
  // Long runs and random walks with repeats.
  fc.assert(
    fc.property(
      fc.array(fc.tuple(pairArb, fc.integer({ min: 1, max: 300 })), {
        minLength: 1,
        maxLength: 20,
      }),
      (runs) => {
        roundTrip(fromBits(runs.flatMap(([p, n]) => new Array(n).fill(p))));
      },
    ),
    { numRuns: 100 },
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 1 << 30 }),
      fc.integer({ min: 1, max: 2000 }),
      (seed, n) => {
        roundTrip(walk(n, seed));
      },
    ),
    { numRuns: 50 },
  );
});

/** Each applicable encoding actually written (not sized), by id. */
function candidates(values: Float64Array): Map<number, Uint8Array> {
  const ids: number[] = [
    Encoding.FloatsRaw,
    Encoding.FloatsGorilla,
    Encoding.FloatsDeltaPacked,
    Encoding.FloatsBucketed,
  ];
  if (decimalScale(values) >= 0) ids.push(Encoding.FloatsDecimal);
  const bits = bitsOf(values);
  if (bits.every((b) => b === bits[0])) ids.push(Encoding.FloatsConstant);
  const out = new Map<number, Uint8Array>();
  for (const id of ids) {
    const w = new ByteWriter(8);
    encodeFloatsAs(values, id as Encoding, w);
    const bytes = w.finish();
    assert.deepEqual(bitsOf(decodeFloats(bytes)), bits, `${encodingName(id)} round-trips`);
    out.set(id, bytes);
  }
  return out;
}

/**
 * The chosen block is byte for byte the smallest candidate written out. Blocks of one repeated
 * value are always Constant, unsized (a decimal block can be up to 3 bytes smaller).
 */
function assertSmallest(values: Float64Array): void {
  const all = candidates(values);
  const { id, bytes } = encode(values);
  if (all.has(Encoding.FloatsConstant)) {
    assert.equal(id, Encoding.FloatsConstant);
    return;
  }
  let min = Infinity;
  for (const b of all.values()) min = Math.min(min, b.length);
  const sizes = [...all].map(([i, b]) => `${encodingName(i)} ${b.length}`).join(", ");
  assert.equal(bytes.length, min, `chose ${encodingName(id)} of ${bytes.length} B; ${sizes}`);
  assert.deepEqual(bytes, all.get(id), `${encodingName(id)} written as encodeFloatsAs writes it`);
}

Deno.test("floats: the chosen block is the smallest of the candidates actually written (property)", () => {
  // Full precision walks (bucketed or packed win), decimals (decimal), steps of a few ulps, and
  // arbitrary bits with repeats (Gorilla, raw).
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 1 << 30 }),
      fc.integer({ min: 2, max: 1500 }),
      fc.constantFrom(1, 1e-3, 1e-12, 1e6),
      (seed, n, step) => {
        const v = walk(n, seed);
        for (let i = 0; i < n; i++) v[i] = 50 + (v[i] - 50) * step;
        assertSmallest(v);
      },
    ),
    { numRuns: 40 },
  );
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: -100_000, max: 100_000 }), { minLength: 1, maxLength: 400 }),
      fc.constantFrom(1, 10, 100, 1000),
      (ms, p) => assertSmallest(Float64Array.from(ms, (m) => m / p)),
    ),
    { numRuns: 40 },
  );
  fc.assert(
    fc.property(
      fc.array(fc.tuple(pairArb, fc.integer({ min: 1, max: 20 })), { minLength: 1, maxLength: 40 }),
      (runs) => assertSmallest(fromBits(runs.flatMap(([p, n]) => new Array(n).fill(p)))),
    ),
    { numRuns: 100 },
  );
  const ulps = seededRandom(9);
  assertSmallest(Float64Array.from({ length: 1000 }, () => 1 + Math.floor(ulps() * 64) * 2 ** -52));
});

Deno.test("floats: encodeFloatsAs refuses what does not apply", () => {
  const w = new ByteWriter();
  assert.throws(() => encodeFloatsAs(Float64Array.of(1, 2), Encoding.FloatsConstant, w), /BUG/);
  assert.throws(
    () => encodeFloatsAs(Float64Array.of(1, 0.1 + 0.2), Encoding.FloatsDecimal, w),
    /BUG/,
  );
  assert.throws(() => encodeFloatsAs(Float64Array.of(1), Encoding.IntegersRaw, w), /BUG.*0x30/);
});
