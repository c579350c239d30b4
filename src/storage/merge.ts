/**
 * Column algebra of the read path: merging sorted, deduplicated columns from several sources
 * (the newer source wins at equal timestamps), cutting time ranges out (tombstones), and
 * concatenating blocks.
 * @module
 */
import type { FieldValue } from "../core/mod.ts";
import type { ColumnView } from "./column.ts";

/** A time range, both ends inclusive, as (ms, subMs) pairs. */
export interface TimeRange {
  minMs: number;
  minSub: number;
  maxMs: number;
  maxSub: number;
}

function before(aMs: number, aSub: number, bMs: number, bSub: number): boolean {
  return aMs < bMs || (aMs === bMs && aSub < bSub);
}

/** True when the instant lies in the range. */
export function inRange(ms: number, sub: number, r: TimeRange): boolean {
  return !before(ms, sub, r.minMs, r.minSub) && !before(r.maxMs, r.maxSub, ms, sub);
}

/** True when [aMin, aMax] and the range overlap. */
export function overlaps(
  aMinMs: number,
  aMinSub: number,
  aMaxMs: number,
  aMaxSub: number,
  r: TimeRange,
): boolean {
  return !before(aMaxMs, aMaxSub, r.minMs, r.minSub) && !before(r.maxMs, r.maxSub, aMinMs, aMinSub);
}

/** True when [aMin, aMax] lies entirely inside the range. */
export function contains(
  r: TimeRange,
  aMinMs: number,
  aMinSub: number,
  aMaxMs: number,
  aMaxSub: number,
): boolean {
  return inRange(aMinMs, aMinSub, r) && inRange(aMaxMs, aMaxSub, r);
}

class ColumnBuilder {
  ms: Float64Array;
  sub: Float64Array;
  floats: Float64Array | undefined;
  others: FieldValue[] | undefined;
  n = 0;
  constructor(readonly template: ColumnView, capacity: number) {
    this.ms = new Float64Array(capacity);
    this.sub = new Float64Array(capacity);
    if (template.values instanceof Float64Array) this.floats = new Float64Array(capacity);
    else this.others = [];
  }
  push(c: ColumnView, i: number): void {
    this.ms[this.n] = c.timesMs[i];
    this.sub[this.n] = c.timesSubMs[i];
    if (this.floats) this.floats[this.n] = (c.values as Float64Array)[i];
    else this.others!.push(c.values[i]);
    this.n++;
  }
  done(): ColumnView {
    const n = this.n;
    return {
      type: this.template.type,
      length: n,
      timesMs: this.ms.subarray(0, n),
      timesSubMs: this.sub.subarray(0, n),
      values: this.floats ? this.floats.subarray(0, n) : this.others!,
    };
  }
}

/** Merges two sorted, deduplicated columns; at equal instants `newer` wins. */
export function mergeTwo(older: ColumnView, newer: ColumnView): ColumnView {
  if (older.length === 0) return newer;
  if (newer.length === 0) return older;
  // Disjoint in time (the common case): concatenate.
  const oLast = older.length - 1, nLast = newer.length - 1;
  if (
    before(older.timesMs[oLast], older.timesSubMs[oLast], newer.timesMs[0], newer.timesSubMs[0])
  ) {
    return concatColumns([older, newer]);
  }
  if (
    before(newer.timesMs[nLast], newer.timesSubMs[nLast], older.timesMs[0], older.timesSubMs[0])
  ) {
    return concatColumns([newer, older]);
  }
  const out = new ColumnBuilder(older, older.length + newer.length);
  let i = 0, j = 0;
  while (i < older.length && j < newer.length) {
    const oMs = older.timesMs[i], oSub = older.timesSubMs[i];
    const nMs = newer.timesMs[j], nSub = newer.timesSubMs[j];
    if (before(oMs, oSub, nMs, nSub)) out.push(older, i++);
    else if (before(nMs, nSub, oMs, oSub)) out.push(newer, j++);
    else {
      out.push(newer, j++);
      i++;
    }
  }
  while (i < older.length) out.push(older, i++);
  while (j < newer.length) out.push(newer, j++);
  return out.done();
}

/** Merges columns ordered oldest first. */
export function mergeColumns(columns: readonly ColumnView[]): ColumnView | undefined {
  let acc: ColumnView | undefined;
  for (const c of columns) acc = acc ? mergeTwo(acc, c) : c;
  return acc;
}

/** Concatenates columns already in time order and disjoint. */
export function concatColumns(columns: readonly ColumnView[]): ColumnView {
  if (columns.length === 1) return columns[0];
  const total = columns.reduce((n, c) => n + c.length, 0);
  const out = new ColumnBuilder(columns[0], total);
  // Whole arrays copied at once (memcpy), not point by point.
  for (const c of columns) {
    const n = c.length;
    out.ms.set(c.timesMs.subarray(0, n), out.n);
    out.sub.set(c.timesSubMs.subarray(0, n), out.n);
    if (out.floats) out.floats.set((c.values as Float64Array).subarray(0, n), out.n);
    else for (let i = 0; i < n; i++) out.others!.push(c.values[i]);
    out.n += n;
  }
  return out.done();
}

/** The column without the values inside any of the ranges. */
export function cutRanges(column: ColumnView, ranges: readonly TimeRange[]): ColumnView {
  if (ranges.length === 0 || column.length === 0) return column;
  let hit = false;
  for (const r of ranges) {
    if (
      overlaps(
        column.timesMs[0],
        column.timesSubMs[0],
        column.timesMs[column.length - 1],
        column.timesSubMs[column.length - 1],
        r,
      )
    ) hit = true;
  }
  if (!hit) return column;
  const out = new ColumnBuilder(column, column.length);
  outer: for (let i = 0; i < column.length; i++) {
    for (const r of ranges) if (inRange(column.timesMs[i], column.timesSubMs[i], r)) continue outer;
    out.push(column, i);
  }
  return out.done();
}
