import assert from "node:assert/strict";
import { Histogram, LATENCY_BUCKETS } from "./histogram.ts";

Deno.test("histogram: each value lands in the first bucket whose bound it does not exceed", () => {
  const h = new Histogram([1, 10, 100]);
  for (const v of [0, 1, 1.5, 10, 11, 100, 101, 1e9, NaN]) h.observe(v);
  assert.deepEqual([...h.counts], [2, 2, 2, 2]);
  assert.equal(h.count, 8);
  assert.equal(h.sum, 0 + 1 + 1.5 + 10 + 11 + 100 + 101 + 1e9);
});

Deno.test("histogram: merge adds counts, sums and bucket counts; other bounds are a bug", () => {
  const a = new Histogram([1, 2]), b = new Histogram([1, 2]);
  a.observe(0.5);
  b.observe(1.5);
  b.observe(3);
  a.merge(b);
  assert.deepEqual([...a.counts], [1, 1, 1]);
  assert.equal(a.count, 3);
  assert.equal(a.sum, 5);
  assert.throws(() => a.merge(new Histogram([1])), /BUG: merging histograms/);
  assert.throws(() => new Histogram([2, 1]), /BUG: histogram bounds must ascend/);
  assert.ok(LATENCY_BUCKETS.every((b, i) => i === 0 || b > LATENCY_BUCKETS[i - 1]));
});
