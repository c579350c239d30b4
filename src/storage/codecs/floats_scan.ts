/**
 * The one pass over a float block that sizes the delta encodings: for each neighbour pair it
 * takes the XOR (Gorilla's exact size, with the same window decisions as floats.ts's
 * `gorillaEncode`), the zigzag delta of the bit patterns (delta-packing's exact size, widest
 * per group of PACK_GROUP) and what FloatsBucketed needs for every scale `K` it tries (below).
 * Before, each sizer walked the values on its own and bucketed walked them once per `K`.
 *
 * @module
 */

import { PACK_GROUP } from "./_int64.ts";
import { BUCKETED_CODE_LENGTHS, bucketedIsInt, BucketedSymbol } from "./floats_bucketed.ts";

const CODE_LENGTHS = BUCKETED_CODE_LENGTHS;
const { Repeat: REPEAT, Zero: ZERO, Int: INT } = BucketedSymbol;

/** Histogram keys: (width + biased exponent) of a delta, 1..64 + 2047. */
const HIST_SIZE = 64 + 2048;

/**
 * What {@linkcode scanFloats} gathers for values 1..count−1 of a block.
 *
 * For FloatsBucketed, per value i ≥ 1 (at index i − 1): `kind` is REPEAT, ZERO, INT or 0 (a
 * delta); for a delta the magnitude |Δ| as halves, its bit width, the sign, and the previous
 * value's biased exponent; for INT |value| in `ml`, its width and the sign.
 *
 * The deltas are also summed by `s = width + exponent`, which is all a scale `K` needs when no
 * `K − e` is clamped: then `d = s − K` alone decides the bucket's high bits (d ≤ 0: bucket 0,
 * 1: bucket 1, 2..4: the top 2..4 bits of |Δ|) and the raw bits are `Σ (K − e)`. So sizing a `K`
 * walks the few dozen `s` present, not the values.
 *
 * The arrays are module scratch, longer than `count − 1` and reused by the next call: a
 * `FloatsScan` is valid until {@linkcode scanFloats} runs again.
 */
export interface FloatsScan {
  count: number;
  /** Exact size of the Gorilla bit stream. */
  gorillaBits: number;
  /** Exact size of the bit-packed zigzag deltas (`packEncode`). */
  packedBytes: number;
  kind: Uint8Array;
  mh: Uint32Array;
  ml: Uint32Array;
  wid: Uint8Array;
  neg: Uint8Array;
  exp: Uint16Array;
  /** Bits of the REPEAT, ZERO and INT values, which no `K` changes. */
  fixedBits: number;
  /** Number of deltas (kind 0). */
  deltas: number;
  /** Smallest and largest previous-value exponent over the deltas (no delta: 2047, 0). */
  minExp: number;
  maxExp: number;
  /** Smallest and largest key `s` in the histograms below (no delta: HIST_SIZE, 0). */
  minS: number;
  maxS: number;
  /** Per key `s`: deltas, Σ exponent, Σ code length of the bucket at d = 2, 3, 4. */
  sCount: Uint32Array;
  sExp: Float64Array;
  sCode2: Uint32Array;
  sCode3: Uint32Array;
  sCode4: Uint32Array;
}

const SCRATCH: FloatsScan = {
  count: 0,
  gorillaBits: 0,
  packedBytes: 0,
  kind: new Uint8Array(0),
  mh: new Uint32Array(0),
  ml: new Uint32Array(0),
  wid: new Uint8Array(0),
  neg: new Uint8Array(0),
  exp: new Uint16Array(0),
  fixedBits: 0,
  deltas: 0,
  minExp: 2047,
  maxExp: 0,
  minS: HIST_SIZE,
  maxS: 0,
  sCount: new Uint32Array(HIST_SIZE),
  sExp: new Float64Array(HIST_SIZE),
  sCode2: new Uint32Array(HIST_SIZE),
  sCode3: new Uint32Array(HIST_SIZE),
  sCode4: new Uint32Array(HIST_SIZE),
};

/** Grows the scratch arrays (never shrinks them) to hold `n` entries. */
function reserve(n: number): void {
  if (SCRATCH.kind.length >= n) return;
  const size = Math.max(1024, 2 ** Math.ceil(Math.log2(n)));
  SCRATCH.kind = new Uint8Array(size);
  SCRATCH.mh = new Uint32Array(size);
  SCRATCH.ml = new Uint32Array(size);
  SCRATCH.wid = new Uint8Array(size);
  SCRATCH.neg = new Uint8Array(size);
  SCRATCH.exp = new Uint16Array(size);
}

/** Bit length of a nonzero 64-bit value given as halves. */
function width(hi: number, lo: number): number {
  return hi !== 0 ? 64 - Math.clz32(hi) : 32 - Math.clz32(lo);
}

function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** The top 4 bits of a nonzero magnitude of `w` bits (left-aligned when w < 4): 8..15. */
function top4(mh: number, ml: number, w: number): number {
  if (w >= 36) return mh >>> (w - 36);
  if (w > 32) return ((mh << (36 - w)) | (ml >>> (w - 4))) & 15;
  if (w >= 4) return ml >>> (w - 4);
  return (ml << (4 - w)) & 15;
}

/**
 * Scans the raw halves `u` (lo, hi per value) of a block of `count` values into module
 * scratch (valid until the next call).
 */
