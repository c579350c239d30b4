/**
 * The `FloatsBucketed` float encoding (0x24): deltas of the IEEE-754 bit patterns, scaled by the
 * previous value's exponent, with a fixed prefix code for the top bits and the rest raw.
 *
 * Why: on full-precision metrics (a random walk of a CPU percentage, a temperature) the step
 * from one value to the next is a few units of the value's own scale, so the delta of the bit
 * patterns counts ulps, and its size is set by (step size / ulp of the value). The ulp doubles
 * with every binade, so a block-wide scale `K` and the previous value's biased exponent `e`
 * predict the width of the next delta: `k = clamp(K − e, 0, 63)` low bits are noise and stored
 * raw, and the few top bits `q = |Δ| >> k` (a bucket, 0..15) are coded with short codes for
 * small buckets. This gets within about 0.06 bytes per value of the entropy of a Gaussian step
 * on TSBS cpu data, where Gorilla's XOR windows and per-group bit-packing spend 0.3 more.
 * Four more symbols cover what a delta codes badly: the same bits again (`REPEAT`), `+0.0` (a
 * gauge dropping to zero), an integer of 1 to 32 bits (`INT`: a gauge clamped at 100, a count)
 * and anything else (`ESCAPE` + the raw 64 bits).
 *
 * Everything is 32-bit integer arithmetic on the two halves of each pattern: exact for every
 * 64-bit pattern (NaN payloads, -0, ±Infinity, subnormals), no BigInt.
 *
 * The encoder searches `K` (a few exact sizings from an estimate, each over a histogram of the
 * deltas rather than the values); `floats.ts` compares the resulting size with the other float
 * encodings and keeps the smallest.
 *
 * @module
 */

import { BitWriter } from "./_bits.ts";
import { type ByteReader, type ByteWriter, CodecError } from "./bytes.ts";
import type { FloatsScan } from "./floats_scan.ts";

/** Buckets `q = |Δ| >> k` with a code of their own (0..15). Part of the format. */
export const BUCKETED_BUCKETS = 16;
const REPEAT = 16;
const ZERO = 17;
const ESCAPE = 18;
const INT = 19;
/** The symbols beyond the buckets, for floats_scan.ts. Part of the format. */
export const BucketedSymbol = { Repeat: REPEAT, Zero: ZERO, Escape: ESCAPE, Int: INT } as const;

/**
 * Prefix code lengths of the 20 symbols (buckets 0..15, REPEAT, ZERO, ESCAPE, INT): a Huffman code
 * of the symbol frequencies on TSBS cpu data at the best `K`. The codes are canonical (shorter
 * first, then by symbol), so these lengths are the whole code. Part of the format.
 */
export const BUCKETED_CODE_LENGTHS: readonly number[] = [
  2,
  3,
  3,
  3,
  3,
  4,
  4,
  5,
  5,
  6,
  7,
  7,
  8,
  9,
  10,
  10,
  7,
  8,
  8,
  7,
];
const CODE_LENGTHS = BUCKETED_CODE_LENGTHS;
const MAX_CODE = 10;
/** Largest `K`: with any biased exponent (0..2047), `K − e` then still reaches 63. */
export const BUCKETED_MAX_SCALE = 2047 + 63;

const CODES = new Uint16Array(CODE_LENGTHS.length);
/** `TABLE[next MAX_CODE bits] = symbol << 4 | code length`: one lookup per value. */
const TABLE = new Uint16Array(1 << MAX_CODE);
{
  let code = 0;
  for (let len = 1; len <= MAX_CODE; len++) {
    for (let s = 0; s < CODE_LENGTHS.length; s++) {
      if (CODE_LENGTHS[s] !== len) continue;
      CODES[s] = code;
      const span = 1 << (MAX_CODE - len);
      TABLE.fill((s << 4) | len, code * span, (code + 1) * span);
      code++;
    }
    code <<= 1;
  }
  if (code !== 1 << (MAX_CODE + 1)) throw new Error("BUG: floats_bucketed code is not complete");
}

/** INT values: integers of magnitude 1 to 2^32 − 1. Part of the format. */
const INT_LIMIT = 2 ** 32;
const INT_F64 = new Float64Array(1);
const INT_U32 = new Uint32Array(INT_F64.buffer);

/**
 * Whether `v` is coded as INT: a nonzero integer of magnitude below 2^32 (-0 is an integer to
 * JS, with no magnitude).
 */
export function bucketedIsInt(v: number): boolean {
  return v !== 0 && Number.isInteger(v) && v > -INT_LIMIT && v < INT_LIMIT;
}

/** The bucket `|Δ| >> k` of a delta known to fit (width ≤ k + 4). */
function bucketOf(mh: number, ml: number, k: number): number {
  if (k >= 32) return mh >>> (k - 32);
  if (k === 0) return ml;
  return ((ml >>> k) | (mh << (32 - k))) & 15;
}

