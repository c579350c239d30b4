/**
 * Simple-8b: packs runs of unsigned integers below 2^60 into 64-bit words, as InfluxDB's
 * `pkg/encoding/simple8b` does (Anh & Moffat, "Index compression using 64-bit words", 2010).
 * Each word is a 4-bit selector (the top bits) and 60 payload bits holding `n` values of `bits`
 * bits each, the first value in the lowest bits:
 *
 * | selector | 0   | 1   | 2  | 3  | 4  | 5  | 6  | 7  | 8 | 9 | 10 | 11 | 12 | 13 | 14 | 15 |
 * |----------|-----|-----|----|----|----|----|----|----|---|---|----|----|----|----|----|----|
 * | values   | 240 | 120 | 60 | 30 | 20 | 15 | 12 | 10 | 8 | 7 | 6  | 5  | 4  | 3  | 2  | 1  |
 * | bits     | 0   | 0   | 1  | 2  | 3  | 4  | 5  | 6  | 7 | 8 | 10 | 12 | 15 | 20 | 30 | 60 |
 *
 * Selectors 0 and 1 carry no payload: they stand for 240 or 120 values equal to **1** (the
 * common scaled timestamp delta), as in InfluxDB. Words are written big-endian (8 bytes).
 * The stream does not record how many values it holds: the caller stores the count, and the
 * decoder checks that the words hold exactly that many (a word that overruns it is corrupt;
 * unused payload bits must be zero).
 *
 * JS numbers are exact only below 2^53, so the core works on pairs of uint32 halves (`hi`, `lo`)
 * and never on a 64-bit number:
 * - {@linkcode simple8bEncode} / {@linkcode simple8bDecode}: numbers in [0, 2^53 - 1] (the fast
 *   path; decoding a value at or beyond 2^53 raises a {@linkcode CodecError}).
 * - {@linkcode simple8bEncode64} / {@linkcode simple8bDecode64}: `hi`/`lo` halves, any value
 *   in [0, 2^60 - 1]; what the integer codecs use.
 * - {@linkcode simple8bEncodeBig} / {@linkcode simple8bDecodeBig}: bigints in [0, 2^60 - 1]
 *   (the slow fallback; one BigInt operation per value).
 *
 * Values at or beyond 2^60 cannot be packed: encoders throw a `BUG:` error, callers pick
 * another encoding first (see {@linkcode simple8bFits64}). `simple8b_test.ts` pins each limit.
 *
 * @module
 */

import { type ByteReader, type ByteWriter, CodecError } from "./bytes.ts";

/** Values per word, by selector. */
export const SELECTOR_VALUES: readonly number[] = [
  240,
  120,
  60,
  30,
  20,
  15,
  12,
  10,
  8,
  7,
  6,
  5,
  4,
  3,
  2,
  1,
];
/** Bits per value, by selector. */
export const SELECTOR_BITS: readonly number[] = [
  0,
  0,
  1,
  2,
  3,
  4,
  5,
  6,
  7,
  8,
  10,
  12,
  15,
  20,
  30,
  60,
];
/** The largest value Simple-8b packs: 2^60 - 1. */
export const SIMPLE8B_MAX: bigint = (1n << 60n) - 1n;

const N = Uint8Array.from(SELECTOR_VALUES);
const BITS = Uint8Array.from(SELECTOR_BITS);
const TWO_32 = 4294967296;

/** True when every value of the `hi`/`lo` pairs is below 2^60 (packable). */
export function simple8bFits64(hi: Uint32Array, count: number): boolean {
  for (let i = 0; i < count; i++) if (hi[i] >= 0x10000000) return false;
  return true;
}

/**
 * Appends the Simple-8b words for `count` values given as 32-bit halves.
 * @throws {Error} `BUG:` when a value is 2^60 or more.
 */
