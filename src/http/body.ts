/**
 * Reading request bodies with a size limit that holds after decompression, so a small gzip bomb
 * cannot expand past the limit in memory.
 * @module
 */
import { concatBytes, TooLargeError, ValidationError } from "../core/mod.ts";
import { STREAM_READ_BYTES } from "../ingest/mod.ts";
import { gunzipInPieces } from "./gunzip.ts";

/**
 * Reads the whole body, gunzipping it when `Content-Encoding: gzip`; encodings listed in
 * `options.passThrough` are returned still encoded, for the caller to decode.
 * @throws {TooLargeError} past `maxBytes` (decompressed) — reading stops right there.
 * @throws {ValidationError} for a corrupt gzip stream or an unsupported encoding.
 */
export async function readBody(
  request: Request,
  maxBytes: number,
  options: { passThrough?: readonly string[] } = {},
): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array(0);
  const declared = Number(request.headers.get("content-length") ?? NaN);
  let encoding = (request.headers.get("content-encoding") ?? "identity").toLowerCase().trim();
  // Encodings the caller decodes itself (remote_write's snappy) are read as they are.
  if (options.passThrough?.includes(encoding)) encoding = "identity";
  if (encoding === "identity" && declared > maxBytes) throw tooLarge(maxBytes);
  let stream: ReadableStream<Uint8Array> = request.body;
  if (encoding === "gzip" || encoding === "x-gzip") {
    stream = gunzipInPieces(stream, { pieceBytes: STREAM_READ_BYTES });
  } else if (encoding !== "identity") {
    throw new ValidationError(
      `unsupported Content-Encoding ${JSON.stringify(encoding)}: use gzip or none`,
      { httpStatus: 415 },
    );
  }
  const parts: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > maxBytes) {
        reader.cancel().catch(() => {});
        throw tooLarge(maxBytes);
      }
      parts.push(value);
    }
  } catch (error) {
    if (error instanceof TooLargeError) throw error;
    throw new ValidationError(`cannot read request body: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return concatBytes(parts);
}

/** Options of {@linkcode bodyStream}. */
export interface BodyStreamOptions {
  /**
   * A gzip body may expand at most this many times once past `gzipRatioFloorBytes`: a stream
   * may be large, but a bomb (zeros compress ~1000:1) is stopped long before `maxBytes`.
   * @default {200}
   */
  maxGzipRatio?: number;
  /** Decompressed bytes allowed before the ratio is checked. @default {67108864} */
  gzipRatioFloorBytes?: number;
}

/**
 * The body as a stream of decompressed bytes (gunzipped when `Content-Encoding: gzip`), for
 * decoders that read as they go. The stream errors with {@linkcode TooLargeError} once more
 * than `maxBytes` decompressed bytes went through (a gzip bomb stops there, or earlier at
 * `maxGzipRatio`), and with a
 * {@linkcode ValidationError} when the connection or the gzip data breaks mid-body.
 * Nothing is buffered here: a chunk is read from the network only when the consumer pulls.
 *
 * @throws {TooLargeError} at once when the declared length is beyond `maxBytes`.
 * @throws {ValidationError} for an unsupported encoding.
 */
export function bodyStream(
  request: Request,
  maxBytes: number,
  options: BodyStreamOptions = {},
): ReadableStream<Uint8Array> {
  if (!request.body) return new ReadableStream({ start: (c) => c.close() });
  const declared = Number(request.headers.get("content-length") ?? NaN);
  const encoding = (request.headers.get("content-encoding") ?? "identity").toLowerCase().trim();
  if (encoding === "identity" && declared > maxBytes) throw tooLarge(maxBytes);
  let stream: ReadableStream<Uint8Array> = request.body;
  let compressed = 0;
  const gzipped = encoding === "gzip" || encoding === "x-gzip";
  if (gzipped) {
    const counter = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        compressed += chunk.length;
        controller.enqueue(chunk);
      },
    });
    // In pieces of one read: the decoders and the reservation count on no more at a time.
    stream = gunzipInPieces(stream.pipeThrough(counter), { pieceBytes: STREAM_READ_BYTES });
  } else if (encoding !== "identity") {
    throw new ValidationError(
      `unsupported Content-Encoding ${JSON.stringify(encoding)}: use gzip or none`,
      { httpStatus: 415 },
    );
  }
  const reader = stream.getReader();
  let total = 0;
  const maxRatio = options.maxGzipRatio ?? 200;
  const ratioFloor = options.gzipRatioFloorBytes ?? 64 * 1024 * 1024;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (error) {
        controller.error(
          new ValidationError(`cannot read request body: ${(error as Error).message}`, {
            cause: error,
          }),
        );
        return;
      }
      if (next.done) {
        controller.close();
        return;
      }
      total += next.value.length;
      if (total > maxBytes) {
        reader.cancel().catch(() => {});
        controller.error(tooLarge(maxBytes));
        return;
      }
      if (
        gzipped && total > ratioFloor && total > maxRatio * Math.max(compressed, 1)
      ) {
        reader.cancel().catch(() => {});
        controller.error(
          new TooLargeError(
            `gzip body expands more than ${maxRatio} times (${compressed} bytes to more than ` +
              `${total}): refused as a decompression bomb`,
            { details: { limit: maxRatio } },
          ),
        );
        return;
      }
      controller.enqueue(next.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

function tooLarge(maxBytes: number): TooLargeError {
  return new TooLargeError(`request body too large: the limit is ${maxBytes} bytes`, {
    details: { limit: maxBytes },
  });
}
