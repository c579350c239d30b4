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