export function simple8bEncode64(
  hi: Uint32Array,
  lo: Uint32Array,
  count: number,
  out: ByteWriter,
): void {
  const widths = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const h = hi[i];
    if (h !== 0) {
      if (h >= 0x10000000) {
        throw new Error(
          `BUG: simple8b value at index ${i} is 2^60 or more (hi word 0x${h.toString(16)})`,
        );
      }
      widths[i] = 64 - Math.clz32(h);
    } else {
      widths[i] = 32 - Math.clz32(lo[i]);
    }
  }
  const buf = out.reserve(8 * count);
  let p = out.length;
  let i = 0;
  while (i < count) {
    const remaining = count - i;
    let whi = 0;
    let wlo = 0;
    // Runs of ones: selectors 0 and 1 hold 240 or 120 of them in a payload-free word.
    let ones = 0;
    if (remaining >= 120) {
      const limit = i + 240 < count ? i + 240 : count;
      let j = i;
      while (j < limit && lo[j] === 1 && hi[j] === 0) j++;
      ones = j - i;
    }
    if (ones === 240) {
      i += 240;
    } else if (ones >= 120) {
      whi = 1 << 28;
      i += 120;
    } else {
      // The selector with the most values whose width fits: as n grows the running maximum
      // width grows and the bits per value shrink, so the first failure ends the search.
      let sel = 15;
      let maxw = 0;
      let k = 0;
      for (let s = 15; s >= 2; s--) {
        const n = N[s];
        if (n > remaining) break;
        while (k < n) {
          const wk = widths[i + k];
          if (wk > maxw) maxw = wk;
          k++;
        }
        if (maxw > BITS[s]) break;
        sel = s;
      }
      if (sel === 15) {
        whi = hi[i] | (15 << 28);
        wlo = lo[i];
        i++;
      } else {
        const n = N[sel];
        const bits = BITS[sel];
        let shift = 0;
        for (let j = 0; j < n; j++) {
          const v = lo[i + j];
          if (shift + bits <= 32) {
            wlo |= v << shift;
          } else if (shift >= 32) {
            whi |= v << (shift - 32);
          } else {
            wlo |= v << shift;
            whi |= v >>> (32 - shift);
          }
          shift += bits;
        }
        whi |= sel << 28;
        i += n;
      }
    }
    buf[p] = whi >>> 24;
    buf[p + 1] = whi >>> 16;
    buf[p + 2] = whi >>> 8;
    buf[p + 3] = whi;
    buf[p + 4] = wlo >>> 24;
    buf[p + 5] = wlo >>> 16;
    buf[p + 6] = wlo >>> 8;
    buf[p + 7] = wlo;
    p += 8;
  }
  out.advance(p - out.length);
}

/**
 * Reads Simple-8b words until exactly `count` values are decoded into `hi`/`lo`
 * (from index 0).
 * @throws {CodecError} on truncation, a word that overruns `count`, or non-zero unused bits.
 */
export function simple8bDecode64(
  r: ByteReader,
  count: number,
  hi: Uint32Array,
  lo: Uint32Array,
): void {
  const b = r.data;
  let p = r.offset;
  const end = b.length;
  let i = 0;
  while (i < count) {
    if (p + 8 > end) {
      throw new CodecError(p, `truncated simple8b stream: ${count - i} of ${count} values missing`);
    }
    const whi = ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
    const wlo = ((b[p + 4] << 24) | (b[p + 5] << 16) | (b[p + 6] << 8) | b[p + 7]) >>> 0;
    const sel = whi >>> 28;
    const n = N[sel];
    if (i + n > count) {
      throw new CodecError(
        p,
        `simple8b word with selector ${sel} holds ${n} values, only ${count - i} expected`,
      );
    }
    if (sel <= 1) {
      if ((whi & 0x0fffffff) !== 0 || wlo !== 0) {
        throw new CodecError(p, `simple8b run word (selector ${sel}) has a non-zero payload`);
      }
      hi.fill(0, i, i + n);
      lo.fill(1, i, i + n);
    } else if (sel === 15) {
      hi[i] = whi & 0x0fffffff;
      lo[i] = wlo;
    } else {
      const bits = BITS[sel];
      const mask = (1 << bits) - 1;
      const used = n * bits;
      if (used < 60 && (whi & 0x0fffffff) >>> (used - 32) !== 0) {
        throw new CodecError(p, `simple8b word with selector ${sel} has non-zero unused bits`);
      }
      let shift = 0;
      for (let j = 0; j < n; j++) {
        let v: number;
        if (shift + bits <= 32) {
          v = (wlo >>> shift) & mask;
        } else if (shift >= 32) {
          v = (whi >>> (shift - 32)) & mask;
        } else {
          v = ((wlo >>> shift) | (whi << (32 - shift))) & mask;
        }
        hi[i + j] = 0;
        lo[i + j] = v;
        shift += bits;
      }
    }
    i += n;
    p += 8;
  }
  r.offset = p;
}

