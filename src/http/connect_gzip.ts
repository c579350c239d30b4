/**
 * gzip for Connect calls (`Content-Encoding: gzip` on a unary call, `Connect-Content-Encoding`
 * on a stream, `grpc-encoding` for gRPC): without it Connect answered 501 `unimplemented` with an
 * empty list of supported encodings. A message is gunzipped as a gzip body is (body.ts: bounded
 * pieces) and refused once it inflates past the message limit, as a plain message past it is
 * (413, `resource_exhausted`, bad_message.ts): a small gzip bomb never becomes a large buffer.
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Compression } from "@connectrpc/connect/protocol";
import { TooLargeError } from "../core/mod.ts";
import { readBody } from "./body.ts";

/** The gzip {@linkcode Compression} a Connect router accepts (`acceptCompression`). */
export const connectGzip: Compression = {
  name: "gzip",
  async compress(bytes) {
    const gzipped = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
      .pipeThrough(new CompressionStream("gzip"));
    return new Uint8Array(await new Response(gzipped).arrayBuffer());
  },
  async decompress(bytes, readMaxBytes) {
    if (bytes.length === 0) return new Uint8Array(0);
    const message = new Request("http://message/", {
      method: "POST",
      headers: { "content-encoding": "gzip" },
      body: bytes as Uint8Array<ArrayBuffer>,
    });
    try {
      return await readBody(message, readMaxBytes) as Uint8Array<ArrayBuffer>;
    } catch (error) {
      if (error instanceof TooLargeError) {
        // connect-es's own text for a message past readMaxBytes (bad_message.ts answers it 413).
        throw new ConnectError(
          `message size is larger than configured readMaxBytes ${readMaxBytes}`,
          Code.ResourceExhausted,
        );
      }
      throw new ConnectError(`gzip message: ${(error as Error).message}`, Code.InvalidArgument);
    }
  },
};
