/**
 * The string column codec. Strings are stored as UTF-8.
 *
 * Encodings (first byte), the smallest wins:
 * - `StringsDictionary` (0x61): the distinct strings once (in order of first appearance), then
 *   each value's index bit-packed at the width of the largest index (0 bits for one distinct
 *   string). Tried when at most half the values are distinct.
 * - `StringsDeflate` (0x62): the plain body (below) compressed with raw DEFLATE (fflate, pure
 *   JS, level 6), preceded by the body's length and the compressed length. Tried for bodies of
 *   64 bytes or more, unless a dictionary already takes under an eighth of the plain body. Bytes appended after the block are caught by the compressed length;
 *   garbage after the final DEFLATE block inside that length is not visible to fflate, and is
 *   left to the block checksum.
 * - `StringsPlain` (0x60): every value's byte length (uvarint), then all the bytes.
 *
 * Limits: 1 to MAX_BLOCK_VALUES values per block; strings must be well-formed UTF-16 (a lone
 * surrogate would not survive UTF-8, so it is refused with a `BUG:` error rather than silently
 * replaced: ingest validates text first). Decoding checks that the bytes are valid UTF-8.
 *
 * @module
 */

import { deflateSync, inflateSync } from "fflate";
import { BitReader, BitWriter } from "./_bits.ts";
import { ByteReader, ByteWriter, CodecError } from "./bytes.ts";
import { checkCount, Encoding, readHeader } from "./encoding.ts";
import { varintSize } from "./_int64.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const DEFLATE_MIN_BYTES = 64;

/** Writes lengths then bytes of `strings` (the plain body). */
function writePlainBody(strings: readonly string[], out: ByteWriter): void {
  const bytes: Uint8Array[] = new Array(strings.length);
  for (let i = 0; i < strings.length; i++) {
    const b = encoder.encode(strings[i]);
    bytes[i] = b;
    out.uvarint(b.length);
  }
  for (const b of bytes) out.bytes(b);
}

function readPlainBody(r: ByteReader, count: number, what: string): string[] {
  const lengths = new Array<number>(count);
  let total = 0;
  for (let i = 0; i < count; i++) {
    lengths[i] = r.uvarint(`${what} length`);
    total += lengths[i];
  }
  const start = r.offset;
  const bytes = r.bytes(total, `${what} bytes`);
  const out: string[] = new Array(count);
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    // One decode for the whole body; byte offsets are character offsets.
    const all = decoder.decode(bytes);
    let p = 0;
    for (let i = 0; i < count; i++) {
      out[i] = all.slice(p, p + lengths[i]);
      p += lengths[i];
    }
    return out;
  }
  let p = 0;
  for (let i = 0; i < count; i++) {
    try {
      out[i] = decoder.decode(bytes.subarray(p, p + lengths[i]));
    } catch (cause) {
      throw new CodecError(start + p, `${what} ${i} is not valid UTF-8`, { cause });
    }
    p += lengths[i];
  }
  return out;
}

/**
 * Appends an encoded block of strings and returns the encoding chosen.
 * @throws {Error} `BUG:` on zero or more than MAX_BLOCK_VALUES values, or a string that is not
 *   well-formed UTF-16.
 * @example
 * ```ts
 * const w = new ByteWriter();
 * encodeStrings(["ok", "ok", "ok", "fail"], w); // Encoding.StringsDictionary
 * decodeStrings(w.finish()); // ["ok", "ok", "ok", "fail"]
 * ```
 */