/**
 * Appends the Simple-8b words for numbers (the fast path).
 * @throws {Error} `BUG:` unless every value is an integer in [0, 2^53 - 1].
 * @example
 * ```ts
 * const w = new ByteWriter();
 * simple8bEncode([1, 2, 3], w); // one word: selector 13 (3 values of 20 bits)
 * ```
 */
export function simple8bEncode(values: ArrayLike<number>, out: ByteWriter): void {
  const count = values.length;
  const hi = new Uint32Array(count);
  const lo = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const v = values[i];
    if (!(v >= 0 && v <= Number.MAX_SAFE_INTEGER) || v !== Math.floor(v)) {
      throw new Error(`BUG: simple8bEncode takes integers in [0, 2^53 - 1], got ${v} at ${i}`);
    }
    const l = v >>> 0;
    lo[i] = l;
    hi[i] = (v - l) / TWO_32;
  }
  simple8bEncode64(hi, lo, count, out);
}

/**
 * Decodes `count` numbers into `out` starting at `outOffset`.
 * @throws {CodecError} as {@linkcode simple8bDecode64}, and when a value is 2^53 or more (it
 *   cannot be a number exactly: such streams are decoded with {@linkcode simple8bDecodeBig}).
 */
export function simple8bDecode(
  r: ByteReader,
  count: number,
  out: Float64Array,
  outOffset = 0,
): void {
  const start = r.offset;
  const hi = new Uint32Array(count);
  const lo = new Uint32Array(count);
  simple8bDecode64(r, count, hi, lo);
  for (let i = 0; i < count; i++) {
    const h = hi[i];
    if (h >= 0x200000) {
      throw new CodecError(start, `simple8b value at index ${i} is 2^53 or more`);
    }
    out[outOffset + i] = h * TWO_32 + lo[i];
  }
}

/**
 * Appends the Simple-8b words for bigints: the slow fallback for values in [2^53, 2^60).
 * @throws {Error} `BUG:` unless every value is in [0, 2^60 - 1].
 */
export function simple8bEncodeBig(values: ArrayLike<bigint>, out: ByteWriter): void {
  const count = values.length;
  const hi = new Uint32Array(count);
  const lo = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const v = values[i];
    if (v < 0n || v > SIMPLE8B_MAX) {
      throw new Error(`BUG: simple8bEncodeBig takes values in [0, 2^60 - 1], got ${v} at ${i}`);
    }
    lo[i] = Number(v & 0xffffffffn);
    hi[i] = Number(v >> 32n);
  }
  simple8bEncode64(hi, lo, count, out);
}

/** Decodes `count` values as bigints (the slow fallback). */
export function simple8bDecodeBig(r: ByteReader, count: number): bigint[] {
  const hi = new Uint32Array(count);
  const lo = new Uint32Array(count);
  simple8bDecode64(r, count, hi, lo);
  const out: bigint[] = new Array(count);
  for (let i = 0; i < count; i++) out[i] = (BigInt(hi[i]) << 32n) | BigInt(lo[i]);
  return out;
}
