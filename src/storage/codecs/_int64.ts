/**
 * 64-bit integer arithmetic on pairs of 32-bit halves (`hi`, `lo`, both kept as uint32 in
 * `Uint32Array`s), shared by the integer, unsigned and float codecs: wrapping deltas, zigzag,
 * varints of 64-bit values, bit-packing, and the int64 block layout common to integers and
 * unsigned integers. No BigInt, no float arithmetic beyond exact integer conversions.
 *
 * @module
 */

import { BitReader, BitWriter } from "./_bits.ts";
import { type ByteReader, ByteWriter, CodecError } from "./bytes.ts";
import { simple8bDecode64, simple8bEncode64, simple8bFits64 } from "./simple8b.ts";

/** Values per bit-packed group: one width byte per group (see FORMAT.md). Part of the format. */
export const PACK_GROUP = 128;

/** Scratch result of {@linkcode readUvarint64}: `[hi, lo]`. */
export const U64: Uint32Array = new Uint32Array(2);

/** Bits needed for the 64-bit value (hi, lo): 0 for zero, 64 at most. */
export function width64(hi: number, lo: number): number {
  return hi !== 0 ? 64 - Math.clz32(hi) : 32 - Math.clz32(lo);
}

/**
 * Writes zigzag(v[i] - v[i-1]) (wrapping modulo 2^64) for i in [1, count) into `zhi`/`zlo`
 * at index i - 1. Returns true when all those deltas are equal (constant step, or count < 3).
 */
export function zigzagDeltas(
  hi: Uint32Array,
  lo: Uint32Array,
  count: number,
  zhi: Uint32Array,
  zlo: Uint32Array,
): boolean {
  let equal = true;
  let phi = hi[0], plo = lo[0];
  for (let i = 1; i < count; i++) {
    const h = hi[i], l = lo[i];
    const dlo = (l - plo) >>> 0;
    const dhi = (h - phi - (l < plo ? 1 : 0)) | 0;
    const sign = dhi >> 31;
    const a = (((dhi << 1) | (dlo >>> 31)) ^ sign) >>> 0;
    const b = ((dlo << 1) ^ sign) >>> 0;
    zhi[i - 1] = a;
    zlo[i - 1] = b;
    if (i > 1 && (a !== zhi[0] || b !== zlo[0])) equal = false;
    phi = h;
    plo = l;
  }
  return equal;
}

/**
 * The inverse of {@linkcode zigzagDeltas}: given v[0] in hi/lo[0] and the zigzag deltas in
 * `zhi`/`zlo` (index i - 1 for value i), fills hi/lo[1 .. count).
 */
export function undoZigzagDeltas(
  hi: Uint32Array,
  lo: Uint32Array,
  count: number,
  zhi: Uint32Array,
  zlo: Uint32Array,
): void {
  let phi = hi[0], plo = lo[0];
  for (let i = 1; i < count; i++) {
    const a = zhi[i - 1], b = zlo[i - 1];
    const neg = -(b & 1);
    const dlo = (((b >>> 1) | (a << 31)) ^ neg) >>> 0;
    const dhi = ((a >>> 1) ^ neg) >>> 0;
    const sum = plo + dlo;
    plo = sum >>> 0;
    phi = (phi + dhi + (sum > 0xffffffff ? 1 : 0)) >>> 0;
    hi[i] = phi;
    lo[i] = plo;
  }
}

/** Zigzag of one int64 given as halves, into {@linkcode U64}. */
export function zigzag64(hi: number, lo: number): void {
  const sign = (hi | 0) >> 31;
  U64[0] = ((hi << 1) | (lo >>> 31)) ^ sign;
  U64[1] = (lo << 1) ^ sign;
}

/** Inverse zigzag of halves, into {@linkcode U64}. */
export function unzigzag64(hi: number, lo: number): void {
  const neg = -(lo & 1);
  U64[0] = (hi >>> 1) ^ neg;
  U64[1] = ((lo >>> 1) | (hi << 31)) ^ neg;
}

