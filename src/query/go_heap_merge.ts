/**
 * Go's `container/heap` as influxd 1.6.7's sorted merge iterator drives it: the order in which
 * it interleaves several sorted inputs when their heads compare equal.
 *
 * InfluxDB merges the series of one shard with a heap of per-series iterators (Init, then Pop
 * the least head and Push its iterator back with its next point). Rows of equal time from
 * several series compare equal unless their leading string fields or tags differ, so their
 * order is whatever the heap's sift-up and sift-down leave, which this replays step for step
 * (`up`, `down`, `Init`, `Pop`, `Push` of Go's container/heap).
 *
 * @module
 */

/**
 * Visits the elements of sorted inputs in influxd's merge order without building them: input
 * `s` has `lengths[s]` elements, `less(sa, ia, sb, ib)` is the heap's strict order on element
 * `ia` of input `sa` and element `ib` of input `sb`, and `visit(s, i)` is called once per
 * element in the merged order. The heap starts from the inputs in the given order (empty ones
 * left out). Allocates per input, not per element.
 */
export function goHeapVisit(
  lengths: readonly number[],
  less: (sa: number, ia: number, sb: number, ib: number) => boolean,
  visit: (s: number, i: number) => void,
): void {
  const heap: number[] = [];
  const at = new Array<number>(lengths.length).fill(0);
  for (let s = 0; s < lengths.length; s++) if (lengths[s] > 0) heap.push(s);
  const lt = (i: number, j: number) => {
    const a = heap[i], b = heap[j];
    return less(a, at[a], b, at[b]);
  };
  const swap = (i: number, j: number) => {
    const t = heap[i];
    heap[i] = heap[j];
    heap[j] = t;
  };
  const up = (j: number) => {
    for (;;) {
      const i = Math.trunc((j - 1) / 2); // Go's integer division truncates toward zero
      if (i === j || !lt(j, i)) break;
      swap(i, j);
      j = i;
    }
  };
  const down = (i0: number, n: number) => {
    let i = i0;
    for (;;) {
      const j1 = 2 * i + 1;
      if (j1 >= n) break;
      let j = j1;
      const j2 = j1 + 1;
      if (j2 < n && lt(j2, j1)) j = j2;
      if (!lt(j, i)) break;
      swap(i, j);
      i = j;
    }
  };
  // heap.Init
  const n = heap.length;
  for (let i = Math.trunc(n / 2) - 1; i >= 0; i--) down(i, n);
  while (heap.length > 0) {
    // heap.Pop: the least to the end, sift the new root down, take the end.
    const last = heap.length - 1;
    swap(0, last);
    down(0, last);
    const s = heap.pop()!;
    visit(s, at[s]);
    // The iterator's next point goes back on the heap (heap.Push: append, sift up).
    if (++at[s] < lengths[s]) {
      heap.push(s);
      up(heap.length - 1);
    }
  }
}

/**
 * Merges sorted `inputs` as influxd's sortedMergeIterator does: the heap starts from the
 * inputs in the given order (empty ones left out), `less` is its strict order on heads.
 */
export function goHeapMerge<T>(
  inputs: readonly (readonly T[])[],
  less: (a: T, b: T) => boolean,
): T[] {
  const out: T[] = [];
  goHeapVisit(
    inputs.map((input) => input.length),
    (sa, ia, sb, ib) => less(inputs[sa][ia], inputs[sb][ib]),
    (s, i) => out.push(inputs[s][i]),
  );
  return out;
}

/** One sorted input of a {@linkcode GoHeapMerger}, held one batch at a time. */
export interface BatchedInput<T> {
  /** The batch held now (empty before the first refill). */
  readonly items: readonly T[];
  /** Replaces the batch with the input's next non-empty one; false when the input is done. */
  refill(): Promise<boolean>;
}

/**
 * {@linkcode goHeapMerge} over inputs read a batch at a time, handing the merged elements out
 * in pieces: the same heap steps on the same elements, so the same order, while only each
 * input's current batch is held. An input's next batch is loaded when its last element is
 * taken, before it goes back on the heap.
 */
export class GoHeapMerger<T> {
  readonly #inputs: readonly BatchedInput<T>[];
  readonly #less: (a: T, b: T) => boolean;
  readonly #heap: number[] = [];
  readonly #at: number[];

  private constructor(inputs: readonly BatchedInput<T>[], less: (a: T, b: T) => boolean) {
    this.#inputs = inputs;
    this.#less = less;
    this.#at = new Array<number>(inputs.length).fill(0);
  }

  /** Loads each input's first batch (in order) and builds the heap (heap.Init). */
  static async open<T>(
    inputs: readonly BatchedInput<T>[],
    less: (a: T, b: T) => boolean,
  ): Promise<GoHeapMerger<T>> {
    const m = new GoHeapMerger(inputs, less);
    for (let s = 0; s < inputs.length; s++) {
      if (inputs[s].items.length > 0 || await inputs[s].refill()) m.#heap.push(s);
    }
    const n = m.#heap.length;
    for (let i = Math.trunc(n / 2) - 1; i >= 0; i--) m.#down(i, n);
    return m;
  }

  /** True when every element was taken. */
  get done(): boolean {
    return this.#heap.length === 0;
  }

  /** Appends up to `max` next elements to `out`. */
  async take(out: T[], max: number): Promise<void> {
    const heap = this.#heap, at = this.#at, inputs = this.#inputs;
    for (let k = 0; k < max && heap.length > 0; k++) {
      const last = heap.length - 1;
      this.#swap(0, last);
      this.#down(0, last);
      const s = heap.pop()!;
      const input = inputs[s];
      out.push(input.items[at[s]]);
      if (++at[s] >= input.items.length) {
        if (!await input.refill()) continue;
        at[s] = 0;
      }
      heap.push(s);
      this.#up(heap.length - 1);
    }
  }

  #lt(i: number, j: number): boolean {
    const a = this.#heap[i], b = this.#heap[j];
    return this.#less(this.#inputs[a].items[this.#at[a]], this.#inputs[b].items[this.#at[b]]);
  }

  #swap(i: number, j: number): void {
    const h = this.#heap;
    const t = h[i];
    h[i] = h[j];
    h[j] = t;
  }

  #up(j: number): void {
    for (;;) {
      const i = Math.trunc((j - 1) / 2);
      if (i === j || !this.#lt(j, i)) break;
      this.#swap(i, j);
      j = i;
    }
  }

  #down(i: number, n: number): void {
    for (;;) {
      const j1 = 2 * i + 1;
      if (j1 >= n) break;
      let j = j1;
      const j2 = j1 + 1;
      if (j2 < n && this.#lt(j2, j1)) j = j2;
      if (!this.#lt(j, i)) break;
      this.#swap(i, j);
      i = j;
    }
  }
}
