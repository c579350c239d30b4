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
  checkTimeRange,
  compactInteger,
  EpochError,
  type Field,
  FieldType,
  instantFromNanos,
  INT64_MAX,
  INT64_MIN,
  type Point,
  type Precision,
  sortTags,
  ValidationError,
} from "./src/core/mod.ts";
import { parseLineProtocol } from "./src/ingest/mod.ts";
import { executeQuery, type StatementResult } from "./src/query/mod.ts";

/** The results of a request, one per statement. */
export type QueryResult = StatementResult[];
import { consoleLogger, denoFileSystem, lockDataDir, systemClock } from "./src/runtime/mod.ts";
import { StorageEngine, type WriteOutcome } from "./src/storage/mod.ts";

export { EpochError, ValidationError };
export type { StatementResult, WriteOutcome };
/** The client writer: buffered, batched writes to a server with retries (src/client). */
export {
  BufferFullError,
  PointWriter,
  type WriteFailure,
  type WriterEnvironment,
  type WriterOptions,
  type WriterReport,
} from "./src/client/mod.ts";

/** A point as a JS program writes it. */
export interface PointInput {
  measurement: string;
  tags?: Record<string, string>;
  /** number → float, bigint → integer (int64), string, boolean. */
  fields: Record<string, number | bigint | string | boolean>;
  /** Nanoseconds since the epoch (bigint) or a Date; the current time when absent. */
  time?: bigint | Date;
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
  query(text: string, options?: { database?: string }): Promise<QueryResult>;
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
    write: (database, points) => engine.write(database, undefined, points.map(toPoint)),
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
    query: (text, opts = {}) =>
      executeQuery(engine, text, { database: opts.database, nowNs: systemClock.nowNanos() }),
    async close() {
      try {
        await engine.close();
      } finally {
        lock.release();
      }
    },
  };
}

function toPoint(input: PointInput, index: number): Point {
  if (!input.measurement) throw new ValidationError(`point ${index}: missing measurement`);
  const fields: Field[] = Object.entries(input.fields).map(([key, value]) => {
    switch (typeof value) {
      case "number":
        if (!Number.isFinite(value)) {
          throw new ValidationError(
            `point ${index}: field ${key} is ${value}, not a finite number`,
          );
        }
        return { key, type: FieldType.Float, value };
      case "bigint":
        if (value < INT64_MIN || value > INT64_MAX) {
          throw new ValidationError(`point ${index}: field ${key} = ${value} is outside int64`);
        }
        return { key, type: FieldType.Integer, value: compactInteger(value) };
      case "string":
        return { key, type: FieldType.String, value };
      case "boolean":
        return { key, type: FieldType.Boolean, value };
      default:
        throw new ValidationError(
          `point ${index}: field ${key} has unsupported type ${typeof value}`,
        );
    }
  });
  if (fields.length === 0) throw new ValidationError(`point ${index}: no fields`);
  const ns = input.time === undefined
    ? systemClock.nowNanos()
    : input.time instanceof Date
    ? BigInt(input.time.getTime()) * 1_000_000n
    : input.time;
  checkTimeRange(ns, `point ${index}: time`);
  const { ms, subMs } = instantFromNanos(ns);
  return {
    measurement: input.measurement,
    tags: sortTags(
      Object.entries(input.tags ?? {}).filter(([, v]) => v !== "").map(([key, value]) => ({
        key,
        value,
      })),
    ),
    fields,
    timeMs: ms,
    timeSubMs: subMs,
  };
}
