/**
 * Timestamp traps: a client that sends seconds while the server reads nanoseconds (InfluxDB's
 * default) stores its points in January 1970; milliseconds sent with `precision=s` land beyond
 * the year 2262 and are refused as out of range. Both are a factor of 1000 or more away from
 * what was meant, so the mistake shows: the time lies decades from now, and the same digits
 * read in another precision land near now. This module names that precision, for a hint in an
 * error or a warning in an answer. Pure: the caller passes the current time.
 * @module
 */
import { type Point, type Precision, PRECISION_NS } from "../core/mod.ts";

/**
 * How far from now a time may lie before it looks like a precision mistake, and how close the
 * other reading must come: 30 years. Real data decades old stays quiet unless the same digits
 * happen to mean now in another unit (a factor of 1000 away: January 1970, or beyond 2262).
 */
export const FAR_FROM_NOW_MS = 30 * 365.25 * 86_400_000;

/** Precisions a hint may suggest, coarsest first. */
const CANDIDATES: readonly Precision[] = ["s", "ms", "u", "ns"];

const NAMES: Partial<Record<Precision, string>> = {
  s: "seconds",
  ms: "milliseconds",
  u: "microseconds",
  ns: "nanoseconds",
};

/** Milliseconds per unit of each precision (as a float: ns is 1e-6). */
function msPerUnit(precision: Precision): number {
  return Number(PRECISION_NS[precision]) / 1e6;
}

/**
 * The precision that puts `value` (a timestamp's digits, read as a number) near `nowMs`, when
 * reading it in `precision` puts it far from now; undefined when `precision` is plausible or no
 * other one is.
 *
 * @example
 * ```ts
 * precisionHint(1700000000, "ns", Date.now()); // "s"
 * precisionHint(1700000000000, "s", Date.now()); // "ms"
 * precisionHint(1, "ns", Date.now()); // undefined: 1970 in every unit
 * ```
 */
export function precisionHint(
  value: number,
  precision: Precision,
  nowMs: number,
): Precision | undefined {
  if (!Number.isFinite(value)) return undefined;
  if (Math.abs(value * msPerUnit(precision) - nowMs) <= FAR_FROM_NOW_MS) return undefined;
  for (const candidate of CANDIDATES) {
    if (PRECISION_NS[candidate] === PRECISION_NS[precision]) continue;
    if (Math.abs(value * msPerUnit(candidate) - nowMs) <= FAR_FROM_NOW_MS) return candidate;
  }
  return undefined;
}

/** The sentence of a hint: `timestamps look like seconds: pass precision=s`. */
export function precisionHintText(hint: Precision): string {
  return `timestamps look like ${NAMES[hint] ?? hint}: pass precision=${hint}`;
}

/** What {@linkcode farTimestamps} found in a batch. */
export interface FarTimestamps {
  /** Points whose time lies more than {@linkcode FAR_FROM_NOW_MS} from now. */
  count: number;
  /** The precision the first such point's digits suggest, if one does. */
  hint?: Precision;
}

/**
 * Counts the points of a batch that lie far from now and suggests a precision from the first
 * one (its time read back as digits of `precision`). One comparison per point; the hint is
 * worked out once.
 */
export function farTimestamps(
  points: readonly Point[],
  precision: Precision,
  nowMs: number,
): FarTimestamps {
  let count = 0;
  let first: Point | undefined;
  const lo = nowMs - FAR_FROM_NOW_MS, hi = nowMs + FAR_FROM_NOW_MS;
  for (let i = 0; i < points.length; i++) {
    const t = points[i].timeMs;
    if (t < lo || t > hi) {
      if (count++ === 0) first = points[i];
    }
  }
  if (first === undefined) return { count };
  const value = (first.timeMs + first.timeSubMs / 1e6) / msPerUnit(precision);
  const hint = precisionHint(value, precision, nowMs);
  return hint === undefined ? { count } : { count, hint };
}
