/**
 * What a statement answers: the shape of InfluxDB 1.x's JSON results, before encoding.
 *
 * @module
 */
import type { ErrorCode } from "../core/errors.ts";
import type { Instant } from "../core/time.ts";

/** A cell of a result row. Integers are number when safe, bigint beyond. */
export type Value = number | bigint | string | boolean | null;

/** One series of a result: a measurement (or a SHOW listing), its group tags and rows. */
export interface ResultSeries {
  /** The measurement, or the listing's name (`databases`, `measurements` ...); omitted when "". */
  name: string;
  /** Group-by tags; omitted when absent. */
  tags?: Record<string, string>;
  columns: string[];
  /**
   * Rows. When {@linkcode ResultSeries.timeColumn} is true, `columns[0]` is `time` and the
   * first cell of every row is an {@linkcode Instant} (encoders format it), not a Value.
   */
  values: (Value | Instant)[][];
  /** True when the first column holds instants. */
  timeColumn: boolean;
  /** tz(): RFC3339 times are shown in this zone, with its offset. */
  timezone?: string;
}

/** The answer to one statement. */
export interface StatementResult {
  statementId: number;
  series?: ResultSeries[];
  /** InfluxDB's statement-level error text (`database not found: x`). */
  error?: string;
  /**
   * The failure's code (never sent to clients): callers that retry, such as the continuous
   * query schedule, tell a partition without a leader (`unavailable`) from a bad query.
   */
  errorCode?: ErrorCode;
  /** The HTTP status of the failure, for an answer that cannot carry it in its body (CSV). */
  errorStatus?: number;
  /** Informational messages (e.g. deprecation notices). */
  messages?: { level: string; text: string }[];
  /**
   * The series of a streamed raw SELECT, read as they are encoded instead of held (no `series`
   * then). Only the last statement of a request that asked for it streams (executor.ts).
   */
  stream?: SeriesStream;
}

/** One piece of a streamed answer: rows of a series, and whether they continue the last one. */
export interface SeriesPiece {
  series: ResultSeries;
  /** The rows continue the previous piece's series (its head is written once). */
  continues: boolean;
}

/**
 * The series of a statement, piece by piece, in the answer's order. Each piece is charged to
 * the query's memory budget while it is made and released when the next is asked for.
 */
export interface SeriesStream {
  /**
   * The next piece; undefined at the end.
   * @throws {EpochError} when the statement fails on the way (a limit, a kill, its deadline).
   */
  next(): Promise<SeriesPiece | undefined>;
  /** Ends the stream, early or not: the query stops and its registry entry is dropped. */
  close(): void;
}

/** True when `v` is an instant cell rather than a value. */
export function isInstant(v: Value | Instant): v is Instant {
  return typeof v === "object" && v !== null;
}
