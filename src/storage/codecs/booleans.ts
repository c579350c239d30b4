/**
 * The boolean column codec.
 *
 * Encodings (first byte), the smallest wins:
 * - `BooleansConstant` (0x51): every value equal: one byte, 0 or 1.
 * - `BooleansRuns` (0x52): the first value (one byte), then the length of each run of equal
 *   values as a uvarint; runs alternate and sum to the count (flags that rarely flip).
 * - `BooleansPacked` (0x50): one bit per value, most significant bit first, the last byte
 *   padded with zero bits.
 *
 * Limits: 1 to MAX_BLOCK_VALUES values per block.
 *
 * @module
 */

import { ByteReader, type ByteWriter } from "./bytes.ts";
import { checkCount, Encoding, readHeader } from "./encoding.ts";
import { varintSize } from "./_int64.ts";

/**
 * Appends an encoded block of booleans and returns the encoding chosen. Any truthy element of
 * a `Uint8Array` counts as true.
 * @throws {Error} `BUG:` on zero or more than MAX_BLOCK_VALUES values.
 * @example
 * ```ts
 * const w = new ByteWriter();
 * encodeBooleans([true, false, true], w); // Encoding.BooleansPacked: [0x50, 3, 0b1010_0000]
 * ```
 */
export function encodeBooleans(values: ArrayLike<boolean> | Uint8Array, out: ByteWriter): number {
  const count = values.length;
  checkCount(count, "encodeBooleans");
  const first = values[0] ? 1 : 0;
  // Size of the run-length form, to compare with packing's ceil(count / 8).
  let runsSize = 1;
  let run = 1;
  for (let i = 1; i < count; i++) {
    if ((values[i] ? 1 : 0) === (values[i - 1] ? 1 : 0)) {
      run++;
    } else {
      runsSize += varintSize(run);
      run = 1;
    }
  }
  if (run === count) {
    out.u8(Encoding.BooleansConstant);
    out.uvarint(count);
    out.u8(first);
    return Encoding.BooleansConstant;
  }
  runsSize += varintSize(run);
  const packedSize = (count + 7) >>> 3;
  if (runsSize < packedSize) {
    out.u8(Encoding.BooleansRuns);
    out.uvarint(count);
    out.u8(first);
    let n = 1;
    for (let i = 1; i < count; i++) {
      if ((values[i] ? 1 : 0) === (values[i - 1] ? 1 : 0)) {
        n++;
      } else {
        out.uvarint(n);
        n = 1;
      }
    }
    out.uvarint(n);
    return Encoding.BooleansRuns;
  }
  out.u8(Encoding.BooleansPacked);
  out.uvarint(count);
  const buf = out.reserve(packedSize);
  const p = out.length;
  buf.fill(0, p, p + packedSize);
  for (let i = 0; i < count; i++) {
    if (values[i]) buf[p + (i >>> 3)] |= 0x80 >>> (i & 7);
  }
  out.advance(packedSize);
  return Encoding.BooleansPacked;
}

/**
 * Decodes a block written by {@linkcode encodeBooleans}.
 * @throws {CodecError} on any inconsistency in the bytes.
 */
export function decodeBooleans(block: Uint8Array): boolean[] {
  const r = new ByteReader(block);
  const { id, count } = readHeader(r, 0x50, "boolean");
  const out: boolean[] = new Array(count);
  if (id === Encoding.BooleansPacked) {
    const nbytes = (count + 7) >>> 3;
    const bytes = r.bytes(nbytes, "packed booleans");
    r.expectEnd("packed boolean block");
    const pad = count & 7;
    if (pad !== 0 && (bytes[nbytes - 1] & (0xff >>> pad)) !== 0) {
      r.fail("non-zero padding bits after packed booleans", r.offset - 1);
    }
    for (let i = 0; i < count; i++) out[i] = (bytes[i >>> 3] & (0x80 >>> (i & 7))) !== 0;
    return out;
  }
  const at = r.offset;
  const first = r.u8("first boolean");
  if (first > 1) r.fail(`boolean byte ${first} is neither 0 nor 1`, at);
  if (id === Encoding.BooleansConstant) {
    r.expectEnd("constant boolean block");
    return out.fill(first === 1);
  }
  let v = first === 1;
  let i = 0;
  while (i < count) {
    const runAt = r.offset;
    const n = r.uvarint("boolean run length");
    if (n === 0 || n > count - i) {
      r.fail(`boolean run of ${n} at value ${i} of ${count}`, runAt);
    }
    out.fill(v, i, i + n);
    i += n;
    v = !v;
  }
  r.expectEnd("boolean run block");
  return out;
}
