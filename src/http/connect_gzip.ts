/**
 * gzip for Connect calls (`Content-Encoding: gzip` on a unary call, `Connect-Content-Encoding`
 * on a stream, `grpc-encoding` for gRPC): without it Connect answered 501 `unimplemented` with an
 * empty list of supported encodings. A message is gunzipped in bounded pieces (gunzip.ts) and
 * refused once it inflates past the message limit, as a plain message past it is (413,
 * `resource_exhausted`, bad_message.ts): a small gzip bomb never becomes a large buffer.
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Compression } from "@connectrpc/connect/protocol";
import { gunzipInPieces } from "./gunzip.ts";

/** Reads `stream` whole, at most `maxBytes`. @throws {ConnectError} past it, or bad gzip. */
async function readInflated(
  stream: ReadableStream<Uint8Array>,
  maxBytes: number,
): Promise<Uint8Array<ArrayBuffer>> {
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
        // connect-es's own text for a message past readMaxBytes (bad_message.ts answers it 413).
        throw new ConnectError(
          `message size is larger than configured readMaxBytes ${maxBytes}`,
          Code.ResourceExhausted,
        );
      }
      parts.push(value);
    }
  } catch (error) {
    if (error instanceof ConnectError) throw error;
    throw new ConnectError(`gzip message: ${(error as Error).message}`, Code.InvalidArgument);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The gzip {@linkcode Compression} a Connect router accepts (`acceptCompression`). */
export const connectGzip: Compression = {
  name: "gzip",
  async compress(bytes) {
    const gzipped = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
      .pipeThrough(new CompressionStream("gzip"));
    return new Uint8Array(await new Response(gzipped).arrayBuffer());
  },
  decompress(bytes, readMaxBytes) {
    if (bytes.length === 0) return Promise.resolve(new Uint8Array(0));
    const source = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream();
    return readInflated(gunzipInPieces(source), readMaxBytes);
  },
};
