/**
 * NDJSON (`application/x-ndjson`): one native JSON record per line, in the format of
 * `json_points.ts` (`{"measurement": "cpu", "tags": {...}, "fields": {...}, "timestamp": ...}`).
 * Blank lines are skipped; `\r\n` line ends and a leading byte-order mark are accepted.
 *
 * {@linkcode NdjsonDecoder} takes the body in chunks of any size and decodes each complete
 * line; a bad line is reported with its 1-based line number and the others are kept. A line
 * longer than `maxLineBytes` is reported and skipped without being held in memory, so memory
 * stays bounded by the chunk size plus one line whatever the body size. A line that is not
 * valid UTF-8 is reported (with the column of its first bad byte) and skipped, as line
 * protocol does, never stored with U+FFFD in place of its bytes.
 * @module
 */
import type { DecodedBatch, IngestIssue } from "./batches.ts";
import {
  decodeJsonRecord,
  isRecordError,
  type JsonPointsOptions,
  MalformedJson,
  parseJsonOrMalformed,
  withDecoderCaches,
} from "./json_points.ts";
import { firstInvalidUtf8 } from "./_utf8.ts";

/** Options of {@linkcode NdjsonDecoder}. */
export interface NdjsonOptions extends JsonPointsOptions {
  /** Longest line accepted, in bytes; longer lines are rejected. @default {1048576} */
  maxLineBytes?: number;
}

const NL = 10;
/**
 * Strict, and keeps a BOM: only the body's own BOM is dropped (in `#decodeLines`, from the
 * joined bytes of line 1, so a BOM cut by a chunk end goes too); a BOM starting a later line is
 * a stray character wherever the chunks happen to end.
 */
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Decodes NDJSON pushed in chunks.
 *
 * @example
 * ```ts
 * const decoder = new NdjsonDecoder({ defaultTime: { ms: 0, subMs: 0 } });
 * const enc = new TextEncoder();
 * decoder.push(enc.encode('{"measurement":"m","value":1}\n{"measurement":')); // 1 point
 * decoder.push(enc.encode('"m","value":2}\n')); // 1 point, from line 2
 * decoder.finish(); // nothing left
 * ```
 */
export class NdjsonDecoder {
  readonly #options: NdjsonOptions;
  readonly #maxLine: number;
  /** Bytes of the unfinished last line. */
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  /** Line number of the next line to complete (1-based). */
  #line = 1;
  /** Dropping the rest of an overlong line. */
  #skipping = false;
  /**
   * Lines parsed, and how many were malformed: once they are over 1 in 8, the syntax validator
   * goes before JSON.parse (whose SyntaxError costs more than validating a short line).
   */
  #parsed = 0;
  #malformed = 0;

  constructor(options: NdjsonOptions) {
    this.#options = withDecoderCaches(options);
    this.#maxLine = options.maxLineBytes ?? 1024 * 1024;
  }

