/**
 * The float64 column codec. Every encoding works on the raw 64 bits of each value (two uint32
 * halves read through a `Uint32Array` view of the `Float64Array`), so NaN with any payload,
 * ±Infinity and -0 round-trip bit-exact, and no BigInt is ever formed.
 *
 * Encodings (first byte); the encoder sizes Gorilla, delta-packing and bucketed deltas exactly
 * in one pass over the values (floats_scan.ts) and keeps the smallest (ties: the older
 * encoding), falling back to raw when none beats 8 bytes per value:
 * - `FloatsConstant` (0x22): every value has the same bits (a single value, or a flat line).
 * - `FloatsGorilla` (0x21): Facebook's Gorilla XOR scheme (Pelkonen et al., VLDB 2015), as in
 *   InfluxDB tsm1's float.go: per value, `0` (same bits as the previous value); `10` + the
 *   XOR's meaningful bits in the previous window; `11` + 5 bits leading zeros + 6 bits
 *   (meaningful bit count - 1) + the meaningful bits. The count is in the header, so no
 *   end-of-stream marker is needed (unlike tsm1, which reserves a NaN pattern for it). The
 *   encoder leaves the previous window when a new one is cheaper (a 13-bit header pays off).
 * - `FloatsDeltaPacked` (0x23): the bit patterns as int64, zigzag deltas (wrapping), bit-packed
 *   in groups of 128. On full-precision random walks (TSBS cpu) the step between neighbours is
 *   a small integer count of ulps, which packs tighter than Gorilla's XOR windows.
 * - `FloatsBucketed` (0x24): the same deltas as sign + magnitude, the magnitude's top bits
 *   (bucket `|Δ| >> k`, with `k` from a block-wide scale minus the previous value's exponent)
 *   in a fixed prefix code and its `k` low bits raw; see floats_bucketed.ts. Closest to the
 *   entropy of full-precision random walks (6.12 vs 6.39 B/value for delta-packing on TSBS cpu).
 * - `FloatsDecimal` (0x25): when every value is exactly `m / 10^e` (two-decimal sensors,
 *   integers as floats), `e` and the integer block of the `m`s; see floats_decimal.ts.
 * - `FloatsRaw` (0x20): 8 bytes per value, little-endian.
 *
 * Limits: 1 to MAX_BLOCK_VALUES values; NaN payload bits are preserved from a `Float64Array`
 * to the `Float64Array` the decoder returns (a JS engine may canonicalise NaNs that pass
 * through plain number variables or arrays on the way, which is the caller's business).
 * Little-endian hosts only (all Deno targets); checked once at load.
 *
 * @module
 */

import { BitReader, BitWriter } from "./_bits.ts";
import { packDecode, packEncode, undoZigzagDeltas, varintSize } from "./_int64.ts";
import { ByteReader, type ByteWriter, LITTLE_ENDIAN } from "./bytes.ts";
import { checkCount, Encoding, readHeader } from "./encoding.ts";
import { bucketedChooseScale, bucketedDecode, bucketedEncode } from "./floats_bucketed.ts";
import { type FloatsScan, scanFloats } from "./floats_scan.ts";
import { decimalDecode, decimalEncode, decimalScale } from "./floats_decimal.ts";

if (!LITTLE_ENDIAN) throw new Error("BUG: floats.ts assumes a little-endian host");

/** The most bits one Gorilla value takes: `11` + 5 + 6 + 64. */
const GORILLA_MAX_BITS = 77;

function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/**
 * Appends an encoded block of float64 values and returns the encoding chosen.
 * @throws {Error} `BUG:` on zero or more than MAX_BLOCK_VALUES values.
 * @example
 * ```ts
 * const w = new ByteWriter();
 * encodeFloats(new Float64Array([1.5, 1.5, 2.25]), w); // Encoding.FloatsGorilla
 * decodeFloats(w.finish()); // Float64Array [1.5, 1.5, 2.25]
 * ```
 */
