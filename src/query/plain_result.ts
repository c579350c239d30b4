/**
 * Statement results for a JS program (the library's `db.query`): the time column as RFC3339
 * strings (as InfluxDB's JSON writes them, in the `tz()` zone when one was asked) or as bigint
 * nanoseconds since the epoch, exact. The engine's results carry instants that only encoders
 * read.
 * @module
 */
import { formatRFC3339Nano, nanosOf } from "../core/mod.ts";
import { isInstant, type StatementResult, type Value } from "./result.ts";
import { formatInZone } from "./zone.ts";

/** How times come out: `rfc3339` strings, or `ns` bigint nanoseconds. */
export type TimeFormat = "rfc3339" | "ns";

/** A series of a {@linkcode PlainResult}. */
export interface PlainSeries {
  /** The measurement, or the listing's name (`databases` ...). */
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  /** Rows; a `time` column holds strings (`rfc3339`) or bigints (`ns`). */
  values: Value[][];
}

/** The answer to one statement. */
export interface PlainResult {
  statementId: number;
  series?: PlainSeries[];
  /** The statement's error (`database not found: x`). */
  error?: string;
  messages?: { level: string; text: string }[];
}

/** `results` with their instants written as `times` says. */
export function plainResults(
  results: readonly StatementResult[],
  times: TimeFormat = "rfc3339",
): PlainResult[] {
  return results.map((r) => {
    const out: PlainResult = { statementId: r.statementId };
    if (r.error !== undefined) out.error = r.error;
    if (r.messages !== undefined) out.messages = r.messages;
    if (r.series !== undefined) {
      out.series = r.series.map((s) => {
        const series: PlainSeries = {
          name: s.name,
          columns: s.columns,
          values: s.values.map((row) =>
            row.map((v) =>
              !isInstant(v)
                ? v
                : times === "ns"
                ? nanosOf(v.ms, v.subMs)
                : s.timezone !== undefined
                ? formatInZone(v.ms, v.subMs, s.timezone)
                : formatRFC3339Nano(v.ms, v.subMs)
            )
          ),
        };
        if (s.tags !== undefined) series.tags = s.tags;
        return series;
      });
    }
    return out;
  });
}
