/**
 * Serving the app's fetch handler over HTTP/1.1 (or HTTPS) with node:http, and the timeouts
 * that keep slow clients from starving the others.
 *
 * Why node:http and not `Deno.serve`: Deno 2.9.6's `Deno.serve` decodes a *chunked* request
 * body ever slower when the handler pauses between reads (as ingest does while a batch's fsync
 * runs), and buffers what the client sends meanwhile: 256 MiB chunked with a 20 ms pause every
 * 5 MiB take 17-40 s at 200+ MB resident, and a 300 MB `curl -T -` grew the node by 595 MiB.
 * node:http in the same runtime reads the same body in 1.4 s at a 104 MB peak, with
 * backpressure to the client (tests/ingest/body_pause_repro.ts compares both). The price is
 * paid on tiny requests: node:http in Deno costs some 30-150 µs more server CPU per request
 * (a ping 47 against 14 µs, a 10-line write 340 against 192 µs, a 5000-line write 18.6 against
 * 16.9 ms; bench/http_server_bench.ts), small beside decoding a real batch or running a query.
 *
 * Timeouts (each a setting, see config.ts):
 * - `headerTimeoutMs`: the request line and headers must arrive within it (node:http's
 *   `headersTimeout`; the client gets 408 and the connection closes).
 * - `idleTimeoutMs`: a keep-alive connection with no request for this long is closed.
 * - `bodyProgressTimeoutMs` and `bodyMinBytesPerSecond`: while the server waits on a client
 *   (for request body bytes, or for it to read the answer), a wait longer than the timeout or
 *   an average rate below the minimum ends the connection (client_pace.ts). The handler's
 *   read fails, it answers nothing and releases its write slot: a slow client loses its own
 *   slot, not the others'. node:http's whole-request `requestTimeout` is off: a streamed body
 *   may rightly take hours.
 *
 * HTTP/2 is not served (node:http speaks HTTP/1.1; Deno.serve took h2c): Connect and gRPC-Web
 * work over HTTP/1.1. gRPC proper needs HTTP/2 trailers, which the fetch handler drops anyway
 * (Connect's `universalServerResponseToFetch` has no place for them); serving it would be
 * `@connectrpc/connect-node` on `node:http2`.
 * @module
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { DirectHandler, Logger, PlainAnswer, UpgradeHandler } from "../core/mod.ts";
import {
  continueOnFirstRead,
  PaceWatch,
  readSmallBody,
  requestFrom,
  smallBodyLength,
  urlText,
  writeResponse,
} from "./fetch_bridge.ts";
import { plainRequestFrom, writePlain } from "./plain_bridge.ts";
import { type NodeSocket, nodeSocketChannel } from "./upgrade_socket.ts";

/** A running server. */
export interface RunningServer {
  hostname: string;
  port: number;
  /** Stops accepting, closes idle connections, lets in-flight requests finish. */
  shutdown(): Promise<void>;
  /** Resolves when the server has closed. */
  finished: Promise<void>;
  /** Connections open now (`/metrics`). */
  connections(): number;
}

/** What the server knows of a request beyond the request itself. */
export interface RequestInfo {
  /** The client's address, `host:port` (IPv6 hosts in brackets). */
  remoteAddr: string;
}

/** A fetch handler that may read the {@linkcode RequestInfo}. */
export type ServedHandler = (request: Request, info: RequestInfo) => Promise<Response>;

/** Options of {@linkcode serveHttp}. */
export interface ServeHttpOptions {
  hostname: string;
  /** 0 picks a free port (read it back from the result). */
  port: number;
  /** The request line and headers must arrive within this. @default {10000} */
  headerTimeoutMs?: number;
  /** A keep-alive connection without a request is closed after this. @default {120000} */
  idleTimeoutMs?: number;
  /** Longest wait on a client mid-request (body bytes, reading the answer). @default {30000} */
  bodyProgressTimeoutMs?: number;
  /** Least average rate of a client while the server waits on it (0: none). @default {500} */
  bodyMinBytesPerSecond?: number;
  /** Serve HTTPS with this PEM certificate chain and key. */
  tls?: { cert: string; key: string };
  /** Where slow clients and handler crashes are reported. */
  logger?: Logger;
  /**
   * Decides `Upgrade` requests (node-to-node peer streams); without it they go to `handler` as
   * any request. A switched connection is closed by `shutdown`.
   */
  upgrade?: UpgradeHandler;
  /**
   * Answers the GET requests, and POST requests with a small body (read whole first), it takes
   * (the app's `/query`) without fetch's objects; the others, and every request without it, go
   * to `handler`.
   */
  direct?: DirectHandler;
}

/**
 * Serves `handler` on `hostname:port`.
 *
 * @example
 * ```ts
 * const server = await serveHttp(app, { hostname: "127.0.0.1", port: 0 });
 * console.log(server.port);
 * await server.shutdown();
 * ```
 */