export function encodeFloats(values: Float64Array | ArrayLike<number>, out: ByteWriter): number {
  const count = values.length;
  checkCount(count, "encodeFloats");
  const f64 = values instanceof Float64Array ? values : Float64Array.from(values);
  const u = new Uint32Array(f64.buffer, f64.byteOffset, 2 * count);
  const start = out.length;

  let constant = true;
  const h0 = u[1], l0 = u[0];
  for (let i = 1; i < count; i++) {
    if (u[2 * i] !== l0 || u[2 * i + 1] !== h0) {
      constant = false;
      break;
    }
  }
  if (constant) {
    writeHead(Encoding.FloatsConstant, u, count, out);
    return Encoding.FloatsConstant;
  }

  const headSize = 1 + varintSize(count) + 8;
  const rawSize = headSize - 8 + 8 * count;
  // One pass sizes Gorilla and delta-packing exactly and gathers what sizes bucketed at any K.
  const scan = scanFloats(u, count);
  const packed = headSize + scan.packedBytes;
  const gorilla = headSize + Math.ceil(scan.gorillaBits / 8);
  const plan = bucketedChooseScale(scan);
  const bucketed = headSize + varintSize(plan.scale) + Math.ceil(plan.bits / 8);

  // Decimal is sized by writing it, and only tried when every value is decimal-exact (on
  // full-precision data the scale search fails within a few values).
  const scale10 = decimalScale(f64);
  if (scale10 >= 0) {
    decimalEncode(f64, scale10, out);
    const decimal = out.length - start;
    if (decimal < gorilla && decimal < packed && decimal < bucketed && decimal < rawSize) {
      return Encoding.FloatsDecimal;
    }
    out.truncate(start);
  }
  // Each of the others is written only when it wins (writing Gorilla's bits is the costliest
  // pass, and on full-precision data it rarely wins).
  if (gorilla <= packed && gorilla <= rawSize && gorilla <= bucketed) {
    writeGorilla(u, count, out);
    if (out.length - start !== gorilla) {
      throw new Error(`BUG: Gorilla block of ${out.length - start} bytes, sized ${gorilla}`);
    }
    return Encoding.FloatsGorilla;
  }
  if (bucketed < packed && bucketed <= rawSize) {
    writeBucketed(u, count, { scan, ...plan }, out);
    return Encoding.FloatsBucketed;
  }
  if (packed <= rawSize) {
    writePacked(u, count, out);
    return Encoding.FloatsDeltaPacked;
  }
  writeRaw(u, count, out);
  return Encoding.FloatsRaw;
}

/**
 * Appends a block of `values` in the encoding `id` even when another would be smaller (for
 * tests and tools comparing encodings; {@linkcode encodeFloats} is the one to store with).
 * FloatsBucketed takes the scale {@linkcode encodeFloats} would.
 * @throws {Error} `BUG:` on a count out of range, an id that is no float encoding, Constant for
 * values that differ, or Decimal for values that are not all decimal-exact.
 */
export function encodeFloatsAs(
  values: Float64Array | ArrayLike<number>,
  id: Encoding,
  out: ByteWriter,
): void {
  const count = values.length;
  checkCount(count, "encodeFloatsAs");
  const f64 = values instanceof Float64Array ? values : Float64Array.from(values);
  const u = new Uint32Array(f64.buffer, f64.byteOffset, 2 * count);
  switch (id) {
    case Encoding.FloatsConstant:
      for (let i = 1; i < count; i++) {
        if (u[2 * i] !== u[0] || u[2 * i + 1] !== u[1]) {
          throw new Error(`BUG: encodeFloatsAs: value ${i} differs from the first (Constant)`);
        }
      }
      writeHead(Encoding.FloatsConstant, u, count, out);
      return;
    case Encoding.FloatsRaw:
      return writeRaw(u, count, out);
    case Encoding.FloatsGorilla:
      return writeGorilla(u, count, out);
    case Encoding.FloatsDeltaPacked:
      return writePacked(u, count, out);
    case Encoding.FloatsBucketed: {
      const scan = scanFloats(u, count);
      return writeBucketed(u, count, { scan, ...bucketedChooseScale(scan) }, out);
    }
    case Encoding.FloatsDecimal: {
      const e = decimalScale(f64);
      if (e < 0) throw new Error("BUG: encodeFloatsAs: values are not all decimal-exact");
      return decimalEncode(f64, e, out);
    }
    default:
      throw new Error(`BUG: encodeFloatsAs: 0x${id.toString(16)} is no float encoding`);
  }
}

