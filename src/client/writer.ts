/**
 * A client that writes points to an EpochNexus (or InfluxDB 1.x) server: it buffers points,
 * sends them as line protocol to `/write` in batches (by size, and by age), retries what can
 * be retried, and reports what it could not write.
 *
 * - Batches: a batch is sent once it holds `batchPoints` points or `batchBytes` bytes, or when
 *   its oldest point is `flushIntervalMs` old, or on {@linkcode PointWriter.flush} and
 *   {@linkcode PointWriter.close}. One batch is in flight at a time, so batches arrive in the
 *   order they were written (a retried batch is never overtaken by a later one).
 * - Retries: network errors (a dropped connection), 429, 503 and other 5xx answers are retried
 *   with exponential backoff (`retryInitialMs` doubling up to `retryMaxMs`) and full jitter; a
 *   `Retry-After` header is honoured (the wait is at least what it says). After `maxRetries`
 *   retries, or `maxRetryMs` since the first attempt, the batch is given up and reported.
 *   Retrying is safe: a write is idempotent (same series, field and timestamp: the last write
 *   wins), so a batch the server had already stored before the connection dropped is stored
 *   again, not duplicated.
 * - A 413 splits the batch in two and sends the halves. A 400 partial write is not retried:
 *   the server wrote the valid lines and named the others, which are reported.
 * - `api: "native"` writes to EpochNexus's `/ingest` instead of `/write`: its answers name every
 *   refused point by line and reason (`/write`, as InfluxDB, names only the lines that did not
 *   parse), so a failure can say where each refused point came from (the `origins` given to
 *   {@linkcode PointWriter.write}, such as `file.lp:12`).
 * - A bounded buffer: at most `maxBufferPoints` points (and `maxBufferBytes`) wait. When it is
 *   full, `whenFull` says what happens: `"block"` (the default) makes `write` wait until the
 *   sender made room (backpressure for the producer); `"error"` makes `write` throw a
 *   {@linkcode BufferFullError} and keeps nothing of that call.
 *
 * No clock, random source, timer or network of its own: all are passed in, so tests control
 * time and faults.
 * @module
 */
import {
  type Clock,
  isEnginePoint,
  type Point,
  pointFromInput,
  type PointInput,
  type Rng,
} from "../core/mod.ts";
import { formatLineProtocol, LineProtocolFormatter } from "../ingest/mod.ts";

/** What {@linkcode PointWriter} needs from its surroundings. */
export interface WriterEnvironment {
  /** The HTTP client (`fetch`). */
  fetch: (input: string, init: RequestInit) => Promise<Response>;
  /** Time of the retry budget and of batch ages. */
  clock: Clock;
  /** Jitter. */
  random: Rng;
  /** Waits `ms` milliseconds. */
  sleep: (ms: number) => Promise<void>;
}

/** Options of {@linkcode PointWriter}. */
export interface WriterOptions {
  /** Server base URL, e.g. `http://localhost:8080`. */
  url: string;
  /** Target database. */
  database: string;
  /** Retention policy; the database's default when absent. */
  retentionPolicy?: string;
  /** Points per request. @default {5000} */
  batchPoints?: number;
  /** Line-protocol bytes per request. @default {1048576} */
  batchBytes?: number;
  /** Longest a point waits before its batch is sent. @default {1000} */
  flushIntervalMs?: number;
  /** Points that may wait in the buffer. @default {100000} */
  maxBufferPoints?: number;
  /** Bytes that may wait in the buffer. @default {67108864} */
  maxBufferBytes?: number;
  /** When the buffer is full: wait (`block`) or throw (`error`). @default {"block"} */
  whenFull?: "block" | "error";
  /** Retries of one batch before giving up. @default {10} */
  maxRetries?: number;
  /** Time from a batch's first attempt after which it is given up. @default {120000} */
  maxRetryMs?: number;
  /** First backoff. @default {100} */
  retryInitialMs?: number;
  /** Longest backoff. @default {30000} */
  retryMaxMs?: number;
  /** Extra request headers (authentication ...). */
  headers?: Record<string, string>;
  /**
   * `influx`: InfluxDB's `/write` (any InfluxDB 1.x server); `native`: EpochNexus's `/ingest`,
   * whose answers name each refused point. @default {"influx"}
   */
  api?: "influx" | "native";
  /** Called for each batch given up or partially refused. */
  onError?: (failure: WriteFailure) => void;
}

