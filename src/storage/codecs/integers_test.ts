import assert from "node:assert/strict";
import fc from "fast-check";
import { compactInteger, INT64_MAX, INT64_MIN, UINT64_MAX } from "../../core/point.ts";
import { ByteWriter } from "./bytes.ts";
import { Encoding, encodingName } from "./encoding.ts";
import { decodeIntegers, encodeIntegers, type IntegerValues } from "./integers.ts";
import { decodeUnsigned, encodeUnsigned } from "./unsigned.ts";
import { assertCorruptionSafe, hex } from "./_testing.ts";

type Codec = {
  name: string;
  encode: (v: IntegerValues, w: ByteWriter) => number;
  decode: (b: Uint8Array) => (number | bigint)[];
};
const SIGNED: Codec = { name: "integers", encode: encodeIntegers, decode: decodeIntegers };
const UNSIGNED: Codec = { name: "unsigned", encode: encodeUnsigned, decode: decodeUnsigned };

function encode(c: Codec, values: IntegerValues): { id: number; bytes: Uint8Array } {
  const w = new ByteWriter(8);
  const id = c.encode(values, w);
  return { id, bytes: w.finish() };
}

function roundTrip(c: Codec, values: IntegerValues): { id: number; bytes: Uint8Array } {
  const e = encode(c, values);
  assert.equal(e.bytes[0], e.id);
  const want = Array.from(values as ArrayLike<number | bigint>, (v) => compactInteger(BigInt(v)));
  assert.deepEqual(c.decode(e.bytes), want);
  return e;
}

// A counter that mostly ticks by 0..2 and jumps now and then: Simple-8b adapts word by word,
// bit-packing would pay the jump's width for its whole group.
let total = 0;
const counter = Array.from({ length: 1000 }, (_, i) => (total += i % 100 === 0 ? 5000 : i % 3));
// Steady small deltas of 3..9 or -3: bit-packing at 5 bits beats Simple-8b's 12 x 5 per word.
const wobble = Array.from({ length: 1000 }, (_, i) => i * 3 + (i % 7));
const P60 = 1n << 60n;

Deno.test("integers: encoding choice and exact sizes (dense table)", () => {
  const cases: [string, IntegerValues, number, number | undefined][] = [
    ["one value", [5], Encoding.IntegersRle, 4],
    ["constant step", [10, 20, 30, 40], Encoding.IntegersRle, 4],
    ["1000 equal", new Array(1000).fill(-7), Encoding.IntegersRle, 5],
    ["INT64_MIN alone", [INT64_MIN], Encoding.IntegersRle, 1 + 1 + 10 + 1],
    ["counter", counter, Encoding.IntegersSimple8b, undefined],
    ["Float64Array counter", Float64Array.from(counter), Encoding.IntegersSimple8b, undefined],
    // id, count (2 bytes), first (1); 7 groups of 128 x 4 bits; 103 x 4 bits.
    ["wobble", wobble, Encoding.IntegersPacked, 4 + 7 * (1 + 64) + (1 + 52)],
    [
      "MIN MAX MIN MAX: wrapping deltas are tiny",
      [INT64_MIN, INT64_MAX, INT64_MIN, INT64_MAX],
      Encoding.IntegersPacked,
      1 + 1 + 10 + 2,
    ],
    ["deltas beyond 2^60", [0n, P60 * 3n, P60, P60 * 5n, 7n], Encoding.IntegersPacked, undefined],
    [
      "full-range noise",
      Array.from(
        { length: 16 },
        (_, i) => BigInt.asIntN(64, BigInt(i + 1) ** 7n * 0x9e3779b97f4a7c15n),
      ),
      Encoding.IntegersRaw,
      1 + 1 + 128,
    ],
  ];
  for (const [name, values, want, size] of cases) {
    const { id, bytes } = roundTrip(SIGNED, values);
    assert.equal(encodingName(id), encodingName(want), name);
    if (size !== undefined) assert.equal(bytes.length, size, name);
  }
  assert.equal(hex(encode(SIGNED, [10, 20, 30, 40]).bytes), "31 04 14 14");
  assert.equal(hex(encode(SIGNED, [-1]).bytes), "31 01 01 00");
});

