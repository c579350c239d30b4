/**
 * Admission control for writes: a bound on concurrent write requests and on the bytes they
 * may hold in memory. There is no queue: a request beyond either bound is refused at once with
 * an {@linkcode OverloadError} (HTTP 429 with `Retry-After`), so overload never turns into an
 * unbounded queue or an out-of-memory; clients retry (the client writer does, with backoff).
 * @module
 */
import { OverloadError } from "../core/mod.ts";

/**
 * Full batches (`ingest_batch_points` each) that all streamed writes in flight commit at once,
 * shared between them ({@linkcode WriteAdmission.batchShare}).
 */
export const IN_FLIGHT_BATCHES = 8;
/** The smallest shared batch: below it the fixed cost of a write (its WAL record) dominates. */
export const MIN_SHARED_BATCH_POINTS = 500;

/**
 * What a streamed request holds besides its batches: one read of the body (a network read is
 * usually at most 64 KiB, and the decoders take at most this much in one step) with the line it
 * ends in. What it reserves when admitted ({@linkcode WriteAdmission.admitStream}).
 */
export const STREAM_READ_BYTES = 64 * 1024;

/**
 * The reservation of a streamed request, which follows what the request holds: its read buffer,
 * then its batches as they fill and commit ({@linkcode WriteAdmission.admitStream}).
 */
export interface StreamReservation {
  /** Sets the body bytes the request's batches hold now (filling and committing). */
  hold(bytes: number): void;
  /**
   * True while the admitted requests hold the whole byte bound or more: a stream then commits
   * what it holds rather than read on into a fuller batch.
   */
  readonly short: boolean;
  /** Ends the reservation (idempotent). */
  release(): void;
}

/** Options of {@linkcode WriteAdmission}. */
export interface AdmissionOptions {
  /** Write requests served at once. @default {64} */
  maxConcurrent?: number;
  /** Bytes all admitted requests may hold at once. @default {268435456} */
  maxQueuedBytes?: number;
  /** What `Retry-After` says. @default {1} */
  retryAfterSeconds?: number;
}

/**
 * Counts admitted writes and their reserved bytes.
 *
 * @example
 * ```ts
 * const admission = new WriteAdmission({ maxConcurrent: 2 });
 * const release = admission.admit(1000); // throws OverloadError when full
 * try { await write(); } finally { release(); }
 * ```
 */
export class WriteAdmission {
  readonly maxConcurrent: number;
  readonly maxQueuedBytes: number;
  readonly retryAfterSeconds: number;
  #active = 0;
  #bytes = 0;

  constructor(options: AdmissionOptions = {}) {
    this.maxConcurrent = options.maxConcurrent ?? 64;
    this.maxQueuedBytes = options.maxQueuedBytes ?? 256 * 1024 * 1024;
    this.retryAfterSeconds = options.retryAfterSeconds ?? 1;
  }

  /** Requests admitted and not released. */
  get active(): number {
    return this.#active;
  }

  /** Bytes reserved by admitted requests. */
  get reservedBytes(): number {
    return this.#bytes;
  }

  /**
   * The points per committed batch for a streamed request while the writes now in flight share
   * {@linkcode IN_FLIGHT_BATCHES} full batches of `batchPoints`: one write alone keeps the full
   * batch, 64 at once each commit about an eighth of it (never fewer than
   * {@linkcode MIN_SHARED_BATCH_POINTS}). A decoded point costs about 1 KB of heap against
   * ~250 B of line protocol, so without this 64 writes of 5,000-line bodies held 64 whole
   * bodies as points (RSS 450 MiB against VictoriaMetrics' 160).
   */
  batchShare(batchPoints: number): number {
    const share = Math.floor(IN_FLIGHT_BATCHES * batchPoints / Math.max(1, this.#active));
    return Math.min(batchPoints, Math.max(MIN_SHARED_BATCH_POINTS, share));
  }

  /**
   * Admits a request that will hold up to `bytes` in memory; returns its release function
   * (idempotent). A single request larger than the whole budget is admitted when nothing
   * else runs, so a lone large write is never refused forever.
   * @throws {OverloadError} when the concurrency or byte bound would be exceeded.
   */
  admit(bytes: number): () => void {
    const reservation = this.admitStream(bytes);
    return () => reservation.release();
  }

  /**
   * Admits a streamed request that holds `initial` bytes now (its read buffer) and more as its
   * batches fill: what it holds counts against the byte bound, not the most it could ever hold,
   * so concurrent streams are not refused for memory they do not hold. An admitted stream is
   * never refused mid-body; while the bound is reached it commits smaller batches
   * ({@linkcode StreamReservation.short}), and new requests wait for room (429).
   * @throws {OverloadError} when the concurrency or byte bound would be exceeded.
   */
  admitStream(initial: number): StreamReservation {
    if (this.#active >= this.maxConcurrent) {
      throw new OverloadError(
        `too many concurrent writes (${this.#active}, the limit is ${this.maxConcurrent}): ` +
          `retry after ${this.retryAfterSeconds}s`,
        {
          retryAfterSeconds: this.retryAfterSeconds,
          details: { limit: this.maxConcurrent, active: this.#active },
        },
      );
    }
    if (this.#active > 0 && this.#bytes + initial > this.maxQueuedBytes) {
      throw new OverloadError(
        `too many bytes in flight (${this.#bytes} + ${initial}, the limit is ` +
          `${this.maxQueuedBytes}): retry after ${this.retryAfterSeconds}s`,
        {
          retryAfterSeconds: this.retryAfterSeconds,
          details: { limit: this.maxQueuedBytes, queued: this.#bytes },
        },
      );
    }
    this.#active++;
    this.#bytes += initial;
    let held = initial;
    let released = false;
    const short = () => this.#bytes >= this.maxQueuedBytes;
    return {
      hold: (bytes) => {
        if (released) return;
        this.#bytes += initial + bytes - held;
        held = initial + bytes;
      },
      get short() {
        return short();
      },
      release: () => {
        if (released) return;
        released = true;
        this.#active--;
        this.#bytes -= held;
      },
    };
  }
}
