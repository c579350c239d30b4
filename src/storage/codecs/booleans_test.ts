import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeBooleans, encodeBooleans } from "./booleans.ts";
import { ByteWriter } from "./bytes.ts";
import { Encoding, encodingName } from "./encoding.ts";
import { assertCorruptionSafe, hex } from "./_testing.ts";

function encode(values: ArrayLike<boolean> | Uint8Array): { id: number; bytes: Uint8Array } {
  const w = new ByteWriter(4);
  const id = encodeBooleans(values, w);
  return { id, bytes: w.finish() };
}

function roundTrip(values: boolean[]): { id: number; bytes: Uint8Array } {
  const e = encode(values);
  assert.equal(e.bytes[0], e.id);
  assert.deepEqual(decodeBooleans(e.bytes), values);
  return e;
}

const flag = (n: number, flips: number[]) => {
  let v = false;
  return Array.from({ length: n }, (_, i) => (flips.includes(i) ? (v = !v) : v));
};

Deno.test("booleans: encoding choice and exact sizes (dense table)", () => {
  const cases: [string, boolean[], number, string | number][] = [
    ["one true", [true], Encoding.BooleansConstant, "51 01 01"],
    ["1000 false", new Array(1000).fill(false), Encoding.BooleansConstant, "51 e8 07 00"],
    ["t f t", [true, false, true], Encoding.BooleansPacked, "50 03 a0"],
    [
      "8 values",
      [true, true, false, false, true, false, true, true],
      Encoding.BooleansPacked,
      "50 08 cb",
    ],
    [
      "9 values",
      [false, false, false, false, false, false, false, true, true],
      Encoding.BooleansPacked,
      "50 09 01 80",
    ],
    [
      "a flag flipping twice in 1000",
      flag(1000, [300, 700]),
      Encoding.BooleansRuns,
      "52 e8 07 00 ac 02 90 03 ac 02",
    ],
    [
      "alternating 1000",
      Array.from({ length: 1000 }, (_, i) => i % 2 === 0),
      Encoding.BooleansPacked,
      1 + 2 + 125,
    ],
  ];
  for (const [name, values, want, bytesOrSize] of cases) {
    const { id, bytes } = roundTrip(values);
    assert.equal(encodingName(id), encodingName(want), name);
    if (typeof bytesOrSize === "string") assert.equal(hex(bytes), bytesOrSize, name);
    else assert.equal(bytes.length, bytesOrSize, name);
  }
  // A Uint8Array of 0/1 is accepted.
  assert.equal(hex(encode(Uint8Array.of(1, 0, 1)).bytes), "50 03 a0");
});

Deno.test("booleans: limits and corruption", () => {
  assert.throws(() => encodeBooleans([], new ByteWriter()), /BUG: encodeBooleans: empty/);
  for (const values of [[true], [true, false, true], flag(500, [3, 4, 200]), flag(20, [1, 5, 9])]) {
    assertCorruptionSafe(encode(values).bytes, decodeBooleans);
  }
  assert.throws(() => decodeBooleans(Uint8Array.of(0x50, 3, 0xa1)), /non-zero padding/);
  assert.throws(() => decodeBooleans(Uint8Array.of(0x51, 3, 2)), /neither 0 nor 1/);
  assert.throws(() => decodeBooleans(Uint8Array.of(0x52, 3, 0, 2, 2)), /run of 2 at value 2/);
  assert.throws(() => decodeBooleans(Uint8Array.of(0x52, 3, 0, 0, 3)), /run of 0/);
});

Deno.test("booleans: any input round-trips (property)", () => {
  fc.assert(
    fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 500, size: "medium" }), (v) => {
      roundTrip(v);
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 400 })), {
        minLength: 1,
        maxLength: 20,
      }),
      (runs) => {
        roundTrip(runs.flatMap(([b, n]) => new Array<boolean>(n).fill(b)));
      },
    ),
    { numRuns: 200 },
  );
});
