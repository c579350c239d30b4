/**
 * A request message that is not valid protobuf is the client's error: `invalid_argument` (HTTP
 * 400 in the Connect protocol), as connect-go answers. connect-es 2.2 answers `internal` (HTTP
 * 500): its binary serialization wraps every decoding error as `parse binary: ...` with that
 * code, before any service code runs, and offers no hook to change it. So the handlers are
 * wrapped: an answer carrying exactly that error gets the right code, in each protocol's own
 * place for it (the Connect unary JSON body, the end-of-stream message of Connect streams, the
 * gRPC-Web trailer frame, gRPC trailers).
 *
 * A unary Connect request message larger than `max_body_bytes` keeps the code every Connect and
 * gRPC implementation gives it (`resource_exhausted`, which clients match on), but is answered
 * HTTP 413, as `/write` answers a body too large, instead of the Connect mapping's 429: a 429
 * tells HTTP clients and proxies to retry later, and the same message would be refused forever.
 * Every other answer passes unchanged.
 * @module
 */
import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import { concatBytes } from "../core/mod.ts";

/** The message prefix of connect-es's binary decoding errors. */
const PARSE_BINARY = "parse binary:";

/** Wraps `handler` so that an undecodable request message is answered `invalid_argument`. */
export function badMessagesAsInvalidArgument(handler: UniversalHandler): UniversalHandler {
  const wrapped = async (
    ...args: Parameters<UniversalHandler>
  ): Promise<UniversalServerResponse> => {
    const response = await handler(...args);
    const type = response.header?.get("content-type") ?? "";
    if (response.body === undefined) return response;
    if (type.startsWith("application/json") && response.status === 500) {
      return await fixUnaryError(response, response.body);
    }
    if (type.startsWith("application/json") && response.status === 429) {
      return await fixTooLarge(response, response.body);
    }
    if (type.startsWith("application/connect+") || type.startsWith("application/grpc-web")) {
      return await fixEndOfStream(response, response.body, type.startsWith("application/grpc-web"));
    }
    if (type.startsWith("application/grpc")) return fixGrpcTrailer(response, response.body);
    return response;
  };
  return Object.assign(wrapped, handler);
}

async function readAll(body: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of body) parts.push(part);
  return concatBytes(parts);
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

/**
 * A Connect unary error answer (JSON `{"code", "message"}`) rewritten by `fix` (which returns
 * the new status and error, or undefined to leave it as it is).
 */
async function rewriteUnaryError(
  response: UniversalServerResponse,
  body: AsyncIterable<Uint8Array>,
  fix: (error: { code?: unknown; message?: unknown }) => [number, object] | undefined,
): Promise<UniversalServerResponse> {
  const bytes = await readAll(body);
  let fixed: [number, object] | undefined;
  try {
    fixed = fix(JSON.parse(new TextDecoder().decode(bytes)));
  } catch {
    fixed = undefined;
  }
  if (fixed === undefined) return { ...response, body: once(bytes) };
  const text = new TextEncoder().encode(JSON.stringify(fixed[1]));
  const header = new Headers(response.header);
  header.set("content-length", String(text.length));
  return { ...response, status: fixed[0], header, body: once(text) };
}

/** A Connect unary error: HTTP 500 and `{"code": "internal", "message": "parse binary: ..."}`. */
function fixUnaryError(
  response: UniversalServerResponse,
  body: AsyncIterable<Uint8Array>,
): Promise<UniversalServerResponse> {
  return rewriteUnaryError(
    response,
    body,
    (error) => isParseError(error) ? [400, { ...error, code: "invalid_argument" }] : undefined,
  );
}

/** connect-es's refusal of a message past `readMaxBytes` (limit-io.ts assertReadMaxBytes). */
const TOO_LARGE = /^message size (?:(\d+) )?is larger than configured readMaxBytes (\d+)$/;

/** A Connect unary 429 for a message past the limit: 413, the code kept, the limit named. */
function fixTooLarge(
  response: UniversalServerResponse,
  body: AsyncIterable<Uint8Array>,
): Promise<UniversalServerResponse> {
  return rewriteUnaryError(response, body, (error) => {
    const match = typeof error.message === "string" ? TOO_LARGE.exec(error.message) : null;
    if (error.code !== "resource_exhausted" || match === null) return undefined;
    const size = match[1] === undefined ? "" : ` of ${match[1]} bytes`;
    const message = `request message${size} is larger than max_body_bytes (${match[2]} ` +
      `bytes); send smaller writes`;
    return [413, { ...error, message }];
  });
}

function isParseError(error: { code?: unknown; message?: unknown } | undefined): boolean {
  return error?.code === "internal" && typeof error.message === "string" &&
    error.message.startsWith(PARSE_BINARY);
}

/**
 * A streamed answer (Connect streaming, gRPC-Web): the error is in its last frame, the end of
 * stream (flag 0x02, JSON) or the trailers (flag 0x80, `grpc-status: 13`). The answers of this
 * service are one small message, so the frames are read whole.
 */
async function fixEndOfStream(
  response: UniversalServerResponse,
  body: AsyncIterable<Uint8Array>,
  grpcWeb: boolean,
): Promise<UniversalServerResponse> {
  const bytes = await readAll(body);
  const frames: Uint8Array[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at + 5 <= bytes.length;) {
    const flags = bytes[at], length = view.getUint32(at + 1);
    const data = bytes.subarray(at + 5, at + 5 + length);
    at += 5 + length;
    if (grpcWeb && (flags & 0x80) !== 0) frames.push(encodeEnvelope(flags, fixTrailerFrame(data)));
    else if (!grpcWeb && (flags & 0x02) !== 0) {
      frames.push(encodeEnvelope(flags, fixEndStreamMessage(data)));
    } else frames.push(bytes.subarray(at - 5 - length, at));
  }
  return { ...response, body: once(concatBytes(frames)) };
}

function fixEndStreamMessage(data: Uint8Array): Uint8Array {
  let end: { error?: { code?: unknown; message?: unknown } };
  try {
    end = JSON.parse(new TextDecoder().decode(data));
  } catch {
    return data;
  }
  if (!isParseError(end.error)) return data;
  return new TextEncoder().encode(
    JSON.stringify({ ...end, error: { ...end.error, code: "invalid_argument" } }),
  );
}

/** gRPC-Web trailers: `grpc-status: 13` with a `parse binary` message becomes status 3. */
function fixTrailerFrame(data: Uint8Array): Uint8Array {
  const text = new TextDecoder().decode(data);
  const message = /^grpc-message:\s*(.*)$/mi.exec(text)?.[1] ?? "";
  if (!/^grpc-status:\s*13\s*$/mi.test(text) || !isParseBinary(message)) return data;
  return new TextEncoder().encode(
    text.replace(/^(grpc-status:\s*)13/mi, (_, name: string) => `${name}3`),
  );
}

function isParseBinary(encodedMessage: string): boolean {
  try {
    return decodeURIComponent(encodedMessage.trim()).startsWith(PARSE_BINARY);
  } catch {
    return false;
  }
}

/** gRPC: the status travels in HTTP trailers, set once the body is sent. */
function fixGrpcTrailer(
  response: UniversalServerResponse,
  body: AsyncIterable<Uint8Array>,
): UniversalServerResponse {
  const trailer = response.trailer;
  if (trailer === undefined) return response;
  return {
    ...response,
    body: (async function* () {
      yield* body;
      if (trailer.get("grpc-status") === "13" && isParseBinary(trailer.get("grpc-message") ?? "")) {
        trailer.set("grpc-status", "3");
      }
    })(),
  };
}
