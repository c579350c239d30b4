import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteWriter, CodecError } from "./bytes.ts";
import { Encoding, encodingName } from "./encoding.ts";
import { decodeStrings, encodeStrings } from "./strings.ts";
import { assertCorruptionSafe, hex } from "./_testing.ts";

function encode(values: string[]): { id: number; bytes: Uint8Array } {
  const w = new ByteWriter(4);
  const id = encodeStrings(values, w);
  return { id, bytes: w.finish() };
}

function roundTrip(values: string[]): { id: number; bytes: Uint8Array } {
  const e = encode(values);
  assert.equal(e.bytes[0], e.id);
  assert.deepEqual(decodeStrings(e.bytes), values);
  return e;
}

/** Picks among `choices` with a seeded xorshift, so the order has no pattern to compress. */
function picks(n: number, choices: string[], seed = 7): string[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return choices[(x >>> 0) % choices.length];
  });
}

const hosts = ["host-0001.eu-west-1.example.com", "host-0002.eu-west-1.example.com"];

const logLines = Array.from(
  { length: 200 },
  (_, i) => `GET /api/v1/items/${i * 37} 200 ${(i * 7919) % 1000}ms user=${i % 13}`,
);

Deno.test("strings: encoding choice and exact sizes (dense table)", () => {
  const cases: [string, string[], number, string | number | undefined][] = [
    ["one string", ["a"], Encoding.StringsPlain, "60 01 01 61"],
    ["empty string", [""], Encoding.StringsPlain, "60 01 00"],
    [
      "low cardinality",
      ["ok", "ok", "ok", "fail"],
      Encoding.StringsDictionary,
      "61 04 02 02 04 6f 6b 66 61 69 6c 10",
    ],
    [
      "1000 x one value",
      new Array(1000).fill("idle"),
      Encoding.StringsDictionary,
      1 + 2 + 1 + 1 + 4,
    ],
    [
      "two hostnames, random order",
      picks(1000, hosts),
      Encoding.StringsDictionary,
      1 + 2 + 1 + 2 + 62 + 125,
    ],
    // A dictionary under an eighth of the plain body is kept without trying DEFLATE.
    [
      "three states",
      Array.from({ length: 1000 }, (_, i) => ["run", "wait", "stop"][i % 3]),
      Encoding.StringsDictionary,
      1 + 2 + 1 + 3 + 11 + 250,
    ],
    ["unicode", ["héllo", "日本語", "🎉", ""], Encoding.StringsPlain, undefined],
  ];
  for (const [name, values, want, expect] of cases) {
    const { id, bytes } = roundTrip(values);
    assert.equal(encodingName(id), encodingName(want), name);
    if (typeof expect === "string") assert.equal(hex(bytes), expect, name);
    else if (expect !== undefined) assert.equal(bytes.length, expect, name);
  }
});

Deno.test("strings: limits — empty blocks and lone surrogates are BUG errors", () => {
  const w = new ByteWriter();
  assert.throws(() => encodeStrings([], w), /BUG: encodeStrings: empty/);
  assert.throws(() => encodeStrings(["ok", "\ud800"], w), /BUG: string value at index 1/);
});

Deno.test("strings: corrupt and truncated blocks raise CodecError", () => {
  for (
    const values of [["a"], ["ok", "ok", "ok", "fail"], ["héllo", "日本語"], logLines.slice(0, 6)]
  ) {
    assertCorruptionSafe(encode(values).bytes, decodeStrings);
  }
  // Invalid UTF-8 (a lone continuation byte).
  assert.throws(() => decodeStrings(Uint8Array.of(0x60, 1, 1, 0x80)), /not valid UTF-8/);
  // A dictionary index beyond the dictionary.
  assert.deepEqual(decodeStrings(Uint8Array.of(0x61, 2, 2, 1, 1, 0x61, 0x62, 0x40)), ["a", "b"]);
  assert.throws(
    () => decodeStrings(Uint8Array.of(0x61, 2, 2, 1, 1, 0x61, 0x62, 0x60)),
    (e) => e instanceof CodecError && /non-zero padding/.test(e.message),
  );
  assert.throws(
    () => decodeStrings(Uint8Array.of(0x61, 4, 3, 1, 1, 1, 0x61, 0x62, 0x63, 0xff)),
    /dictionary index 3 at value 0 beyond 3 entries/,
  );
  // A deflate block claiming an impossible length.
  assert.throws(
    () => decodeStrings(Uint8Array.of(0x62, 1, 0xff, 0xff, 0xff, 0x7f, 1, 0)),
    /impossible/,
  );
  const deflated = encode(logLines).bytes;
  assertCorruptionSafe(deflated.slice(0, 40), decodeStrings);
});

Deno.test("strings: any input round-trips (property)", () => {
  const text = fc.string({ unit: "grapheme", maxLength: 40 });
  fc.assert(
    fc.property(fc.array(text, { minLength: 1, maxLength: 200 }), (values) => {
      roundTrip(values);
    }),
    { numRuns: 200 },
  );
  fc.assert(
    fc.property(
      fc.array(fc.string({ maxLength: 12 }), { minLength: 1, maxLength: 5 }),
      fc.array(fc.nat(), { minLength: 1, maxLength: 500 }),
      (dict, picks) => {
        roundTrip(picks.map((k) => dict[k % dict.length]));
      },
    ),
    { numRuns: 200 },
  );
});
