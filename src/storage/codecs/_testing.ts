/**
 * Test helpers shared by the codec tests (not exported from mod.ts).
 * @module
 */

import assert from "node:assert/strict";
import { CodecError } from "./bytes.ts";

/**
 * Every strict prefix of `block` must raise CodecError, and every single-byte corruption must
 * either raise CodecError or decode to something (a checksum above catches the rest): never a
 * RangeError, TypeError or a hang.
 */
export function assertCorruptionSafe(block: Uint8Array, decode: (b: Uint8Array) => unknown): void {
  for (let len = 0; len < block.length; len++) {
    assert.throws(
      () => decode(block.slice(0, len)),
      CodecError,
      `prefix of ${len}/${block.length} bytes did not raise CodecError`,
    );
  }
  for (let i = 0; i < block.length; i++) {
    for (const x of [0x01, 0x10, 0x80, 0xff]) {
      const bad = block.slice();
      bad[i] ^= x;
      try {
        decode(bad);
      } catch (e) {
        if (!(e instanceof CodecError)) {
          assert.fail(`byte ${i} ^ 0x${x.toString(16)} raised ${e} instead of CodecError`);
        }
      }
    }
  }
  // Trailing garbage is refused.
  const longer = new Uint8Array(block.length + 1);
  longer.set(block);
  longer[block.length] = 0x5a;
  assert.throws(() => decode(longer), CodecError, "a trailing byte was accepted");
}

/** The bytes as hex, for byte-exact expectations. */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

/** The raw bits of a float64 array, for bit-exact comparisons (NaN payloads, -0). */
export function bitsOf(values: Float64Array): string[] {
  const u = new Uint32Array(values.buffer, values.byteOffset, values.length * 2);
  const out: string[] = [];
  for (let i = 0; i < values.length; i++) {
    out.push(u[2 * i + 1].toString(16).padStart(8, "0") + u[2 * i].toString(16).padStart(8, "0"));
  }
  return out;
}
