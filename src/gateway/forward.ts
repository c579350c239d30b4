/**
 * Passing one request on to a node and its answer back, bodies streamed both ways, every
 * end-to-end header (credentials included) kept. A request may be sent again to another node
 * only when it cannot change anything: a query made only of SELECT (without INTO), SHOW and
 * EXPLAIN statements, whose body is small enough to keep.
 * @module
 */

/** Headers that belong to one connection, not to the request (RFC 9110 7.6.1), and Host. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
]);

/** The largest query body kept to be sent again (InfluxQL requests are far smaller). */
export const MAX_RETRYABLE_BODY_BYTES = 1 << 20;

/** `headers` without hop-by-hop ones (nor those `Connection` names). */
export function endToEndHeaders(headers: Headers): Headers {
  const named = new Set(
    (headers.get("connection") ?? "").split(",").map((h) => h.trim().toLowerCase()),
  );
  const out = new Headers();
  for (const [name, value] of headers) {
    if (!HOP_BY_HOP.has(name) && !named.has(name)) out.append(name, value);
  }
  return out;
}

/** Whether InfluxQL text only reads: every statement SELECT, SHOW or EXPLAIN, and no INTO. */
export function isReadOnlyInfluxQL(text: string): boolean {
  if (/\binto\b/i.test(text)) return false;
  // A `;` inside a string or regex splits too: the piece after it then starts with something
  // else and the query counts as a write, which only costs a retry.
  const statements = text.split(";").map((s) => s.trim()).filter((s) => s !== "");
  return statements.length > 0 && statements.every((s) => /^(select|show|explain)\b/i.test(s));
}

/** A request's body as the gateway sends it on: kept (may be sent again) or streamed once. */
export interface OutgoingBody {
  /** The bytes when kept; `undefined` with `stream` for a body sent once; neither: no body. */
  bytes?: Uint8Array<ArrayBuffer>;
  stream?: ReadableStream<Uint8Array>;
  /** Whether the request may go to another node after a connection failure. */
  retryable: boolean;
}

/**
 * Prepares a /query request's body: an identity-encoded body of at most
 * {@linkcode MAX_RETRYABLE_BODY_BYTES} is read and kept, and the query is retryable when it only
 * reads; anything else is streamed once.
 */
export async function queryBody(request: Request, url: URL): Promise<OutgoingBody> {
  if (request.body === null) {
    return { retryable: isReadOnlyInfluxQL(url.searchParams.get("q") ?? "") };
  }
  const encoding = (request.headers.get("content-encoding") ?? "identity").toLowerCase();
  if (encoding !== "identity") return { stream: request.body, retryable: false };
  const kept = await readUpTo(request.body, MAX_RETRYABLE_BODY_BYTES);
  if (kept.stream) return { stream: kept.stream, retryable: false };
  return { bytes: kept.bytes, retryable: isReadOnlyInfluxQL(queryText(request, url, kept.bytes)) };
}

/**
 * Prepares the body of a request that only reads (remote_read): kept and retryable up to
 * {@linkcode MAX_RETRYABLE_BODY_BYTES}, else streamed once.
 */
export async function readOnlyBody(request: Request): Promise<OutgoingBody> {
  if (request.body === null) return { retryable: true };
  const kept = await readUpTo(request.body, MAX_RETRYABLE_BODY_BYTES);
  if (kept.stream) return { stream: kept.stream, retryable: false };
  return { bytes: kept.bytes, retryable: true };
}

/**
 * The whole body when it has at most `max` bytes; else a stream of the same bytes (those read
 * so far, then the rest), to be sent once.
 */
async function readUpTo(
  body: ReadableStream<Uint8Array>,
  max: number,
): Promise<
  { bytes: Uint8Array<ArrayBuffer>; stream?: undefined } | {
    stream: ReadableStream<Uint8Array>;
  }
> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
    if (size > max) {
      return {
        stream: new ReadableStream<Uint8Array>({
          pull: async (controller) => {
            const next = chunks.shift();
            if (next) return controller.enqueue(next);
            const { done, value } = await reader.read();
            if (done) controller.close();
            else controller.enqueue(value);
          },
          cancel: (reason) => reader.cancel(reason),
        }),
      };
    }
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) [bytes.set(c, at), at += c.length];
  return { bytes };
}

/** The InfluxQL a /query request carries ("" when it cannot be read: not retryable). */
function queryText(request: Request, url: URL, body: Uint8Array): string {
  const type = (request.headers.get("content-type") ?? "").toLowerCase();
  const text = new TextDecoder().decode(body);
  try {
    if (type.startsWith("application/json")) {
      const o = JSON.parse(text);
      const q = o?.query ?? o?.q;
      return typeof q === "string" ? q : "";
    }
    if (type.startsWith("application/x-www-form-urlencoded")) {
      return new URLSearchParams(text).get("q") ?? url.searchParams.get("q") ?? "";
    }
  } catch {
    return "";
  }
  // A body of another type is the statements themselves for some clients; a multipart body is
  // not read here and so never retried.
  return type.startsWith("multipart/") ? "" : url.searchParams.get("q") ?? "";
}

/** The request to send to a node at `nodeBase` (`http://host:port`). */
export function outgoingRequest(
  request: Request,
  url: URL,
  nodeBase: string,
  body: OutgoingBody,
): Request {
  const headers = endToEndHeaders(request.headers);
  // Without an Accept-Encoding of the client's, ask for the bytes as they are, so that fetch
  // has nothing to decode and the answer passes through unchanged.
  if (!headers.has("accept-encoding")) headers.set("accept-encoding", "identity");
  const init: RequestInit & { duplex?: "half" } = {
    method: request.method,
    headers,
    redirect: "manual",
    signal: request.signal,
  };
  if (body.bytes) init.body = body.bytes;
  else if (body.stream) [init.body, init.duplex] = [body.stream, "half"];
  return new Request(`${nodeBase}${url.pathname}${url.search}`, init);
}

/** The node's answer as the gateway's, body streamed, with the node that answered named. */
export function incomingResponse(response: Response, nodeId: number): Response {
  const headers = endToEndHeaders(response.headers);
  headers.set("x-epochnexus-gateway-node", String(nodeId));
  return new Response(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers,
  });
}
