/**
 * Byte-level building blocks of every codec: a growable {@linkcode ByteWriter} that codecs append
 * to, a bounds-checked {@linkcode ByteReader} that decoders read from, and
 * {@linkcode CodecError}, the one error a decoder raises on bytes it cannot trust.
 *
 * Byte order: fixed-width fields (`u32`, `f64`, `i64`) are little-endian. Varints are LEB128
 * (7 bits per byte, low group first, high bit = more), as Go's `encoding/binary` and protobuf
 * write them; signed varints are zigzag-encoded first (0, -1, 1, -2 ... -> 0, 1, 2, 3 ...).
 *
 * Limits (pinned by `bytes_test.ts`):
 * - `uvarint`/`varint` take and return JS numbers: unsigned values in [0, 2^53 - 1], signed
 *   values in [-(2^53 - 1), 2^53 - 1]. Zigzag is computed without ever forming 2|v| (which is
 *   not exact beyond 2^52), so the whole safe range is exact. A varint on disk larger than that
 *   decodes with a {@linkcode CodecError}; use `uvarintBig`/`varintBig` (uint64 / int64) there.
 * - A varint is at most 10 bytes (64 bits); a longer one is corrupt.
 *
 * @module
 */

import { EpochError } from "../../core/errors.ts";

/**
 * Bytes a decoder cannot trust: truncated, out of range, or inconsistent. `offset` is the byte
 * position inside the buffer handed to the decoder; the block layer adds the block's position
 * in its file and raises a `CorruptionError` (file, offset) with this error as `cause`.
 */
export class CodecError extends EpochError {
  /** Byte offset inside the decoded buffer where the problem was found. */
  readonly offset: number;
  /** What is wrong, without the offset (the block layer composes its own message). */
  readonly reason: string;
  constructor(offset: number, reason: string, options: { cause?: unknown } = {}) {
    super("data_loss", `corrupt encoded block at byte ${offset}: ${reason}`, {
      cause: options.cause,
      details: { offset },
    });
    this.name = "CodecError";
    this.offset = offset;
    this.reason = reason;
  }
}

const SCRATCH_F64 = new Float64Array(1);
const SCRATCH_BYTES = new Uint8Array(SCRATCH_F64.buffer);
/** True on little-endian hosts (every platform Deno ships for); codecs check it once. */
export const LITTLE_ENDIAN: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A growable byte buffer that codecs append to. Reuse one writer across blocks with
 * {@linkcode ByteWriter.reset}; {@linkcode ByteWriter.finish} copies out the bytes written.
 *
 * @example
 * ```ts
 * const w = new ByteWriter();
 * w.u8(7);
 * w.uvarint(300);
 * w.finish(); // Uint8Array [7, 172, 2]
 * ```
 */
export class ByteWriter {
  #buf: Uint8Array;
  #len = 0;

  /** @param capacity initial size in bytes @default 256 */
  constructor(capacity = 256) {
    this.#buf = new Uint8Array(Math.max(16, capacity));
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#len;
  }

  /** Forgets the bytes written, keeping the memory. */
  reset(): void {
    this.#len = 0;
  }

  /** Drops everything written after the first `length` bytes (to undo a trial encoding). */
  truncate(length: number): void {
    if (length < 0 || length > this.#len) {
      throw new Error(`BUG: truncate(${length}) outside [0, ${this.#len}]`);
    }
    this.#len = length;
  }