/** id, count, first value. */
function writeHead(id: Encoding, u: Uint32Array, count: number, out: ByteWriter): void {
  out.u8(id);
  out.uvarint(count);
  out.u32(u[0]);
  out.u32(u[1]);
}

function writeRaw(u: Uint32Array, count: number, out: ByteWriter): void {
  out.u8(Encoding.FloatsRaw);
  out.uvarint(count);
  for (let i = 0; i < 2 * count; i++) out.u32(u[i]);
}

function writeGorilla(u: Uint32Array, count: number, out: ByteWriter): void {
  writeHead(Encoding.FloatsGorilla, u, count, out);
  gorillaEncode(u, count, out);
}

function writePacked(u: Uint32Array, count: number, out: ByteWriter): void {
  writeHead(Encoding.FloatsDeltaPacked, u, count, out);
  const n1 = count - 1;
  const { zhi, zlo } = zigzagScratch(n1);
  zigzagBitDeltas(u, count, zhi, zlo);
  packEncode(zhi, zlo, n1, out);
}

function writeBucketed(
  u: Uint32Array,
  count: number,
  plan: { scan: FloatsScan; scale: number; bits: number },
  out: ByteWriter,
): void {
  writeHead(Encoding.FloatsBucketed, u, count, out);
  out.uvarint(plan.scale);
  bucketedEncode(u, plan, out);
}

let ZHI = new Uint32Array(0), ZLO = new Uint32Array(0);

/** Scratch for the zigzag deltas of a block of `n` + 1 values (grown, never shrunk). */
function zigzagScratch(n: number): { zhi: Uint32Array; zlo: Uint32Array } {
  if (ZHI.length < n) {
    const size = Math.max(1024, 2 ** Math.ceil(Math.log2(n)));
    ZHI = new Uint32Array(size);
    ZLO = new Uint32Array(size);
  }
  return { zhi: ZHI, zlo: ZLO };
}

/** zigzag(bits(vᵢ) − bits(vᵢ₋₁)) modulo 2^64, as halves at index i − 1. */
function zigzagBitDeltas(u: Uint32Array, count: number, zhi: Uint32Array, zlo: Uint32Array) {
  let ph = u[1], pl = u[0];
  for (let i = 1; i < count; i++) {
    const h = u[2 * i + 1], l = u[2 * i];
    const dlo = (l - pl) >>> 0;
    const dhi = (h - ph - (l < pl ? 1 : 0)) | 0;
    const sign = dhi >> 31;
    zhi[i - 1] = (((dhi << 1) | (dlo >>> 31)) ^ sign) >>> 0;
    zlo[i - 1] = ((dlo << 1) ^ sign) >>> 0;
    ph = h;
    pl = l;
  }
}

/** Gorilla's bit stream; floats_scan.ts sizes it with the same window decisions. */
function gorillaEncode(u: Uint32Array, count: number, out: ByteWriter): void {
  const bits = BitWriter.begin(out, (count - 1) * GORILLA_MAX_BITS);
  let prevHi = u[1], prevLo = u[0];
  let winLead = 65, winTrail = 0; // no window yet: the first change writes one
  for (let i = 1; i < count; i++) {
    const h = u[2 * i + 1], l = u[2 * i];
    const xh = h ^ prevHi, xl = l ^ prevLo;
    prevHi = h;
    prevLo = l;
    if (xh === 0 && xl === 0) {
      bits.write(0, 1);
      continue;
    }
    let lead = xh !== 0 ? Math.clz32(xh) : 32 + Math.clz32(xl);
    if (lead > 31) lead = 31;
    const trail = xl !== 0 ? ctz32(xl) : 32 + ctz32(xh);
    const m = 64 - lead - trail;
    let t: number, width: number;
    if (lead >= winLead && trail >= winTrail && 64 - winLead - winTrail <= m + 11) {
      bits.write(2, 2);
      t = winTrail;
      width = 64 - winLead - winTrail;
    } else {
      bits.write((3 << 11) | (lead << 6) | (m - 1), 13);
      winLead = lead;
      winTrail = trail;
      t = trail;
      width = m;
    }
    let vh: number, vl: number;
    if (t === 0) {
      vh = xh;
      vl = xl;
    } else if (t < 32) {
      vl = (xl >>> t) | (xh << (32 - t));
      vh = xh >>> t;
    } else {
      vl = xh >>> (t - 32);
      vh = 0;
    }
    if (width > 32) {
      bits.write(vh, width - 32);
      bits.write(vl, 32);
    } else {
      bits.write(vl, width);
    }
  }
  bits.end();
}