  /** Bytes held for an unfinished line. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Decodes the lines completed by `chunk`. */
  push(chunk: Uint8Array): DecodedBatch {
    const out = emptyBatch(chunk.length);
    let start = 0;
    if (this.#skipping) {
      const nl = chunk.indexOf(NL, start);
      if (nl < 0) return out;
      this.#skipping = false;
      this.#line++;
      start = nl + 1;
    }
    const last = chunk.lastIndexOf(NL);
    if (last < start) {
      this.#hold(chunk.subarray(start), out);
      return out;
    }
    let bytes = chunk.subarray(start, last);
    if (this.#pendingBytes > 0) {
      const joined = new Uint8Array(this.#pendingBytes + bytes.length);
      let at = 0;
      for (const p of this.#pending) {
        joined.set(p, at);
        at += p.length;
      }
      joined.set(bytes, at);
      bytes = joined;
      this.#pending = [];
      this.#pendingBytes = 0;
    }
    this.#decodeLines(bytes, out);
    this.#hold(chunk.subarray(last + 1), out);
    return out;
  }

  /** Decodes the last line if it has no newline. */
  finish(): DecodedBatch {
    const out = emptyBatch(0);
    if (this.#skipping || this.#pendingBytes === 0) return out;
    const joined = new Uint8Array(this.#pendingBytes);
    let at = 0;
    for (const p of this.#pending) {
      joined.set(p, at);
      at += p.length;
    }
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#decodeLines(joined, out);
    return out;
  }

  #hold(tail: Uint8Array, out: DecodedBatch): void {
    if (tail.length === 0) return;
    if (this.#pendingBytes + tail.length > this.#maxLine) {
      out.errors.push({ line: this.#line, reason: this.#tooLong() });
      this.#pending = [];
      this.#pendingBytes = 0;
      this.#skipping = true;
      return;
    }
    // Copy: the caller may reuse its chunk buffer.
    this.#pending.push(tail.slice());
    this.#pendingBytes += tail.length;
  }

  /**
   * Decodes complete lines (`bytes` holds whole lines separated by `\n`, no final one). The
   * limit counts each line's bytes as they came (the body's BOM included), as `#hold` does, so
   * a line is refused or kept the same wherever the chunks end.
   */
  #decodeLines(bytes: Uint8Array, out: DecodedBatch): void {
    const bom = this.#line === 1 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
    let text: string;
    try {
      text = utf8.decode(bom ? bytes.subarray(3) : bytes); // without the body's BOM
    } catch {
      this.#decodeLinesOneByOne(bytes, bom, out);
      return;
    }
    // "\n" is one byte and one code unit, so the text's lines and the bytes' lines pair up.
    let from = 0, byteFrom = 0;
    while (from <= text.length) {
      let to = text.indexOf("\n", from);
      if (to < 0) to = text.length;
      let byteTo = bytes.indexOf(NL, byteFrom);
      if (byteTo < 0) byteTo = bytes.length;
      const lineNo = this.#line++;
      if (byteTo - byteFrom > this.#maxLine) {
        out.errors.push({ line: lineNo, reason: this.#tooLong() });
      } else if (to > from) {
        this.#decodeLine(text.slice(from, to), lineNo, out);
      }
      from = to + 1;
      byteFrom = byteTo + 1;
    }
  }

  #tooLong(): string {
    return `line longer than ${this.#maxLine} bytes (the limit): skipped`;
  }

  /**
   * The same, for bytes that are not all valid UTF-8: each line is decoded on its own, and a
   * line that is not valid UTF-8 is reported (with the column of the first bad byte) and
   * skipped, as line protocol does, rather than stored with U+FFFD in place of its bytes.
   */
  #decodeLinesOneByOne(bytes: Uint8Array, bom: boolean, out: DecodedBatch): void {
    let from = 0;
    while (from <= bytes.length) {
      let to = bytes.indexOf(NL, from);
      if (to < 0) to = bytes.length;
      const lineNo = this.#line++;
      const whole = bytes.subarray(from, to);
      const line = bom && from === 0 ? whole.subarray(3) : whole;
      from = to + 1;
      if (whole.length > this.#maxLine) {
        out.errors.push({ line: lineNo, reason: this.#tooLong() });
        continue;
      }
      const bad = firstInvalidUtf8(line);
      if (bad >= 0) {
        out.errors.push({
          line: lineNo,
          column: bad + 1,
          reason: `invalid UTF-8 at byte ${bad + 1} of the line (byte 0x${
            line[bad].toString(16).padStart(2, "0")
          }): the line is skipped`,
        });
        continue;
      }
      if (line.length > 0) this.#decodeLine(utf8.decode(line), lineNo, out);
    }
  }

  #decodeLine(line: string, lineNo: number, out: DecodedBatch): void {
    // Blank lines (spaces, a lone \r) are skipped.
    const c = line.charCodeAt(0);
    if ((c === 32 || c === 13 || c === 9) && line.trim() === "") return;
    const value = parseJsonOrMalformed(line, this.#malformed * 8 > this.#parsed);
    this.#parsed++;
    if (value instanceof MalformedJson) {
      this.#malformed++;
      out.errors.push({
        line: lineNo,
        column: value.column,
        reason: `malformed JSON at column ${value.column}: ${value.message}`,
      });
      return;
    }
    const decoded = decodeJsonRecord(value, lineNo, this.#options);
    if (!isRecordError(decoded)) {
      out.points.push(decoded);
      out.origins!.push(lineNo);
      return;
    }
    const issue: IngestIssue = { line: lineNo, reason: decoded.reason };
    if (decoded.field !== undefined) issue.field = decoded.field;
    out.errors.push(issue);
  }
}

function emptyBatch(bytes: number): DecodedBatch {
  return { points: [], errors: [], origins: [], originKind: "line", bytes };
}

/**
 * Decodes an NDJSON byte stream, yielding one batch per chunk read. The stream is read only
 * as fast as the consumer pulls (backpressure).
 */
export async function* decodeNdjsonStream(
  stream: ReadableStream<Uint8Array>,
  options: NdjsonOptions,
): AsyncGenerator<DecodedBatch> {
  const decoder = new NdjsonDecoder(options);
  // `bytes`: what the lines a piece completed hold; the unfinished one is the decoder's.
  const counted = (decode: () => DecodedBatch, read: number): DecodedBatch => {
    const heldBefore = decoder.pendingBytes;
    const batch = decode();
    batch.bytes = heldBefore + read - decoder.pendingBytes;
    batch.heldBytes = decoder.pendingBytes;
    return batch;
  };
  yield* pullChunks(
    stream,
    (chunk) => counted(() => decoder.push(chunk), chunk.length),
    () => counted(() => decoder.finish(), 0),
  );
}

/** The most bytes of a body decoded in one step (a network read is usually at most 64 KiB). */
const MAX_PIECE_BYTES = 64 * 1024;

/**
 * Reads `stream` chunk by chunk, only when the consumer pulls, turning each chunk (in pieces of
 * at most 64 KiB) into a batch; cancels the stream when the consumer stops early.
 */
export async function* pullChunks(
  stream: ReadableStream<Uint8Array>,
  push: (chunk: Uint8Array) => DecodedBatch,
  finish: () => DecodedBatch,
): AsyncGenerator<DecodedBatch> {
  const reader = stream.getReader();
  let done = false;
  try {
    while (true) {
      const next = await reader.read();
      if (next.done) break;
      // A large chunk (a whole in-memory body) is decoded in pieces, so the points decoded at
      // once stay a piece's worth whatever the source hands over.
      for (let at = 0; at < next.value.length; at += MAX_PIECE_BYTES) {
        yield push(next.value.subarray(at, at + MAX_PIECE_BYTES));
      }
    }
    done = true;
    yield finish();
  } finally {
    if (!done) reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