export function encodeStrings(values: readonly string[], out: ByteWriter): number {
  const count = values.length;
  checkCount(count, "encodeStrings");
  const dict = new Map<string, number>();
  const limit = count >>> 1;
  for (let i = 0; i < count; i++) {
    const s = values[i];
    if (!s.isWellFormed()) {
      throw new Error(`BUG: string value at index ${i} is not well-formed UTF-16 (lone surrogate)`);
    }
    if (dict.size <= limit && !dict.has(s)) dict.set(s, dict.size);
  }
  const start = out.length;
  let best = -1;
  let bestBytes: Uint8Array | undefined;
  if (dict.size <= limit || dict.size === 1) {
    out.u8(Encoding.StringsDictionary);
    out.uvarint(count);
    out.uvarint(dict.size);
    writePlainBody([...dict.keys()], out);
    const width = 32 - Math.clz32(dict.size - 1);
    if (width > 0) {
      const bits = BitWriter.begin(out, width * count);
      for (let i = 0; i < count; i++) bits.write(dict.get(values[i])!, width);
      bits.end();
    }
    best = Encoding.StringsDictionary;
    bestBytes = out.view().slice(start);
    out.truncate(start);
  }
  const body = new ByteWriter(64 + count * 8);
  writePlainBody(values, body);
  const plainSize = 1 + varintSize(count) + body.length;
  if (bestBytes === undefined || plainSize < bestBytes.length) {
    out.u8(Encoding.StringsPlain);
    out.uvarint(count);
    out.bytes(body.view());
    best = Encoding.StringsPlain;
    bestBytes = out.view().slice(start);
    out.truncate(start);
  }
  // A dictionary at under an eighth of the plain body is left alone: DEFLATE rarely beats it
  // by much there, and it costs about a millisecond per thousand values.
  const dictionaryWins = best === Encoding.StringsDictionary && bestBytes.length * 8 < body.length;
  if (body.length >= DEFLATE_MIN_BYTES && !dictionaryWins) {
    const packed = deflateSync(body.view(), { level: 6 });
    if (packed.length + 10 < bestBytes.length) {
      out.u8(Encoding.StringsDeflate);
      out.uvarint(count);
      out.uvarint(body.length);
      out.uvarint(packed.length);
      out.bytes(packed);
      return Encoding.StringsDeflate;
    }
  }
  out.bytes(bestBytes);
  return best;
}

/**
 * Decodes a block written by {@linkcode encodeStrings}.
 * @throws {CodecError} on any inconsistency in the bytes, invalid UTF-8 or a deflate stream
 *   that does not inflate to the recorded length.
 */
export function decodeStrings(block: Uint8Array): string[] {
  const r = new ByteReader(block);
  const { id, count } = readHeader(r, 0x60, "string");
  if (id === Encoding.StringsPlain) {
    const out = readPlainBody(r, count, "string");
    r.expectEnd("plain string block");
    return out;
  }
  if (id === Encoding.StringsDeflate) {
    const lenAt = r.offset;
    const rawLen = r.uvarint("inflated length");
    const packedLen = r.uvarint("deflated length");
    const packedAt = r.offset;
    if (packedLen !== r.remaining) {
      r.fail(`deflated length ${packedLen} but ${r.remaining} bytes follow`, lenAt);
    }
    // DEFLATE expands at most about 1032:1; a larger claim is corrupt (and must not allocate).
    if (rawLen > packedLen * 1032 + 1024) {
      r.fail(`inflated length ${rawLen} impossible from ${packedLen} deflated bytes`, lenAt);
    }
    let body: Uint8Array;
    try {
      body = inflateSync(r.bytes(packedLen), { out: new Uint8Array(rawLen) });
    } catch (cause) {
      throw new CodecError(packedAt, `deflate stream does not inflate: ${cause}`, { cause });
    }
    if (body.length !== rawLen) {
      r.fail(`deflate stream inflates to ${body.length} bytes, header says ${rawLen}`, lenAt);
    }
    const inner = new ByteReader(body);
    try {
      const out = readPlainBody(inner, count, "string");
      inner.expectEnd("inflated string block");
      return out;
    } catch (e) {
      if (e instanceof CodecError) {
        throw new CodecError(packedAt, `inflated body at byte ${e.offset}: ${e.reason}`, {
          cause: e,
        });
      }
      throw e;
    }
  }
  const sizeAt = r.offset;
  const size = r.uvarint("dictionary size");
  if (size === 0 || size > count) r.fail(`dictionary of ${size} for ${count} values`, sizeAt);
  const dict = readPlainBody(r, size, "dictionary string");
  const width = 32 - Math.clz32(size - 1);
  const out: string[] = new Array(count);
  if (width === 0) {
    r.expectEnd("dictionary string block");
    return out.fill(dict[0]);
  }
  const nbytes = Math.ceil((width * count) / 8);
  r.need(nbytes, "dictionary indices");
  const bits = new BitReader(block, r.offset, r.offset + nbytes);
  for (let i = 0; i < count; i++) {
    const k = bits.read(width);
    if (k >= size) bits.fail(`dictionary index ${k} at value ${i} beyond ${size} entries`);
    out[i] = dict[k];
  }
  bits.expectEnd("dictionary indices");
  r.offset += nbytes;
  r.expectEnd("dictionary string block");
  return out;
}
