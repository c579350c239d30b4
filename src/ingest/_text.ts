/**
 * Byte-to-string helpers for the decoders: ASCII runs become strings without a TextDecoder
 * call (the common case for names), everything else goes through a strict UTF-8 decoder.
 *
 * @module
 */

const utf8Strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8Lenient = new TextDecoder("utf-8", { ignoreBOM: true });

/** Longest run decoded with `String.fromCharCode.apply` (longer runs use TextDecoder). */
const APPLY_LIMIT = 128;

/**
 * Decodes `bytes[start, end)`. `ascii` says the caller saw no byte >= 0x80 in the range.
 * Returns undefined when the bytes are not valid UTF-8.
 */
export function decodeRange(
  bytes: Uint8Array,
  start: number,
  end: number,
  ascii: boolean,
): string | undefined {
  const n = end - start;
  if (ascii && n <= APPLY_LIMIT) {
    if (n === 1) return String.fromCharCode(bytes[start]);
    return String.fromCharCode.apply(
      null,
      bytes.subarray(start, end) as unknown as number[],
    );
  }
  try {
    return utf8Strict.decode(bytes.subarray(start, end));
  } catch {
    return undefined;
  }
}

/** Decodes bytes for display in an error message: invalid sequences become U+FFFD. */
export function decodeLenient(bytes: Uint8Array): string {
  return utf8Lenient.decode(bytes);
}

/**
 * The first `limit` bytes of `bytes[start, end)` as text for an error message, cut on a
 * character boundary, with "..." when cut.
 */
export function excerpt(bytes: Uint8Array, start: number, end: number, limit: number): string {
  if (end - start <= limit) return decodeLenient(bytes.subarray(start, end));
  let cut = start + limit;
  // Do not split a UTF-8 sequence: back up over continuation bytes (10xxxxxx).
  while (cut > start && (bytes[cut] & 0xc0) === 0x80) cut--;
  return decodeLenient(bytes.subarray(start, cut)) + "...";
}
