import assert from "node:assert/strict";
import { goHeapMerge } from "./go_heap_merge.ts";

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
