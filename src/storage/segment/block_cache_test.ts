import assert from "node:assert/strict";
import type { ColumnView } from "../column.ts";
import { BlockCache } from "./block_cache.ts";

const block = (length: number) => ({ length }) as ColumnView;

/** Reads keys 0..n-1 through the cache as a reader does (set after a miss); the hits. */
function scan(cache: BlockCache, n: number, values: number): number {
  let hits = 0;
  for (let i = 0; i < n; i++) {
    if (cache.get(`f@${i}`)) hits++;
    else cache.set(`f@${i}`, block(values));
  }
  return hits;
}

Deno.test("block cache: a scan repeated over more blocks than it holds keeps hitting what it holds", () => {
  // 1000 blocks held, 1080 scanned 40 times (a whole-data query run again and again), the
  // counts halved in the middle of passes.
  const cache = new BlockCache(1000 * 1000);
  assert.equal(scan(cache, 1080, 1000), 0);
  for (let pass = 2; pass <= 40; pass++) {
    const hits = scan(cache, 1080, 1000);
    assert.ok(hits >= 950, `pass ${pass}: ${hits} hits of 1080`);
    assert.ok(cache.size <= 1000 * 1000);
  }
});

Deno.test("block cache: a block asked for more often than the coldest one held replaces it", () => {
  const cache = new BlockCache(3 * 10);
  for (const k of ["a", "b", "c"]) {
    cache.get(k);
    cache.set(k, block(10));
  }
  // "d" is asked for once: no more often than "a" (the least recently used), so not admitted.
  assert.equal(cache.get("d"), undefined);
  cache.set("d", block(10));
  assert.equal(cache.get("d"), undefined); // the second time: 2 against 1, not enough
  cache.set("d", block(10));
  assert.equal(cache.get("d"), undefined); // the third time
  cache.set("d", block(10)); // now 3 against 1
  assert.ok(cache.get("d"));
  assert.equal(cache.get("a"), undefined);
  assert.ok(cache.get("b") && cache.get("c"));
  assert.equal(cache.size, 30);
});

Deno.test("block cache: counts fade, so a new working set takes over from an old one", () => {
  const cache = new BlockCache(50 * 10);
  for (let round = 0; round < 20; round++) scan(cache, 50, 10); // "f@0".."f@49", hot
  let hits = 0;
  for (let round = 0; round < 400; round++) {
    for (let i = 0; i < 50; i++) {
      const key = `g@${i}`;
      if (cache.get(key)) hits++;
      else cache.set(key, block(10));
    }
  }
  // The new set is held by the end: its last round hits every block.
  let last = 0;
  for (let i = 0; i < 50; i++) if (cache.get(`g@${i}`)) last++;
  assert.equal(last, 50, `${hits} hits over the rounds`);
});

Deno.test("block cache: the lookup counts stay bounded whatever number of blocks is scanned", () => {
  const cache = new BlockCache(100 * 10);
  scan(cache, 200_000, 10);
  assert.ok(cache.countedKeys <= 2 * 1024, `${cache.countedKeys} keys counted`);
});

Deno.test("block cache: a query type's blocks take over from the last type's within a few runs", () => {
  // 1000 blocks held; type A's 1000 blocks read 11 times (a warm-up and 10 runs), then type B's.
  const cache = new BlockCache(1000 * 10);
  const run = (prefix: string) => {
    let hits = 0;
    for (let i = 0; i < 1000; i++) {
      const key = `${prefix}@${i}`;
      if (cache.get(key)) hits++;
      else cache.set(key, block(10));
    }
    return hits;
  };
  for (let r = 0; r < 11; r++) run("a");
  const hits = [];
  for (let r = 0; r < 6; r++) hits.push(run("b"));
  assert.ok(hits[5] >= 900, `type B's hits per run: ${hits}`);
});

Deno.test("block cache: bounded in bytes too, counting times shared by a series' fields once", () => {
  const times = (n: number) => ({ timesMs: new Float64Array(n), timesSubMs: new Float64Array(n) });
  const column = (n: number, shared = times(n)) =>
    ({ type: 0, length: n, ...shared, values: new Float64Array(n) }) as unknown as ColumnView;
  // 1000 values: 8,000 B of values, 16,000 B of times.
  const cache = new BlockCache(1_000_000, 50_000);
  const shared = times(1000);
  cache.set("a@1", column(1000, shared));
  assert.equal(cache.bytes, 24_000);
  cache.set("b@1", column(1000, shared)); // another field of the series: its values only
  assert.equal(cache.bytes, 32_000);
  cache.set("c@1", column(1000)); // its own times: 24,000 more would pass 50,000
  assert.equal(cache.get("c@1"), undefined, "not admitted: asked for no more than the coldest");
  assert.ok(cache.bytes <= 50_000);
  for (let i = 0; i < 3; i++) {
    cache.get("c@1");
    cache.set("c@1", column(1000));
  }
  assert.ok(cache.get("c@1"), "admitted once asked for more often");
  assert.ok(cache.bytes <= 50_000, `${cache.bytes} bytes held`);
  // Dropping the file's blocks gives back their bytes, the shared times with the last of them.
  cache.dropFile("a");
  cache.dropFile("b");
  cache.dropFile("c");
  assert.equal(cache.bytes, 0);
  assert.equal(cache.size, 0);
  // A block larger than the whole budget is not kept.
  cache.set("d@1", column(3000));
  assert.equal(cache.bytes, 0);
});
