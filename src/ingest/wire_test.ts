/**
 * Protobuf strings read through the interning table of `_wire.ts`: a hit is a name of the same
 * bytes, never one that only shares their hash (FNV-1a, 32 bits), and every name comes back as
 * sent whether it is interned (short ASCII) or not (longer, non-ASCII).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { Wire } from "./_wire.ts";

const enc = new TextEncoder();

/** The FNV-1a hash `Wire.string` keys its table by. */
function fnv1a(bytes: Uint8Array): number {
  let hash = 0x811c9dc5 | 0;
  for (const c of bytes) hash = Math.imul(hash ^ c, 0x01000193);
  return hash;
}

/** Each of `names` as a length-delimited string, end to end, read back with `Wire.string`. */
function readBack(names: readonly string[]): string[] {
  const parts = names.map((n) => enc.encode(n));
  const bytes: number[] = [];
  for (const p of parts) {
    // Lengths below 128 are one varint byte; longer names take two.
    if (p.length < 128) bytes.push(p.length);
    else bytes.push((p.length & 0x7f) | 0x80, p.length >> 7);
    bytes.push(...p);
  }
  const w = new Wire(Uint8Array.from(bytes));
  return names.map(() => w.string());
}

// Ten-character ASCII names found by a birthday search: each pair has one FNV-1a hash.
const COLLIDING: [string, string][] = [
  ["d7nf4t6cgu", "5q2txvbd6h"],
  ["kqup95k5wg", "viuc85kno3"],
  ["p4cb9n7z9s", "hvimk1o9bw"],
];

Deno.test("wire strings: names of one hash come back as themselves, each after the other", () => {
  for (const [a, b] of COLLIDING) {
    assert.equal(fnv1a(enc.encode(a)), fnv1a(enc.encode(b)), `${a} and ${b} must collide`);
    const names = [a, b, a, b, b, a];
    assert.deepEqual(readBack(names), names);
  }
});

Deno.test("wire strings: non-ASCII, long and empty names come back as sent", () => {
  const names = [
    "température",
    "temp\u00e9rature",
    "温度",
    "température",
    "x".repeat(64),
    "x".repeat(65),
    "é".repeat(40),
    "",
    "x".repeat(64),
    "😀",
  ];
  assert.deepEqual(readBack(names), names);
});

Deno.test("wire strings: many distinct names (the table emptied and refilled) come back as sent", () => {
  const names = Array.from({ length: 20_000 }, (_, i) => `field_${i}`);
  assert.deepEqual(readBack([...names, ...names.slice(0, 100)]), [
    ...names,
    ...names.slice(0, 100),
  ]);
});

Deno.test("wire strings: any names read back as sent (property)", () => {
  fc.assert(
    fc.property(
      fc.array(fc.string({ unit: "grapheme", maxLength: 20 }), { maxLength: 30 }),
      (names) => {
        assert.deepEqual(readBack([...names, ...names]), [...names, ...names]);
      },
    ),
    { numRuns: 200 },
  );
});
