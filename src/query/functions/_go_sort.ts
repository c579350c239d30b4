/**
 * Go's `sort.Sort` as the Go that built influxd 1.6.7 implements it (quicksort with
 * median-of-three or ninther pivots, insertion sort under 13 elements, heapsort past the depth
 * limit). It is not stable; InfluxDB 1.6 sorts points with it before picking a mode or a
 * percentile, so which of several equal values' points wins depends on its exact swaps.
 * Replaying it gives the same point, hence the same time column.
 *
 * @module
 */

/** Sorts `data` in place with Go's unstable algorithm and the strict order `less`. */
export function goSort<T>(data: T[], less: (a: T, b: T) => boolean): void {
  const lt = (i: number, j: number) => less(data[i], data[j]);
  const swap = (i: number, j: number) => {
    const t = data[i];
    data[i] = data[j];
    data[j] = t;
  };
  const insertionSort = (a: number, b: number) => {
    for (let i = a + 1; i < b; i++) {
      for (let j = i; j > a && lt(j, j - 1); j--) swap(j, j - 1);
    }
  };
  const siftDown = (lo: number, hi: number, first: number) => {
    let root = lo;
    for (;;) {
      let child = 2 * root + 1;
      if (child >= hi) return;
      if (child + 1 < hi && lt(first + child, first + child + 1)) child++;
      if (!lt(first + root, first + child)) return;
      swap(first + root, first + child);
      root = child;
    }
  };
  const heapSort = (a: number, b: number) => {
    const first = a, hi = b - a;
    for (let i = Math.floor((hi - 1) / 2); i >= 0; i--) siftDown(i, hi, first);
    for (let i = hi - 1; i >= 0; i--) {
      swap(first, first + i);
      siftDown(0, i, first);
    }
  };
  const medianOfThree = (m1: number, m0: number, m2: number) => {
    if (lt(m1, m0)) swap(m1, m0);
    if (lt(m2, m1)) {
      swap(m2, m1);
      if (lt(m1, m0)) swap(m1, m0);
    }
  };
  const doPivot = (lo: number, hi: number): [number, number] => {
    const m = (lo + hi) >>> 1;
    if (hi - lo > 40) {
      const s = Math.floor((hi - lo) / 8);
      medianOfThree(lo, lo + s, lo + 2 * s);
      medianOfThree(m, m - s, m + s);
      medianOfThree(hi - 1, hi - 1 - s, hi - 1 - 2 * s);
    }
    medianOfThree(lo, m, hi - 1);
    const pivot = lo;
    let a = lo + 1, c = hi - 1;
    for (; a < c && lt(a, pivot); a++);
    let b = a;
    for (;;) {
      for (; b < c && !lt(pivot, b); b++);
      for (; b < c && lt(pivot, c - 1); c--);
      if (b >= c) break;
      swap(b, c - 1);
      b++;
      c--;
    }
    let protect = hi - c < 5;
    if (!protect && hi - c < Math.floor((hi - lo) / 4)) {
      let dups = 0;
      if (!lt(pivot, hi - 1)) {
        swap(c, hi - 1);
        c++;
        dups++;
      }
      if (!lt(b - 1, pivot)) {
        b--;
        dups++;
      }
      if (!lt(m, pivot)) {
        swap(m, b - 1);
        b--;
        dups++;
      }
      protect = dups > 1;
    }
    if (protect) {
      for (;;) {
        for (; a < b && !lt(b - 1, pivot); b--);
        for (; a < b && lt(a, pivot); a++);
        if (a >= b) break;
        swap(a, b - 1);
        a++;
        b--;
      }
    }
    swap(pivot, b - 1);
    return [b - 1, c];
  };
  const quickSort = (a: number, b: number, maxDepth: number) => {
    while (b - a > 12) {
      if (maxDepth === 0) {
        heapSort(a, b);
        return;
      }
      maxDepth--;
      const [mlo, mhi] = doPivot(a, b);
      if (mlo - a < b - mhi) {
        quickSort(a, mlo, maxDepth);
        a = mhi;
      } else {
        quickSort(mhi, b, maxDepth);
        b = mlo;
      }
    }
    // The influxd 1.6.7 build sorts short runs by insertion sort alone (no gap-6 shell pass,
    // which later Go releases added): verified on mode() ties against influxd 1.6.7.
    if (b - a > 1) insertionSort(a, b);
  };
  let depth = 0;
  for (let i = data.length; i > 0; i >>= 1) depth++;
  quickSort(0, data.length, depth * 2);
}
