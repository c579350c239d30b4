/**
 * The uint64 column codec: as `integers.ts` (same encodings under the 0x4_ ids, same wrapping
 * zigzag deltas), for values in [0, 2^64 - 1]: `number` while <= 2^53 - 1, `bigint` beyond.
 * The first value is written as a plain uvarint (no zigzag).
 *
 * Limits: 1 to MAX_BLOCK_VALUES values per block; a negative or non-integer number, or a bigint
 * outside [0, 2^64 - 1], is a `BUG:`.
 *
 * @module
 */

import { decodeInt64Body, encodeInt64Block, type Int64Ids } from "./_int64.ts";
import { ByteReader, type ByteWriter } from "./bytes.ts";
import { checkCount, Encoding, readHeader } from "./encoding.ts";
import type { IntegerValues } from "./integers.ts";

const TWO_32 = 4294967296;
const IDS: Int64Ids = {
  raw: Encoding.UnsignedRaw,
  rle: Encoding.UnsignedRle,
  simple8b: Encoding.UnsignedSimple8b,
  packed: Encoding.UnsignedPacked,
};

/**
 * Appends an encoded block of uint64 values and returns the encoding chosen.
 * @throws {Error} `BUG:` on zero or too many values or a value outside [0, 2^64 - 1].
 * @example
 * ```ts
 * const w = new ByteWriter();
 * encodeUnsigned([0, 18446744073709551615n], w);
 * decodeUnsigned(w.finish()); // [0, 18446744073709551615n]
 * ```
 */
export function encodeUnsigned(values: IntegerValues, out: ByteWriter): number {
  const count = values.length;
  checkCount(count, "encodeUnsigned");
  const hi = new Uint32Array(count);
  const lo = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const v = values[i];
    if (typeof v === "number") {
      if (!Number.isSafeInteger(v) || v < 0) {
        throw new Error(
          `BUG: unsigned value at index ${i} is not a safe non-negative integer: ${v}`,
        );
      }
      const h = Math.floor(v / TWO_32);
      hi[i] = h;
      lo[i] = v - h * TWO_32;
    } else {
      if (v < 0n || v > 0xffffffffffffffffn) {
        throw new Error(`BUG: unsigned value at index ${i} is outside uint64: ${v}`);
      }
      hi[i] = Number(v >> 32n);
      lo[i] = Number(v & 0xffffffffn);
    }
  }
  return encodeInt64Block(hi, lo, count, { ids: IDS, signed: false }, out);
}

/**
 * Decodes a block written by {@linkcode encodeUnsigned}: numbers up to 2^53 - 1, bigints beyond.
 * @throws {CodecError} on any inconsistency in the bytes.
 */
export function decodeUnsigned(block: Uint8Array): (number | bigint)[] {
  const r = new ByteReader(block);
  const { id, count } = readHeader(r, 0x40, "unsigned");
  const { hi, lo } = decodeInt64Body(r, id, count, { ids: IDS, signed: false, what: "unsigned" });
  const out: (number | bigint)[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const h = hi[i];
    out[i] = h < 0x200000 ? h * TWO_32 + lo[i] : (BigInt(h) << 32n) | BigInt(lo[i]);
  }
  return out;
}
