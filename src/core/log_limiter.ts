/**
 * Logging of events that anyone who reaches a port can cause (refused node-to-node calls, requests
 * without credentials): one line per event would let an unauthenticated client fill the disk or
 * the log pipeline.
 * @module
 */
import type { Clock, Logger } from "./interfaces.ts";

/** Options of a {@linkcode LogLimiter}. */
export interface LogLimiterOptions {
  logger: Logger;
  /** Read for its monotonic time only. */
  clock: Clock;
  /** At most one line per this many ms after the first. @default {10000} */
  intervalMs?: number;
  /**
   * Runs `fn` once after `ms`, without keeping the process alive (the runtime's
   * `backgroundTimeout`): the summary of a flood that stopped is written when its interval ends.
   * Absent: it waits for the next event of the kind, or {@linkcode LogLimiter.flush}.
   */
  later?: (fn: () => void, ms: number) => void;
}

/**
 * Writes the first event of a kind at once with its fields, then at most one summary line per
 * interval: "`summary(n, seconds)`" with the last event's fields (prefixed `last_`). Every event
 * is counted in {@linkcode LogLimiter.total}, for a metric that keeps the volume visible.
 *
 * @example
 * ```ts
 * const refusals = new LogLimiter("call refused", (n, s) => `${n} more calls refused in the last ${s} s`, { logger, clock });
 * refusals.warn({ path: "/x", remote: "10.0.0.9:51234" });
 * ```
 */
export class LogLimiter {
  /** Events seen since start (logged or not). */
  total = 0;
  readonly #message: string;
  readonly #summary: (count: number, seconds: number) => string;
  readonly #o: LogLimiterOptions;
  readonly #intervalMs: number;
  /** When the last line (event or summary) was written. */
  #lastLineMs = -Infinity;
  #suppressed = 0;
  #lastFields: Record<string, unknown> = {};
  #scheduled = false;

  constructor(
    message: string,
    summary: (count: number, seconds: number) => string,
    options: LogLimiterOptions,
  ) {
    this.#message = message;
    this.#summary = summary;
    this.#o = options;
    this.#intervalMs = options.intervalMs ?? 10_000;
  }

  /** Records one event: logged now, or counted into the next summary. */
  warn(fields: Record<string, unknown>): void {
    this.total++;
    const now = this.#o.clock.monotonicMs();
    const due = now - this.#lastLineMs >= this.#intervalMs;
    if (due && this.#suppressed === 0) {
      this.#lastLineMs = now;
      this.#o.logger.warn(this.#message, fields);
      return;
    }
    this.#suppressed++;
    this.#lastFields = fields;
    if (due) return this.flush();
    if (this.#scheduled || !this.#o.later) return;
    this.#scheduled = true;
    this.#o.later(() => {
      this.#scheduled = false;
      this.flush();
    }, this.#lastLineMs + this.#intervalMs - now);
  }

  /** Writes the summary of the events not logged yet, if any. */
  flush(): void {
    if (this.#suppressed === 0) return;
    const now = this.#o.clock.monotonicMs();
    const seconds = Math.max(1, Math.round((now - this.#lastLineMs) / 1000));
    const last: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(this.#lastFields)) last[`last_${key}`] = value;
    this.#o.logger.warn(this.#summary(this.#suppressed, seconds), last);
    this.#suppressed = 0;
    this.#lastLineMs = now;
  }
}
