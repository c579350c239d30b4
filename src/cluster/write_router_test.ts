import assert from "node:assert/strict";
import { partitionOf } from "./hash.ts";
import type { DatabaseMeta } from "./meta/meta_state.ts";
import { PartitionCache } from "./write_router.ts";

const database = (id: number, partitions: number) =>
  ({
    id,
    hash: "fnv1a64",
    partitions: new Array(partitions).fill(null),
  }) as unknown as DatabaseMeta;

Deno.test("PartitionCache: a series' partition is its database's, also when another has it", () => {
  const cache = new PartitionCache(3);
  const keys = Array.from({ length: 20 }, (_, i) => `cpu,host=h${i}`);
  const [four, seven] = [database(1, 4), database(2, 7)];
  for (let round = 0; round < 2; round++) {
    for (const key of keys) {
      assert.equal(cache.of(four).partitionOf(key), partitionOf("fnv1a64", key, 4), key);
      assert.equal(cache.of(seven).partitionOf(key), partitionOf("fnv1a64", key, 7), key);
    }
  }
  assert.ok(keys.some((k) => partitionOf("fnv1a64", k, 4) !== partitionOf("fnv1a64", k, 7)));
});