  /**
   * Makes room for `extra` more bytes and returns the underlying buffer, so a hot loop can write
   * into it at indices `length .. length + extra - 1` and then call {@linkcode ByteWriter.advance}.
   * The returned buffer is invalid after the next call that may grow the writer.
   */
  reserve(extra: number): Uint8Array {
    const need = this.#len + extra;
    if (need > this.#buf.length) {
      const grown = new Uint8Array(Math.max(need, this.#buf.length * 2));
      grown.set(this.#buf.subarray(0, this.#len));
      this.#buf = grown;
    }
    return this.#buf;
  }

  /** Marks `n` bytes written directly into the buffer from {@linkcode ByteWriter.reserve}. */
  advance(n: number): void {
    if (n < 0 || this.#len + n > this.#buf.length) {
      throw new Error(`BUG: advance(${n}) beyond the reserved buffer (length ${this.#len})`);
    }
    this.#len += n;
  }

  /** Appends bytes. */
  bytes(src: Uint8Array): void {
    this.reserve(src.length).set(src, this.#len);
    this.#len += src.length;
  }

  /** Appends one byte (the low 8 bits of `v`). */
  u8(v: number): void {
    this.reserve(1)[this.#len++] = v;
  }

  /** Appends an unsigned 32-bit integer, little-endian. */
  u32(v: number): void {
    const b = this.reserve(4);
    const p = this.#len;
    b[p] = v;
    b[p + 1] = v >>> 8;
    b[p + 2] = v >>> 16;
    b[p + 3] = v >>> 24;
    this.#len = p + 4;
  }

  /** Appends a 64-bit integer given as its two 32-bit halves (two's complement), little-endian. */
  i64Parts(hi: number, lo: number): void {
    this.u32(lo);
    this.u32(hi);
  }

  /** Appends a float64, little-endian, bit-exact (NaN payloads included). */
  f64(v: number): void {
    SCRATCH_F64[0] = v;
    const b = this.reserve(8);
    if (LITTLE_ENDIAN) b.set(SCRATCH_BYTES, this.#len);
    else for (let i = 0; i < 8; i++) b[this.#len + i] = SCRATCH_BYTES[7 - i];
    this.#len += 8;
  }

  /**
   * Appends an unsigned LEB128 varint.
   * @throws {Error} `BUG:` unless `v` is an integer in [0, 2^53 - 1].
   */
  uvarint(v: number): void {
    if (!(v >= 0 && v <= Number.MAX_SAFE_INTEGER && Number.isInteger(v))) {
      throw new Error(`BUG: uvarint takes an integer in [0, 2^53 - 1], got ${v}`);
    }
    const b = this.reserve(8);
    let p = this.#len;
    while (v >= 0x80) {
      const low = v % 0x80;
      b[p++] = low | 0x80;
      v = (v - low) / 0x80;
    }
    b[p++] = v;
    this.#len = p;
  }

  /**
   * Appends a zigzag LEB128 varint.
   * @throws {Error} `BUG:` unless `v` is an integer in [-(2^53 - 1), 2^53 - 1].
   */
  varint(v: number): void {
    if (!Number.isSafeInteger(v)) {
      throw new Error(`BUG: varint takes a safe integer, got ${v}`);
    }
    // zigzag(v) = 2m + s with s the sign bit and m = v or -v - 1; written as its first 7-bit
    // group ((m % 64) * 2 + s) followed by the varint of floor(m / 64), never forming 2m.
    const s = v < 0 ? 1 : 0;
    const m = s ? -v - 1 : v;
    const low6 = m % 64;
    const rest = (m - low6) / 64;
    if (rest === 0) {
      this.u8(low6 * 2 + s);
      return;
    }
    this.u8(low6 * 2 + s + 0x80);
    this.uvarint(rest);
  }

  /**
   * Appends an unsigned LEB128 varint of a bigint.
   * @throws {Error} `BUG:` unless `v` is in [0, 2^64 - 1].
   */
  uvarintBig(v: bigint): void {
    if (v < 0n || v > 0xffffffffffffffffn) {
      throw new Error(`BUG: uvarintBig takes a uint64, got ${v}`);
    }
    if (v <= BigInt(Number.MAX_SAFE_INTEGER)) {
      this.uvarint(Number(v));
      return;
    }
    while (v >= 0x80n) {
      this.u8(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.u8(Number(v));
  }

  /**
   * Appends a zigzag LEB128 varint of a bigint.
   * @throws {Error} `BUG:` unless `v` is an int64.
   */
  varintBig(v: bigint): void {
    if (v < -0x8000000000000000n || v > 0x7fffffffffffffffn) {
      throw new Error(`BUG: varintBig takes an int64, got ${v}`);
    }
    this.uvarintBig(v < 0n ? -2n * v - 1n : 2n * v);
  }

  /** A copy of the bytes written; the writer stays usable. */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }

  /** The bytes written, without copying; valid until the next write or reset. */
  view(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }
}

/**
 * Reads what a {@linkcode ByteWriter} wrote, checking every bound: reading past the end or an
 * out-of-range value throws {@linkcode CodecError} naming the offset, never returns garbage.
 *
 * @example
 * ```ts
 * const r = new ByteReader(new Uint8Array([7, 172, 2]));
 * r.u8(); // 7
 * r.uvarint(); // 300
 * r.expectEnd("example"); // ok: nothing left
 * ```
 */
export class ByteReader {
  /** The buffer read. */
  readonly data: Uint8Array;
  /** Position of the next byte to read. */
  offset: number;

  constructor(data: Uint8Array, offset = 0) {
    this.data = data;
    this.offset = offset;
  }

  /** Bytes not yet read. */
  get remaining(): number {
    return this.data.length - this.offset;
  }

  /** Throws a {@linkcode CodecError} at `offset` (default: the current position). */
  fail(reason: string, offset: number = this.offset): never {
    throw new CodecError(offset, reason);
  }

  /** Throws unless `n` more bytes are available; `what` names the field for the message. */
  need(n: number, what: string): void {
    if (this.data.length - this.offset < n) {
      this.fail(`truncated ${what}: need ${n} bytes, ${this.data.length - this.offset} left`);
    }
  }

  /** Throws unless every byte was read (trailing bytes mean the block is not what we think). */
  expectEnd(what: string): void {
    if (this.offset !== this.data.length) {
      this.fail(`${this.data.length - this.offset} unexpected trailing bytes after ${what}`);
    }
  }

  /** Reads one byte. */
  u8(what = "byte"): number {
    this.need(1, what);
    return this.data[this.offset++];
  }

  /** Reads an unsigned 32-bit little-endian integer. */
  u32(what = "u32"): number {
    this.need(4, what);
    const b = this.data, p = this.offset;
    this.offset = p + 4;
    return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
  }

  /** Reads a little-endian float64, bit-exact. */
  f64(what = "f64"): number {
    this.need(8, what);
    const p = this.offset;
    if (LITTLE_ENDIAN) SCRATCH_BYTES.set(this.data.subarray(p, p + 8));
    else for (let i = 0; i < 8; i++) SCRATCH_BYTES[i] = this.data[p + 7 - i];
    this.offset = p + 8;
    return SCRATCH_F64[0];
  }

  /** Returns the next `n` bytes as a view (no copy). */
  bytes(n: number, what = "bytes"): Uint8Array {
    this.need(n, what);
    const p = this.offset;
    this.offset = p + n;
    return this.data.subarray(p, p + n);
  }

  /** Reads an unsigned varint that must fit in [0, 2^53 - 1]. */
  uvarint(what = "uvarint"): number {
    const start = this.offset;
    const b = this.data;
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.offset >= b.length) this.fail(`truncated ${what}`, start);
      const byte = b[this.offset++];
      v += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (v > Number.MAX_SAFE_INTEGER) this.fail(`${what} exceeds 2^53 - 1`, start);
        if (byte === 0 && i > 0) this.fail(`${what} is not minimally encoded`, start);
        return v;
      }
      scale *= 0x80;
    }
    return this.fail(`${what} longer than 8 bytes (beyond 2^53 - 1)`, start);
  }

  /** Reads a zigzag varint that must fit in [-(2^53 - 1), 2^53 - 1]. */
  varint(what = "varint"): number {
    const start = this.offset;
    const first = this.u8(what);
    const s = first & 1;
    let m = (first & 0x7f) >>> 1;
    if (first >= 0x80) {
      const rest = this.uvarint(what);
      if (rest === 0) this.fail(`${what} is not minimally encoded`, start);
      if (rest > (Number.MAX_SAFE_INTEGER - 63) / 64) this.fail(`${what} exceeds 2^53 - 1`, start);
      m += rest * 64;
    }
    if (s === 1 && m === Number.MAX_SAFE_INTEGER) this.fail(`${what} below -(2^53 - 1)`, start);
    return s ? -m - 1 : m;
  }

  /** Reads an unsigned varint of up to 64 bits as a bigint. */
  uvarintBig(what = "uvarint"): bigint {
    const start = this.offset;
    const b = this.data;
    let v = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.offset >= b.length) this.fail(`truncated ${what}`, start);
      const byte = b[this.offset++];
      v |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) {
        if (v > 0xffffffffffffffffn) this.fail(`${what} exceeds 2^64 - 1`, start);
        if (byte === 0 && i > 0) this.fail(`${what} is not minimally encoded`, start);
        return v;
      }
      shift += 7n;
    }
    return this.fail(`${what} longer than 10 bytes`, start);
  }

  /** Reads a zigzag varint of up to 64 bits as a bigint. */
  varintBig(what = "varint"): bigint {
    const z = this.uvarintBig(what);
    return z & 1n ? -(z >> 1n) - 1n : z >> 1n;
  }
}
