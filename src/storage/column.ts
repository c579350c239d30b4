/**
 * The values of one series in memory: one row per point written, in arrival order, with the
 * point's time stored once for all its fields; each field a column of values aligned with the
 * rows. Readers get each field as a sorted view with one value per timestamp, the last write
 * winning. Sharing the times cuts the head's memory from 24 to about 10 bytes per value when
 * points carry ten fields, and appending a point writes its time once.
 *
 * Views never change under a reader: appends write past the view's end, and a sort or a growth
 * builds new arrays instead of touching the old ones.
 *
 * @module
 */
import { type FieldColumn, FieldType, type FieldValue } from "../core/mod.ts";

/** A sorted, deduplicated, read-only view of a column (matches query's FieldColumn). */
export type ColumnView = FieldColumn;

/** Rows of a new series (doubling after; high-cardinality data has few points per series). */
const INITIAL_ROWS = 8;

/** A range of times, both ends inclusive, as (ms, subMs) pairs. */
export interface RowTimeRange {
  minMs: number;
  minSub: number;
  maxMs: number;
  maxSub: number;
}

/** The rows of one series and its field columns, appended in arrival order, sorted lazily. */
export class SeriesColumns {
  /** Field name -> column. */
  readonly fields: Map<string, FieldColumnBuffer> = new Map();
  /** Rows appended (points; a row may hold duplicates of another's time until sorted). */
  rows = 0;
  /** @internal Times of the rows; read by the columns. */
  ms: Float64Array = smallFloat64Array(INITIAL_ROWS);
  /** @internal */
  sub: Float64Array = smallFloat64Array(INITIAL_ROWS);
  /** True while times are strictly increasing, so the rows are already what views show. */
  #sorted = true;
  // The columns of the last point's fields, by position: most points of a series name the same
  // fields in the same order, so this replaces a Map lookup per value by a string comparison.
  #shapeKeys: string[] = [];
  #shapeColumns: FieldColumnBuffer[] = [];

  /** Appends a row at (ms, subMs) and returns its index; out-of-order and duplicates accepted. */
  addRow(ms: number, subMs: number): number {
    const n = this.rows;
    if (n === this.ms.length) {
      this.ms = grown(this.ms, n, n * 2);
      this.sub = grown(this.sub, n, n * 2);
    }
    if (n > 0 && this.#sorted) {
      const lastMs = this.ms[n - 1];
      if (ms < lastMs || (ms === lastMs && subMs <= this.sub[n - 1])) this.#sorted = false;
    }
    this.ms[n] = ms;
    this.sub[n] = subMs;
    this.rows = n + 1;
    return n;
  }

