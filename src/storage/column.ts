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
 * A field that few rows of its series carry (a wide, sparse series: each point names new fields)
 * is a sparse column, its rows and values listed, so that memory and work stay linear in the
 * values written: a dense column costs the series' capacity whatever it holds. A field born after
 * the series' first row starts sparse and turns dense once it holds half the rows; a dense column
 * left holding under a quarter of the rows turns sparse when the series grows.
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
/**
 * Rows a series has before its columns change between dense and sparse: below it a dense column
 * costs little, and small series keep the shape they were born with.
 */
const SHAPE_ROWS = 16;

/** A range of times, both ends inclusive, as (ms, subMs) pairs. */
export interface RowTimeRange {
  minMs: number;
  minSub: number;
  maxMs: number;
  maxSub: number;
}

// The entries of a column in SeriesColumns' flat column table.
const C_NAME = 0, C_TYPE = 1, C_SLOT = 2, C_ROWS = 3, C_COUNT = 4, STRIDE = 5;
/** C_SLOT of a dense column whose values are not floats (they are in `#extra`). */
const OTHERS = -1;
/** C_SLOT of a sparse column (its rows and values are in `#sparse`). */
const SPARSE = -2;

/** A sparse column: the rows that hold a value, ascending, and their values. */
interface SparseColumn {
  rows: number[];
  values: FieldValue[];
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
  /**
   * The columns in order of creation (most points name their fields in that order), STRIDE
   * entries each: name, type, float slot in `data` (-1: values in `#extra`), rows accounted for
   * (the series' rows past them have no value in the column), values held (rows minus holes).
   * One flat array instead of an object per column: 100k series of ten fields.
   */
  #cols: (string | number)[] = [];
  /**
   * Per column that needs them, at 2c and 2c + 1: its values when not floats, and its presence
   * map (1 where a row has a value), made at its first hole (most fields are in every point).
   */
  #extra: (FieldValue[] | Uint8Array | undefined)[] | undefined;
  /** Per sparse column c, at c: its rows and values. */
  #sparse: (SparseColumn | undefined)[] | undefined;
  /** Field name -> column, once the series has more than {@linkcode SCAN_FIELDS} fields. */
  #index: Map<string, number> | undefined;
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

  /** Number of fields (columns). */
  get fieldCount(): number {
    return this.#cols.length / STRIDE;
  }

  /** Field name -> column: new handles in a new Map on each call (for readers). */
  get fields(): Map<string, FieldColumnBuffer> {
    const out = new Map<string, FieldColumnBuffer>();
    const cols = this.#cols;
    for (let b = 0; b < cols.length; b += STRIDE) {
      out.set(cols[b] as string, new FieldColumnBuffer(this, b / STRIDE));
    }
    return out;
  }

  /** True when some column holds a value. */
  hasValues(): boolean {
    const cols = this.#cols;
    for (let b = 0; b < cols.length; b += STRIDE) {
      if ((cols[b + C_COUNT] as number) > 0) return true;
    }
    return false;
  }

  /** Field name -> sorted, deduplicated view, for every field holding values (a new Map). */
  views(): Map<string, ColumnView> {
    const out = new Map<string, ColumnView>();
    const cols = this.#cols;
    for (let b = 0; b < cols.length; b += STRIDE) {
      if ((cols[b + C_COUNT] as number) > 0) out.set(cols[b] as string, this.viewOf(b / STRIDE));
    }
    return out;
  }

  /** The column of a field (a new handle), or undefined. */
  column(field: string): FieldColumnBuffer | undefined {
    const c = this.#find(field);
    return c < 0 ? undefined : new FieldColumnBuffer(this, c);
  }

