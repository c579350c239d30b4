/**
 * Strings in the segment index: `uvarint byte length + UTF-8`, with an ASCII fast path (series
 * keys, tags and field names are almost always ASCII, and a TextEncoder/TextDecoder call per
 * short string costs more than the copy).
 * @module
 */
import { type ByteReader, type ByteWriter, CodecError } from "../codecs/mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Appends `uvarint length + UTF-8 bytes`. */
export function writeString(out: ByteWriter, s: string): void {
  const n = s.length;
  let ascii = true;
  for (let i = 0; i < n; i++) {
    if (s.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (!ascii) {
    const bytes = encoder.encode(s);
    out.uvarint(bytes.length);
    out.bytes(bytes);
    return;
  }
  out.uvarint(n);
  const buf = out.reserve(n);
  const at = out.length;
  for (let i = 0; i < n; i++) buf[at + i] = s.charCodeAt(i);
  out.advance(n);
}

/**
 * Longest string read by `String.fromCharCode.apply`: every byte becomes an argument on the
 * stack, and a string field's first/last value (up to the line length, 1 MiB) of 200k ASCII
 * bytes overflowed it ("Maximum call stack size exceeded"), so a flushed segment holding one
 * could not be read. Longer strings go through the decoder, which also returns flat strings.
 */
const MAX_APPLY_BYTES = 4096;

/** Reads a string written by {@linkcode writeString}. */
export function readString(r: ByteReader): string {
  const n = r.uvarint("string length");
  const bytes = r.bytes(n, "string");
  let ascii = n <= MAX_APPLY_BYTES;
  for (let i = 0; ascii && i < n; i++) {
    if (bytes[i] > 0x7f) {
      ascii = false;
      break;
    }
  }
  // One flat string: built by `+=`, a key of 13 characters or more was a chain of V8 cons
  // strings (~500 bytes for a 28-character series key, held per series and segment).
  if (ascii) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  try {
    return decoder.decode(bytes);
  } catch (error) {
    throw new CodecError(r.offset - n, `invalid UTF-8 in a string of ${n} bytes`, {
      cause: error,
    });
  }
}
