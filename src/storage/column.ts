/**
 * One field of one series in memory: parallel arrays of times and values, appended in arrival
 * order and sorted lazily. Readers get a sorted view with one value per timestamp, the last
 * write winning.
 *
 * Views never change under a reader: appends write past the view's end, and a sort or a growth
 * builds new arrays instead of touching the old ones.
 *
 * @module
 */
import { type FieldColumn, FieldType, type FieldValue } from "../core/mod.ts";

/** A sorted, deduplicated, read-only view of a column (matches query's FieldColumn). */
export type ColumnView = FieldColumn;

const INITIAL_CAPACITY = 8;

/** An append-only, lazily sorted field column. */
export class FieldColumnBuffer {
  readonly type: FieldType;
  length = 0;
  #ms = new Float64Array(INITIAL_CAPACITY);
  #sub = new Float64Array(INITIAL_CAPACITY);
  #floats: Float64Array | undefined;
  #others: FieldValue[] | undefined;
  /** True while times are strictly increasing, so the arrays are already the view. */
  #sorted = true;

  constructor(type: FieldType) {
    this.type = type;
    if (type === FieldType.Float) this.#floats = new Float64Array(INITIAL_CAPACITY);
    else this.#others = [];
  }

  /** Appends one value; out-of-order and duplicate times are accepted. */
  append(ms: number, subMs: number, value: FieldValue): void {
    const n = this.length;
    if (n === this.#ms.length) this.#grow(n * 2);
    if (n > 0 && this.#sorted) {
      const lastMs = this.#ms[n - 1];
      if (ms < lastMs || (ms === lastMs && subMs <= this.#sub[n - 1])) this.#sorted = false;
    }
    this.#ms[n] = ms;
    this.#sub[n] = subMs;
    if (this.#floats) this.#floats[n] = value as number;
    else this.#others!.push(value);
    this.length = n + 1;
  }

  #grow(capacity: number): void {
    const grow = (a: Float64Array) => {
      const b = new Float64Array(capacity);
      b.set(a.subarray(0, this.length));
      return b;
    };
    this.#ms = grow(this.#ms);
    this.#sub = grow(this.#sub);
    if (this.#floats) this.#floats = grow(this.#floats);
  }

  /** Bytes of memory held (an estimate for strings), for head size accounting. */
  get estimatedBytes(): number {
    return this.#ms.length * (this.#floats ? 24 : 16) +
      (this.#others ? this.#others.length * 16 : 0);
  }

  /** The sorted, deduplicated view (sorting first when appends came out of order). */
  view(): ColumnView {
    if (!this.#sorted) this.#sortAndDedupe();
    const n = this.length;
    return {
      type: this.type,
      length: n,
      timesMs: this.#ms.subarray(0, n),
      timesSubMs: this.#sub.subarray(0, n),
      values: this.#floats ? this.#floats.subarray(0, n) : this.#others!.slice(0, n),
    };
  }

  /** Rebuilds the arrays in time order; for equal times the last appended value wins. */
  #sortAndDedupe(): void {
    const n = this.length;
    const ms = this.#ms, sub = this.#sub;
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    // Stable by arrival index, so among equal times the last write sorts last.
    order.sort((a, b) => ms[a] - ms[b] || sub[a] - sub[b] || a - b);
    const capacity = Math.max(INITIAL_CAPACITY, this.#ms.length);
    const nextMs = new Float64Array(capacity);
    const nextSub = new Float64Array(capacity);
    const nextFloats = this.#floats ? new Float64Array(capacity) : undefined;
    const nextOthers: FieldValue[] | undefined = this.#others ? [] : undefined;
    let out = 0;
    for (let k = 0; k < n; k++) {
      const i = order[k];
      const next = k + 1 < n ? order[k + 1] : -1;
      if (next >= 0 && ms[next] === ms[i] && sub[next] === sub[i]) continue; // a later write wins
      nextMs[out] = ms[i];
      nextSub[out] = sub[i];
      if (nextFloats) nextFloats[out] = this.#floats![i];
      else nextOthers!.push(this.#others![i]);
      out++;
    }
    this.#ms = nextMs;
    this.#sub = nextSub;
    this.#floats = nextFloats;
    this.#others = nextOthers;
    this.length = out;
    this.#sorted = true;
  }
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
