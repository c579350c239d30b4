/**
 * The one place where errors become HTTP responses. The native API answers
 * `{"error": {"code", "message", ...details}}`; the InfluxDB 1.x API answers `{"error": "..."}`.
 * Statuses come from the error's code (core/errors.ts), never picked by hand.
 * @module
 */
import { EpochError, httpStatusOf, messageOf, type PlainAnswer } from "../core/mod.ts";

/** Headers every answer carries, as InfluxDB 1.x sends them (clients look for them). */
export const INFLUX_VERSION = "1.6.7";

/** A JSON response. */
export function json(body: unknown, status = 200, headers: HeadersInit = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function retryHeaders(error: unknown): Record<string, string> {
  return error instanceof EpochError && error.retryAfterSeconds !== undefined
    ? { "retry-after": String(error.retryAfterSeconds) }
    : {};
}

/** The native API's error answer. */
export function nativeError(error: unknown): Response {
  const status = httpStatusOf(error);
  const code = error instanceof EpochError ? error.code : "internal";
  const details = error instanceof EpochError ? withoutUndefined(error.details) : {};
  return json(
    { error: { code, message: messageOf(error), ...details } },
    status,
    retryHeaders(error),
  );
}

/** The InfluxDB 1.x API's error answer. */
export function influxError(error: unknown, message = messageOf(error)): Response {
  return json({ error: message }, httpStatusOf(error), retryHeaders(error));
}

function withoutUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** A plain answer as a `Response` (a `Response` as it is). */
export function responseOf(answer: PlainAnswer | Response): Response {
  if (answer instanceof Response) return answer;
  return new Response(answer.body, { status: answer.status, headers: answer.headers });
}