  /**
   * The column of a field, or undefined. `at` is the field's position in the point: most points
   * of a series name the same fields in the same order, so a hit is one string comparison.
   */
  lookup(field: string, at: number): FieldColumnBuffer | undefined {
    if (this.#shapeKeys[at] === field) return this.#shapeColumns[at];
    const column = this.fields.get(field);
    if (column !== undefined) {
      this.#shapeKeys[at] = field;
      this.#shapeColumns[at] = column;
    }
    return column;
  }

  /** Adds the column of a new field (the rows before it have no value in it). */
  add(field: string, type: FieldType, at: number): FieldColumnBuffer {
    if (this.fields.has(field)) throw new Error(`BUG: field ${JSON.stringify(field)} exists`);
    const column = new FieldColumnBuffer(type, this);
    this.fields.set(field, column);
    this.#shapeKeys[at] = field;
    this.#shapeColumns[at] = column;
    return column;
  }

  /**
   * Sorts the rows by time and merges rows of equal time (each field keeps its last written
   * value), when appends came out of order. New arrays: views taken before keep theirs.
   */
  normalize(): void {
    if (this.#sorted) return;
    const n = this.rows, ms = this.ms, sub = this.sub;
    const order = sortedRowOrder(ms, sub, n);
    // firsts[g]: where in `order` the g-th distinct time starts.
    const firsts: number[] = [];
    for (let k = 0; k < n; k++) {
      const i = order[k];
      if (k === 0 || ms[i] !== ms[order[k - 1]] || sub[i] !== sub[order[k - 1]]) firsts.push(k);
    }
    const rows = firsts.length;
    const capacity = Math.max(INITIAL_ROWS, this.ms.length);
    const nextMs = new Float64Array(capacity), nextSub = new Float64Array(capacity);
    for (let g = 0; g < rows; g++) {
      const i = order[firsts[g]];
      nextMs[g] = ms[i];
      nextSub[g] = sub[i];
    }
    for (const column of this.fields.values()) column.reorder(order, firsts, n, capacity);
    this.ms = nextMs;
    this.sub = nextSub;
    this.rows = rows;
    this.#sorted = true;
  }

  /** Drops the rows whose time is in `range` (DELETE); returns the number of values dropped. */
  deleteRange(range: RowTimeRange): number {
    this.normalize();
    const n = this.rows, ms = this.ms, sub = this.sub;
    const keep: number[] = [];
    for (let i = 0; i < n; i++) {
      const afterMin = ms[i] > range.minMs || (ms[i] === range.minMs && sub[i] >= range.minSub);
      const beforeMax = ms[i] < range.maxMs || (ms[i] === range.maxMs && sub[i] <= range.maxSub);
      if (!(afterMin && beforeMax)) keep.push(i);
    }
    if (keep.length === n) return 0;
    const capacity = Math.max(INITIAL_ROWS, this.ms.length);
    const nextMs = new Float64Array(capacity), nextSub = new Float64Array(capacity);
    for (let r = 0; r < keep.length; r++) {
      nextMs[r] = ms[keep[r]];
      nextSub[r] = sub[keep[r]];
    }
    let dropped = 0;
    const firsts = keep.map((_, r) => r);
    for (const column of this.fields.values()) {
      const before = column.length;
      column.reorder(keep, firsts, keep.length, capacity);
      dropped += before - column.length;
    }
    this.ms = nextMs;
    this.sub = nextSub;
    this.rows = keep.length;
    return dropped;
  }

  /** Bytes of memory held (an estimate for strings), for head size accounting. */
  get estimatedBytes(): number {
    let bytes = this.ms.length * 16;
    for (const column of this.fields.values()) bytes += column.estimatedBytes;
    return bytes;
  }
}

/** One field of a {@linkcode SeriesColumns}: values aligned with the series' rows. */
export class FieldColumnBuffer {
  readonly type: FieldType;
  readonly #series: SeriesColumns;
  #floats: Float64Array | undefined;
  #others: FieldValue[] | undefined;
  /** Rows this column has accounted for; the series' rows past them have no value here. */
  #rows = 0;
  /** Values held (rows accounted for minus holes). */
  #count = 0;
  /** 1 where a row has a value; made at the first hole (most fields are in every point). */
  #present: Uint8Array | undefined;

  constructor(type: FieldType, series: SeriesColumns) {
    this.type = type;
    this.#series = series;
    if (type === FieldType.Float) this.#floats = smallFloat64Array(series.ms.length);
    else this.#others = [];
  }

  /** Number of values held (before duplicates of one time are merged). */
  get length(): number {
    return this.#count;
  }

  /** Sets the value of row `row`, which must be the series' last row (or past this column's). */
  set(row: number, value: FieldValue): void {
    const rows = this.#rows;
    if (row < rows - 1) throw new Error(`BUG: value for row ${row} after row ${rows - 1}`);
    if (row === rows - 1) {
      // The same field twice in one point: the last value wins.
      if (this.#present === undefined || this.#present[row] === 1) this.#count--;
    } else if (row > rows) this.#markHoles(rows, row);
    if (this.#floats !== undefined) {
      if (row >= this.#floats.length) {
        this.#floats = grown(this.#floats, rows, this.#series.ms.length);
      }
      this.#floats[row] = value as number;
    } else this.#others![row] = value;
    if (this.#present !== undefined) {
      if (row >= this.#present.length) {
        this.#present = grown(this.#present, rows, this.#series.ms.length);
      }
      this.#present[row] = 1;
    }
    this.#rows = row + 1;
    this.#count++;
  }

  /** Rows [from, to) have no value. */
  #markHoles(from: number, to: number): void {
    if (this.#present === undefined) {
      this.#present = new Uint8Array(this.#series.ms.length);
      this.#present.fill(1, 0, from);
    } else if (to > this.#present.length) {
      this.#present = grown(this.#present, from, this.#series.ms.length);
    }
    this.#present.fill(0, from, to);
    if (this.#others !== undefined) {
      for (let r = from; r < to; r++) {
        this.#others[r] = undefined!;
      }
    }
  }

  /**
   * Rebuilds the values for new rows: new row g takes, of the old rows order[firsts[g]] up to
   * order[firsts[g + 1]] (exclusive; `n` ends the last), the last one holding a value.
   */
  reorder(order: ArrayLike<number>, firsts: readonly number[], n: number, capacity: number): void {
    const rows = firsts.length;
    const floats = this.#floats, others = this.#others, present = this.#present;
    const mine = this.#rows;
    const nextFloats = floats !== undefined ? new Float64Array(capacity) : undefined;
    const nextOthers: FieldValue[] | undefined = others !== undefined ? new Array(rows) : undefined;
    let nextPresent: Uint8Array | undefined;
    let count = 0;
    for (let g = 0; g < rows; g++) {
      const end = g + 1 < rows ? firsts[g + 1] : n;
      let from = -1;
      for (let k = end - 1; k >= firsts[g]; k--) {
        const i = order[k];
        if (i < mine && (present === undefined || present[i] === 1)) {
          from = i;
          break;
        }
      }
      if (from < 0) {
        nextPresent ??= new Uint8Array(capacity).fill(1, 0, g);
        continue;
      }
      if (nextPresent !== undefined) nextPresent[g] = 1;
      if (nextFloats !== undefined) nextFloats[g] = floats![from];
      else nextOthers![g] = others![from];
      count++;
    }
    this.#floats = nextFloats;
    this.#others = nextOthers;
    this.#present = nextPresent;
    this.#rows = rows;
    this.#count = count;
  }

  /** Bytes of memory held (an estimate for strings), for head size accounting. */
  get estimatedBytes(): number {
    return (this.#floats ? this.#floats.length * 8 : this.#rows * 16) +
      (this.#present ? this.#present.length : 0);
  }

  /** The sorted, deduplicated view (sorting the series first when appends came out of order). */
  view(): ColumnView {
    const series = this.#series;
    series.normalize();
    const rows = this.#rows, present = this.#present;
    if (present === undefined && rows === series.rows) {
      // Every row has a value: the series' times are this field's times.
      return {
        type: this.type,
        length: rows,
        timesMs: series.ms.subarray(0, rows),
        timesSubMs: series.sub.subarray(0, rows),
        values: this.#floats ? this.#floats.subarray(0, rows) : this.#others!.slice(0, rows),
      };
    }
    const n = this.#count;
    const timesMs = new Float64Array(n), timesSubMs = new Float64Array(n);
    const floats = this.#floats ? new Float64Array(n) : undefined;
    const others: FieldValue[] | undefined = this.#others ? new Array(n) : undefined;
    let out = 0;
    for (let r = 0; r < rows; r++) {
      if (present !== undefined && present[r] === 0) continue;
      timesMs[out] = series.ms[r];
      timesSubMs[out] = series.sub[r];
      if (floats) floats[out] = this.#floats![r];
      else others![out] = this.#others![r];
      out++;
    }
    return { type: this.type, length: n, timesMs, timesSubMs, values: floats ?? others! };
  }
}

/** Doubles per shared block of {@linkcode smallFloat64Array}. */
const BLOCK_DOUBLES = 8192;
let block = new Float64Array(BLOCK_DOUBLES);
let blockUsed = 0;

/**
 * A zeroed array of `n` doubles; small ones are carved out of a shared block. A head of 100k
 * small series holds a dozen arrays per series: one ArrayBuffer (and its allocation) per 64-byte
 * array cost more than the data. A block lives until the last array carved from it is gone
 * (growth replaces them with arrays of their own). Nothing may detach or resize `.buffer`.
 */
function smallFloat64Array(n: number): Float64Array {
  if (n > INITIAL_ROWS * 4) return new Float64Array(n);
  if (blockUsed + n > BLOCK_DOUBLES) {
    block = new Float64Array(BLOCK_DOUBLES);
    blockUsed = 0;
  }
  const out = block.subarray(blockUsed, blockUsed + n);
  blockUsed += n;
  return out;
}

/** A copy of `a[0, used)` in a new array of `capacity` elements. */
function grown<T extends Float64Array | Uint8Array>(a: T, used: number, capacity: number): T {
  const b = new (a.constructor as new (n: number) => T)(capacity);
  b.set(a.subarray(0, used));
  return b;
}

/**
 * Row indexes in time order, stable by row (so among equal times the last written sorts last).
 * Out-of-order rows mostly come as a few sorted runs (concurrent writers interleave their
 * requests), so the runs are found and merged pairwise: O(n log runs), no comparator calls.
 */
function sortedRowOrder(ms: Float64Array, sub: Float64Array, n: number): Uint32Array {
  let order = new Uint32Array(n), spare = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const bounds: number[] = [0];
  for (let i = 1; i < n; i++) {
    if (ms[i] < ms[i - 1] || (ms[i] === ms[i - 1] && sub[i] < sub[i - 1])) bounds.push(i);
  }
  bounds.push(n);
  let runs = bounds;
  while (runs.length > 2) {
    const next: number[] = [0];
    for (let r = 0; r + 1 < runs.length; r += 2) {
      const lo = runs[r], mid = runs[r + 1], hi = r + 2 < runs.length ? runs[r + 2] : mid;
      let a = lo, b = mid, o = lo;
      while (a < mid && b < hi) {
        const x = order[a], y = order[b];
        // Ties take the left run: its rows came first.
        if (ms[y] < ms[x] || (ms[y] === ms[x] && sub[y] < sub[x])) spare[o++] = order[b++];
        else spare[o++] = order[a++];
      }
      while (a < mid) spare[o++] = order[a++];
      while (b < hi) spare[o++] = order[b++];
      next.push(hi);
    }
    [order, spare] = [spare, order];
    runs = next;
  }
  return order;
}

/** Index of the first entry at or after (ms, subMs) in sorted times. */
export function lowerBound(
  timesMs: Float64Array,
  timesSubMs: Float64Array,
  ms: number,
  subMs: number,
): number {
  let lo = 0, hi = timesMs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (timesMs[mid] < ms || (timesMs[mid] === ms && timesSubMs[mid] < subMs)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first entry strictly after (ms, subMs) in sorted times. */
export function upperBound(
  timesMs: Float64Array,
  timesSubMs: Float64Array,
  ms: number,
  subMs: number,
): number {
  let lo = 0, hi = timesMs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (timesMs[mid] < ms || (timesMs[mid] === ms && timesSubMs[mid] <= subMs)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The part of a sorted view within [min, max] (both inclusive), sharing its arrays. */
export function sliceView(
  view: ColumnView,
  minMs: number,
  minSub: number,
  maxMs: number,
  maxSub: number,
): ColumnView {
  const from = lowerBound(view.timesMs, view.timesSubMs, minMs, minSub);
  const to = upperBound(view.timesMs, view.timesSubMs, maxMs, maxSub);
  if (from === 0 && to === view.length) return view;
  const end = Math.max(from, to);
  return {
    type: view.type,
    length: end - from,
    timesMs: view.timesMs.subarray(from, end),
    timesSubMs: view.timesSubMs.subarray(from, end),
    values: view.values instanceof Float64Array
      ? view.values.subarray(from, end)
      : view.values.slice(from, end),
  };
}
