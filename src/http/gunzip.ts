/**
 * Gunzipping a body in bounded pieces. `DecompressionStream("gzip")` hands out everything one
 * input chunk inflates to at once: a 32 KB chunk of a gzip bomb came out as one 32 MiB chunk,
 * held in memory before any size or ratio check could see it. Here node:zlib's inflater writes
 * into a buffer of `pieceBytes` and stops when its output is not taken, so what one body holds
 * is about one piece of output and one read of input, whatever the compression ratio.
 * @module
 */
import { createGunzip } from "node:zlib";
import { drainedOrClosed, ValidationError } from "../core/mod.ts";

/** Options of {@linkcode gunzipInPieces}. */
export interface GunzipOptions {
  /** The most decompressed bytes in one chunk of the output. @default {65536} */
  pieceBytes?: number;
}

/**
 * The gunzipped bytes of `source`, in chunks of at most `pieceBytes`. The inflater runs only as
 * the consumer pulls, and `source` is read only as it takes input (it buffers up to 64 KiB of
 * compressed bytes ahead). Concatenated
 * gzip members are read one after the other (as `gunzip` and Go's gzip reader do).
 *
 * The stream errors with a {@linkcode ValidationError} for data that is not gzip, is cut short
 * or has bytes after its last member, and with the source's own error when reading it fails.
 *
 * @example
 * ```ts
 * const text = await new Response(gunzipInPieces(request.body!)).text();
 * ```
 */
export function gunzipInPieces(
  source: ReadableStream<Uint8Array>,
  options: GunzipOptions = {},
): ReadableStream<Uint8Array> {
  const pieceBytes = options.pieceBytes ?? 64 * 1024;
  // The inflater stops once its readable side holds its high-water mark (64 KiB): one piece.
  const gunzip = createGunzip({ chunkSize: pieceBytes });
  const reader = source.getReader();
  let fed = 0; // compressed bytes written to the inflater
  let failed: unknown; // the source's own error, passed on as it is
  let cancelled = false;
  // Once the output is done (ended, refused or cancelled), the source is no longer read: bytes
  // after the last member inflate to nothing, so no body limit would ever stop the reading.
  const stop = () => {
    gunzip.destroy();
    reader.cancel().catch(() => {});
  };

  // Reads the source while the inflater takes input: its write buffer fills (and `write`
  // returns false) once its output waits for the consumer.
  const feed = async () => {
    try {
      while (!gunzip.destroyed) {
        const next = await reader.read();
        if (gunzip.destroyed) return;
        if (next.done) {
          gunzip.end();
          return;
        }
        fed += next.value.length;
        if (!gunzip.write(next.value)) await drainedOrClosed(gunzip);
      }
    } catch (error) {
      if (!cancelled) failed = error;
      gunzip.destroy(error as Error);
    }
  };

  return new ReadableStream<Uint8Array>({
    start(controller) {
      gunzip.on("data", (piece: Uint8Array) => {
        controller.enqueue(new Uint8Array(piece.buffer, piece.byteOffset, piece.byteLength));
        if ((controller.desiredSize ?? 0) <= 0) gunzip.pause();
      });
      gunzip.on("end", () => {
        // zlib stops at the end of the last member that a gzip header follows, and drops the
        // rest: a body with bytes after its gzip data is corrupt, as for a plain gunzip.
        if (gunzip.bytesWritten < fed) {
          controller.error(
            new ValidationError(
              `corrupt gzip body: ${fed - gunzip.bytesWritten} bytes after the end of its gzip ` +
                `data (at byte ${gunzip.bytesWritten})`,
            ),
          );
        } else controller.close();
        stop();
      });
      gunzip.on("error", (error: Error) => {
        if (cancelled) return;
        controller.error(
          failed ?? new ValidationError(
            `corrupt gzip body: ${error.message} (${fed} compressed bytes read)`,
            { cause: error },
          ),
        );
        stop();
      });
      gunzip.pause();
      feed();
    },
    pull() {
      gunzip.resume();
    },
    cancel(reason) {
      cancelled = true;
      gunzip.destroy();
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
