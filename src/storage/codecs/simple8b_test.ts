import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteReader, ByteWriter, CodecError } from "./bytes.ts";
import {
  SELECTOR_BITS,
  SELECTOR_VALUES,
  SIMPLE8B_MAX,
  simple8bDecode,
  simple8bDecode64,
  simple8bDecodeBig,
  simple8bEncode,
  simple8bEncodeBig,
} from "./simple8b.ts";

function encode(values: number[]): Uint8Array {
  const w = new ByteWriter();
  simple8bEncode(values, w);
  return w.finish();
}

function decode(bytes: Uint8Array, count: number): number[] {
  const out = new Float64Array(count);
  const r = new ByteReader(bytes);
  simple8bDecode(r, count, out);
  r.expectEnd("simple8b");
  return Array.from(out);
}

function selectors(bytes: Uint8Array): number[] {
  const s: number[] = [];
  for (let p = 0; p < bytes.length; p += 8) s.push(bytes[p] >>> 4);
  return s;
}

Deno.test("simple8b: selector choice for known inputs (dense table)", () => {
  const ones = (n: number) => new Array(n).fill(1);
  const cases: [string, number[], number[]][] = [
    ["240 ones", ones(240), [0]],
    ["120 ones", ones(120), [1]],
    ["239 ones: 120 + 60 + 30 + 20 + 8 + 1", ones(239), [1, 2, 3, 4, 8, 15]],
    ["480 ones", ones(480), [0, 0]],
    ["60 zeros", new Array(60).fill(0), [2]],
    ["one value", [5], [15]],
    ["3 x 20 bits", [1, 2, 3], [13]],
    ["2 x 30 bits", [2 ** 30 - 1, 0], [14]],
    ["2^30 needs a whole word", [2 ** 30, 0], [15, 15]],
    ["60 bits", [Number.MAX_SAFE_INTEGER], [15]],
    ["8 x 7 bits", [127, 1, 1, 1, 1, 1, 1, 1], [8]],
    ["7 x 8 bits", [255, 1, 1, 1, 1, 1, 1], [9]],
  ];
  for (const [name, values, want] of cases) {
    const bytes = encode(values);
    assert.deepEqual(selectors(bytes), want, name);
    assert.equal(bytes.length, 8 * want.length, name);
    assert.deepEqual(decode(bytes, values.length), values, name);
  }
});

Deno.test("simple8b: exact words match InfluxDB's layout (first value in the low bits)", () => {
  // Selector 13 = 3 values x 20 bits: 0xd | 3 << 40 | 2 << 20 | 1.
  assert.deepEqual(Array.from(encode([1, 2, 3])), [0xd0, 0x00, 0x03, 0x00, 0x00, 0x20, 0x00, 0x01]);
  assert.deepEqual(Array.from(encode(new Array(240).fill(1))), [0, 0, 0, 0, 0, 0, 0, 0]);
});

Deno.test("simple8b: limits — numbers below 2^53, 64-bit halves and bigints below 2^60", () => {
  const w = new ByteWriter();
  assert.throws(() => simple8bEncode([2 ** 53], w), /BUG: simple8bEncode/);
  assert.throws(() => simple8bEncode([-1], w), /BUG: simple8bEncode/);
  assert.throws(() => simple8bEncode([0.5], w), /BUG: simple8bEncode/);
  assert.throws(() => simple8bEncodeBig([SIMPLE8B_MAX + 1n], w), /BUG: simple8bEncodeBig/);
  // 2^60 - 1 round-trips through the bigint path; the number decoder refuses it.
  const big = [SIMPLE8B_MAX, 1n << 53n, 0n, 7n];
  const bw = new ByteWriter();
  simple8bEncodeBig(big, bw);
  assert.deepEqual(simple8bDecodeBig(new ByteReader(bw.finish()), 4), big);
  assert.throws(
    () => simple8bDecode(new ByteReader(bw.finish()), 4, new Float64Array(4)),
    (e) => e instanceof CodecError && /2\^53 or more/.test(e.message),
  );
  // The number path takes 2^53 - 1 exactly.
  assert.deepEqual(decode(encode([Number.MAX_SAFE_INTEGER, 0]), 2), [Number.MAX_SAFE_INTEGER, 0]);
  assert.equal(SELECTOR_VALUES.length, 16);
  for (let s = 2; s < 16; s++) assert.ok(SELECTOR_VALUES[s] * SELECTOR_BITS[s] <= 60);
});

Deno.test("simple8b: corrupt streams raise CodecError", () => {
  const good = encode([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
  // Truncated.
  assert.throws(() => decode(good.subarray(0, good.length - 1), 13), CodecError);
  // Asking for fewer values than a word holds.
  assert.throws(() => decode(good, 12), /only 1 expected|expected/);
  // A run word with a payload.
  const run = new Uint8Array(8);
  run[7] = 1;
  assert.throws(() => decode(run, 240), /non-zero payload/);
  // Selector 9 (7 x 8 bits = 56 bits) with a bit set in the 4 unused bits.
  const unused = encode([1, 1, 1, 1, 1, 1, 255]);
  assert.equal(unused[0] >>> 4, 9);
  unused[0] |= 0x08;
  assert.throws(() => decode(unused, 7), /non-zero unused bits/);
});

Deno.test("simple8b: any input round-trips (property)", () => {
  const value = fc.oneof(
    fc.constant(1),
    fc.constant(0),
    fc.nat(255),
    fc.nat(2 ** 30),
    fc.maxSafeNat(),
  );
  fc.assert(
    fc.property(fc.array(value, { maxLength: 600 }), (values) => {
      assert.deepEqual(decode(encode(values), values.length), values);
    }),
  );
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.constant(1n), fc.bigInt({ min: 0n, max: SIMPLE8B_MAX })), {
        maxLength: 300,
      }),
      (values) => {
        const w = new ByteWriter();
        simple8bEncodeBig(values, w);
        const r = new ByteReader(w.finish());
        const hi = new Uint32Array(values.length);
        const lo = new Uint32Array(values.length);
        simple8bDecode64(r, values.length, hi, lo);
        r.expectEnd("simple8b");
        for (let i = 0; i < values.length; i++) {
          assert.equal((BigInt(hi[i]) << 32n) | BigInt(lo[i]), values[i]);
        }
      },
    ),
  );
});
