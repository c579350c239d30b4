/**
 * Query limits and the registry of running queries (SHOW QUERIES, KILL QUERY). The limits are
 * InfluxDB's coordinator settings (`max-select-series`, `max-select-point`,
 * `max-select-buckets`, `query-timeout`, `max-concurrent-queries`), 0 meaning unlimited; their
 * error texts are InfluxDB's. Two are EpochNexus's own, because one query must not take the
 * server down: the bytes of query text (`max_query_bytes`) and the memory a query may hold
 * (`max_query_memory_bytes`, {@linkcode QueryMemory}).
 *
 * @module
 */
import { EpochError, OverloadError, TooLargeError } from "../core/errors.ts";

/** Per-query limits; 0 (or absent) = unlimited. */
export interface QueryLimits {
  /** Series (groups of one shard) a SELECT may read. */
  maxSeries?: number;
  /** Points a SELECT may read. */
  maxPoints?: number;
  /** GROUP BY time buckets a SELECT may produce. */
  maxBuckets?: number;
  /** Wall-clock time a query may run, in ms. */
  timeoutMs?: number;
  /** Queries running at once; more are refused (429) by the registry. */
  maxConcurrent?: number;
  /** Bytes (UTF-8) of one request's query text. */
  maxQueryBytes?: number;
  /** Bytes one query may hold: buckets, rows, kept points ({@linkcode QueryMemory}). */
  maxMemoryBytes?: number;
}

/**
 * The limits a server applies unless configured otherwise (the config defaults of
 * `max_select_*`, `max_query_bytes`, `max_query_memory_bytes`): a dashboard never reaches them;
 * one query stays within a few hundred MB. A bucket holds a row of every group: 1,000,000 of
 * them is a year at 30 s, while a 1 s grid over 115 days (10 million rows, gigabytes) is refused.
 */
export const DEFAULT_QUERY_LIMITS: Readonly<QueryLimits> = {
  maxSeries: 1_000_000,
  maxPoints: 1_000_000_000,
  maxBuckets: 1_000_000,
  maxQueryBytes: 512 * 1024,
  maxMemoryBytes: 256 * 1024 * 1024,
};

/**
 * Refuses a query text longer than `maxQueryBytes` before it is parsed.
 * @throws {TooLargeError} naming the size and the limit.
 */
export function checkQuerySize(text: string, limits: QueryLimits | undefined): void {
  const max = limits?.maxQueryBytes ?? 0;
  // UTF-8 takes at least one byte per UTF-16 unit and at most three: count only in between.
  if (max <= 0 || text.length * 3 <= max) return;
  const bytes = new TextEncoder().encode(text).length;
  if (bytes <= max) return;
  throw new TooLargeError(`query is too long: ${bytes} bytes, max_query_bytes is ${max}`);
}

/**
 * The memory one query holds, as it materializes it: bucket states, result rows, raw rows,
 * points that functions keep (median, percentile ...), transformation inputs. Charges are
 * estimates of V8's sizes (see the constants beside the callers) and are never given back
 * within the query, so the total bounds what it holds at its peak; but a streamed raw SELECT
 * (raw_stream.ts) gives back each window of rows once it is encoded, and the coordinator gives
 * back the aggregate states of each group it has turned into rows (coordinator.ts finish). One meter serves every
 * statement and subquery of a request.
 */
export class QueryMemory {
  bytes = 0;
  constructor(readonly maxBytes: number) {}

  /**
   * Adds `n` bytes. @throws {TooLargeError} past the budget, naming it and the statement.
   */
  charge(n: number, statement: () => string): void {
    this.bytes += n;
    if (this.maxBytes > 0 && this.bytes > this.maxBytes) {
      let text = statement();
      if (text.length > 200) text = text.slice(0, 200) + "...";
      throw new TooLargeError(
        `query memory budget exceeded: ${text} needs more than ` +
          `${
            (this.maxBytes / 1048576).toFixed(0)
          } MiB (max_query_memory_bytes = ${this.maxBytes});` +
          " narrow the time range, use a larger GROUP BY time interval or fewer series",
      );
    }
  }

  /** Gives back `n` bytes charged before (rows a stream has handed on). */
  release(n: number): void {
    this.bytes -= n;
  }
}