/** Appends the unsigned LEB128 varint of the 64-bit value (hi, lo). */
export function writeUvarint64(out: ByteWriter, hi: number, lo: number): void {
  hi >>>= 0;
  lo >>>= 0;
  while (hi !== 0 || lo >= 0x80) {
    out.u8((lo & 0x7f) | 0x80);
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  out.u8(lo);
}

/**
 * Reads an unsigned LEB128 varint of up to 64 bits into {@linkcode U64}.
 * @throws {CodecError} when truncated, longer than 10 bytes, above 2^64 - 1 or not minimal.
 */
export function readUvarint64(r: ByteReader, what: string): void {
  const start = r.offset;
  let hi = 0, lo = 0, shift = 0;
  for (let i = 0; i < 10; i++) {
    const byte = r.u8(what);
    const bits = byte & 0x7f;
    if (shift < 32) {
      lo |= bits << shift;
      if (shift > 25) hi |= bits >>> (32 - shift);
    } else {
      if (shift === 63 && bits > 1) r.fail(`${what} exceeds 2^64 - 1`, start);
      hi |= bits << (shift - 32);
    }
    if (byte < 0x80) {
      if (byte === 0 && i > 0) r.fail(`${what} is not minimally encoded`, start);
      U64[0] = hi;
      U64[1] = lo;
      return;
    }
    shift += 7;
  }
  r.fail(`${what} longer than 10 bytes`, start);
}

/** The size in bytes of {@linkcode packEncode}'s output for the same values. */
export function packedSize(hi: Uint32Array, lo: Uint32Array, count: number): number {
  let size = 0;
  for (let g = 0; g < count; g += PACK_GROUP) {
    const end = g + PACK_GROUP < count ? g + PACK_GROUP : count;
    let w = 0;
    for (let i = g; i < end; i++) {
      const wi = width64(hi[i], lo[i]);
      if (wi > w) w = wi;
    }
    size += 1 + Math.ceil((w * (end - g)) / 8);
  }
  return size;
}

/**
 * Bit-packs `count` 64-bit values in groups of {@linkcode PACK_GROUP}: per group one byte with
 * the bit width `w` of its widest value (0..64), then each value in `w` bits, MSB first,
 * padded to a whole byte.
 */
export function packEncode(hi: Uint32Array, lo: Uint32Array, count: number, out: ByteWriter): void {
  for (let g = 0; g < count; g += PACK_GROUP) {
    const end = g + PACK_GROUP < count ? g + PACK_GROUP : count;
    let w = 0;
    for (let i = g; i < end; i++) {
      const wi = width64(hi[i], lo[i]);
      if (wi > w) w = wi;
    }
    out.u8(w);
    if (w === 0) continue;
    const bits = BitWriter.begin(out, w * (end - g));
    if (w > 32) {
      const hw = w - 32;
      for (let i = g; i < end; i++) {
        bits.write(hi[i], hw);
        bits.write(lo[i], 32);
      }
    } else {
      for (let i = g; i < end; i++) bits.write(lo[i], w);
    }
    bits.end();
  }
}

/**
 * Reads what {@linkcode packEncode} wrote for `count` values into `hi`/`lo`.
 * @throws {CodecError} on a width above 64, truncation, or non-zero padding.
 */
export function packDecode(r: ByteReader, count: number, hi: Uint32Array, lo: Uint32Array): void {
  for (let g = 0; g < count; g += PACK_GROUP) {
    const end = g + PACK_GROUP < count ? g + PACK_GROUP : count;
    const at = r.offset;
    const w = r.u8("bit-pack width");
    if (w > 64) r.fail(`bit-pack width ${w} above 64`, at);
    if (w === 0) {
      hi.fill(0, g, end);
      lo.fill(0, g, end);
      continue;
    }
    const nbytes = Math.ceil((w * (end - g)) / 8);
    r.need(nbytes, "bit-packed group");
    const bits = new BitReader(r.data, r.offset, r.offset + nbytes);
    if (w > 32) {
      const hw = w - 32;
      for (let i = g; i < end; i++) {
        hi[i] = bits.read(hw);
        lo[i] = bits.read(32);
      }
    } else {
      hi.fill(0, g, end);
      for (let i = g; i < end; i++) lo[i] = bits.read(w);
    }
    bits.expectEnd("bit-packed group");
    r.offset += nbytes;
  }
}

/** The ids of one int64-like family (integers or unsigned). */
export interface Int64Ids {
  raw: number;
  rle: number;
  simple8b: number;
  packed: number;
}

/**
 * Encodes a block of 64-bit integers given as halves, picking the smallest of: RLE (constant
 * step, one value), zigzag deltas in Simple-8b, zigzag deltas bit-packed, raw. `signed` says
 * whether the first value is written zigzag (int64) or as is (uint64). Returns the id chosen.
 */
export function encodeInt64Block(
  hi: Uint32Array,
  lo: Uint32Array,
  count: number,
  options: { ids: Int64Ids; signed: boolean },
  out: ByteWriter,
): number {
  const { ids, signed } = options;
  const n1 = count - 1;
  const zhi = new Uint32Array(n1);
  const zlo = new Uint32Array(n1);
  const constant = zigzagDeltas(hi, lo, count, zhi, zlo);
  const start = out.length;
  const writeFirst = () => {
    if (signed) {
      zigzag64(hi[0], lo[0]);
      writeUvarint64(out, U64[0], U64[1]);
    } else {
      writeUvarint64(out, hi[0], lo[0]);
    }
  };
  if (constant) {
    out.u8(ids.rle);
    out.uvarint(count);
    writeFirst();
    if (count > 1) writeUvarint64(out, zhi[0], zlo[0]);
    else out.u8(0);
    return ids.rle;
  }
  const rawSize = 1 + varintSize(count) + 8 * count;
  let best = ids.raw;
  let bestSize = rawSize;
  const packed = packedSize(zhi, zlo, n1);
  // Header of the delta encodings: id, count, first value (at most 10 bytes).
  const head = new ByteWriter(32);
  head.uvarint(count);
  if (signed) {
    zigzag64(hi[0], lo[0]);
    writeUvarint64(head, U64[0], U64[1]);
  } else {
    writeUvarint64(head, hi[0], lo[0]);
  }
  const headSize = 1 + head.length;
  if (headSize + packed < bestSize) {
    best = ids.packed;
    bestSize = headSize + packed;
  }
  if (simple8bFits64(zhi, n1)) {
    out.u8(ids.simple8b);
    out.bytes(head.view());
    simple8bEncode64(zhi, zlo, n1, out);
    if (out.length - start <= bestSize) return ids.simple8b;
    out.truncate(start);
  }
  if (best === ids.packed) {
    out.u8(ids.packed);
    out.bytes(head.view());
    packEncode(zhi, zlo, n1, out);
    return ids.packed;
  }
  out.u8(ids.raw);
  out.uvarint(count);
  for (let i = 0; i < count; i++) {
    out.u32(lo[i]);
    out.u32(hi[i]);
  }
  return ids.raw;
}

/**
 * Decodes a block written by {@linkcode encodeInt64Block} (after its header was read) into
 * fresh `hi`/`lo` arrays of length `count`.
 */
export function decodeInt64Body(
  r: ByteReader,
  id: number,
  count: number,
  options: { ids: Int64Ids; signed: boolean; what: string },
): { hi: Uint32Array; lo: Uint32Array } {
  const { ids, signed, what } = options;
  const hi = new Uint32Array(count);
  const lo = new Uint32Array(count);
  if (id === ids.raw) {
    r.need(8 * count, `raw ${what}`);
    for (let i = 0; i < count; i++) {
      lo[i] = r.u32();
      hi[i] = r.u32();
    }
    r.expectEnd(`raw ${what}`);
    return { hi, lo };
  }
  readUvarint64(r, `first ${what}`);
  if (signed) unzigzag64(U64[0], U64[1]);
  hi[0] = U64[0];
  lo[0] = U64[1];
  const n1 = count - 1;
  if (id === ids.rle) {
    readUvarint64(r, `${what} step`);
    const a = U64[0], b = U64[1];
    r.expectEnd(`${what} RLE block`);
    if (count === 1) {
      if (a !== 0 || b !== 0) r.fail(`${what} RLE block of one value with a non-zero step`);
      return { hi, lo };
    }
    const zhi = new Uint32Array(n1).fill(a);
    const zlo = new Uint32Array(n1).fill(b);
    undoZigzagDeltas(hi, lo, count, zhi, zlo);
    return { hi, lo };
  }
  const zhi = new Uint32Array(n1);
  const zlo = new Uint32Array(n1);
  if (id === ids.simple8b) simple8bDecode64(r, n1, zhi, zlo);
  else if (id === ids.packed) packDecode(r, n1, zhi, zlo);
  else throw new CodecError(0, `BUG: unhandled ${what} encoding 0x${id.toString(16)}`);
  r.expectEnd(`${what} block`);
  undoZigzagDeltas(hi, lo, count, zhi, zlo);
  return { hi, lo };
}

/** Bytes of the uvarint of a safe non-negative integer. */
export function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}
