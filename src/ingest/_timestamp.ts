/**
 * Integer timestamps in a precision, converted to the `(ms, subMs)` pair of `core/time.ts`
 * straight from their decimal digits, so the hot path needs no BigInt: the digits above the
 * millisecond become `ms` and the digits below it become `subMs`. The range check compares
 * digit strings against the largest value the precision allows.
 *
 * @module
 */

import {
  type Instant,
  MAX_TIME_NS,
  MIN_TIME_NS,
  type Precision,
  PRECISION_NS,
} from "../core/mod.ts";

/** How one precision maps its integer timestamps onto `(ms, subMs)`. */
export interface PrecisionSpec {
  /** Nanoseconds per unit. */
  readonly unitNs: bigint;
  /** The decimal digits of the largest magnitude accepted: `floor(MAX_TIME_NS / unitNs)`. */
  readonly limit: string;
  /** How many trailing digits lie below one millisecond (ns: 6, µs: 3, coarser: 0). */
  readonly lowDigits: number;
  /** Nanoseconds per unit of those trailing digits (ns: 1, µs: 1000). */
  readonly lowScale: number;
  /** Milliseconds per unit for precisions of a millisecond or coarser. */
  readonly msPerUnit: number;
}

function makeSpec(unitNs: bigint): PrecisionSpec {
  const lowDigits = unitNs === 1n ? 6 : unitNs === 1000n ? 3 : 0;
  return {
    unitNs,
    limit: (MAX_TIME_NS / unitNs).toString(),
    lowDigits,
    lowScale: lowDigits === 6 ? 1 : 1000,
    msPerUnit: lowDigits === 0 ? Number(unitNs / 1_000_000n) : 0,
  };
}

const SPECS = new Map<Precision, PrecisionSpec>(
  (Object.keys(PRECISION_NS) as Precision[]).map((p) => [p, makeSpec(PRECISION_NS[p])]),
);

/** The conversion table of a precision. */
export function precisionSpec(precision: Precision): PrecisionSpec {
  const spec = SPECS.get(precision);
  if (spec === undefined) throw new Error(`BUG: unknown precision ${JSON.stringify(precision)}`);
  return spec;
}

/** The reason InfluxDB gives for a timestamp outside its range. */
export const TIME_RANGE_REASON = `time outside range ${MIN_TIME_NS} - ${MAX_TIME_NS}`;

/** A scratch instant that the conversion writes into (no allocation per point). */
export interface MutableInstant {
  ms: number;
  subMs: number;
}

const ZERO = 48;

/**
 * Converts the ASCII digits `bytes[start, end)` (at least one, leading zeros allowed) of an
 * integer timestamp in `spec`'s precision, negated when `negative`, into `out`.
 * Returns false when the instant lies outside InfluxDB's range.
 */
export function instantFromDigits(
  bytes: Uint8Array,
  start: number,
  end: number,
  negative: boolean,
  spec: PrecisionSpec,
  out: MutableInstant,
): boolean {
  while (start < end - 1 && bytes[start] === ZERO) start++;
  const n = end - start;
  const limit = spec.limit;
  if (n > limit.length) return false;
  if (n === limit.length) {
    for (let k = 0; k < n; k++) {
      const d = bytes[start + k], l = limit.charCodeAt(k);
      if (d !== l) {
        if (d > l) return false;
        break;
      }
    }
  }
  let ms = 0, sub = 0;
  if (spec.lowDigits === 0) {
    for (let k = start; k < end; k++) ms = ms * 10 + (bytes[k] - ZERO);
    ms *= spec.msPerUnit;
  } else {
    const split = end - spec.lowDigits;
    let k = start;
    for (; k < split; k++) ms = ms * 10 + (bytes[k] - ZERO);
    for (; k < end; k++) sub = sub * 10 + (bytes[k] - ZERO);
    sub *= spec.lowScale;
  }
  if (negative) {
    ms = -ms;
    if (sub !== 0) {
      sub = 1_000_000 - sub;
      ms -= 1;
    }
  }
  // `-0` would print as "0" but compares oddly with Object.is; keep a plain zero.
  out.ms = ms === 0 ? 0 : ms;
  out.subMs = sub;
  return true;
}

/** Truncates an instant to a whole number of units of `spec` (toward minus infinity). */
export function truncateInstant(time: Instant, spec: PrecisionSpec): Instant {
  if (spec.lowDigits === 6) return { ms: time.ms, subMs: time.subMs };
  if (spec.lowDigits === 3) return { ms: time.ms, subMs: time.subMs - (time.subMs % 1000) };
  const unit = spec.msPerUnit;
  const rem = ((time.ms % unit) + unit) % unit;
  return { ms: time.ms - rem, subMs: 0 };
}
