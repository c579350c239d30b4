import assert from "node:assert/strict";
import { GroupFinder } from "./group_finder.ts";
import type { GroupPartial } from "./shard_exec.ts";
import type { SeriesRef } from "./store.ts";

function series(id: number, tags: Record<string, string>): SeriesRef {
  const list = Object.entries(tags).map(([key, value]) => ({ key, value }));
  return { id, key: `m#${id}`, measurement: "m", tags: list };
}

const group = (name: string) => ({ measurement: "m", tags: { name } }) as unknown as GroupPartial;

Deno.test("GROUP BY several keys: values that join to the same text are groups of their own", () => {
  const finder = new GroupFinder(["a", "b"]);
  const first = series(1, { a: "x,", b: "y" });
  const g = group("first");
  finder.set("m", first, g);
  // Joined with any separator, ("x,", "y") and ("x", ",y") read the same.
  assert.strictEqual(finder.get("m", series(2, { a: "x", b: ",y" })), undefined);
  assert.strictEqual(finder.get("m", series(3, { a: "x,", b: "y" })), g);
});

Deno.test("GROUP BY several keys: a series without a key is in the group of '' for it", () => {
  const finder = new GroupFinder(["a", "b", "c"]);
  const g = group("no b");
  finder.set("m", series(1, { a: "1", c: "3" }), g);
  assert.strictEqual(finder.get("m", series(2, { a: "1", b: "", c: "3" })), g);
  assert.strictEqual(finder.get("m", series(3, { a: "1", b: "2", c: "3" })), undefined);
  assert.strictEqual(finder.get("other", series(4, { a: "1", c: "3" })), undefined);
});
