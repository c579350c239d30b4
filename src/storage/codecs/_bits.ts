/**
 * Bit streams for the codecs that do not align to bytes (Gorilla floats, bit-packing):
 * most-significant bit first, big-endian, padded with zero bits to a whole byte at the end.
 * Reads and writes take at most 32 bits at a time, so everything stays in 32-bit integer
 * arithmetic (no BigInt, no float math).
 *
 * @module
 */

import { type ByteWriter, CodecError } from "./bytes.ts";

/**
 * Writes bits into a {@linkcode ByteWriter}. Reserve the worst case up front with
 * {@linkcode BitWriter.begin}, write, then {@linkcode BitWriter.end} pads the last byte and
 * advances the writer.
 */
export class BitWriter {
  #out: ByteWriter;
  #buf: Uint8Array;
  #pos: number;
  #acc = 0;
  #nbits = 0;

  private constructor(out: ByteWriter, maxBits: number) {
    this.#out = out;
    this.#buf = out.reserve(Math.ceil(maxBits / 8) + 4);
    this.#pos = out.length;
  }

  /** Starts a bit stream at the writer's end, with room for `maxBits` bits. */
  static begin(out: ByteWriter, maxBits: number): BitWriter {
    return new BitWriter(out, maxBits);
  }

  /** Writes the low `n` bits of `v` (1 <= n <= 32); `v` must have no bits above them. */
  write(v: number, n: number): void {
    const total = this.#nbits + n;
    if (total < 32) {
      this.#acc = (this.#acc << n) | v;
      this.#nbits = total;
      return;
    }
    const spill = total - 32;
    const word = this.#nbits === 0 ? v : (this.#acc << (32 - this.#nbits)) | (v >>> spill);
    const b = this.#buf;
    const p = this.#pos;
    b[p] = word >>> 24;
    b[p + 1] = word >>> 16;
    b[p + 2] = word >>> 8;
    b[p + 3] = word;
    this.#pos = p + 4;
    this.#acc = spill === 0 ? 0 : v & (0xffffffff >>> (32 - spill));
    this.#nbits = spill;
  }

  /** Pads the last byte with zero bits, advances the writer and returns the bytes written. */
  end(): number {
    let acc = this.#acc;
    let n = this.#nbits;
    const b = this.#buf;
    let p = this.#pos;
    if (n > 0) {
      acc = acc << (32 - n);
      while (n > 0) {
        b[p++] = acc >>> 24;
        acc <<= 8;
        n -= 8;
      }
    }
    const written = p - this.#out.length;
    this.#out.advance(written);
    return written;
  }
}

/**
 * Reads bits written by {@linkcode BitWriter} from `data[start, end)`. The bytes are copied
 * once into a buffer with 8 zero bytes of padding so a read never tests for the array's end
 * byte by byte; the bit limit is checked on every read instead.
 */
export class BitReader {
  readonly #data: Uint8Array;
  readonly #limit: number;
  readonly #start: number;
  /** Bit position of the next read, from the start of the stream. */
  pos = 0;

  constructor(data: Uint8Array, start: number, end: number) {
    const copy = new Uint8Array(end - start + 8);
    copy.set(data.subarray(start, end));
    this.#data = copy;
    this.#limit = (end - start) * 8;
    this.#start = start;
  }

  /** Byte offset (in the original buffer) of the current position, for error messages. */
  get byteOffset(): number {
    return this.#start + (this.pos >>> 3);
  }

  /** Reads `n` bits (1 <= n <= 32) as an unsigned number. */
  read(n: number): number {
    const p = this.pos;
    if (p + n > this.#limit) {
      throw new CodecError(this.byteOffset, `truncated bit stream: need ${n} more bits`);
    }
    const d = this.#data;
    const b = p >>> 3;
    const s = p & 7;
    let w = (d[b] << 24) | (d[b + 1] << 16) | (d[b + 2] << 8) | d[b + 3];
    if (s !== 0) w = (w << s) | (d[b + 4] >>> (8 - s));
    this.pos = p + n;
    return (w >>> (32 - n)) >>> 0;
  }

  /** Throws a {@linkcode CodecError} at the current byte. */
  fail(reason: string): never {
    throw new CodecError(this.byteOffset, reason);
  }

  /**
   * Checks that the stream ends here: at most 7 padding bits remain and they are zero.
   * @throws {CodecError} otherwise.
   */
  expectEnd(what: string): void {
    const left = this.#limit - this.pos;
    if (left >= 8) {
      throw new CodecError(
        this.byteOffset,
        `${left >>> 3} unexpected trailing bytes after ${what}`,
      );
    }
    if (left > 0 && this.read(left) !== 0) {
      throw new CodecError(this.byteOffset - 1, `non-zero padding bits after ${what}`);
    }
  }
}