Deno.test("unsigned: encoding choice and exact sizes (dense table)", () => {
  const cases: [string, IntegerValues, number, number | undefined][] = [
    ["one value", [5], Encoding.UnsignedRle, 4],
    ["UINT64_MAX alone", [UINT64_MAX], Encoding.UnsignedRle, 1 + 1 + 10 + 1],
    ["0, MAX: one step", [0, UINT64_MAX], Encoding.UnsignedRle, 1 + 1 + 1 + 1],
    ["counter", counter, Encoding.UnsignedSimple8b, undefined],
    [
      "around 2^53",
      [2 ** 53 - 1, 2n ** 53n, 2n ** 53n + 1n, 2 ** 53 - 2],
      Encoding.UnsignedPacked,
      undefined,
    ],
    ["deltas beyond 2^60", [0n, P60 * 3n, P60, UINT64_MAX, 7n], Encoding.UnsignedPacked, undefined],
  ];
  for (const [name, values, want, size] of cases) {
    const { id, bytes } = roundTrip(UNSIGNED, values);
    assert.equal(encodingName(id), encodingName(want), name);
    if (size !== undefined) assert.equal(bytes.length, size, name);
  }
});

Deno.test("integers: limits — values outside the type and empty blocks are BUG errors", () => {
  const w = new ByteWriter();
  const cases: [Codec, IntegerValues, RegExp][] = [
    [SIGNED, [], /empty/],
    [SIGNED, [2 ** 53], /not a safe integer/],
    [SIGNED, [1.5], /not a safe integer/],
    [SIGNED, [NaN], /not a safe integer/],
    [SIGNED, [INT64_MAX + 1n], /outside int64/],
    [SIGNED, [INT64_MIN - 1n], /outside int64/],
    [UNSIGNED, [], /empty/],
    [UNSIGNED, [-1], /not a safe non-negative integer/],
    [UNSIGNED, [-1n], /outside uint64/],
    [UNSIGNED, [UINT64_MAX + 1n], /outside uint64/],
  ];
  for (const [c, values, re] of cases) assert.throws(() => c.encode(values, w), re, `${c.name}`);
  // The edges themselves round-trip, and decode as the point model wants them.
  roundTrip(SIGNED, [INT64_MIN, INT64_MAX, 0n]);
  assert.deepEqual(
    decodeIntegers(encode(SIGNED, [2n ** 53n - 1n, -(2n ** 53n) + 1n, -(2n ** 53n)]).bytes),
    [
      Number.MAX_SAFE_INTEGER,
      -Number.MAX_SAFE_INTEGER,
      -(2n ** 53n),
    ],
  );
});

Deno.test("integers: corrupt and truncated blocks raise CodecError", () => {
  const samples: [Codec, IntegerValues][] = [
    [SIGNED, [5]],
    [SIGNED, [10, 20, 30, 40]],
    [SIGNED, counter.slice(0, 60)],
    [SIGNED, [0n, P60 * 3n, P60, P60 * 5n, 7n]],
    [SIGNED, [INT64_MIN, 3n, INT64_MAX, -5n]],
    [UNSIGNED, [0, UINT64_MAX, 3, 9]],
    [UNSIGNED, counter.slice(0, 30)],
  ];
  for (const [c, values] of samples) assertCorruptionSafe(encode(c, values).bytes, c.decode);
  assert.throws(() => decodeIntegers(Uint8Array.of(0x41, 1, 0, 0)), /a UnsignedRle block/);
  assert.throws(() => decodeUnsigned(Uint8Array.of(0x31, 1, 0, 0)), /a IntegersRle block/);
});

const int64 = fc.oneof(
  fc.maxSafeInteger(),
  fc.integer({ min: -1000, max: 1000 }),
  fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
  fc.constantFrom(INT64_MIN, INT64_MAX, 0n, -1n, 2n ** 53n, -(2n ** 53n)),
);
const uint64 = fc.oneof(
  fc.maxSafeNat(),
  fc.nat(1000),
  fc.bigInt({ min: 0n, max: UINT64_MAX }),
  fc.constantFrom(UINT64_MAX, 0n, 2n ** 53n, 2n ** 63n, 2n ** 60n - 1n, 2n ** 60n),
);

Deno.test("integers and unsigned: any input round-trips (property)", () => {
  for (const [c, arb] of [[SIGNED, int64], [UNSIGNED, uint64]] as const) {
    fc.assert(
      fc.property(fc.array(arb, { minLength: 1, maxLength: 300, size: "medium" }), (values) => {
        roundTrip(c, values);
      }),
      { numRuns: 200 },
    );
    // Runs and arithmetic progressions.
    fc.assert(
      fc.property(
        arb,
        fc.integer({ min: -1000, max: 1000 }),
        fc.integer({ min: 1, max: 2000 }),
        (v0, step, n) => {
          const values = Array.from({ length: n }, (_, i) => {
            const v = BigInt(v0) + BigInt(step) * BigInt(i);
            return c === SIGNED ? BigInt.asIntN(64, v) : BigInt.asUintN(64, v);
          });
          roundTrip(c, values);
        },
      ),
      { numRuns: 100 },
    );
  }
});