export function serveHttp(
  handler: ServedHandler,
  options: ServeHttpOptions,
): Promise<RunningServer> {
  const headerTimeoutMs = options.headerTimeoutMs ?? 10_000;
  const pace = {
    timeoutMs: options.bodyProgressTimeoutMs ?? 30_000,
    minBytesPerSecond: options.bodyMinBytesPerSecond ?? 500,
  };
  const nodeOptions = {
    headersTimeout: headerTimeoutMs,
    requestTimeout: 0,
    keepAliveTimeout: options.idleTimeoutMs ?? 120_000,
    // How often node:http checks the header timeout: often enough to keep it to ~10%.
    connectionsCheckingInterval: Math.max(50, Math.min(1000, headerTimeoutMs / 10)),
    requireHostHeader: false,
    // Answers go out in two writes or more (headers, chunks): no Nagle delay between them.
    noDelay: true,
    // Body chunks of up to 256 KiB rather than 16 KiB: fewer pulls through the decoders.
    highWaterMark: 256 * 1024,
  };
  const scheme = options.tls ? "https" : "http";
  const server: Server = options.tls
    ? createHttpsServer({ ...nodeOptions, cert: options.tls.cert, key: options.tls.key })
    : createHttpServer(nodeOptions);
  const logger = options.logger;
  let connections = 0;
  // HTTPS: "secureConnection" would skip handshakes that fail; they hold a socket too.
  server.on("connection", (socket: { once(event: "close", f: () => void): void }) => {
    connections++;
    socket.once("close", () => connections--);
  });
  server.on("clientError", answerClientError);
  // Without this listener node:http answers "100 Continue" before the handler has looked at
  // the request; with it, the 100 waits for the first read of the body (fetch_bridge.ts).
  server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
    continueOnFirstRead(req, res);
    server.emit("request", req, res);
  });
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    serveOne(handler, req, res, { scheme, pace, logger, direct: options.direct }).catch((error) => {
      logger?.error("answer not written", { error: String(error) });
      res.destroy();
    });
  });
  const upgraded = new Set<NodeSocket>();
  let shuttingDown = false;
  const upgrade = options.upgrade;
  if (upgrade) {
    server.on("upgrade", (req: IncomingMessage, socket: UpgradedSocket, head: Uint8Array) => {
      // A connection handed over after shutdown began would hold `finished` until its peer
      // closes it: refuse it at once.
      if (shuttingDown) socket.destroy();
      else switchProtocols(upgrade, req, socket, head, upgraded, logger);
    });
  }
  const finished = new Promise<void>((resolve) => server.once("close", () => resolve()));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => {
      server.off("error", reject);
      const address = server.address() as { address: string; port: number };
      resolve({
        hostname: address.address,
        port: address.port,
        shutdown() {
          shuttingDown = true;
          server.close();
          // A connection whose request ends after this becomes idle later: close those too.
          server.closeIdleConnections();
          for (const socket of upgraded) socket.destroy();
          const sweeper = setInterval(() => server.closeIdleConnections(), 50);
          return finished.finally(() => clearInterval(sweeper));
        },
        finished,
        connections: () => connections,
      });
    });
  });
}

type UpgradedSocket = NodeSocket & { end(text: string): void };

/** `host:port` of a connection's other end (IPv6 hosts in brackets). */
function addressOf(socket: { remoteAddress?: string; remotePort?: number }): string {
  const host = socket.remoteAddress ?? "";
  return `${host.includes(":") ? `[${host}]` : host}:${socket.remotePort}`;
}

/** Answers an `Upgrade` request as `upgrade` decides; a taken connection is tracked until closed. */
function switchProtocols(
  upgrade: UpgradeHandler,
  req: IncomingMessage,
  socket: UpgradedSocket,
  head: Uint8Array,
  upgraded: Set<NodeSocket>,
  logger: Logger | undefined,
): void {
  // node:http no longer watches a socket it handed over: an error on it (a peer that resets the
  // connection before reading the refusal) would be uncaught and end the process.
  socket.on("error", () => socket.destroy());
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === "string") headers.set(name, value);
  }
  const protocol = headers.get("upgrade") ?? "";
  let answer;
  try {
    answer = upgrade({
      path: new URL(req.url ?? "/", "http://x").pathname,
      protocol,
      headers,
      remoteAddr: addressOf(req.socket),
    });
  } catch (error) {
    logger?.error("upgrade handler failed", { path: req.url, error: String(error) });
    answer = { status: 500, body: "internal error\n" };
  }
  if (answer.serve === undefined) {
    const body = answer.body;
    socket.end(
      `HTTP/1.1 ${answer.status} ${answer.status === 101 ? "Refused" : "Upgrade Refused"}\r\n` +
        `content-type: text/plain\r\ncontent-length: ${new TextEncoder().encode(body).length}\r\n` +
        `connection: close\r\n\r\n${body}`,
    );
    return;
  }
  upgraded.add(socket);
  socket.once("close", () => upgraded.delete(socket));
  socket.write(
    new TextEncoder().encode(
      `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${protocol}\r\n\r\n`,
    ),
    () => {},
  );
  answer.serve(nodeSocketChannel(socket, head));
}

