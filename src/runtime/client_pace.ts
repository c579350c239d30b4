/**
 * How long the server waits on a client that is sending a request body (or reading an
 * answer) before it gives up: the rule that stops slow and stalled uploads from holding a
 * write slot. Pure: the caller passes the times, so the rule is tested without sockets.
 *
 * Only the time the server spends *waiting on the client* counts (a pull of the body that
 * finds nothing buffered, a write that waits for the socket to drain). Time the handler spends
 * on its own work (a WAL fsync, a long query) is never the client's fault.
 *
 * Two limits, as Apache's mod_reqtimeout `body=N,MinRate=R`:
 * - a stall: one wait longer than `timeoutMs`;
 * - a trickle: once the waits add up to more than `timeoutMs`, the client must have sent on
 *   average at least `minBytesPerSecond` over them (a client sending one byte every few
 *   seconds never stalls, and would hold its slot forever without this).
 * @module
 */

/** Options of {@linkcode ClientPace}. */
export interface ClientPaceOptions {
  /** Longest single wait, and the grace before the rate counts, in ms. */
  timeoutMs: number;
  /** Least average bytes per second of waiting (0: no rate limit, stalls only). */
  minBytesPerSecond: number;
}

/**
 * The pace of one client on one request.
 *
 * @example
 * ```ts
 * const pace = new ClientPace({ timeoutMs: 30_000, minBytesPerSecond: 500 });
 * pace.startWaiting(now);
 * setTimeout(giveUp, pace.deadline() - now); // unless bytes arrive first:
 * pace.received(chunk.length, now2); // stops waiting; false when too slow
 * ```
 */
export class ClientPace {
  readonly #timeoutMs: number;
  readonly #minRate: number;
  /** Milliseconds spent waiting in finished waits. */
  #waitedMs = 0;
  /** Bytes received (in or out of waits). */
  #bytes = 0;
  /** Start of the current wait, or -1. */
  #since = -1;

  constructor(options: ClientPaceOptions) {
    this.#timeoutMs = options.timeoutMs;
    this.#minRate = options.minBytesPerSecond;
  }

  /** True while a wait is open. */
  get waiting(): boolean {
    return this.#since >= 0;
  }

  /** The server starts waiting on the client at `nowMs` (no-op if already waiting). */
  startWaiting(nowMs: number): void {
    if (this.#since < 0) this.#since = nowMs;
  }

  /**
   * `bytes` arrived at `nowMs`, ending the wait if one was open. Returns false when the client
   * is, by then, too slow (the wait was a stall, or the rate fell below the minimum).
   */
  received(bytes: number, nowMs: number): boolean {
    const ok = this.#since < 0 || nowMs <= this.deadline();
    if (this.#since >= 0) this.#waitedMs += nowMs - this.#since;
    this.#since = -1;
    this.#bytes += bytes;
    return ok;
  }

  /** The wait ended without bytes (the body ended or the write drained with nothing counted). */
  stopWaiting(nowMs: number): void {
    if (this.#since >= 0) this.#waitedMs += nowMs - this.#since;
    this.#since = -1;
  }

  /**
   * When the open wait turns the client too slow (a monotonic time in ms), or Infinity when no
   * wait is open. A timer set for this moment that finds the wait still open ends the client.
   */
  deadline(): number {
    if (this.#since < 0) return Infinity;
    const stall = this.#since + this.#timeoutMs;
    if (this.#minRate <= 0) return stall;
    // Waiting time the bytes so far pay for at the minimum rate, never less than the grace.
    const paidMs = Math.max(this.#timeoutMs, (this.#bytes * 1000) / this.#minRate);
    return Math.min(stall, this.#since + paidMs - this.#waitedMs);
  }
}
