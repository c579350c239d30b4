/**
 * Reading protobuf wire bytes without intermediate message objects: varints (64-bit ones as
 * two 32-bit halves, so no BigInt on the hot path), length-delimited fields, doubles.
 * @module
 */
import { type Instant, ParseError } from "../core/mod.ts";
import { decodeRange } from "./_text.ts";

const TWO32 = 4294967296;
// Little-endian scratch for doubles (every platform Deno runs on is little-endian).
const SCRATCH_FLOAT = new Float64Array(1);
const SCRATCH_BYTES = new Uint8Array(SCRATCH_FLOAT.buffer);

const INTERN_MAX_BYTES = 64;
const INTERN_MAX_ENTRIES = 8192;
/**
 * ASCII names by the hash of their bytes, compared with the bytes through the string itself: a
 * copy of each name's bytes (an ArrayBuffer apiece) made a request of 20,000 distinct field
 * names, which empties this table twice, cost 3-4x per doubling in V8's collector.
 */
const INTERNED = new Map<number, string>();

function sameAscii(text: string, buf: Uint8Array, start: number, end: number): boolean {
  if (text.length !== end - start) return false;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) !== buf[start + i]) return false;
  return true;
}

/** A cursor over protobuf wire bytes. */
export class Wire {
  pos: number;
  /** The two halves of the last 64-bit varint read. */
  lo = 0;
  hi = 0;

  constructor(
    readonly buf: Uint8Array,
    pos = 0,
    readonly end: number = buf.length,
    readonly message = "WriteRequest",
  ) {
    this.pos = pos;
  }

  fail(what: string): never {
    throw new ParseError(`malformed protobuf ${this.message} at byte ${this.pos}: ${what}`, {
      details: { offset: this.pos },
    });
  }

  /** A varint up to 32 bits (tags, lengths); larger ones fail. */
  uint32(): number {
    let result = 0, shift = 0;
    while (true) {
      if (this.pos >= this.end) this.fail("truncated varint");
      const b = this.buf[this.pos++];
      if (shift < 28) result |= (b & 0x7f) << shift;
      else if (shift === 28) result += (b & 0x7f) * 2 ** 28;
      else if (b & 0x7f) this.fail("varint too large for a length");
      if (!(b & 0x80)) return result;
      shift += 7;
      if (shift > 63) this.fail("varint longer than 10 bytes");
    }
  }

  /** A 64-bit varint into `lo` and `hi` (unsigned 32-bit halves). */
  varint64(): void {
    let lo = 0, hi = 0, shift = 0;
    while (true) {
      if (this.pos >= this.end) this.fail("truncated varint");
      const b = this.buf[this.pos++];
      if (shift < 28) lo |= (b & 0x7f) << shift;
      else if (shift === 28) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >> 4;
      } else if (shift < 63) hi |= (b & 0x7f) << (shift - 32);
      else hi |= (b & 0x01) << 31;
      if (!(b & 0x80)) break;
      shift += 7;
      if (shift > 63) this.fail("varint longer than 10 bytes");
    }
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }

  bytes(): Uint8Array {
    const n = this.uint32();
    if (this.pos + n > this.end) this.fail(`length ${n} runs past the end`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  string(): string {
    const n = this.uint32();
    const start = this.pos, end = start + n;
    if (end > this.end) this.fail(`length ${n} runs past the end`);
    this.pos = end;
    const buf = this.buf;
    let ascii = true;
    let hash = 0x811c9dc5 | 0;
    for (let i = start; i < end; i++) {
      const c = buf[i];
      if (c >= 0x80) ascii = false;
      hash = Math.imul(hash ^ c, 0x01000193);
    }
    // Names repeat from point to point: short ASCII strings are interned by their bytes.
    const interned = ascii && n <= INTERN_MAX_BYTES;
    if (interned) {
      const hit = INTERNED.get(hash);
      if (hit !== undefined && sameAscii(hit, buf, start, end)) return hit;
    }
    const text = decodeRange(buf, start, end, ascii);
    if (text !== undefined && interned) {
      if (INTERNED.size >= INTERN_MAX_ENTRIES) INTERNED.clear();
      INTERNED.set(hash, text);
    }
    if (text === undefined) this.fail("a string is not valid UTF-8");
    return text;
  }

  double(): number {
    if (this.pos + 8 > this.end) this.fail("truncated double");
    const b = this.buf, p = this.pos;
    for (let i = 0; i < 8; i++) SCRATCH_BYTES[i] = b[p + i];
    this.pos += 8;
    return SCRATCH_FLOAT[0];
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint64();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.bytes();
        return;
      case 5:
        this.pos += 4;
        break;
      default:
        this.fail(`unsupported wire type ${wireType}`);
    }
    if (this.pos > this.end) this.fail("truncated field");
  }
}

/** The int64 in (hi, lo) as a field value: a number when safe, else a bigint. */
export function int64Value(hi: number, lo: number, signed: boolean): number | bigint {
  if (signed && hi >= 0x80000000) {
    // Negative: magnitude is the two's complement.
    const nlo = (~lo + 1) >>> 0;
    const nhi = (~hi + (nlo === 0 ? 1 : 0)) >>> 0;
    if (nhi < 0x200000) return -(nhi * TWO32 + nlo);
    return -((BigInt(nhi) << 32n) | BigInt(nlo));
  }
  if (hi < 0x200000) return hi * TWO32 + lo;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** The int64 nanoseconds in (hi, lo) as an instant, exactly, without BigInt. */
export function instantOf(hi: number, lo: number): Instant | undefined {
  const negative = hi >= 0x80000000;
  let mhi = hi, mlo = lo;
  if (negative) {
    mlo = (~lo + 1) >>> 0;
    mhi = (~hi + (mlo === 0 ? 1 : 0)) >>> 0;
  }
  // InfluxDB's range is ±(2^63 - 2): refuse -2^63, -2^63+1 and 2^63-1.
  if (mhi === 0x7fffffff && mlo === 0xffffffff) return undefined;
  if (mhi === 0x80000000) return undefined;
  // value = mhi * 2^32 + mlo = mhi * 4294 * 1e6 + (mhi * 967296 + mlo); both parts exact.
  const rest = mhi * 967296 + mlo;
  const ms = mhi * 4294 + Math.floor(rest / 1e6);
  const sub = rest % 1e6;
  if (!negative) return { ms, subMs: sub };
  return sub === 0 ? { ms: -ms, subMs: 0 } : { ms: -ms - 1, subMs: 1e6 - sub };
}
