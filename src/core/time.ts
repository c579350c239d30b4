/**
 * Time in EpochNexus is int64 nanoseconds since the Unix epoch. A JS number holds integers
 * exactly only up to 2^53 (104 days of nanoseconds), so hot paths carry an instant as two
 * numbers:
 *
 * - `ms`: whole milliseconds since the epoch, `Math.floor(ns / 1e6)` (exact up to ±285,000 years);
 * - `subMs`: the nanoseconds past that millisecond, always `0 <= subMs < 1e6`.
 *
 * Comparisons compare `ms` first, then `subMs`. Differences of two instants less than 104 days
 * apart are exact as `(ms1 - ms0) * 1e6 + (subMs1 - subMs0)`. BigInt is used only at the edges
 * (parsing query literals, printing epochs) through the helpers below, never per point in a loop.
 *
 * @module
 */

import { ValidationError } from "./errors.ts";

/** Nanoseconds in one millisecond. */
export const NS_PER_MS = 1_000_000;

/** The earliest instant InfluxDB accepts: math.MinInt64 + 2 nanoseconds. */
export const MIN_TIME_NS = -9223372036854775806n;
/** The latest instant InfluxDB accepts: math.MaxInt64 - 1 nanoseconds. */
export const MAX_TIME_NS = 9223372036854775806n;

/** An instant as a pair (see the module doc). Used where an object is convenient. */
export interface Instant {
  ms: number;
  subMs: number;
}

/** Timestamp precisions accepted by the write APIs, and nanoseconds per unit. */
export const PRECISION_NS = {
  ns: 1n,
  n: 1n,
  u: 1_000n,
  "µ": 1_000n,
  us: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
} as const;

/** A precision name accepted by {@linkcode PRECISION_NS}. */
export type Precision = keyof typeof PRECISION_NS;

/** True when `name` is a precision the write APIs accept. */
export function isPrecision(name: string): name is Precision {
  return Object.hasOwn(PRECISION_NS, name);
}

/** Splits int64 nanoseconds into an {@linkcode Instant}. */
export function instantFromNanos(ns: bigint): Instant {
  let ms = ns / 1_000_000n;
  let sub = ns % 1_000_000n;
  if (sub < 0n) {
    sub += 1_000_000n;
    ms -= 1n;
  }
  return { ms: Number(ms), subMs: Number(sub) };
}

/** Joins an instant back into int64 nanoseconds. */
export function nanosOf(ms: number, subMs: number): bigint {
  return BigInt(ms) * 1_000_000n + BigInt(subMs);
}

/** Compares two instants: negative, zero or positive. */
export function compareInstants(aMs: number, aSub: number, bMs: number, bSub: number): number {
  return aMs !== bMs ? aMs - bMs : aSub - bSub;
}

/** The decimal nanosecond string of an instant, exact, without BigInt for positive times. */
export function nanosString(ms: number, subMs: number): string {
  if (ms > 0) return `${ms}${String(subMs).padStart(6, "0")}`;
  if (ms === 0) return String(subMs);
  return nanosOf(ms, subMs).toString();
}

/** Throws unless `ns` lies in the range InfluxDB accepts. */
export function checkTimeRange(ns: bigint, where = "timestamp"): void {
  if (ns < MIN_TIME_NS || ns > MAX_TIME_NS) {
    throw new ValidationError(
      `${where} ${ns} is outside the valid range [${MIN_TIME_NS}, ${MAX_TIME_NS}] nanoseconds`,
    );
  }
}

/**
 * Converts an integer timestamp in the given precision to an instant.
 * @throws {ValidationError} when the result is outside the int64 nanosecond range.
 */
export function instantFromInteger(value: bigint, precision: Precision): Instant {
  const ns = value * PRECISION_NS[precision];
  checkTimeRange(ns);
  return instantFromNanos(ns);
}

const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, "0"));

/**
 * Formats an instant as Go's RFC3339Nano does (InfluxDB's output): trailing zeros of the
 * fraction dropped, no fraction at all when zero, always UTC (`Z`).
 *
 * @example
 * ```ts
 * formatRFC3339Nano(1678886400000, 0); // "2023-03-15T13:20:00Z"
 * formatRFC3339Nano(1678886400123, 456000); // "2023-03-15T13:20:00.123456Z"
 * ```
 */
export function formatRFC3339Nano(ms: number, subMs: number): string {
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  const yyyy = year >= 0 && year <= 9999
    ? String(year).padStart(4, "0")
    : (year < 0 ? "-" : "+") + String(Math.abs(year)).padStart(6, "0");
  let out = `${yyyy}-${TWO_DIGITS[d.getUTCMonth() + 1]}-${TWO_DIGITS[d.getUTCDate()]}T${
    TWO_DIGITS[d.getUTCHours()]
  }:${TWO_DIGITS[d.getUTCMinutes()]}:${TWO_DIGITS[d.getUTCSeconds()]}`;
  const fracNs = (((ms % 1000) + 1000) % 1000) * NS_PER_MS + subMs;
  if (fracNs !== 0) out += "." + String(fracNs).padStart(9, "0").replace(/0+$/, "");
  return out + "Z";
}

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})?)?$/i;

/**
 * Parses an RFC3339 timestamp (with up to nanosecond fraction, `Z` or an offset), a
 * `YYYY-MM-DD HH:MM:SS[.fff]` time (UTC), or a bare date `YYYY-MM-DD` (midnight UTC),
 * to int64 nanoseconds. Returns `undefined` when the text is not of that shape.
 */
export function parseRFC3339Nanos(text: string): bigint | undefined {
  const m = RFC3339.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = "0", mi = "0", s = "0", frac = "", zone = "Z"] = m;
  const month = Number(mo), day = Number(d), hour = Number(h), minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) {
    return undefined;
  }
  const ms = Date.UTC(Number(y), month - 1, day, hour, minute, second);
  // Date.UTC rolls 2023-02-31 over into March; a real parser refuses it.
  if (new Date(ms).getUTCDate() !== day) return undefined;
  let offsetMinutes = 0;
  if (zone.toUpperCase() !== "Z") {
    const sign = zone[0] === "-" ? -1 : 1;
    offsetMinutes = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  }
  const fracNs = BigInt(frac.padEnd(9, "0") || "0");
  return BigInt(ms - offsetMinutes * 60_000) * 1_000_000n + fracNs;
}
