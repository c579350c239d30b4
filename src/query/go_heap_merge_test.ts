import assert from "node:assert/strict";
import { goHeapMerge, GoHeapMerger } from "./go_heap_merge.ts";

Deno.test("goHeapMerge: inputs whose heads tie come out in Go's container/heap order", () => {
  // Everything compares equal: the order is the heap's alone. Go's Init leaves [A, B, C]; Pop
  // swaps the root with the last item, so C's head comes right after A's first point, and A's
  // second point, pushed back at the end, before B's (traced by hand from container/heap).
  const out = goHeapMerge([["a1", "a2"], ["b1"], ["c1"]], () => false);
  assert.deepEqual(out, ["a1", "c1", "a2", "b1"]);
});

Deno.test("goHeapMerge: distinct keys are merged in order; empty inputs are left out", () => {
  const out = goHeapMerge([[1, 4, 9], [], [2, 3, 10], [5]], (a, b) => a < b);
  assert.deepEqual(out, [1, 2, 3, 4, 5, 9, 10]);
  assert.deepEqual(goHeapMerge<number>([], (a, b) => a < b), []);
});

Deno.test("GoHeapMerger: read in batches and taken in pieces, the same order as goHeapMerge", async () => {
  // A small LCG: the same cases every run.
  let seed = 12345;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  for (let round = 0; round < 300; round++) {
    // Few distinct times: many heads tie, so the order is the heap's own.
    const inputs = Array.from({ length: rand(9) }, (_, s) => {
      let t = 0;
      return Array.from({ length: rand(12) }, (_, i) => ({ t: t += rand(3), id: `${s}.${i}` }));
    });
    const less = (a: { t: number }, b: { t: number }) => a.t < b.t;
    const want = goHeapMerge(inputs, less);
    const batched = inputs.map((items) => {
      let at = 0;
      const input = {
        items: [] as typeof items,
        refill: () => {
          if (at >= items.length) return Promise.resolve(false);
          const n = 1 + rand(4);
          input.items = items.slice(at, at + n);
          at += n;
          return Promise.resolve(true);
        },
      };
      return input;
    });
    const merger = await GoHeapMerger.open(batched, less);
    const got: { t: number; id: string }[] = [];
    for (let k = 0; k < 1000 && !merger.done; k++) await merger.take(got, 1 + rand(5));
    assert.deepEqual(got.map((x) => x.id), want.map((x) => x.id), `round ${round}`);
  }
});
