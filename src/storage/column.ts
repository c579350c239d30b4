/**
 * The values of one series in memory: one row per point written, in arrival order, with the
 * point's time stored once for all its fields; each field a column of values aligned with the
 * rows. Readers get each field as a sorted view with one value per timestamp, the last write
 * winning. Sharing the times cuts the head's memory from 24 to about 10 bytes per value when
 * points carry ten fields, and appending a point writes its time once.
 *
 * The times and every float column of a series live in one Float64Array (column after column,
 * `capacity` rows each), and the columns in a plain array: a high-cardinality head holds 100k
 * series of one or two points, where a typed array, an ArrayBuffer and a Map per series and
 * field cost many times the values themselves.
 *
 * Views never change under a reader: appends write past the view's end, and a sort or a growth
 * builds new arrays instead of touching the old ones.
 *
 * @module
 */
import { type FieldColumn, FieldType, type FieldValue } from "../core/mod.ts";

/** A sorted, deduplicated, read-only view of a column (matches query's FieldColumn). */
export type ColumnView = FieldColumn;

/**
 * Rows of a new series (doubling after): high-cardinality data has one or two points per
 * series per head, and a series with thousands of points pays a dozen copies at most.
 */
const INITIAL_ROWS = 2;
/** Past this many fields a series finds its columns by a Map instead of a scan. */
const SCAN_FIELDS = 16;

/** A range of times, both ends inclusive, as (ms, subMs) pairs. */
export interface RowTimeRange {
  minMs: number;
  minSub: number;
  maxMs: number;
  maxSub: number;
}

/** The rows of one series and its field columns, appended in arrival order, sorted lazily. */
export class SeriesColumns {
  /** Rows appended (points; a row may hold duplicates of another's time until sorted). */
  rows = 0;
  /** @internal Rows each column of `data` has room for. */
  capacity: number;
  /**
   * @internal Times and float values: ms of the rows at [0, capacity), their sub-ms at
   * [capacity, 2 capacity), float column k at [(2 + k) capacity, (3 + k) capacity).
   */
  data: Float64Array;
  /** Float columns `data` has room for. */
  #slots: number;
  #floats = 0;
  /** Columns in order of creation; most points name their fields in that order. */
  #columns: FieldColumnBuffer[] = [];
  /** Field name -> column, once the series has more than {@linkcode SCAN_FIELDS} fields. */
  #index: Map<string, FieldColumnBuffer> | undefined;
  /** True while times are strictly increasing, so the rows are already what views show. */
  #sorted = true;
  /** The times of the last dense view, shared by the next ones while `data` and `rows` hold. */
  #viewMs: Float64Array | undefined;
  #viewSub: Float64Array | undefined;
  #viewData: Float64Array | undefined;

