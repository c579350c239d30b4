/**
 * The `FloatsDecimal` float encoding (0x25): a block whose every value is exactly `m / 10^e` for
 * one `e` in [0, 22] and safe integers `m` (a sensor with two decimals, a percentage with one,
 * integers written as floats) is stored as `e` and the integer block of the `m`s (zigzag deltas
 * in Simple-8b or bit-packing, or RLE: integers.ts's choice), the decimal mantissa + shared
 * exponent idea of VictoriaMetrics. Here it is taken only when exact: the encoder checks that
 * `m / 10^e` gives back each value's very bits (IEEE division is correctly rounded, so decoding
 * gives the same bits on every host), and -0, NaN and ±Infinity make a block ineligible.
 *
 * Full-precision data fails the check within a few values for every `e` (a 17-digit value has no
 * safe mantissa), so trying costs little: about 1 ms per 3000 TSBS blocks.
 *
 * @module
 */

import { decodeInt64Body, encodeInt64Block } from "./_int64.ts";
import type { ByteReader, ByteWriter } from "./bytes.ts";
import { Encoding, readHeader } from "./encoding.ts";
import { INTEGER_BLOCK_IDS } from "./integers.ts";

/** Largest decimal scale: 10^22 is the largest power of ten a float64 holds exactly. */
export const DECIMAL_MAX_SCALE = 22;
const POW10 = Float64Array.from({ length: DECIMAL_MAX_SCALE + 1 }, (_, e) => 10 ** e);
const TWO_32 = 4294967296;

/**
 * The smallest scale `e` at which every value is exactly `m / 10^e` with a safe integer `m`,
 * or -1 when there is none (NaN, ±Infinity, -0, or more decimals than fit).
 */
export function decimalScale(values: Float64Array): number {
  const n = values.length;
  for (let e = 0; e <= DECIMAL_MAX_SCALE; e++) {
    const p = POW10[e];
    let i = 0;
    for (; i < n; i++) {
      const v = values[i];
      const m = Math.round(v * p);
      // `m / p === v` alone would take -0 for 0: compare the sign too (1 / -0 is -Infinity).
      if (!Number.isSafeInteger(m) || m / p !== v || (v === 0 && 1 / v < 0)) break;
    }
    if (i === n) return e;
    // A value with no finite decimal form at all ends the search at once.
    if (!Number.isFinite(values[i]) || (values[i] === 0)) return -1;
  }
  return -1;
}

/**
 * Appends `| 25 | count | u8 e | integer block of the mantissas |` for a scale from
 * {@linkcode decimalScale}.
 * @throws {Error} `BUG:` when a value is not exactly `m / 10^e`.
 */
export function decimalEncode(values: Float64Array, e: number, out: ByteWriter): void {
  const count = values.length;
  const p = POW10[e];
  const hi = new Uint32Array(count), lo = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const m = Math.round(values[i] * p);
    if (!Number.isSafeInteger(m) || m / p !== values[i]) {
      throw new Error(`BUG: decimalEncode: value ${values[i]} at ${i} is not m / 10^${e}`);
    }
    const h = Math.floor(m / TWO_32);
    hi[i] = h;
    lo[i] = m - h * TWO_32;
  }
  out.u8(Encoding.FloatsDecimal);
  out.uvarint(count);
  out.u8(e);
  encodeInt64Block(hi, lo, count, { ids: INTEGER_BLOCK_IDS, signed: true }, out);
}

/**
 * Decodes the rest of a `FloatsDecimal` block (after id and count) into `out`.
 * @throws {CodecError} on a scale above 22, a nested block that is not an integer block of the
 * same count, or a mantissa beyond ±(2^53 − 1).
 */
export function decimalDecode(r: ByteReader, out: Float64Array): void {
  const count = out.length;
  const at = r.offset;
  const e = r.u8("decimal scale");
  if (e > DECIMAL_MAX_SCALE) r.fail(`decimal scale ${e} above ${DECIMAL_MAX_SCALE}`, at);
  const nested = r.offset;
  const { id, count: n } = readHeader(r, 0x30, "decimal mantissa");
  if (n !== count) {
    r.fail(`decimal mantissas: ${n} values in a block of ${count}`, nested);
  }
  const { hi, lo } = decodeInt64Body(r, id, count, {
    ids: INTEGER_BLOCK_IDS,
    signed: true,
    what: "decimal mantissa",
  });
  const p = POW10[e];
  for (let i = 0; i < count; i++) {
    const m = (hi[i] | 0) * TWO_32 + lo[i];
    if (!Number.isSafeInteger(m)) r.fail(`decimal mantissa ${i} beyond 2^53`, nested);
    out[i] = m / p;
  }
}
