/**
 * Line protocol read from a byte stream with bounded memory: {@linkcode LineProtocolDecoder}
 * fed chunk by chunk as the consumer pulls. An unfinished line longer than `maxLineBytes`
 * (a string value may hold newlines, so a line can be long) stops the stream with a
 * {@linkcode TooLargeError} rather than growing without bound.
 * @module
 */
import { TooLargeError } from "../core/mod.ts";
import type { DecodedBatch, IngestIssue } from "./batches.ts";
import {
  type LineError,
  LineProtocolDecoder,
  type LineProtocolOptions,
  type LineProtocolResult,
} from "./line_protocol.ts";
import { pullChunks } from "./ndjson.ts";

/** Options of {@linkcode decodeLineProtocolStream}. */
export interface LineProtocolStreamOptions extends LineProtocolOptions {
  /** Longest line held while waiting for its end, in bytes. @default {4194304} */
  maxLineBytes?: number;
}

/** A line-protocol error as an ingest issue. */
export function lineIssue(e: LineError): IngestIssue {
  return { line: e.line, column: e.column, reason: e.reason, text: e.text };
}

/**
 * Decodes a line-protocol byte stream, one batch per chunk read.
 * @throws {TooLargeError} when one line grows past `maxLineBytes`.
 */
export async function* decodeLineProtocolStream(
  stream: ReadableStream<Uint8Array>,
  options: LineProtocolStreamOptions,
): AsyncGenerator<DecodedBatch> {
  const decoder = new LineProtocolDecoder(options);
  const maxLine = options.maxLineBytes ?? 4 * 1024 * 1024;
  let offset = 0;
  // `bytes`: what the lines this piece completed hold; the unfinished one is the decoder's.
  const batch = (r: LineProtocolResult, heldBefore: number, read: number): DecodedBatch => ({
    points: r.points,
    errors: r.errors.map(lineIssue),
    // A point refused by the write is reported at its line.
    origins: r.lines,
    originKind: "line",
    bytes: heldBefore + read - decoder.pendingBytes,
    heldBytes: decoder.pendingBytes,
  });
  yield* pullChunks(
    stream,
    (chunk) => {
      const heldBefore = decoder.pendingBytes;
      const result = decoder.push(chunk);
      offset += chunk.length;
      if (decoder.pendingBytes > maxLine) {
        // Where the line starts: its number, and its offset in the (decompressed) body.
        const line = decoder.pendingLine, start = offset - decoder.pendingBytes;
        throw new TooLargeError(
          `line protocol: a line longer than ${maxLine} bytes (the limit) starts at line ` +
            `${line} (byte offset ${start} of the body)`,
          { details: { limit: maxLine, line, offset: start } },
        );
      }
      return batch(result, heldBefore, chunk.length);
    },
    () => {
      const heldBefore = decoder.pendingBytes;
      return batch(decoder.finish(), heldBefore, 0);
    },
  );
}