export function scanFloats(u: Uint32Array, count: number): FloatsScan {
  const n1 = count - 1;
  reserve(n1);
  const d = SCRATCH;
  // The previous block's histogram entries (only its [minS, maxS] can be nonzero).
  if (d.minS <= d.maxS) {
    d.sCount.fill(0, d.minS, d.maxS + 1);
    d.sExp.fill(0, d.minS, d.maxS + 1);
    d.sCode2.fill(0, d.minS, d.maxS + 1);
    d.sCode3.fill(0, d.minS, d.maxS + 1);
    d.sCode4.fill(0, d.minS, d.maxS + 1);
  }
  const { kind, mh, ml, wid, neg, exp, sCount, sExp, sCode2, sCode3, sCode4 } = d;
  const f = new Float64Array(u.buffer, u.byteOffset, count);
  let gorillaBits = 0, winLead = 65, winTrail = 0; // no Gorilla window yet
  let packedBytes = 0, groupWidth = 0, groupEnd = PACK_GROUP;
  let fixedBits = 0, deltas = 0;
  let minExp = 2047, maxExp = 0, minS = HIST_SIZE, maxS = 0;
  let ph = u[1], pl = u[0];
  for (let i = 1; i < count; i++) {
    const h = u[2 * i + 1], l = u[2 * i];
    const j = i - 1;
    const xh = h ^ ph, xl = l ^ pl;
    if (xh === 0 && xl === 0) {
      gorillaBits += 1; // a zero delta packs in 0 bits
      kind[j] = REPEAT;
      fixedBits += CODE_LENGTHS[REPEAT];
    } else {
      // Gorilla: `10` + the window if the XOR fits it and it is not 11+ bits too wide, else
      // `11` + 5 + 6 bits + the XOR's meaningful bits.
      let lead = xh !== 0 ? Math.clz32(xh) : 32 + Math.clz32(xl);
      if (lead > 31) lead = 31;
      const trail = xl !== 0 ? ctz32(xl) : 32 + ctz32(xh);
      const m = 64 - lead - trail;
      if (lead >= winLead && trail >= winTrail && 64 - winLead - winTrail <= m + 11) {
        gorillaBits += 2 + 64 - winLead - winTrail;
      } else {
        gorillaBits += 13 + m;
        winLead = lead;
        winTrail = trail;
      }
      // c − p modulo 2^64: zigzagged for packing, sign + magnitude for bucketed.
      let dl = (l - pl) >>> 0;
      let dh = (h - ph - (l < pl ? 1 : 0)) >>> 0;
      const sign = (dh | 0) >> 31;
      const zh = ((dh << 1) | (dl >>> 31)) ^ sign;
      const zw = zh !== 0 ? 64 - Math.clz32(zh) : 32 - Math.clz32((dl << 1) ^ sign);
      if (zw > groupWidth) groupWidth = zw;
      if (h === 0 && l === 0) {
        kind[j] = ZERO;
        fixedBits += CODE_LENGTHS[ZERO];
      } else if (
        // An integer below 2^21 in magnitude (biased exponent ≤ 1043) has a zero low word:
        // this rejects full-precision values without the float test.
        (l === 0 || (h & 0x7ff00000) > 0x41300000) && bucketedIsInt(f[i])
      ) {
        kind[j] = INT;
        const v = f[i];
        const n = v < 0 ? -v : v;
        neg[j] = v < 0 ? 1 : 0;
        ml[j] = n;
        const w = 32 - Math.clz32(n);
        wid[j] = w;
        fixedBits += CODE_LENGTHS[INT] + 5 + w;
      } else {
        if (sign !== 0) {
          neg[j] = 1;
          dl = (~dl + 1) >>> 0;
          dh = (~dh + (dl === 0 ? 1 : 0)) >>> 0;
        } else {
          neg[j] = 0;
        }
        kind[j] = 0;
        mh[j] = dh;
        ml[j] = dl;
        const w = width(dh, dl);
        wid[j] = w;
        const e = (ph >>> 20) & 0x7ff;
        exp[j] = e;
        const s = w + e;
        const t = top4(dh, dl, w);
        sCount[s]++;
        sExp[s] += e;
        sCode2[s] += CODE_LENGTHS[t >>> 2];
        sCode3[s] += CODE_LENGTHS[t >>> 1];
        sCode4[s] += CODE_LENGTHS[t];
        if (e < minExp) minExp = e;
        if (e > maxExp) maxExp = e;
        if (s < minS) minS = s;
        if (s > maxS) maxS = s;
        deltas++;
      }
    }
    ph = h;
    pl = l;
    if (i === groupEnd || i === n1) {
      // The packing group of deltas up to index i − 1 (the last one shorter).
      const size = i === groupEnd ? PACK_GROUP : i - groupEnd + PACK_GROUP;
      packedBytes += 1 + ((groupWidth * size + 7) >>> 3);
      groupWidth = 0;
      groupEnd += PACK_GROUP;
    }
  }
  d.count = count;
  d.gorillaBits = gorillaBits;
  d.packedBytes = packedBytes;
  d.fixedBits = fixedBits;
  d.deltas = deltas;
  d.minExp = minExp;
  d.maxExp = maxExp;
  d.minS = minS;
  d.maxS = maxS;
  return d;
}