  /**
   * The column index of a field, or -1. `at` is the field's position in the point: most points
   * of a series name the same fields in the same order, so a hit is one string comparison.
   */
  fieldIndex(field: string, at: number): number {
    const b = at * STRIDE;
    if (b < this.#cols.length && this.#cols[b] === field) return at;
    return this.#find(field);
  }

  #find(field: string): number {
    if (this.#index !== undefined) return this.#index.get(field) ?? -1;
    const cols = this.#cols;
    for (let b = 0; b < cols.length; b += STRIDE) if (cols[b] === field) return b / STRIDE;
    return -1;
  }

  /** Like {@linkcode fieldIndex}, as a handle (tests, readers). */
  lookup(field: string, at: number): FieldColumnBuffer | undefined {
    const c = this.fieldIndex(field, at);
    return c < 0 ? undefined : new FieldColumnBuffer(this, c);
  }

  /** Like {@linkcode addField}, as a handle (tests, readers). */
  add(field: string, type: FieldType, _at?: number): FieldColumnBuffer {
    return new FieldColumnBuffer(this, this.addField(field, type));
  }

  /** Adds the column of a new field (the rows before it have no value in it); its index. */
  addField(field: string, type: FieldType): number {
    if (this.#find(field) >= 0) throw new Error(`BUG: field ${JSON.stringify(field)} exists`);
    const c = this.#cols.length / STRIDE;
    // Born after the series' first row: a hole already, and maybe one value among many rows.
    if (this.rows > 1) {
      this.#cols.push(field, type, SPARSE, 0, 0);
      (this.#sparse ??= [])[c] = { rows: [], values: [] };
    } else {
      let slot = OTHERS;
      if (type === FieldType.Float) {
        if (this.#floats === this.#slots) this.#resize(this.capacity, this.#slots * 2);
        slot = this.#floats++;
      }
      this.#cols.push(field, type, slot, 0, 0);
      if (slot < 0) (this.#extra ??= [])[2 * c] = [];
    }
    if (this.#index !== undefined) this.#index.set(field, c);
    else if (c + 1 > SCAN_FIELDS) {
      this.#index = new Map();
      for (let b = 0; b < this.#cols.length; b += STRIDE) {
        this.#index.set(this.#cols[b] as string, b / STRIDE);
      }
    }
    return c;
  }

  /** The name of column `c`. */
  nameOf(c: number): string {
    return this.#cols[c * STRIDE + C_NAME] as string;
  }

  /** The type of column `c`. */
  typeOf(c: number): FieldType {
    return this.#cols[c * STRIDE + C_TYPE] as FieldType;
  }

  /** Values held by column `c` (before duplicates of one time are merged). */
  lengthOf(c: number): number {
    return this.#cols[c * STRIDE + C_COUNT] as number;
  }

  #othersOf(c: number): FieldValue[] | undefined {
    return this.#extra?.[2 * c] as FieldValue[] | undefined;
  }

  #presentOf(c: number): Uint8Array | undefined {
    return this.#extra?.[2 * c + 1] as Uint8Array | undefined;
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
   * Sets the value of column `c` at row `row`, which must be the series' last row (or past the
   * column's rows).
   */
  setValue(c: number, row: number, value: FieldValue): void {
    const cols = this.#cols, b = c * STRIDE;
    const rows = cols[b + C_ROWS] as number;
    if (row < rows - 1) throw new Error(`BUG: value for row ${row} after row ${rows - 1}`);
    if (cols[b + C_SLOT] === SPARSE) return this.#setSparse(c, row, value);
    let present = this.#extra === undefined ? undefined : this.#presentOf(c);
    let count = cols[b + C_COUNT] as number;
    if (row === rows - 1) {
      // The same field twice in one point: the last value wins.
      if (present === undefined || present[row] === 1) count--;
    } else if (row > rows) present = this.#markHoles(c, rows, row);
    const slot = cols[b + C_SLOT] as number;
    if (slot >= 0) this.data[(2 + slot) * this.capacity + row] = value as number;
    else this.#othersOf(c)![row] = value;
    if (present !== undefined) {
      if (row >= present.length) {
        present = grownBytes(present, rows, this.capacity);
        this.#extra![2 * c + 1] = present;
      }
      present[row] = 1;
    }
    cols[b + C_ROWS] = row + 1;
    cols[b + C_COUNT] = count + 1;
  }

  #setSparse(c: number, row: number, value: FieldValue): void {
    const cols = this.#cols, b = c * STRIDE;
    const sparse = this.#sparse![c]!;
    // The same field twice in one point: the last value wins.
    if (row === (cols[b + C_ROWS] as number) - 1) sparse.values[sparse.values.length - 1] = value;
    else {
      sparse.rows.push(row);
      sparse.values.push(value);
    }
    cols[b + C_ROWS] = row + 1;
    const count = cols[b + C_COUNT] = sparse.rows.length;
    if (this.rows >= SHAPE_ROWS && count * 2 >= this.rows) this.#makeDense(c);
  }

  /** Turns sparse column `c` dense (it holds at least half the rows). */
  #makeDense(c: number): void {
    const cols = this.#cols, b = c * STRIDE;
    const { rows, values } = this.#sparse![c]!;
    this.#sparse![c] = undefined;
    let slot = OTHERS;
    if (cols[b + C_TYPE] === FieldType.Float) {
      if (this.#floats === this.#slots) this.#resize(this.capacity, this.#slots * 2);
      slot = this.#floats++;
    }
    const capacity = this.capacity, used = cols[b + C_ROWS] as number;
    const present = new Uint8Array(capacity);
    const others: FieldValue[] | undefined = slot < 0 ? new Array(used).fill(undefined) : undefined;
    const base = (2 + slot) * capacity;
    for (let i = 0; i < rows.length; i++) {
      present[rows[i]] = 1;
      if (others === undefined) this.data[base + rows[i]] = values[i] as number;
      else others[rows[i]] = values[i];
    }
    const extra = this.#extra ??= [];
    extra[2 * c] = others;
    extra[2 * c + 1] = present;
    cols[b + C_SLOT] = slot;
  }

  /** Turns dense column `c` sparse (it holds under a quarter of the rows). */
  #makeSparse(c: number): void {
    const cols = this.#cols, b = c * STRIDE;
    const used = cols[b + C_ROWS] as number, slot = cols[b + C_SLOT] as number;
    const present = this.#presentOf(c), others = this.#othersOf(c);
    const base = (2 + slot) * this.capacity;
    const sparse: SparseColumn = { rows: [], values: [] };
    for (let r = 0; r < used; r++) {
      if (present !== undefined && present[r] === 0) continue;
      sparse.rows.push(r);
      sparse.values.push(others === undefined ? this.data[base + r] : others[r]);
    }
    (this.#sparse ??= [])[c] = sparse;
    if (this.#extra !== undefined) this.#extra[2 * c] = this.#extra[2 * c + 1] = undefined;
    cols[b + C_SLOT] = SPARSE;
  }

  /** Rows [from, to) of column `c` have no value; its presence map. */
  #markHoles(c: number, from: number, to: number): Uint8Array {
    const capacity = this.capacity;
    let present = this.#presentOf(c);
    if (present === undefined) {
      present = new Uint8Array(capacity);
      present.fill(1, 0, from);
    } else if (to > present.length) {
      present = grownBytes(present, from, capacity);
    }
    present.fill(0, from, to);
    (this.#extra ??= [])[2 * c + 1] = present;
    const others = this.#othersOf(c);
    if (others !== undefined) {
      for (let r = from; r < to; r++) {
        others[r] = undefined!;
      }
    }
    return present;
  }

  /**
   * New `data` of `capacity` rows and `slots` float columns, the rows copied. Growing rows, the
   * columns left holding under a quarter of them turn sparse first, and the float columns that
   * stay are packed into the first slots.
   */
  #resize(capacity: number, slots: number): void {
    const old = this.data, oldCap = this.capacity, n = this.rows;
    const cols = this.#cols;
    if (capacity > oldCap && n >= SHAPE_ROWS) {
      let dense = 0;
      for (let b = 0; b < cols.length; b += STRIDE) {
        if (cols[b + C_SLOT] === SPARSE) continue;
        if ((cols[b + C_COUNT] as number) * 4 < n) this.#makeSparse(b / STRIDE);
        else if ((cols[b + C_SLOT] as number) >= 0) dense++;
      }
      // Room for the float columns that stay (a new one after the first rows starts sparse).
      slots = Math.max(1, Math.min(slots, dense));
    }
    // Carved too while small: an ArrayBuffer per series costs more than the rows a block keeps
    // alive after growth (measured: 6 points x 10 fields, 5.95 vs 6.09 KiB per series).
    const data = capacity * (2 + slots) <= SMALL_DOUBLES
      ? smallFloat64Array(capacity * (2 + slots))
      : new Float64Array(capacity * (2 + slots));
    data.set(old.subarray(0, n), 0);
    data.set(old.subarray(oldCap, oldCap + n), capacity);
    let floats = 0;
    for (let b = 0; b < cols.length; b += STRIDE) {
      const slot = cols[b + C_SLOT] as number;
      if (slot < 0) continue;
      const from = (2 + slot) * oldCap;
      data.set(old.subarray(from, from + n), (2 + floats) * capacity);
      cols[b + C_SLOT] = floats++;
    }
    this.#floats = floats;
    this.data = data;
    this.capacity = capacity;
    this.#slots = slots;
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
    const next = new Float64Array(data.length);
    // newRow[i]: the row old row i merges into.
    const newRow = new Int32Array(n);
    for (let g = 0; g < rows; g++) {
      const i = order[firsts[g]];
      next[g] = data[i];
      next[cap + g] = data[cap + i];
      const end = g + 1 < rows ? firsts[g + 1] : n;
      for (let k = firsts[g]; k < end; k++) newRow[order[k]] = g;
    }
    for (let c = 0; c < this.fieldCount; c++) {
      if (this.#cols[c * STRIDE + C_SLOT] === SPARSE) this.#moveSparse(c, newRow);
      else this.#reorder(c, order, firsts, n, next);
    }
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
    const next = new Float64Array(data.length);
    for (let r = 0; r < keep.length; r++) {
      next[r] = data[keep[r]];
      next[cap + r] = data[cap + keep[r]];
    }
    let dropped = 0;
    const firsts = keep.map((_, r) => r);
    const newRow = new Int32Array(n).fill(-1);
    for (let r = 0; r < keep.length; r++) newRow[keep[r]] = r;
    for (let c = 0; c < this.fieldCount; c++) {
      const before = this.lengthOf(c);
      if (this.#cols[c * STRIDE + C_SLOT] === SPARSE) this.#moveSparse(c, newRow);
      else this.#reorder(c, keep, firsts, keep.length, next);
      dropped += before - this.lengthOf(c);
    }
    this.data = next;
    this.rows = keep.length;
    return dropped;
  }

  /**
   * Rebuilds column `c` for new rows: new row g takes, of the old rows order[firsts[g]] up to
   * order[firsts[g + 1]] (exclusive; `n` ends the last), the last one holding a value. Float
   * values go to `next`, the series' new `data` (same shape as the current one).
   */
  #reorder(
    c: number,
    order: ArrayLike<number>,
    firsts: readonly number[],
    n: number,
    next: Float64Array,
  ): void {
    const rows = firsts.length;
    const cols = this.#cols, b = c * STRIDE;
    const data = this.data, capacity = this.capacity;
    const slot = cols[b + C_SLOT] as number, base = (2 + slot) * capacity;
    const others = this.#othersOf(c), present = this.#presentOf(c);
    const mine = cols[b + C_ROWS] as number;
    const nextOthers: FieldValue[] | undefined = slot < 0 ? new Array(rows) : undefined;
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
    if (nextOthers !== undefined || nextPresent !== undefined || present !== undefined) {
      const extra = this.#extra ??= [];
      extra[2 * c] = nextOthers;
      extra[2 * c + 1] = nextPresent;
    }
    cols[b + C_ROWS] = rows;
    cols[b + C_COUNT] = count;
  }

  /**
   * Moves sparse column `c` to new rows: old row i goes to `newRow[i]` (-1: dropped); of the old
   * rows that merge into one, the last written (the highest) wins. O(values log values): the
   * column's values, not the series' rows.
   */
  #moveSparse(c: number, newRow: Int32Array): void {
    const sparse = this.#sparse![c]!;
    const at: number[] = [];
    for (let i = 0; i < sparse.rows.length; i++) if (newRow[sparse.rows[i]] >= 0) at.push(i);
    // By new row, then by old row: the last of each new row is the last written.
    at.sort((x, y) =>
      newRow[sparse.rows[x]] - newRow[sparse.rows[y]] || sparse.rows[x] - sparse.rows[y]
    );
    const moved: SparseColumn = { rows: [], values: [] };
    for (let k = 0; k < at.length; k++) {
      const g = newRow[sparse.rows[at[k]]];
      if (k + 1 < at.length && newRow[sparse.rows[at[k + 1]]] === g) continue;
      moved.rows.push(g);
      moved.values.push(sparse.values[at[k]]);
    }
    this.#sparse![c] = moved;
    const b = c * STRIDE;
    this.#cols[b + C_ROWS] = moved.rows.length === 0 ? 0 : moved.rows[moved.rows.length - 1] + 1;
    this.#cols[b + C_COUNT] = moved.rows.length;
  }

  /** The sorted, deduplicated view of column `c` (sorting the rows first if needed). */
  viewOf(c: number): ColumnView {
    this.normalize();
    const cols = this.#cols, b = c * STRIDE;
    const type = cols[b + C_TYPE] as FieldType;
    const rows = cols[b + C_ROWS] as number, slot = cols[b + C_SLOT] as number;
    const data = this.data, cap = this.capacity;
    if (slot === SPARSE) return this.#sparseView(c, type);
    const present = this.#presentOf(c), others = this.#othersOf(c);
    const base = (2 + slot) * cap;
    if (present === undefined && rows === this.rows) {
      // Every row has a value: the series' times are this field's times.
      const [timesMs, timesSubMs] = this.timesView(rows);
      const values = slot >= 0 ? data.subarray(base, base + rows) : others!.slice(0, rows);
      return { type, length: rows, timesMs, timesSubMs, values };
    }
    const n = cols[b + C_COUNT] as number;
    const timesMs = new Float64Array(n), timesSubMs = new Float64Array(n);
    const floats = slot >= 0 ? new Float64Array(n) : undefined;
    const values: FieldValue[] | undefined = floats === undefined ? new Array(n) : undefined;
    let out = 0;
    for (let r = 0; r < rows; r++) {
      if (present !== undefined && present[r] === 0) continue;
      timesMs[out] = data[r];
      timesSubMs[out] = data[cap + r];
      if (floats) floats[out] = data[base + r];
      else values![out] = others![r];
      out++;
    }
    return { type, length: n, timesMs, timesSubMs, values: floats ?? values! };
  }

  /** The view of sparse column `c` (rows sorted already). */
  #sparseView(c: number, type: FieldType): ColumnView {
    const { rows, values } = this.#sparse![c]!;
    const data = this.data, cap = this.capacity, n = rows.length;
    const timesMs = new Float64Array(n), timesSubMs = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      timesMs[i] = data[rows[i]];
      timesSubMs[i] = data[cap + rows[i]];
    }
    const out = type === FieldType.Float ? Float64Array.from(values as number[]) : values.slice();
    return { type, length: n, timesMs, timesSubMs, values: out };
  }

  /** Bytes of memory held (an estimate for strings), for head size accounting. */
  get estimatedBytes(): number {
    let bytes = this.data.length * 8;
    for (let c = 0; c < this.fieldCount; c++) {
      const sparse = this.#sparse?.[c];
      if (sparse !== undefined) {
        bytes += sparse.rows.length * 24;
        continue;
      }
      if (this.#othersOf(c) !== undefined) {
        bytes += (this.#cols[c * STRIDE + C_ROWS] as number) * 16;
      }
      bytes += this.#presentOf(c)?.length ?? 0;
    }
    return bytes;
  }
}

/** One field of a {@linkcode SeriesColumns}: a handle on its column `index`. */
export class FieldColumnBuffer {
  constructor(readonly series: SeriesColumns, readonly index: number) {}

  /** The field's name. */
  get name(): string {
    return this.series.nameOf(this.index);
  }

  /** The field's type. */
  get type(): FieldType {
    return this.series.typeOf(this.index);
  }

  /** Number of values held (before duplicates of one time are merged). */
  get length(): number {
    return this.series.lengthOf(this.index);
  }

  /** Sets the value of row `row`, which must be the series' last row (or past this column's). */
  set(row: number, value: FieldValue): void {
    this.series.setValue(this.index, row, value);
  }

  /** The sorted, deduplicated view (sorting the series first when appends came out of order). */
  view(): ColumnView {
    return this.series.viewOf(this.index);
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
