/**
 * The access log (opt-in, `access_log`): one JSON object per request, written once its answer
 * has gone out whole (a streamed query answer is timed and counted to its last byte):
 *
 * ```json
 * {"method":"POST","path":"/write","status":204,"duration_ms":3.1,"bytes_in":120,
 *  "bytes_out":0,"remote":"127.0.0.1:51234","database":"telegraf","user":"anonymous",
 *  "route":"write","request_id":"18c2-1f"}
 * ```
 *
 * Never a secret: the path is logged without its query string (where `p=`, `q=` with a
 * password, or a token could sit), the user by name only; the database is the `db` parameter,
 * or the one a request's body named ({@linkcode noteDatabase}). `bytes_in` is the
 * request's `Content-Length` when it sent one; `aborted` is true when the client went away
 * before the answer ended.
 * @module
 */
import type { Clock, PlainAnswer, PlainRequest } from "../core/mod.ts";

/** Where access records go (`src/runtime` writes them as JSON lines). */
export type AccessSink = (record: Record<string, unknown>) => void;

/** What is known of a request once its handler answered. */
export interface AccessEntry {
  request: Pick<PlainRequest, "method" | "headers">;
  url: URL;
  route: string;
  remote?: string;
  user?: string;
  requestId: string;
  /** Monotonic ms when the request arrived. */
  started: number;
}

const databases = new WeakMap<object, string>();

/**
 * Records the database a request worked in when its URL may not say it (a native JSON body, a
 * form body): the record names it over the URL's `db`.
 */
export function noteDatabase(request: object, database: string): void {
  databases.set(request, database);
}

/** Has the record of a plain answer written by `sink` once the server sent or dropped it. */
export function logPlainAccess(
  answer: PlainAnswer,
  entry: AccessEntry,
  sink: AccessSink,
  clock: Pick<Clock, "monotonicMs">,
): void {
  answer.sent = (aborted) =>
    sink(accessRecord(entry, answer.status, aborted ? 0 : answer.body.byteLength, aborted, clock));
}

function accessRecord(
  entry: AccessEntry,
  status: number,
  bytesOut: number,
  aborted: boolean,
  clock: Pick<Clock, "monotonicMs">,
): Record<string, unknown> {
  const length = entry.request.headers.get("content-length");
  const record: Record<string, unknown> = {
    method: entry.request.method,
    path: entry.url.pathname,
    status,
    duration_ms: Math.round((clock.monotonicMs() - entry.started) * 100) / 100,
    bytes_in: length === null ? null : Number(length),
    bytes_out: bytesOut,
    remote: entry.remote ?? null,
    database: databases.get(entry.request) || entry.url.searchParams.get("db") || null,
    user: entry.user ?? null,
    route: entry.route,
    request_id: entry.requestId,
  };
  if (aborted) record.aborted = true;
  return record;
}

/**
 * Returns `response` with its body counted, and writes the record to `sink` once the body has
 * been read to its end (or cancelled, or at once when there is none).
 */
export function logAccess(
  response: Response,
  entry: AccessEntry,
  sink: AccessSink,
  clock: Pick<Clock, "monotonicMs">,
): Response {
  const write = (bytesOut: number, aborted: boolean) =>
    sink(accessRecord(entry, response.status, bytesOut, aborted, clock));
  const body = response.body;
  if (body === null) {
    write(0, false);
    return response;
  }
  const reader = body.getReader();
  let bytes = 0;
  let done = false;
  const counted = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        done = true;
        write(bytes, true);
        controller.error(error);
        return;
      }
      if (chunk.done) {
        done = true;
        write(bytes, false);
        controller.close();
        return;
      }
      bytes += chunk.value.byteLength;
      controller.enqueue(chunk.value);
    },
    async cancel(reason) {
      if (!done) write(bytes, true);
      done = true;
      await reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
  return new Response(counted, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}
