/**
 * Between node:http's `(IncomingMessage, ServerResponse)` and the app's
 * `fetch(Request) -> Response`: the app keeps its socket-free shape, and the server gets
 * node:http's body path (see http_server.ts for why).
 *
 * Both directions keep backpressure: the request body is read from the socket only when the
 * handler pulls, and the answer's body is pulled only when the socket has drained. Both
 * directions are watched by a {@linkcode ClientPace}: a client that stalls or trickles while
 * the server waits on it loses its connection, and with it the handler's slot.
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { drainedOrClosed, EpochError } from "../core/mod.ts";
import { ClientPace, type ClientPaceOptions } from "./client_pace.ts";

/** Why a connection was ended by the server: the handler sees it as the body's read error. */
export class ClientTooSlowError extends EpochError {
  constructor(message: string) {
    super("deadline_exceeded", message, { httpStatus: 408 });
    this.name = "ClientTooSlowError";
  }
}

/**
 * Watches one request's waits on its client with a {@linkcode ClientPace} and a timer; when
 * the client is too slow, destroys the connection (the handler's read fails, its slot is
 * released) and calls `onTooSlow`.
 */
export class PaceWatch {
  readonly #pace: ClientPace;
  readonly #onTooSlow: (error: ClientTooSlowError) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #what = "";

  constructor(options: ClientPaceOptions, onTooSlow: (error: ClientTooSlowError) => void) {
    this.#pace = new ClientPace(options);
    this.#onTooSlow = onTooSlow;
  }

  /** The server now waits on the client for `what` ("request body", "the answer to drain"). */
  wait(what: string): void {
    if (this.#pace.waiting) return;
    this.#what = what;
    const now = performance.now();
    this.#pace.startWaiting(now);
    const deadline = this.#pace.deadline();
    if (deadline === Infinity) return;
    this.#timer = setTimeout(() => this.#expire(), Math.max(0, deadline - now) + 1);
  }

  /** `bytes` moved; ends the wait. */
  progress(bytes: number): void {
    this.#clear();
    if (!this.#pace.received(bytes, performance.now())) this.#fail();
  }

  /** The wait ended with no bytes to count (end of body, error). */
  done(): void {
    this.#clear();
    this.#pace.stopWaiting(performance.now());
  }

  #expire(): void {
    this.#timer = undefined;
    if (!this.#pace.waiting) return;
    const now = performance.now();
    if (now < this.#pace.deadline()) {
      this.#timer = setTimeout(() => this.#expire(), this.#pace.deadline() - now + 1);
      return;
    }
    this.#pace.stopWaiting(now);
    this.#fail();
  }

  #fail(): void {
    this.#onTooSlow(
      new ClientTooSlowError(
        `the client was too slow (waiting for the ${this.#what}): connection closed`,
      ),
    );
  }

