/**
 * The int64 column codec. Values follow the field-value convention of `core/point.ts`: a
 * `number` while a safe integer (|v| <= 2^53 - 1) and a `bigint` beyond; a `Float64Array` of
 * safe integers is the fast input. Inside, every value is a pair of 32-bit halves, so the whole
 * int64 range is exact (INT64_MIN and INT64_MAX round-trip) with no BigInt on the fast path.
 *
 * Encodings (first byte), the smallest one wins:
 * - `IntegersRle` (0x31): constant step (also a single value): first value, step.
 * - `IntegersSimple8b` (0x32): first value, then zigzag(v[i] - v[i-1]) in Simple-8b; only when
 *   every zigzag delta is below 2^60.
 * - `IntegersPacked` (0x33): first value, then zigzag deltas bit-packed in groups of 128.
 * - `IntegersRaw` (0x30): 8 bytes per value, little-endian two's complement.
 *
 * Deltas wrap modulo 2^64 (INT64_MIN - INT64_MAX is fine). Limits: 1 to MAX_BLOCK_VALUES values
 * per block; a number that is not a safe integer, or a bigint outside int64, is a `BUG:`.
 *
 * @module
 */

import { decodeInt64Body, encodeInt64Block, type Int64Ids } from "./_int64.ts";
import { ByteReader, type ByteWriter } from "./bytes.ts";
import { checkCount, Encoding, readHeader } from "./encoding.ts";

const TWO_32 = 4294967296;
/** The encoding ids of a signed integer block (FloatsDecimal's mantissas use them too). */
export const INTEGER_BLOCK_IDS: Int64Ids = {
  raw: Encoding.IntegersRaw,
  rle: Encoding.IntegersRle,
  simple8b: Encoding.IntegersSimple8b,
  packed: Encoding.IntegersPacked,
};

/** Integer column input: safe integers in a Float64Array, or numbers and bigints. */
export type IntegerValues = Float64Array | ArrayLike<number | bigint>;

/**
 * Appends an encoded block of int64 values and returns the encoding chosen.
 * @throws {Error} `BUG:` on zero or too many values, a non-safe-integer number or a bigint
 *   outside int64.
 * @example
 * ```ts
 * const w = new ByteWriter();
 * encodeIntegers([10, 20, 30, 40], w); // Encoding.IntegersRle, 4 bytes
 * decodeIntegers(w.finish()); // [10, 20, 30, 40]
 * ```
 */
export function encodeIntegers(values: IntegerValues, out: ByteWriter): number {
  const count = values.length;
  checkCount(count, "encodeIntegers");
  const hi = new Uint32Array(count);
  const lo = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const v = values[i];
    if (typeof v === "number") {
      if (!Number.isSafeInteger(v)) {
        throw new Error(`BUG: integer value at index ${i} is not a safe integer: ${v}`);
      }
      const h = Math.floor(v / TWO_32);
      hi[i] = h;
      lo[i] = v - h * TWO_32;
    } else {
      if (v < -0x8000000000000000n || v > 0x7fffffffffffffffn) {
        throw new Error(`BUG: integer value at index ${i} is outside int64: ${v}`);
      }
      hi[i] = Number(BigInt.asUintN(32, v >> 32n));
      lo[i] = Number(BigInt.asUintN(32, v));
    }
  }
  return encodeInt64Block(hi, lo, count, { ids: INTEGER_BLOCK_IDS, signed: true }, out);
}

/**
 * Decodes a block written by {@linkcode encodeIntegers}: numbers while safe, bigints beyond.
 * @throws {CodecError} on any inconsistency in the bytes.
 */
export function decodeIntegers(block: Uint8Array): (number | bigint)[] {
  const r = new ByteReader(block);
  const { id, count } = readHeader(r, 0x30, "integer");
  const { hi, lo } = decodeInt64Body(r, id, count, {
    ids: INTEGER_BLOCK_IDS,
    signed: true,
    what: "integer",
  });
  const out: (number | bigint)[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const n = (hi[i] | 0) * TWO_32 + lo[i];
    out[i] = Number.isSafeInteger(n)
      ? n
      : BigInt.asIntN(64, (BigInt(hi[i]) << 32n) | BigInt(lo[i]));
  }
  return out;
}
