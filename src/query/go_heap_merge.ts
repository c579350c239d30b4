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
 * Merges sorted `inputs` as influxd's sortedMergeIterator does: the heap starts from the
 * inputs in the given order (empty ones left out), `less` is its strict order on heads.
 */
export function goHeapMerge<T>(inputs: readonly (readonly T[])[], less: (a: T, b: T) => boolean) {
  interface Item {
    input: readonly T[];
    at: number;
  }
  const items: Item[] = [];
  for (const input of inputs) if (input.length > 0) items.push({ input, at: 0 });
  const lt = (i: number, j: number) =>
    less(items[i].input[items[i].at], items[j].input[items[j].at]);
  const swap = (i: number, j: number) => {
    const t = items[i];
    items[i] = items[j];
    items[j] = t;
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
  const n = items.length;
  for (let i = Math.trunc(n / 2) - 1; i >= 0; i--) down(i, n);
  const out: T[] = [];
  while (items.length > 0) {
    // heap.Pop: the least to the end, sift the new root down, take the end.
    const last = items.length - 1;
    swap(0, last);
    down(0, last);
    const item = items.pop()!;
    out.push(item.input[item.at]);
    // The iterator's next point goes back on the heap (heap.Push: append, sift up).
    if (++item.at < item.input.length) {
      items.push(item);
      up(items.length - 1);
    }
  }
  return out;
}