/**
 * Exact size in bits of the bit stream for scale `K`: from the histograms when no delta's
 * `K − e` is clamped to [0, 63], otherwise value by value.
 */
export function bucketedBits(d: FloatsScan, K: number): number {
  if (d.deltas > 0 && (K < d.maxExp || K > d.minExp + 63)) return bucketedBitsByValue(d, K);
  const { sCount, sExp, sCode2, sCode3, sCode4 } = d;
  const escape = CODE_LENGTHS[ESCAPE] + 64;
  // Per delta 1 sign bit + k = K − e raw bits, unless escaped; then the code of its bucket.
  let bits = d.fixedBits;
  for (let s = d.minS; s <= d.maxS; s++) {
    const n = sCount[s];
    if (n === 0) continue;
    const q = s - K;
    if (q > 4) {
      bits += n * escape;
      continue;
    }
    bits += n * (1 + K) - sExp[s];
    if (q <= 0) bits += n * CODE_LENGTHS[0];
    else if (q === 1) bits += n * CODE_LENGTHS[1];
    else if (q === 2) bits += sCode2[s];
    else if (q === 3) bits += sCode3[s];
    else bits += sCode4[s];
  }
  return bits;
}

/** {@linkcode bucketedBits} value by value (any `K`, clamping included). */
export function bucketedBitsByValue(d: FloatsScan, K: number): number {
  const { kind, mh, ml, wid, exp } = d;
  const n1 = d.count - 1;
  let bits = 0;
  for (let j = 0; j < n1; j++) {
    const s = kind[j];
    if (s !== 0) {
      bits += CODE_LENGTHS[s] + (s === INT ? 5 + wid[j] : 0);
      continue;
    }
    let k = K - exp[j];
    k = k < 0 ? 0 : k > 63 ? 63 : k;
    if (wid[j] <= k + 4) bits += CODE_LENGTHS[bucketOf(mh[j], ml[j], k)] + 1 + k;
    else bits += CODE_LENGTHS[ESCAPE] + 64;
  }
  return bits;
}

/**
 * The scale `K` with the fewest bits, and that size: a descent from the median of
 * (width + exponent) − 2, where it ends on TSBS cpu blocks (3 sizings: K, K + 1, K − 1).
 */
export function bucketedChooseScale(d: FloatsScan): { scale: number; bits: number } {
  const n = d.deltas;
  let start = 0;
  if (n > 0) {
    const hist = d.sCount;
    let seen = 0;
    start = d.minS;
    while (seen + hist[start] <= n >>> 1) seen += hist[start++];
    start = Math.max(0, Math.min(BUCKETED_MAX_SCALE, start - 2));
  }
  let best = start, bestBits = bucketedBits(d, start);
  for (const step of [1, -1]) {
    for (let K = best + step; K >= 0 && K <= BUCKETED_MAX_SCALE; K += step) {
      const bits = bucketedBits(d, K);
      if (bits >= bestBits) break;
      best = K;
      bestBits = bits;
    }
  }
  return { scale: best, bits: bestBits };
}

/**
 * Appends the bit stream for values 1..count−1 of `u` (the raw halves) at `plan.scale`, after
 * the header the caller wrote (id, count, first value, uvarint scale). `plan.bits` is the size
 * {@linkcode bucketedChooseScale} returned.
 */
export function bucketedEncode(
  u: Uint32Array,
  plan: { scan: FloatsScan; scale: number; bits: number },
  out: ByteWriter,
): void {
  const { scan: d, scale: K } = plan;
  const { kind, mh, ml, wid, neg, exp } = d;
  const n1 = d.count - 1;
  const bits = BitWriter.begin(out, plan.bits);
  for (let j = 0; j < n1; j++) {
    const s = kind[j];
    if (s === INT) {
      // code, sign, 5 bits (width − 1), the bits below the leading 1.
      const w = wid[j];
      bits.write((((CODES[INT] << 1) | neg[j]) << 5) | (w - 1), CODE_LENGTHS[INT] + 6);
      if (w > 1) bits.write((ml[j] & (0xffffffff >>> (33 - w))) >>> 0, w - 1);
      continue;
    }
    if (s !== 0) {
      bits.write(CODES[s], CODE_LENGTHS[s]);
      continue;
    }
    let k = K - exp[j];
    k = k < 0 ? 0 : k > 63 ? 63 : k;
    if (wid[j] > k + 4) {
      bits.write(CODES[ESCAPE], CODE_LENGTHS[ESCAPE]);
      bits.write(u[2 * j + 3], 32);
      bits.write(u[2 * j + 2], 32);
      continue;
    }
    const h = mh[j], l = ml[j];
    const q = bucketOf(h, l, k);
    bits.write((CODES[q] << 1) | neg[j], CODE_LENGTHS[q] + 1);
    if (k > 32) {
      bits.write(h & (0xffffffff >>> (64 - k)), k - 32);
      bits.write(l, 32);
    } else if (k > 0) {
      bits.write((l & (0xffffffff >>> (32 - k))) >>> 0, k);
    }
  }
  bits.end();
}

