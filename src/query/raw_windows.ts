/**
 * Time windows over one series for a streamed raw SELECT (raw_stream.ts): each window holds
 * about `want` points of the series' densest selected field, but whole blocks (a block holds
 * `segment_block_values`, 1000 by default), so the rows made from one window are bounded
 * whatever the range. The windows tile the range without a gap or overlap, so their sizes
 * decide only how much is held at once, never which rows are made or their order.
 *
 * Where the points lie comes from block statistics (counts and time bounds, nothing decoded).
 *
 * @module
 */
import type { FieldColumn, FieldPart } from "../core/column.ts";
import { instantFromNanos, nanosOf } from "../core/time.ts";

/** The parts of each selected field of one series over the plan's range, in time order. */
export type FieldParts = readonly (readonly FieldPart[])[];

/**
 * Cuts [minNs, maxNs] (both inclusive) into windows, from the start (`descending` false) or the
 * end. Each call of `next()` answers the next window, undefined once the range is done.
 */
export class SeriesWindows {
  #lo: bigint;
  #hi: bigint;
  #done = false;

  constructor(
    readonly parts: FieldParts,
    minNs: bigint,
    maxNs: bigint,
    readonly want: number,
    readonly descending: boolean,
    /** Cut inside decoded columns (they are held already), not only after a whole part. */
    readonly cutColumns = false,
  ) {
    this.#lo = minNs;
    this.#hi = maxNs;
    if (minNs > maxNs) this.#done = true;
  }

  next(): { minNs: bigint; maxNs: bigint } | undefined {
    if (this.#done) return undefined;
    if (!this.descending) {
      let end = this.#hi;
      for (const list of this.parts) {
        const at = endAfter(list, this.#lo, this.want, this.cutColumns);
        if (at !== undefined && at < end) end = at;
      }
      const w = { minNs: this.#lo, maxNs: end };
      if (end >= this.#hi) this.#done = true;
      else this.#lo = end + 1n;
      return w;
    }
    let start = this.#lo;
    for (const list of this.parts) {
      const at = startBefore(list, this.#hi, this.want, this.cutColumns);
      if (at !== undefined && at > start) start = at;
    }
    const w = { minNs: start, maxNs: this.#hi };
    if (start <= this.#lo) this.#done = true;
    else this.#hi = start - 1n;
    return w;
  }
}

/**
 * The end (ns, inclusive) of the first part that brings the points of `parts` at or after
 * `fromNs` to `want`; undefined when fewer remain. Windows end with a part, never inside one:
 * a block decoded for one window would be decoded again for the next (the block cache need not
 * keep it), so a window holds at least one block of a field.
 */
function endAfter(
  parts: readonly FieldPart[],
  fromNs: bigint,
  want: number,
  cut: boolean,
): bigint | undefined {
  let count = 0;
  for (const part of parts) {
    if (countOf(part) === 0) continue;
    const { first, last } = boundsOf(part);
    if (last < fromNs) continue;
    const n = first >= fromNs || part.kind === "summary"
      ? countOf(part)
      : countFrom(part.column, fromNs);
    if (count + n >= want) {
      if (!cut || part.kind === "summary") return last;
      const c = part.column;
      const i = c.length - n + (want - count) - 1;
      return nanosOf(c.timesMs[i], c.timesSubMs[i]);
    }
    count += n;
  }
  return undefined;
}

/** The mirror of {@linkcode endAfter}: the start of the part that reaches `want` before `toNs`. */
function startBefore(
  parts: readonly FieldPart[],
  toNs: bigint,
  want: number,
  cut: boolean,
): bigint | undefined {
  let count = 0;
  for (let p = parts.length - 1; p >= 0; p--) {
    const part = parts[p];
    if (countOf(part) === 0) continue;
    const { first, last } = boundsOf(part);
    if (first > toNs) continue;
    const n = last <= toNs || part.kind === "summary"
      ? countOf(part)
      : part.column.length - countFrom(part.column, toNs + 1n);
    if (count + n >= want) {
      if (!cut || part.kind === "summary") return first;
      const c = part.column;
      const i = n - (want - count);
      return nanosOf(c.timesMs[i], c.timesSubMs[i]);
    }
    count += n;
  }
  return undefined;
}

function boundsOf(part: FieldPart): { first: bigint; last: bigint } {
  if (part.kind === "summary") {
    return {
      first: nanosOf(part.minTimeMs, part.minTimeSubMs),
      last: nanosOf(part.maxTimeMs, part.maxTimeSubMs),
    };
  }
  const c = part.column;
  return {
    first: nanosOf(c.timesMs[0], c.timesSubMs[0]),
    last: nanosOf(c.timesMs[c.length - 1], c.timesSubMs[c.length - 1]),
  };
}

function countOf(part: FieldPart): number {
  return part.kind === "summary" ? part.count : part.column.length;
}

/** The points of a time-ordered column at or after `fromNs`. */
function countFrom(c: FieldColumn, fromNs: bigint): number {
  return c.length - firstAtOrAfter(c, fromNs);
}

/** The index of a time-ordered column's first point at or after `ns` (its length if none). */
export function firstAtOrAfter(c: FieldColumn, ns: bigint): number {
  // Compared as (ms, subMs) numbers: no bigint per probe.
  const { ms, subMs } = instantFromNanos(ns);
  let lo = 0, hi = c.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const t = c.timesMs[mid];
    if (t < ms || (t === ms && c.timesSubMs[mid] < subMs)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
