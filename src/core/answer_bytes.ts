/**
 * Small answers whose bytes the server can write without reading the fetch `Response` body.
 *
 * The app answers with fetch `Response`s (socket-free tests call it directly); the node:http
 * server (src/runtime/fetch_bridge.ts) then has to read each body back. For a body made of bytes
 * that read (`await response.arrayBuffer()`) costs some 40-50 µs of server CPU per request
 * (measured against writing the same bytes directly: bench figures in fetch_bridge.ts), a few
 * percent of a small query. A Response made here remembers its bytes, and the server writes
 * them as they are while the body is unread.
 * @module
 */

const BYTES = new WeakMap<Response, Uint8Array<ArrayBuffer>>();

/**
 * A Response of `bytes` (with `content-length` set) whose bytes {@linkcode answerBytesOf} gives
 * back. Do not change `bytes` after: they are the body.
 */
export function bytesAnswer(bytes: Uint8Array<ArrayBuffer>, init: ResponseInit = {}): Response {
  const headers = new Headers(init.headers);
  headers.set("content-length", String(bytes.byteLength));
  const response = new Response(bytes, { ...init, headers });
  BYTES.set(response, bytes);
  return response;
}

/**
 * The body of a Response made by {@linkcode bytesAnswer} while nobody has read it; undefined
 * for any other Response (read its body as usual).
 */
export function answerBytesOf(response: Response): Uint8Array<ArrayBuffer> | undefined {
  if (response.bodyUsed) return undefined;
  return BYTES.get(response);
}
