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
  // 100 blocks held, 125 scanned again and again (a whole-data query run 10 times).
  const cache = new BlockCache(100 * 1000);
  assert.equal(scan(cache, 125, 1000), 0);
  for (let pass = 0; pass < 9; pass++) {
    const hits = scan(cache, 125, 1000);
    assert.ok(hits >= 90, `pass ${pass + 2}: ${hits} hits of 125`);
    assert.ok(cache.size <= 100 * 1000);
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
  assert.equal(cache.get("d"), undefined); // the second time it is asked for
  cache.set("d", block(10)); // now more often than "a"
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
  assert.ok(cache.countedKeys <= 2 * 4096, `${cache.countedKeys} keys counted`);
});
