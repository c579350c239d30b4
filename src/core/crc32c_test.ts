import assert from "node:assert/strict";
import { crc32c } from "./crc32c.ts";

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("crc32c matches the RFC 3720 check value", () => {
  assert.equal(crc32c(text("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(0)), 0);
});

Deno.test("crc32c continues across pieces", () => {
  const whole = text("the quick brown fox jumps over the lazy dog");
  for (let cut = 0; cut <= whole.length; cut++) {
    const first = crc32c(whole.subarray(0, cut));
    assert.equal(crc32c(whole.subarray(cut), first), crc32c(whole));
  }
});

/** The definition, one bit at a time: what the table-driven version must agree with. */
function bitwise(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

Deno.test("crc32c agrees with the bitwise definition at every alignment and length", () => {
  const buffer = new Uint8Array(4096 + 16);
  let x = 12345;
  for (let i = 0; i < buffer.length; i++) buffer[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  for (let offset = 0; offset < 8; offset++) {
    for (const length of [0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 1000, 4096]) {
      const piece = buffer.subarray(offset, offset + length);
      assert.equal(crc32c(piece), bitwise(piece), `offset ${offset}, length ${length}`);
      // Continued from a cut that leaves the rest unaligned.
      const cut = Math.min(length, 5);
      assert.equal(crc32c(piece.subarray(cut), crc32c(piece.subarray(0, cut))), bitwise(piece));
    }
  }
});