/** Points the writer could not write, and why. */
export interface WriteFailure {
  /** How many points. */
  points: number;
  /** The server's or the network's reason. */
  reason: string;
  /** Up to 10 of the refused lines (line protocol), when the server named them. */
  lines?: string[];
  /**
   * The refused points the server named (the native API names each; up to its listing limit),
   * with the origin each was written with.
   */
  refused?: { origin?: string; reason: string }[];
  /** Whether retrying later might succeed (network, overload) or not (bad data). */
  retryable: boolean;
}

/** What a writer did. */
export interface WriterReport {
  /** Points the server acknowledged as written. */
  written: number;
  /** Points given up or refused. */
  failed: number;
  /** Requests sent, retries included. */
  requests: number;
  /** Retries. */
  retries: number;
  /** Every failure (the first 1000). */
  failures: WriteFailure[];
}

/** `write` on a full buffer with `whenFull: "error"`. */
export class BufferFullError extends Error {
  constructor(readonly bufferedPoints: number, readonly limit: number) {
    super(`write buffer full: ${bufferedPoints} points waiting, the limit is ${limit}`);
    this.name = "BufferFullError";
  }
}

/** `write` after `close`. */
export class WriterClosedError extends Error {
  constructor() {
    super("the writer is closed");
    this.name = "WriterClosedError";
  }
}

interface Batch {
  lines: string[];
  /** Where each line came from, when the caller said. */
  origins: (string | undefined)[];
  bytes: number;
}

/**
 * Buffers points and writes them in batches with retries.
 *
 * @example
 * ```ts
 * const writer = new PointWriter(
 *   { url: "http://localhost:8080", database: "metrics" },
 *   { fetch, clock: systemClock, random: systemRng, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) },
 * );
 * await writer.write({ measurement: "cpu", tags: { host: "a" }, fields: { usage: 0.5, cores: 8n } });
 * const report = await writer.close(); // flushes; report.failed === 0 when all was written
 * ```
 */
export class PointWriter {
  readonly #o: Required<Omit<WriterOptions, "retentionPolicy" | "headers" | "onError" | "api">>;
  readonly #options: WriterOptions;
  readonly #env: WriterEnvironment;
  readonly #endpoint: string;
  readonly #native: boolean;
  #lines: string[] = [];
  #origins: (string | undefined)[] = [];
  #bytes = 0;
  /** Monotonic time the oldest buffered point arrived. */
  #oldestAt = 0;
  #closed = false;
  #sending: Promise<void> | undefined;
  #timer: Promise<void> | undefined;
  #spaceWaiters: (() => void)[] = [];
  #report: WriterReport = { written: 0, failed: 0, requests: 0, retries: 0, failures: [] };