/**
 * What a query stopped because its client went away (closed the connection) reads: counted
 * apart from kills and timeouts, and answered to no one.
 */
export const CLIENT_GONE_MESSAGE = "query abandoned: the client went away";

/** A query cut off by KILL QUERY, its deadline, or its client going away. */
export class QueryInterruptedError extends EpochError {
  constructor(message: string) {
    super("deadline_exceeded", message);
    this.name = "QueryInterruptedError";
  }
}

/** One running query as SHOW QUERIES lists it. */
export interface RunningQuery {
  id: number;
  text: string;
  database: string;
  startMs: number;
  controller: AbortController;
}

/**
 * The running queries of one server: ids, texts, start times and a way to stop each. The clock
 * is passed in (ms), so tests control durations.
 */
export class QueryRegistry {
  #next = 1;
  #running = new Map<number, RunningQuery>();
  readonly #now: () => number;
  readonly #maxConcurrent: number;

  constructor(options: { now: () => number; maxConcurrent?: number }) {
    this.#now = options.now;
    this.#maxConcurrent = options.maxConcurrent ?? 0;
  }

  /**
   * Registers a query; call the returned `done` when it ends.
   * @throws {OverloadError} when max-concurrent-queries are running already.
   */
  begin(text: string, database: string): RunningQuery & { done: () => void } {
    if (this.#maxConcurrent > 0 && this.#running.size >= this.#maxConcurrent) {
      throw new OverloadError(
        `max-concurrent-queries limit exceeded(${this.#running.size}, ${this.#maxConcurrent})`,
      );
    }
    const q: RunningQuery = {
      id: this.#next++,
      text,
      database,
      startMs: this.#now(),
      controller: new AbortController(),
    };
    this.#running.set(q.id, q);
    return { ...q, done: () => this.#running.delete(q.id) };
  }

  /** Queries running now. */
  get running(): number {
    return this.#running.size;
  }

  /** The running queries, oldest first, with their durations in ms. */
  list(): (RunningQuery & { durationMs: number })[] {
    const now = this.#now();
    return [...this.#running.values()].map((q) => ({ ...q, durationMs: now - q.startMs }));
  }

  /** Stops a query. @returns false when no query has that id. */
  kill(id: number): boolean {
    const q = this.#running.get(id);
    if (q === undefined) return false;
    q.controller.abort(new QueryInterruptedError("query killed"));
    return true;
  }
}

/** How long a query runs before it lets other work (requests, its own timeout) have a turn. */
const YIELD_EVERY_MS = 20;

/**
 * Work units between two reads of the clock: a series counts 1 (a cheap one costs less than
 * reading the clock), a block or a batch of points counts this whole ({@linkcode QueryBudget.batch}).
 */
const CLOCK_EVERY = 16;

/** Counts what a SELECT reads and stops it at its limits, deadline or kill. */
export class QueryBudget {
  series = 0;
  points = 0;
  /** Blocks answered from their statistics, without decoding. */
  summaryBlocks = 0;
  /** Bytes of aggregate states charged and not yet given back ({@linkcode chargeState}). */
  stateBytes = 0;
  /** Work units since the clock was last read. */
  #work = 0;
  #lastYield: number;
  readonly memory: QueryMemory;
  readonly #statement: () => string;
  readonly #monotonicMs: () => number;

  /**
   * @param memory the request's meter (a fresh one with the limits' budget when absent)
   * @param statement the statement's text, for the memory error (called only then)
   * @param monotonicMs elapsed time between yields (a simulation's virtual clock)
   */
  constructor(
    readonly limits: QueryLimits,
    readonly signal: AbortSignal | undefined,
    options: { memory?: QueryMemory; statement?: () => string; monotonicMs?: () => number } = {},
  ) {
    this.memory = options.memory ?? new QueryMemory(limits.maxMemoryBytes ?? 0);
    this.#statement = options.statement ?? (() => "the query");
    this.#monotonicMs = options.monotonicMs ?? (() => performance.now());
    this.#lastYield = this.#monotonicMs();
  }

  /** Charges bytes the query now holds. @throws {TooLargeError} past max_query_memory_bytes. */
  charge(bytes: number): void {
    this.memory.charge(bytes, this.#statement);
  }

  /**
   * Charges the bytes of aggregate states (buckets, kept points): the coordinator gives them
   * back as it turns the groups holding them into rows and drops them ({@linkcode releaseState}).
   * @throws {TooLargeError} past max_query_memory_bytes.
   */
  chargeState(bytes: number): void {
    this.stateBytes += bytes;
    this.memory.charge(bytes, this.#statement);
  }

  /** Gives back state bytes charged by {@linkcode chargeState}, once they are dropped. */
  releaseState(bytes: number): void {
    this.stateBytes -= bytes;
    this.memory.release(bytes);
  }

  /** Throws when the query was killed or ran past its deadline. */
  checkSignal(): void {
    if (this.signal?.aborted) {
      const r = this.signal.reason;
      throw r instanceof EpochError ? r : new QueryInterruptedError("query killed");
    }
  }

  /** Counts one series read. @throws {TooLargeError} beyond max-select-series. */
  addSeries(): void {
    this.series++;
    const max = this.limits.maxSeries ?? 0;
    if (max > 0 && this.series > max) {
      throw new TooLargeError(`max-select-series limit exceeded: (${this.series}/${max})`);
    }
  }

  /** Counts points read. @throws {TooLargeError} beyond max-select-point. */
  addPoints(n: number): void {
    this.points += n;
    const max = this.limits.maxPoints ?? 0;
    if (max > 0 && this.points > max) {
      // InfluxDB 1.6 spells it "exceeed".
      throw new TooLargeError(`max-select-point limit exceeed: (${this.points}/${max})`);
    }
  }

  /** Gives back bytes charged before (a streamed window of rows, once encoded). */
  release(bytes: number): void {
    this.memory.release(bytes);
  }

  /** Checks a bucket count. @throws {TooLargeError} beyond max-select-buckets. */
  checkBuckets(n: number): void {
    const max = this.limits.maxBuckets ?? 0;
    if (max > 0 && n > max) {
      throw new TooLargeError(`max-select-buckets limit exceeded: (${n}/${max})`);
    }
  }

  /**
   * After a series (or a cheap step): every 16 of them, lets the event loop run when the query
   * has run 20 ms since it last did, and notices a kill, the deadline or a client gone away.
   */
  async tick(): Promise<void> {
    this.checkSignal();
    if (++this.#work >= CLOCK_EVERY) await this.#yieldIfDue();
  }

  /**
   * After a block or a batch of points (work worth many series): reads the clock at once. A
   * query over a few long series ticks only a few times per series, and must still let the
   * event loop run: only there does a closed connection abort its signal.
   */
  async batch(): Promise<void> {
    this.checkSignal();
    await this.#yieldIfDue();
  }

  async #yieldIfDue(): Promise<void> {
    this.#work = 0;
    // Yield by elapsed time, not by count: a timer turn costs 1-4 ms (nested timers are
    // clamped to 4 ms), so yielding every 64 cheap series left a 20k-series query asleep for
    // most of its second.
    if (this.#monotonicMs() - this.#lastYield < YIELD_EVERY_MS) return;
    await new Promise((resolve) => setTimeout(resolve, 0));
    this.#lastYield = this.#monotonicMs();
    this.checkSignal();
  }
}

/** A query limit, as `/metrics` names it. */
export type QueryLimitName =
  | "max_select_series"
  | "max_select_points"
  | "max_select_buckets"
  | "max_query_memory_bytes"
  | "max_query_bytes"
  | "max_concurrent_queries"
  | "query_timeout"
  | "killed"
  | "abandoned";

/**
 * The limit a statement's (or a request's) error text says it hit, or undefined. The texts are
 * the ones thrown above (InfluxDB's where it has one), so this stays beside them.
 */
export function limitHit(message: string): QueryLimitName | undefined {
  if (message.startsWith("max-select-series limit")) return "max_select_series";
  if (message.startsWith("max-select-point limit")) return "max_select_points";
  if (message.startsWith("max-select-buckets limit")) return "max_select_buckets";
  if (message.startsWith("query memory budget exceeded")) return "max_query_memory_bytes";
  if (message.startsWith("query is too long")) return "max_query_bytes";
  if (message.startsWith("max-concurrent-queries limit")) return "max_concurrent_queries";
  if (message === "query-timeout limit exceeded") return "query_timeout";
  if (message === "query killed") return "killed";
  if (message === CLIENT_GONE_MESSAGE) return "abandoned";
  return undefined;
}