/**
 * Decodes a block written by {@linkcode encodeFloats}.
 * @throws {CodecError} on any inconsistency in the bytes.
 */
export function decodeFloats(block: Uint8Array): Float64Array {
  const r = new ByteReader(block);
  const { id, count } = readHeader(r, 0x20, "float");
  const out = new Float64Array(count);
  const u = new Uint32Array(out.buffer);
  if (id === Encoding.FloatsRaw) {
    r.need(8 * count, "raw floats");
    for (let i = 0; i < 2 * count; i++) u[i] = r.u32();
    r.expectEnd("raw float block");
    return out;
  }
  if (id === Encoding.FloatsDecimal) {
    decimalDecode(r, out);
    return out;
  }
  u[0] = r.u32("first float");
  u[1] = r.u32("first float");
  if (id === Encoding.FloatsConstant) {
    r.expectEnd("constant float block");
    for (let i = 1; i < count; i++) {
      u[2 * i] = u[0];
      u[2 * i + 1] = u[1];
    }
    return out;
  }
  if (id === Encoding.FloatsDeltaPacked) {
    const n1 = count - 1;
    const zhi = new Uint32Array(n1), zlo = new Uint32Array(n1);
    packDecode(r, n1, zhi, zlo);
    r.expectEnd("delta-packed float block");
    const hi = new Uint32Array(count), lo = new Uint32Array(count);
    hi[0] = u[1];
    lo[0] = u[0];
    undoZigzagDeltas(hi, lo, count, zhi, zlo);
    for (let i = 1; i < count; i++) {
      u[2 * i] = lo[i];
      u[2 * i + 1] = hi[i];
    }
    return out;
  }
  if (id === Encoding.FloatsBucketed) {
    bucketedDecode(r, u, count);
    return out;
  }
  gorillaDecode(block, r.offset, u, count);
  return out;
}

function gorillaDecode(block: Uint8Array, start: number, u: Uint32Array, count: number): void {
  const bits = new BitReader(block, start, block.length);
  let prevHi = u[1], prevLo = u[0];
  let winLead = -1, width = 0;
  for (let i = 1; i < count; i++) {
    if (bits.read(1) === 1) {
      if (bits.read(1) === 1) {
        const x = bits.read(11);
        winLead = x >>> 6;
        width = (x & 63) + 1;
        if (winLead + width > 64) {
          bits.fail(`Gorilla window of ${width} bits after ${winLead} leading zeros exceeds 64`);
        }
      } else if (winLead < 0) {
        bits.fail("Gorilla value reuses a window before any was set");
      }
      const t = 64 - winLead - width;
      let vh = 0, vl: number;
      if (width > 32) {
        vh = bits.read(width - 32);
        vl = bits.read(32);
      } else {
        vl = bits.read(width);
      }
      if (t === 0) {
        prevHi ^= vh;
        prevLo ^= vl;
      } else if (t < 32) {
        prevHi ^= (vh << t) | (vl >>> (32 - t));
        prevLo ^= vl << t;
      } else {
        prevHi ^= vl << (t - 32);
      }
    }
    u[2 * i] = prevLo;
    u[2 * i + 1] = prevHi;
  }
  bits.expectEnd("Gorilla float block");
}