  /** @param floatFields float columns to make room for (the first point's). @default {1} */
  constructor(floatFields = 1) {
    this.capacity = INITIAL_ROWS;
    this.#slots = Math.max(1, floatFields);
    this.data = smallFloat64Array(INITIAL_ROWS * (2 + this.#slots));
  }

  /** Field name -> column: a new Map on each call (for readers; writers use lookup). */
  get fields(): Map<string, FieldColumnBuffer> {
    const out = new Map<string, FieldColumnBuffer>();
    for (const c of this.#columns) out.set(c.name, c);
    return out;
  }

  /**
   * @internal The times of rows [0, rows) as views into `data`, one pair shared by the views of
   * every dense field (a flush of 100k series takes ten views of each).
   */
  timesView(rows: number): [Float64Array, Float64Array] {
    const data = this.data;
    if (this.#viewData !== data || this.#viewMs!.length !== rows) {
      const cap = this.capacity;
      this.#viewMs = data.subarray(0, rows);
      this.#viewSub = data.subarray(cap, cap + rows);
      this.#viewData = data;
    }
    return [this.#viewMs!, this.#viewSub!];
  }

  /** The column of a field, or undefined. */
  column(field: string): FieldColumnBuffer | undefined {
    if (this.#index !== undefined) return this.#index.get(field);
    const columns = this.#columns;
    for (let i = 0; i < columns.length; i++) if (columns[i].name === field) return columns[i];
    return undefined;
  }

  /** Appends a row at (ms, subMs) and returns its index; out-of-order and duplicates accepted. */
  addRow(ms: number, subMs: number): number {
    const n = this.rows;
    if (n === this.capacity) this.#resize(n * 2, this.#slots);
    const data = this.data, cap = this.capacity;
    if (n > 0 && this.#sorted) {
      const lastMs = data[n - 1];
      if (ms < lastMs || (ms === lastMs && subMs <= data[cap + n - 1])) this.#sorted = false;
    }
    data[n] = ms;
    data[cap + n] = subMs;
    this.rows = n + 1;
    return n;
  }

  /**
   * The column of a field, or undefined. `at` is the field's position in the point: most points
   * of a series name the same fields in the same order, so a hit is one string comparison.
   */
  lookup(field: string, at: number): FieldColumnBuffer | undefined {
    const guess = this.#columns[at];
    if (guess !== undefined && guess.name === field) return guess;
    return this.column(field);
  }

  /** Adds the column of a new field (the rows before it have no value in it). */
  add(field: string, type: FieldType, _at?: number): FieldColumnBuffer {
    if (this.column(field) !== undefined) {
      throw new Error(`BUG: field ${JSON.stringify(field)} exists`);
    }
    let slot = -1;
    if (type === FieldType.Float) {
      if (this.#floats === this.#slots) this.#resize(this.capacity, this.#slots * 2);
      slot = this.#floats++;
    }
    const column = new FieldColumnBuffer(field, type, this, slot);
    this.#columns.push(column);
    if (this.#index !== undefined) this.#index.set(field, column);
    else if (this.#columns.length > SCAN_FIELDS) this.#index = this.fields;
    return column;
  }

  /** New `data` of `capacity` rows and `slots` float columns, the rows copied. */
  #resize(capacity: number, slots: number): void {
    const old = this.data, oldCap = this.capacity, n = this.rows;
    // Carved too while small: an ArrayBuffer per series costs more than the rows a block keeps
    // alive after growth (measured: 6 points x 10 fields, 5.95 vs 6.09 KiB per series).
    const data = capacity * (2 + slots) <= SMALL_DOUBLES
      ? smallFloat64Array(capacity * (2 + slots))
      : new Float64Array(capacity * (2 + slots));
    for (let k = 0; k < 2 + this.#floats; k++) {
      data.set(old.subarray(k * oldCap, k * oldCap + n), k * capacity);
    }
    this.data = data;
    this.capacity = capacity;
    this.#slots = slots;
  }

  /** A zeroed `data` of the same shape (for a sort or a delete). */
  #blank(): Float64Array {
    return new Float64Array(this.data.length);
  }

  /**
   * Sorts the rows by time and merges rows of equal time (each field keeps its last written
   * value), when appends came out of order. New arrays: views taken before keep theirs.
   */
  normalize(): void {
    if (this.#sorted) return;
    const n = this.rows, data = this.data, cap = this.capacity;
    const order = sortedRowOrder(data, cap, n);
    // firsts[g]: where in `order` the g-th distinct time starts.
    const firsts: number[] = [];
    for (let k = 0; k < n; k++) {
      const i = order[k];
      if (k === 0) firsts.push(k);
      else {
        const j = order[k - 1];
        if (data[i] !== data[j] || data[cap + i] !== data[cap + j]) firsts.push(k);
      }
    }
    const rows = firsts.length;
    const next = this.#blank();
    for (let g = 0; g < rows; g++) {
      const i = order[firsts[g]];
      next[g] = data[i];
      next[cap + g] = data[cap + i];
    }
    for (const column of this.#columns) column.reorder(order, firsts, n, next);
    this.data = next;
    this.rows = rows;
    this.#sorted = true;
  }

  /** Drops the rows whose time is in `range` (DELETE); returns the number of values dropped. */
  deleteRange(range: RowTimeRange): number {
    this.normalize();
    const n = this.rows, data = this.data, cap = this.capacity;
    const keep: number[] = [];
    for (let i = 0; i < n; i++) {
      const ms = data[i], sub = data[cap + i];
      const afterMin = ms > range.minMs || (ms === range.minMs && sub >= range.minSub);
      const beforeMax = ms < range.maxMs || (ms === range.maxMs && sub <= range.maxSub);
      if (!(afterMin && beforeMax)) keep.push(i);
    }
    if (keep.length === n) return 0;
    const next = this.#blank();
    for (let r = 0; r < keep.length; r++) {
      next[r] = data[keep[r]];
      next[cap + r] = data[cap + keep[r]];
    }
    let dropped = 0;
    const firsts = keep.map((_, r) => r);
    for (const column of this.#columns) {
      const before = column.length;
      column.reorder(keep, firsts, keep.length, next);
      dropped += before - column.length;
    }
    this.data = next;
    this.rows = keep.length;
    return dropped;
  }

  /** Bytes of memory held (an estimate for strings), for head size accounting. */
  get estimatedBytes(): number {
    let bytes = this.data.length * 8;
    for (const column of this.#columns) bytes += column.estimatedBytes;
    return bytes;
  }
}

/** One field of a {@linkcode SeriesColumns}: values aligned with the series' rows. */
export class FieldColumnBuffer {
  readonly name: string;
  readonly type: FieldType;
  readonly #series: SeriesColumns;
  /** The float column's index in the series' `data`; -1 for other types (in `#others`). */
  readonly #slot: number;
  #others: FieldValue[] | undefined;
  /** Rows this column has accounted for; the series' rows past them have no value here. */
  #rows = 0;
  /** Values held (rows accounted for minus holes). */
  #count = 0;
  /** 1 where a row has a value; made at the first hole (most fields are in every point). */
  #present: Uint8Array | undefined;

  constructor(name: string, type: FieldType, series: SeriesColumns, slot: number) {
    this.name = name;
    this.type = type;
    this.#series = series;
    this.#slot = slot;
    if (slot < 0) this.#others = [];
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
    const series = this.#series;
    if (this.#slot >= 0) series.data[(2 + this.#slot) * series.capacity + row] = value as number;
    else this.#others![row] = value;
    if (this.#present !== undefined) {
      if (row >= this.#present.length) {
        this.#present = grownBytes(this.#present, rows, series.capacity);
      }
      this.#present[row] = 1;
    }
    this.#rows = row + 1;
    this.#count++;
  }

  /** Rows [from, to) have no value. */
  #markHoles(from: number, to: number): void {
    const capacity = this.#series.capacity;
    if (this.#present === undefined) {
      this.#present = new Uint8Array(capacity);
      this.#present.fill(1, 0, from);
    } else if (to > this.#present.length) {
      this.#present = grownBytes(this.#present, from, capacity);
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
   * order[firsts[g + 1]] (exclusive; `n` ends the last), the last one holding a value. Float
   * values go to `next`, the series' new `data` (same shape as the current one).
   */
  reorder(
    order: ArrayLike<number>,
    firsts: readonly number[],
    n: number,
    next: Float64Array,
  ): void {
    const rows = firsts.length;
    const series = this.#series, data = series.data, capacity = series.capacity;
    const base = (2 + this.#slot) * capacity;
    const others = this.#others, present = this.#present;
    const mine = this.#rows;
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
      if (nextOthers === undefined) next[base + g] = data[base + from];
      else nextOthers[g] = others![from];
      count++;
    }
    this.#others = nextOthers;
    this.#present = nextPresent;
    this.#rows = rows;
    this.#count = count;
  }

  /** Bytes of memory held beyond the series' `data` (an estimate for strings). */
  get estimatedBytes(): number {
    return (this.#others ? this.#rows * 16 : 0) + (this.#present ? this.#present.length : 0);
  }

  /** The sorted, deduplicated view (sorting the series first when appends came out of order). */
  view(): ColumnView {
    const series = this.#series;
    series.normalize();
    const rows = this.#rows, present = this.#present;
    const data = series.data, cap = series.capacity, base = (2 + this.#slot) * cap;
    if (present === undefined && rows === series.rows) {
      // Every row has a value: the series' times are this field's times.
      const [timesMs, timesSubMs] = series.timesView(rows);
      return {
        type: this.type,
        length: rows,
        timesMs,
        timesSubMs,
        values: this.#slot >= 0 ? data.subarray(base, base + rows) : this.#others!.slice(0, rows),
      };
    }
    const n = this.#count;
    const timesMs = new Float64Array(n), timesSubMs = new Float64Array(n);
    const floats = this.#slot >= 0 ? new Float64Array(n) : undefined;
    const others: FieldValue[] | undefined = floats === undefined ? new Array(n) : undefined;
    let out = 0;
    for (let r = 0; r < rows; r++) {
      if (present !== undefined && present[r] === 0) continue;
      timesMs[out] = data[r];
      timesSubMs[out] = data[cap + r];
      if (floats) floats[out] = data[base + r];
      else others![out] = this.#others![r];
      out++;
    }
    return { type: this.type, length: n, timesMs, timesSubMs, values: floats ?? others! };
  }
}

/** Doubles per shared block of {@linkcode smallFloat64Array}. */
const BLOCK_DOUBLES = 8192;
/** Arrays up to this many doubles are carved out of shared blocks. */
const SMALL_DOUBLES = 128;
let block = new Float64Array(BLOCK_DOUBLES);
let blockUsed = 0;

/**
 * A zeroed array of `n` doubles; small ones are carved out of a shared block. A head of 100k
 * small series holds one array per series: one ArrayBuffer (and its allocation) per 200-byte
 * array cost more than the data. A block lives until the last array carved from it is gone
 * (growth replaces them with arrays of their own). Nothing may detach or resize `.buffer`.
 */
function smallFloat64Array(n: number): Float64Array {
  if (n > SMALL_DOUBLES) return new Float64Array(n);
  if (blockUsed + n > BLOCK_DOUBLES) {
    block = new Float64Array(BLOCK_DOUBLES);
    blockUsed = 0;
  }
  const out = block.subarray(blockUsed, blockUsed + n);
  blockUsed += n;
  return out;
}

/** A copy of `a[0, used)` in a new array of `capacity` bytes. */
function grownBytes(a: Uint8Array, used: number, capacity: number): Uint8Array {
  const b = new Uint8Array(capacity);
  b.set(a.subarray(0, used));
  return b;
}

/**
 * Row indexes in time order, stable by row (so among equal times the last written sorts last).
 * Times are ms at data[0, n) and sub-ms at data[cap, cap + n). Out-of-order rows mostly come as
 * a few sorted runs (concurrent writers interleave their requests), so the runs are found and
 * merged pairwise: O(n log runs), no comparator calls.
 */
function sortedRowOrder(data: Float64Array, cap: number, n: number): Uint32Array {
  const ms = data.subarray(0, n), sub = data.subarray(cap, cap + n);
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
