/**
 * The cluster secret on node-to-node calls: every RaftService and ClusterService call carries
 * it in a header, and a node answers a call without the right one with 401 before decoding
 * anything, so a process that only knows an address cannot inject Raft messages or writes.
 *
 * The secret travels in clear over plain HTTP (as a bearer credential does): set `tls_cert` and
 * `tls_key` for node-to-node HTTPS where the network between nodes is not trusted.
 * @module
 */

import { LogLimiter, type LogLimiterOptions } from "../core/mod.ts";

/** The request header carrying the secret. */
export const CLUSTER_SECRET_HEADER = "x-epochnexus-cluster-secret";

const encoder = new TextEncoder();

/** A fetch that adds the secret to every call (`secret` undefined: unchanged). */
export function fetchWithSecret(
  fetchFn: typeof globalThis.fetch | undefined,
  secret: string | undefined,
): typeof globalThis.fetch | undefined {
  if (secret === undefined) return fetchFn;
  const base = fetchFn ?? globalThis.fetch;
  return (input, init) => {
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : {}));
    headers.set(CLUSTER_SECRET_HEADER, secret);
    return base(input, { ...init, headers });
  };
}

/** What the server knows of a node-to-node call beyond the request (the caller's address). */
export interface CallInfo {
  /** `host:port` of the caller, when the server tells it. */
  remoteAddr?: string;
}

/** A node-to-node handler. */
export type NodeHandler = (request: Request, info?: CallInfo) => Promise<Response>;

/**
 * Where refused node-to-node calls go: the first logged at once, then one summary line per 10 s,
 * every one counted (`epochnexus_cluster_calls_refused_total`), since anyone who reaches the port
 * can send them.
 */
export function refusedCallsLog(options: LogLimiterOptions): LogLimiter {
  return new LogLimiter(
    "node-to-node call without the cluster secret refused",
    (n, seconds) =>
      `${n} more node-to-node calls without the cluster secret refused in the last ${seconds} s`,
    options,
  );
}

/** The fields of a refused call's log line. */
export function refusalFields(path: string, info?: CallInfo): Record<string, unknown> {
  return info?.remoteAddr === undefined ? { path } : { path, remote: info.remoteAddr };
}

/**
 * Wraps a node-to-node handler: a call without the secret gets 401 (a Connect `unauthenticated`
 * error body), and never reaches the services.
 */
export function requireSecret(
  handler: (request: Request) => Promise<Response>,
  secret: string | undefined,
  onRefused?: (path: string, info?: CallInfo) => void,
): NodeHandler {
  if (secret === undefined) return handler;
  const expected = encoder.encode(secret);
  return (request, info) => {
    const presented = encoder.encode(request.headers.get(CLUSTER_SECRET_HEADER) ?? "");
    if (equal(presented, expected)) return handler(request);
    onRefused?.(new URL(request.url).pathname, info);
    return Promise.resolve(
      new Response(
        JSON.stringify({
          code: "unauthenticated",
          message: "node-to-node call without the cluster secret",
        }),
        { status: 401, headers: { "content-type": "application/json" } },
      ),
    );
  };
}

/** Constant time in the longer length. */
function equal(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/** True when `headers` carry the secret (or none is required: `secret` undefined). */
export function secretPresented(headers: Headers, secret: string | undefined): boolean {
  if (secret === undefined) return true;
  return equal(encoder.encode(headers.get(CLUSTER_SECRET_HEADER) ?? ""), encoder.encode(secret));
}
