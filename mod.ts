/**
 * EpochNexus as a library: open a database folder in-process, write points, run InfluxQL.
 * The same durable engine as the server (WAL with fsync before a write resolves).
 *
 * @example
 * ```ts
 * import { openEpochNexus } from "./mod.ts";
 *
 * const db = await openEpochNexus({ path: "./data" });
 * await db.createDatabase("metrics");
 * await db.write("metrics", [
 *   { measurement: "cpu", tags: { host: "a" }, fields: { usage: 0.5, cores: 8n }, time: 1678886400000000000n },
 * ]);
 * await db.writeLineProtocol("metrics", "cpu,host=b usage=0.25 1678886400000000000");
 * const results = await db.query("SELECT mean(usage) FROM cpu GROUP BY host", { database: "metrics" });
 * console.log(results[0].series);
 * await db.close();
 * ```
 * @module
 */
import {
  EpochError,
  instantFromNanos,
  pointFromInput,
  type PointInput,
  type Precision,
  ValidationError,
} from "./src/core/mod.ts";
import {
  PointWriter as ClientPointWriter,
  type WriterEnvironment,
  type WriterOptions,
} from "./src/client/mod.ts";
import { parseLineProtocol } from "./src/ingest/mod.ts";
import {
  executeQuery,
  type PlainResult,
  plainResults,
  type PlainSeries,
  type StatementResult,
  type TimeFormat,
} from "./src/query/mod.ts";
import {
  consoleLogger,
  denoFileSystem,
  httpFetch,
  lockDataDir,
  systemClock,
  systemRng,
} from "./src/runtime/mod.ts";
import { StorageEngine, type WriteOutcome } from "./src/storage/mod.ts";

/** The results of a request, one per statement; times as {@linkcode QueryOptions.times} says. */
export type QueryResult = PlainResult[];

export { EpochError, ValidationError };
export type { PlainResult, PlainSeries, PointInput, StatementResult, TimeFormat, WriteOutcome };
export {
  BufferFullError,
  type WriteFailure,
  type WriterEnvironment,
  type WriterOptions,
  type WriterReport,
} from "./src/client/mod.ts";

/** The environment of a {@linkcode PointWriter} in this process: fetch, the clock, timers. */
export const systemWriterEnvironment: WriterEnvironment = {
  fetch: (input, init) => httpFetch(input, init),
  clock: systemClock,
  random: systemRng,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * The client writer (src/client): buffered, batched writes to a server with retries, taking
 * points in the {@linkcode PointInput} shape. Without an environment it uses this process's.
 *
 * @example
 * ```ts
 * import { PointWriter } from "./mod.ts";
 *
 * const writer = new PointWriter({ url: "http://localhost:8080", database: "metrics" });
 * await writer.write({ measurement: "cpu", tags: { host: "a" }, fields: { usage: 0.5 } });
 * const report = await writer.close(); // flushes; report.failed === 0 when all was written
 * ```
 */
export class PointWriter extends ClientPointWriter {
  constructor(options: WriterOptions, env: WriterEnvironment = systemWriterEnvironment) {
    super(options, env);
  }
}

/** Options of {@linkcode EpochNexus.query}. */
export interface QueryOptions {
  /** The database of statements that do not name one. */
  database?: string;
  /**
   * The time column as RFC3339 strings (`"2023-03-15T13:20:00Z"`, InfluxDB's JSON) or as bigint
   * nanoseconds since the epoch (`1678886400000000000n`, exact). @default {"rfc3339"}
   */
  times?: TimeFormat;
}

/** Options of {@linkcode openEpochNexus}. */
export interface OpenOptions {
  /** The data folder (created when missing). */
  path: string;
  /** Log to stderr. @default {false} */
  log?: boolean;
}

/** An open database folder. */
export interface EpochNexus {
  createDatabase(name: string): Promise<void>;
  /** Writes points; resolves once they are durable. Rejected points are listed, not thrown. */
  write(database: string, points: PointInput[]): Promise<WriteOutcome>;
  /** Writes InfluxDB line protocol; lines that do not parse are listed in `rejected`. */
  writeLineProtocol(
    database: string,
    text: string,
    options?: { precision?: Precision; retentionPolicy?: string },
  ): Promise<WriteOutcome>;
  /** Runs InfluxQL statements. */
  query(text: string, options?: QueryOptions): Promise<QueryResult>;
  /** Flushes and closes the folder. */
  close(): Promise<void>;
}

/**
 * Opens (or creates) a database folder.
 * @throws {CorruptionError} when its write-ahead log is damaged other than at the tail.
 * @throws {DataDirLockedError} when another process (or another open here) holds the folder.
 */
export async function openEpochNexus(options: OpenOptions): Promise<EpochNexus> {
  const logger = options.log ? consoleLogger() : { info() {}, warn() {}, error() {} };
  // One process (and one open) per folder: a second writer would lose acknowledged points.
  const lock = await lockDataDir(options.path);
  let engine: StorageEngine;
  try {
    engine = await StorageEngine.open({
      dir: options.path,
      fs: denoFileSystem,
      clock: systemClock,
      logger,
    });
  } catch (error) {
    lock.release();
    throw error;
  }
  return {
    createDatabase: (name) => engine.createDatabase(name),
    write(database, points) {
      const nowNs = systemClock.nowNanos();
      return engine.write(database, undefined, points.map((p, i) => pointFromInput(p, i, nowNs)));
    },
    async writeLineProtocol(database, text, opts = {}) {
      const parsed = parseLineProtocol(new TextEncoder().encode(text), {
        precision: opts.precision ?? "ns",
        defaultTime: instantFromNanos(systemClock.nowNanos()),
      });
      const outcome = parsed.points.length
        ? await engine.write(database, opts.retentionPolicy, parsed.points)
        : { accepted: 0, rejected: [] };
      return {
        accepted: outcome.accepted,
        rejected: [
          ...parsed.errors.map((e) => ({
            index: e.line - 1,
            reason: `line ${e.line}, column ${e.column}: ${e.reason}`,
          })),
          ...outcome.rejected,
        ],
      };
    },
    query: async (text, opts = {}) =>
      plainResults(
        await executeQuery(engine, text, {
          database: opts.database,
          nowNs: systemClock.nowNanos(),
        }),
        opts.times ?? "rfc3339",
      ),
    async close() {
      try {
        await engine.close();
      } finally {
        lock.release();
      }
    },
  };
}