/** node:http's answers to a request it could not read (its default `clientError` answers). */
const CLIENT_ERROR_ANSWERS: Record<string, string> = {
  HPE_HEADER_OVERFLOW: "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n",
  ERR_HTTP_REQUEST_TIMEOUT: "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n",
};
const BAD_REQUEST_ANSWER = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n";

/**
 * node:http's default answer to a client error, but for one case: a connection that has sent
 * nothing yet when the header timeout strikes is closed without a 408. node:http times a new
 * connection's headers from its accept, and a client's connection pool may open a connection it
 * uses only later (fetch races a new connection against a busy one and keeps the loser idle):
 * a 408 written then can cross the request the client is sending, which then reads the 408 as
 * its answer (a peer's forwarded write failed so as "HTTP 408"). Closing it is what closing an
 * idle keep-alive connection does; the client sees the connection gone, not an answer.
 */
function answerClientError(
  error: Error & { code?: string },
  socket: {
    bytesRead?: number;
    writable: boolean;
    _httpMessage?: { headersSent?: boolean } | null;
    write(text: string): unknown;
    destroy(): void;
  },
): void {
  const code = error.code ?? "";
  if (code === "ERR_HTTP_REQUEST_TIMEOUT" && socket.bytesRead === 0) {
    socket.destroy();
    return;
  }
  if (code !== "ECONNRESET" && socket.writable && !socket._httpMessage?.headersSent) {
    socket.write(CLIENT_ERROR_ANSWERS[code] ?? BAD_REQUEST_ANSWER);
  }
  socket.destroy();
}

async function serveOne(
  handler: ServedHandler,
  req: IncomingMessage,
  res: ServerResponse,
  options: {
    scheme: "http" | "https";
    pace: { timeoutMs: number; minBytesPerSecond: number };
    logger?: Logger;
    direct?: DirectHandler;
  },
): Promise<void> {
  const gone = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) gone.abort(new Error("the client went away"));
  });
  const watch = new PaceWatch(options.pace, (error) => {
    options.logger?.warn("slow client disconnected", {
      client: `${req.socket.remoteAddress}:${req.socket.remotePort}`,
      path: req.url,
      reason: error.message,
    });
    req.destroy(error);
    res.destroy();
  });
  let direct: Promise<PlainAnswer | Response> | undefined;
  // A POST's small body is read first, as the fetch path would (which gets it if the app
  // declines); a larger or chunked one always takes the fetch path, as a stream.
  const small = req.method === "POST" ? smallBodyLength(req) : undefined;
  let body: Uint8Array | undefined;
  if (options.direct !== undefined && (req.method === "GET" || small !== undefined)) {
    let url: URL;
    try {
      url = new URL(urlText(req, options.scheme));
      if (small !== undefined) body = await readSmallBody(req, small, watch);
    } catch (error) {
      if (!res.destroyed) badRequest(res, error); // else the client went away, or was too slow
      return;
    }
    const plain = plainRequestFrom(req, url, addressOf(req.socket), gone.signal, body);
    direct = options.direct(plain);
  }
  let response: Response | PlainAnswer;
  try {
    if (direct !== undefined) {
      response = await direct;
    } else {
      let request: Request;
      try {
        request = await requestFrom(req, {
          scheme: options.scheme,
          watch,
          signal: gone.signal,
          body,
        });
      } catch (error) {
        if (!res.destroyed) badRequest(res, error); // else the client went away, or was too slow
        return;
      }
      response = await handler(request, { remoteAddr: addressOf(req.socket) });
    }
  } catch (error) {
    options.logger?.error("handler failed", { path: req.url, error: String(error) });
    response = new Response("internal error\n", { status: 500 });
  }
  if (!(response instanceof Response)) {
    if (res.destroyed) response.sent?.(true);
    else writePlain(res, response);
    return;
  }
  if (res.destroyed) {
    await response.body?.cancel().catch(() => {});
    return;
  }
  await writeResponse(res, response, watch);
}

/** A request whose URL or body could not be read: 400, and the connection closed. */
function badRequest(res: ServerResponse, error: unknown): void {
  res.writeHead(400, { "content-type": "text/plain", connection: "close" });
  res.end(`bad request: ${(error as Error).message}\n`);
}