  constructor(options: WriterOptions, env: WriterEnvironment) {
    this.#options = options;
    this.#env = env;
    this.#o = {
      url: options.url,
      database: options.database,
      batchPoints: options.batchPoints ?? 5000,
      batchBytes: options.batchBytes ?? 1024 * 1024,
      flushIntervalMs: options.flushIntervalMs ?? 1000,
      maxBufferPoints: options.maxBufferPoints ?? 100_000,
      maxBufferBytes: options.maxBufferBytes ?? 64 * 1024 * 1024,
      whenFull: options.whenFull ?? "block",
      maxRetries: options.maxRetries ?? 10,
      maxRetryMs: options.maxRetryMs ?? 120_000,
      retryInitialMs: options.retryInitialMs ?? 100,
      retryMaxMs: options.retryMaxMs ?? 30_000,
    };
    if (this.#o.maxBufferPoints < this.#o.batchPoints) {
      throw new Error(
        `BUG: maxBufferPoints (${this.#o.maxBufferPoints}) must be at least batchPoints ` +
          `(${this.#o.batchPoints})`,
      );
    }
    const params = new URLSearchParams({ db: options.database, precision: "ns" });
    if (options.retentionPolicy) params.set("rp", options.retentionPolicy);
    this.#native = options.api === "native";
    const path = this.#native ? "ingest" : "write";
    this.#endpoint = `${options.url.replace(/\/+$/, "")}/${path}?${params}`;
  }

  /** Points waiting to be sent (not counting a batch in flight). */
  get bufferedPoints(): number {
    return this.#lines.length;
  }

  /** What was written and what failed so far. */
  report(): WriterReport {
    return { ...this.#report, failures: [...this.#report.failures] };
  }

  /**
   * Buffers points, in the library's shape (`{ measurement, tags, fields: { usage: 0.5 }, time }`,
   * a point without `time` taking the clock's) or the engine's; resolves once they are in the
   * buffer (not once written: see {@linkcode flush}). With `whenFull: "block"` it waits for room.
   * `origins[i]` names where point i came from (`file.lp:12`), for failures.
   * @throws {ValidationError} naming the point when one cannot be written (no fields, a
   * non-finite number, a time outside int64); nothing of the call is kept.
   * @throws {BufferFullError} with `whenFull: "error"` when they do not fit.
   * @throws {WriterClosedError} after {@linkcode close}.
   */
  async write(
    points: PointInput | Point | readonly (PointInput | Point)[],
    origins?: readonly (string | undefined)[],
  ): Promise<void> {
    const list = Array.isArray(points)
      ? points as readonly (PointInput | Point)[]
      : [points as PointInput | Point];
    let nowNs: bigint | undefined;
    const formatter = new LineProtocolFormatter();
    const lines = list.map((p, i) => {
      if (isEnginePoint(p)) return formatter.line(p);
      nowNs ??= this.#env.clock.nowNanos();
      return formatLineProtocol(pointFromInput(p, i, nowNs));
    });
    return await this.writeLines(lines, origins);
  }

  /**
   * Buffers lines of line protocol (one point each, nanosecond timestamps). `origins[i]` names
   * where line i came from (`file.lp:12`), for failures.
   */
  async writeLines(
    lines: readonly string[],
    origins?: readonly (string | undefined)[],
  ): Promise<void> {
    if (this.#closed) throw new WriterClosedError();
    let bytes = 0;
    for (const l of lines) bytes += l.length + 1;
    if (this.#o.whenFull === "error" && !this.#fits(lines.length, bytes)) {
      throw new BufferFullError(this.#lines.length, this.#o.maxBufferPoints);
    }
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      while (!this.#fits(1, line.length + 1)) {
        this.#kick();
        await new Promise<void>((resolve) => this.#spaceWaiters.push(resolve));
      }
      if (this.#lines.length === 0) this.#oldestAt = this.#env.clock.monotonicMs();
      this.#lines.push(line);
      this.#origins.push(origins?.[i]);
      this.#bytes += line.length + 1;
    }
    if (this.#lines.length >= this.#o.batchPoints || this.#bytes >= this.#o.batchBytes) {
      this.#kick();
    } else this.#arm();
  }

  /** Sends everything buffered; resolves when the server answered for all of it. */
  async flush(): Promise<void> {
    while (this.#lines.length > 0 || this.#sending) {
      this.#kick(true);
      await this.#sending;
    }
  }

  /** Flushes, stops the timer and returns the report. Later writes throw. */
  async close(): Promise<WriterReport> {
    this.#closed = true;
    await this.flush();
    return this.report();
  }

  #fits(points: number, bytes: number): boolean {
    return this.#lines.length + points <= this.#o.maxBufferPoints &&
      (this.#bytes + bytes <= this.#o.maxBufferBytes || this.#lines.length === 0);
  }

  /** Starts the age timer when a batch starts filling. */
  #arm(): void {
    if (this.#timer || this.#lines.length === 0) return;
    const due = this.#oldestAt + this.#o.flushIntervalMs;
    const wait = Math.max(0, due - this.#env.clock.monotonicMs());
    this.#timer = this.#env.sleep(wait).then(() => {
      this.#timer = undefined;
      if (this.#lines.length === 0) return;
      if (this.#env.clock.monotonicMs() >= this.#oldestAt + this.#o.flushIntervalMs) {
        this.#kick(true);
      } else this.#arm();
    });
  }

  /** Starts the sender if it is idle. `all`: send even a partial batch. */
  #kick(all = false): void {
    if (this.#sending) return;
    const full = this.#lines.length >= this.#o.batchPoints || this.#bytes >= this.#o.batchBytes;
    if (!full && !all) return;
    if (this.#lines.length === 0) return;
    this.#sending = this.#sendLoop(all).finally(() => {
      this.#sending = undefined;
      if (this.#lines.length > 0) {
        if (this.#lines.length >= this.#o.batchPoints || this.#bytes >= this.#o.batchBytes) {
          this.#kick();
        } else this.#arm();
      }
    });
  }

  async #sendLoop(all: boolean): Promise<void> {
    while (this.#lines.length > 0) {
      const full = this.#lines.length >= this.#o.batchPoints ||
        this.#bytes >= this.#o.batchBytes;
      if (!full && !all) return;
      const batch = this.#take();
      this.#wakeWriters();
      await this.#send(batch);
    }
  }

  #take(): Batch {
    let n = 0, bytes = 0;
    while (
      n < this.#lines.length && n < this.#o.batchPoints &&
      (n === 0 || bytes + this.#lines[n].length + 1 <= this.#o.batchBytes)
    ) {
      bytes += this.#lines[n].length + 1;
      n++;
    }
    const lines = this.#lines.splice(0, n);
    const origins = this.#origins.splice(0, n);
    this.#bytes -= bytes;
    if (this.#lines.length > 0) this.#oldestAt = this.#env.clock.monotonicMs();
    return { lines, origins, bytes };
  }

  #wakeWriters(): void {
    const waiters = this.#spaceWaiters;
    this.#spaceWaiters = [];
    for (const w of waiters) w();
  }

  /** Sends one batch with retries; records the outcome. */
  async #send(batch: Batch): Promise<void> {
    const started = this.#env.clock.monotonicMs();
    let attempt = 0;
    while (true) {
      const outcome = await this.#attempt(batch);
      if (outcome.kind === "done") return;
      if (outcome.kind === "split") {
        if (batch.lines.length === 1) {
          this.#fail(batch.lines.length, outcome.reason, false, batch.lines, [
            { origin: batch.origins[0], reason: outcome.reason },
          ]);
          return;
        }
        const half = Math.ceil(batch.lines.length / 2);
        await this.#send(part(batch.lines.slice(0, half), batch.origins.slice(0, half)));
        await this.#send(part(batch.lines.slice(half), batch.origins.slice(half)));
        return;
      }
      const elapsed = this.#env.clock.monotonicMs() - started;
      if (attempt >= this.#o.maxRetries || elapsed >= this.#o.maxRetryMs) {
        this.#fail(
          batch.lines.length,
          `gave up after ${attempt + 1} attempts in ${Math.round(elapsed)} ms: ${outcome.reason}`,
          true,
        );
        return;
      }
      const backoff = Math.min(this.#o.retryMaxMs, this.#o.retryInitialMs * 2 ** attempt);
      const jittered = backoff * this.#env.random.next(); // full jitter
      const wait = Math.max(jittered, outcome.retryAfterMs ?? 0);
      attempt++;
      this.#report.retries++;
      await this.#env.sleep(wait);
    }
  }

  async #attempt(batch: Batch): Promise<
    | { kind: "done" }
    | { kind: "split"; reason: string }
    | { kind: "retry"; reason: string; retryAfterMs?: number }
  > {
    this.#report.requests++;
    let response: Response;
    try {
      response = await this.#env.fetch(this.#endpoint, {
        method: "POST",
        headers: { "content-type": "text/plain; charset=utf-8", ...this.#options.headers },
        body: batch.lines.join("\n") + "\n",
      });
    } catch (error) {
      return { kind: "retry", reason: `network error: ${(error as Error).message ?? error}` };
    }
    const text = await response.text().catch(() => "");
    const status = response.status;
    if (status === 204 || status === 200) {
      this.#report.written += batch.lines.length;
      return { kind: "done" };
    }
    const message = errorMessage(text) ?? `HTTP ${status}`;
    if (this.#native && status === 400) {
      const partial = nativePartial(text, batch);
      if (partial) {
        this.#report.written += partial.accepted;
        this.#fail(partial.rejected, message, false, partial.lines, partial.refused);
        return { kind: "done" };
      }
    }
    if (status === 429 || status >= 500) {
      return {
        kind: "retry",
        reason: `HTTP ${status}: ${message}`,
        retryAfterMs: retryAfterMs(response.headers.get("retry-after"), this.#env.clock),
      };
    }
    if (status === 413) return { kind: "split", reason: `HTTP 413: ${message}` };
    if (status === 400 && message.startsWith("partial write:")) {
      const dropped = partialWriteCount(message, batch.lines.length);
      this.#report.written += batch.lines.length - dropped;
      this.#fail(dropped, message, false, refusedLines(message));
      return { kind: "done" };
    }
    this.#fail(batch.lines.length, `HTTP ${status}: ${message}`, false, refusedLines(message));
    return { kind: "done" };
  }

  #fail(
    points: number,
    reason: string,
    retryable: boolean,
    lines?: string[],
    refused?: WriteFailure["refused"],
  ): void {
    if (points === 0) return;
    this.#report.failed += points;
    const failure: WriteFailure = { points, reason, retryable };
    if (lines && lines.length > 0) failure.lines = lines.slice(0, 10);
    if (refused && refused.length > 0) failure.refused = refused;
    if (this.#report.failures.length < 1000) this.#report.failures.push(failure);
    this.#options.onError?.(failure);
  }
}

