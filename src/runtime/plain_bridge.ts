/**
 * The direct path between node:http and the app: a request (a GET, or a POST with its small
 * body read whole) as a {@linkcode PlainRequest} and a {@linkcode PlainAnswer} written straight
 * to the `ServerResponse`, without fetch's `Request`, `Headers` and `Response` (whose making,
 * reading and writing cost a small query some 150 µs of CPU; bench/http_server_bench.ts).
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { PlainAnswer, PlainRequest } from "../core/mod.ts";

/** The request as a {@linkcode PlainRequest}; its headers are read from node's raw list. */
export function plainRequestFrom(
  req: IncomingMessage,
  url: URL,
  remoteAddr: string,
  signal: AbortSignal,
  body?: Uint8Array,
): PlainRequest {
  const raw = req.rawHeaders;
  return {
    method: req.method ?? "GET",
    url,
    remoteAddr,
    signal,
    body,
    headers: {
      // As fetch's Headers: any case, repeated headers joined with ", ".
      get(name: string): string | null {
        const wanted = name.toLowerCase();
        let value: string | null = null;
        for (let i = 0; i + 1 < raw.length; i += 2) {
          if (raw[i].length !== wanted.length || raw[i].toLowerCase() !== wanted) continue;
          value = value === null ? raw[i + 1] : `${value}, ${raw[i + 1]}`;
        }
        return value;
      },
    },
  };
}

/** Writes a plain answer in one write. */
export function writePlain(res: ServerResponse, answer: PlainAnswer): void {
  res.statusCode = answer.status;
  for (const name in answer.headers) res.setHeader(name, answer.headers[name]);
  if (!res.req.complete) res.setHeader("connection", "close"); // see writeResponse
  res.setHeader("content-length", String(answer.body.byteLength));
  res.end(answer.body);
  answer.sent?.(false);
}