/**
 * The 32 bits at bit position `p` of the big-endian words `d` (zero-padded past the stream),
 * MSB first, as an int32: two loads per read, not five.
 */
function peek(d: Uint32Array, p: number): number {
  const i = p >>> 5, s = p & 31;
  return s === 0 ? d[i] | 0 : (d[i] << s) | (d[i + 1] >>> (32 - s));
}

/**
 * Decodes the rest of a `FloatsBucketed` block (after id, count and first value, which is in
 * `u[0..1]`) into `u` (lo, hi per value).
 * @throws {CodecError} on a scale above {@linkcode BUCKETED_MAX_SCALE}, a truncated stream,
 * trailing bytes or non-zero padding.
 */
export function bucketedDecode(r: ByteReader, u: Uint32Array, count: number): void {
  const at = r.offset;
  const K = r.uvarint("bucketed float scale");
  if (K > BUCKETED_MAX_SCALE) r.fail(`bucketed float scale ${K} above ${BUCKETED_MAX_SCALE}`, at);
  const start = r.offset;
  const end = r.data.length;
  // 4 zero words of padding: a value reads at most 10 + 1 + 63 bits past a position within
  // the stream (plus a 64-bit window) before the truncation check below.
  const src = r.data;
  const d = new Uint32Array(((end - start + 3) >>> 2) + 4);
  for (let i = 0, p = start; p < end; i++, p += 4) {
    d[i] = (src[p] << 24) | ((p + 1 < end ? src[p + 1] : 0) << 16) |
      ((p + 2 < end ? src[p + 2] : 0) << 8) | (p + 3 < end ? src[p + 3] : 0);
  }
  const limit = (end - start) * 8;
  let pos = 0;
  let ph = u[1], pl = u[0];
  for (let i = 1; i < count; i++) {
    const entry = TABLE[peek(d, pos) >>> (32 - MAX_CODE)];
    const s = entry >>> 4;
    pos += entry & 15;
    if (s < BUCKETED_BUCKETS) {
      let k = K - ((ph >>> 20) & 0x7ff);
      k = k < 0 ? 0 : k > 63 ? 63 : k;
      const w = peek(d, pos);
      const sign = w >>> 31;
      let h: number, l: number;
      if (k === 0) {
        h = 0;
        l = s;
      } else if (k < 32) {
        const low = (w << 1) >>> (32 - k);
        l = ((s << k) | low) >>> 0;
        h = s >>> (32 - k);
      } else if (k === 32) {
        l = peek(d, pos + 1) >>> 0;
        h = s;
      } else {
        const hb = k - 32;
        h = ((s << hb) | ((w << 1) >>> (32 - hb))) >>> 0;
        l = peek(d, pos + 1 + hb) >>> 0;
      }
      pos += 1 + k;
      if (sign === 0) {
        const sum = pl + l;
        pl = sum >>> 0;
        ph = (ph + h + (sum > 0xffffffff ? 1 : 0)) >>> 0;
      } else {
        const borrow = pl < l ? 1 : 0;
        pl = (pl - l) >>> 0;
        ph = (ph - h - borrow) >>> 0;
      }
    } else if (s === ZERO) {
      ph = 0;
      pl = 0;
    } else if (s === INT) {
      const x = peek(d, pos);
      const w = ((x >>> 26) & 31) + 1;
      const rest = w === 1 ? 0 : peek(d, pos + 6) >>> (33 - w);
      pos += 6 + w - 1;
      const n = ((1 << (w - 1)) >>> 0) + rest;
      INT_F64[0] = x < 0 ? -n : n;
      ph = INT_U32[1];
      pl = INT_U32[0];
    } else if (s === ESCAPE) {
      ph = peek(d, pos) >>> 0;
      pl = peek(d, pos + 32) >>> 0;
      pos += 64;
    }
    // REPEAT: the previous bits again.
    if (pos > limit) {
      throw new CodecError(start + (limit >>> 3), `bucketed float stream truncated at value ${i}`);
    }
    u[2 * i] = pl;
    u[2 * i + 1] = ph;
  }
  const left = limit - pos;
  if (left >= 8) {
    throw new CodecError(start + (pos >>> 3), `${left >>> 3} unexpected trailing bytes`);
  }
  if (left > 0 && (peek(d, pos) >>> (32 - left)) !== 0) {
    throw new CodecError(end - 1, "non-zero padding bits after the bucketed float stream");
  }
  r.offset = end;
}