function part(lines: string[], origins: (string | undefined)[]): Batch {
  let bytes = 0;
  for (const l of lines) bytes += l.length + 1;
  return { lines, origins, bytes };
}

/**
 * A native `/ingest` partial write: `{"error": {"accepted", "rejected", "errors": [{line,
 * reason}]}}`, each listed line (1-based in the batch's body) mapped back to its origin.
 */
function nativePartial(text: string, batch: Batch) {
  let error: { accepted?: unknown; rejected?: unknown; errors?: unknown };
  try {
    error = JSON.parse(text)?.error;
  } catch {
    return undefined;
  }
  if (typeof error?.accepted !== "number" || typeof error.rejected !== "number") return undefined;
  const refused: { origin?: string; reason: string }[] = [];
  const lines: string[] = [];
  for (const e of Array.isArray(error.errors) ? error.errors : []) {
    if (typeof e?.reason !== "string") continue;
    const at = typeof e.line === "number" ? e.line - 1 : -1;
    const origin = at >= 0 ? batch.origins[at] : undefined;
    refused.push(origin === undefined ? { reason: e.reason } : { origin, reason: e.reason });
    if (at >= 0 && at < batch.lines.length && lines.length < 10) lines.push(batch.lines[at]);
  }
  return { accepted: error.accepted, rejected: error.rejected, refused, lines };
}

function errorMessage(text: string): string | undefined {
  try {
    const body = JSON.parse(text);
    if (typeof body?.error === "string") return body.error;
    if (typeof body?.error?.message === "string") return body.error.message;
  } catch { /* not JSON */ }
  return text ? text.slice(0, 500) : undefined;
}

/** The lines InfluxDB names in `unable to parse '...'`. */
function refusedLines(message: string): string[] {
  const out: string[] = [];
  for (const m of message.matchAll(/unable to parse '((?:[^'\n]|'(?!: ))*)': /g)) out.push(m[1]);
  return out;
}

/** Points refused by a partial write: the parse errors plus `dropped=N`. */
function partialWriteCount(message: string, total: number): number {
  const parsed = refusedLines(message).length;
  const dropped = Number(/dropped=(\d+)/.exec(message)?.[1] ?? 0);
  const listed = /\((\d+) more errors not listed\)/.exec(message);
  return Math.min(total, parsed + dropped + (listed ? Number(listed[1]) : 0));
}

/** `Retry-After` as milliseconds: delay-seconds or an HTTP date. */
export function retryAfterMs(value: string | null, clock: Clock): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - clock.nowMs());
}