  #clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * Bodies up to this size with a declared length are read before the handler runs and passed
 * as bytes: a small write's body is already in the socket buffer, and a byte body skips the
 * stream machinery (bench/http_server_bench.ts). The memory this holds is bounded by the size
 * times the connections, like node:http's own socket buffers.
 */
export const SMALL_BODY_BYTES = 64 * 1024;

/**
 * The request as a fetch `Request`. Its body (methods with one, when the client declared a
 * length or chunked framing) is a pull stream over `req` watched by `watch`, or, when small,
 * its bytes; its signal aborts when the client goes away before the answer is written.
 * @throws {TypeError} when the Host header and target make no valid URL.
 * @throws {Error} when a small body cannot be read (the client went away or was too slow).
 */
export async function requestFrom(
  req: IncomingMessage,
  options: {
    scheme: "http" | "https";
    watch: PaceWatch;
    signal: AbortSignal;
    /** The small body, already read ({@linkcode readSmallBody}). */
    body?: Uint8Array;
  },
): Promise<Request> {
  const headers: [string, string][] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.push([raw[i], raw[i + 1]]);
  const url = urlText(req, options.scheme);
  const method = req.method ?? "GET";
  const chunked = req.headers["transfer-encoding"] !== undefined;
  const length = Number(req.headers["content-length"] ?? 0);
  let body: ReadableStream<Uint8Array> | Uint8Array | null = null;
  if (method !== "GET" && method !== "HEAD" && (chunked || length > 0)) {
    const small = smallBodyLength(req);
    body = small === undefined
      ? bodyStream(req, options.watch)
      : options.body ?? await readSmallBody(req, small, options.watch);
  }
  return new Request(url, {
    method,
    headers,
    body: body as BodyInit | null,
    signal: options.signal,
    // @ts-ignore: `duplex` is required by fetch for a stream body, not yet in every lib.d.ts
    duplex: "half",
  });
}

/** The request's URL as text: the target resolved against the scheme and Host header. */
export function urlText(req: IncomingMessage, scheme: "http" | "https"): string {
  const target = req.url ?? "/";
  return target.startsWith("/")
    ? `${scheme}://${req.headers.host ?? "localhost"}${target}`
    : target; // absolute-form (a proxy's request)
}

/**
 * The declared length of a body small enough to be read whole before the handler runs (up to
 * {@linkcode SMALL_BODY_BYTES}, not chunked), or undefined.
 */
export function smallBodyLength(req: IncomingMessage): number | undefined {
  if (req.headers["transfer-encoding"] !== undefined) return undefined;
  const length = Number(req.headers["content-length"] ?? 0);
  return length <= SMALL_BODY_BYTES ? length : undefined;
}

/**
 * Reads a body of known, small length whole (none read when the length is 0).
 * @throws {Error} when the client went away or was too slow.
 */
export async function readSmallBody(
  req: IncomingMessage,
  length: number,
  watch: PaceWatch,
): Promise<Uint8Array> {
  if (length === 0) return new Uint8Array(0);
  const stream = bodyStream(req, watch);
  const reader = stream.getReader();
  const first = await reader.read();
  if (first.done) return new Uint8Array(0);
  if (first.value.byteLength === length) {
    // Usually all of it: the end is one more (immediate) read away.
    const next = await reader.read();
    if (next.done) return first.value;
    return concat([first.value, next.value], reader);
  }
  return concat([first.value], reader);
}

async function concat(
  parts: Uint8Array[],
  reader: ReadableStreamDefaultReader<Uint8Array>,
): Promise<Uint8Array> {
  while (true) {
    const next = await reader.read();
    if (next.done) break;
    parts.push(next.value);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Requests whose client waits for "100 Continue" before it sends the body, with their answer. */
const awaitingContinue = new WeakMap<IncomingMessage, ServerResponse>();

/**
 * Marks `req` (sent with `Expect: 100-continue`) to be told "100 Continue" when its body is first
 * read, not before: a request refused before its body is read (401, 404, 413, 429) then gets its
 * status alone, where a 100 sent at once had the client sending the body into a connection
 * about to close, and curl (which expects for bodies over 1 MB) reported a broken pipe instead.
 */
export function continueOnFirstRead(req: IncomingMessage, res: ServerResponse): void {
  awaitingContinue.set(req, res);
}

/** The request body as a pull stream: nothing is read from the socket before it is asked for. */
function bodyStream(req: IncomingMessage, watch: PaceWatch): ReadableStream<Uint8Array> {
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const signal = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  req.on("readable", signal);
  req.on("end", () => {
    ended = true;
    signal();
  });
  req.on("error", (error: Error) => {
    failure ??= error;
    signal();
  });
  req.on("close", () => {
    if (!ended) failure ??= new Error("the client closed the connection before the body ended");
    signal();
  });
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const waiting = awaitingContinue.get(req);
      if (waiting !== undefined) {
        awaitingContinue.delete(req);
        waiting.writeContinue();
      }
      while (true) {
        const chunk: Uint8Array | null = req.read();
        if (chunk !== null) {
          watch.progress(chunk.byteLength);
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          return;
        }
        if (failure || ended) {
          watch.done();
          if (failure) controller.error(failure);
          else controller.close();
          return;
        }
        watch.wait("request body");
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    cancel() {
      // The handler wants no more (413, a decode error): the rest is drained by node:http after
      // the answer and the connection closed (see writeResponse).
      watch.done();
    },
  }, { highWaterMark: 0 });
}

/**
 * A refused request's body left unread up to this size is read and dropped after the answer,
 * as Go's net/http and node do: closing a connection with unread bytes sends the client a
 * reset, which can destroy the answer it has not read yet (a write to an unknown database read
 * as "connection reset", not 404).
 */
export const DRAIN_BODY_BYTES = 4 * 1024 * 1024;
/** A drained body that sends nothing for this long has its connection closed. */
export const DRAIN_IDLE_MS = 1_000;
/** The longest a refused body is drained; then the connection is closed. */
export const DRAIN_BODY_MS = 10_000;

/**
 * The answer goes out before the request's body was read to its end (a refusal): a declared
 * body of at most {@linkcode DRAIN_BODY_BYTES} is read and dropped after it (the connection
 * kept), unless its client pauses {@linkcode DRAIN_IDLE_MS} or takes over
 * {@linkcode DRAIN_BODY_MS}; a larger or chunked one closes the connection, which saves the
 * client sending it all.
 */
function drainOrClose(res: ServerResponse): void {
  const req = res.req;
  const length = Number(req.headers["content-length"] ?? NaN);
  // A client that asked `Expect: 100-continue` and got no 100 sends no body: nothing to wait on.
  const waitsFor100 = /100-continue/i.test(req.headers.expect ?? "");
  if (
    waitsFor100 || req.headers["transfer-encoding"] !== undefined || !(length <= DRAIN_BODY_BYTES)
  ) {
    res.setHeader("connection", "close");
    return;
  }
  res.once("finish", () => {
    const close = () => req.socket.destroy();
    const cap = setTimeout(close, DRAIN_BODY_MS);
    let idle = setTimeout(close, DRAIN_IDLE_MS);
    const stop = () => {
      clearTimeout(cap);
      clearTimeout(idle);
    };
    // The handler is done with the body (its answer is out): its stream's "readable" listener
    // goes, and the rest flows here and is dropped.
    req.removeAllListeners("readable");
    req.on("data", () => {
      clearTimeout(idle);
      idle = setTimeout(close, DRAIN_IDLE_MS);
    });
    req.once("end", stop);
    req.once("close", stop);
    req.resume();
  });
}

/**
 * Writes `response` to `res`. A body that declares a length of at most
 * {@linkcode SMALL_BODY_BYTES}, or is complete at once (every buffered answer), goes out with a
 * Content-Length in one write; a streamed one goes out chunked as it is produced, each
 * chunk pulled only after the socket drained (the wait watched by `watch`).
 */
export async function writeResponse(
  res: ServerResponse,
  response: Response,
  watch: PaceWatch,
): Promise<void> {
  res.statusCode = response.status;
  if (response.statusText) res.statusMessage = response.statusText;
  for (const [name, value] of response.headers) {
    if (name === "set-cookie") continue;
    res.setHeader(name, value);
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader("set-cookie", cookies);
  if (!res.req.complete) drainOrClose(res);
  const declared = response.headers.get("content-length");
  if (declared !== null && Number(declared) <= SMALL_BODY_BYTES) {
    // A small answer of known length is read whole, without a stream and its reader (a
    // static body's bytes are taken as they are): ~0.1 ms less per small query.
    try {
      const bytes = new Uint8Array(await response.arrayBuffer());
      res.setHeader("content-length", String(bytes.byteLength));
      res.end(bytes);
    } catch (error) {
      res.destroy(error as Error);
    }
    return;
  }
  if (response.body === null) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  try {
    const first = await reader.read();
    // The client left while the first chunk was made (a chunked query's first statement):
    // the answer is dropped (cancelled below, so the access log says aborted), not ended.
    if (res.destroyed) return;
    if (first.done) {
      res.setHeader("content-length", "0");
      res.end();
      return;
    }
    // A buffered answer is done after one chunk: send it with its length, in one write.
    const pending = reader.read();
    const second = await settledSoon(pending);
    if (second !== undefined && second.done) {
      if (!response.headers.has("content-length")) {
        res.setHeader("content-length", String(first.value.byteLength));
      }
      res.end(first.value);
      return;
    }
    if (!(await write(res, first.value, watch))) return;
    let next = second ?? await pending;
    while (!next.done) {
      if (!(await write(res, next.value, watch))) return;
      next = await reader.read();
    }
    res.end();
  } catch (error) {
    // The answer broke midway (the status is already sent): end the connection so the client
    // sees a truncated body, not a complete one.
    res.destroy(error as Error);
  } finally {
    if (res.destroyed) reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** Writes a chunk; waits (watched) for the socket to drain. False when the connection is gone. */
async function write(res: ServerResponse, chunk: Uint8Array, watch: PaceWatch): Promise<boolean> {
  if (res.destroyed) return false;
  if (res.write(chunk)) {
    watch.progress(chunk.byteLength);
    return true;
  }
  watch.wait("answer to be read");
  await drainedOrClosed(res);
  if (res.destroyed) {
    watch.done();
    return false;
  }
  watch.progress(chunk.byteLength);
  return true;
}

/**
 * The promise's value if it settles within a few microtasks (a body made from a string or bytes
 * ends in one), else undefined while it keeps running. Cheaper than a timer per answer.
 */
async function settledSoon<T>(promise: Promise<T>): Promise<T | undefined> {
  let settled = false;
  let value: T | undefined;
  promise.then((v) => {
    settled = true;
    value = v;
  }, () => { // a rejection is seen again by whoever awaits the promise itself
    settled = true;
  });
  for (let i = 0; i < 4 && !settled; i++) await undefined;
  return value;
}
