import assert from "node:assert/strict";
import { FieldLayouts } from "./field_layout.ts";
import { FieldType } from "./point.ts";

const F = FieldType.Float;

Deno.test("field layouts: one object per keys, types and order; prefixes and types apart", () => {
  const layouts = new FieldLayouts();
  const ab = layouts.find(["a", "b"], [F, F], 2);
  const a = layouts.find(["a", "b"], [F, F], 1); // a prefix of a kept layout
  const abInt = layouts.find(["a", "b"], [F, FieldType.Integer], 2);
  const ba = layouts.find(["b", "a"], [F, F], 2);
  const none = layouts.find([], [], 0);
  assert.deepEqual(a, { keys: ["a"], types: [F] });
  assert.deepEqual(none, { keys: [], types: [] });
  assert.equal(new Set([ab, a, abInt, ba, none]).size, 5);
  for (const [keys, types, want] of [[["a", "b"], [F, F], ab], [["a"], [F], a]] as const) {
    assert.equal(layouts.find(keys.slice(), types.slice(), keys.length), want);
  }
  for (const type of [FieldType.Unsigned, FieldType.String, FieldType.Boolean]) {
    const other = layouts.find(["a", "b"], [F, type], 2);
    assert.equal(other.types[1], type);
    assert.notEqual(other, abInt);
  }
});

Deno.test("field layouts: a point of thousands of fields is not kept, and shares only with the last", () => {
  const layouts = new FieldLayouts();
  const wide = (tag: string) => Array.from({ length: 5000 }, (_, i) => `${tag}${i}`);
  const types = new Array<FieldType>(5000).fill(F);
  const a = layouts.find(wide("a"), types, 5000);
  assert.equal(layouts.find(wide("a"), types, 5000), a, "the same fields twice in a row");
  const b = layouts.find(wide("b"), types, 5000);
  assert.deepEqual(b.keys, wide("b"));
  const again = layouts.find(wide("a"), types, 5000);
  assert.notEqual(again, a);
  assert.deepEqual(again, a);
  // Three objects a field in the trie made one line of 100,000 fields cost GC time out of
  // proportion (doubling_test.ts, "many distinct fields").
  assert.equal(layouts.nodes, 0);
  const narrow = layouts.find(["a", "b"], [F, F], 2);
  assert.equal(layouts.nodes, 2);
  layouts.find(wide("c"), types, 5000);
  assert.equal(layouts.find(["a", "b"], [F, F], 2), narrow);
});

Deno.test("field layouts: past the bound the cache refills and still answers right", () => {
  const layouts = new FieldLayouts(100);
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 250; i++) {
      const type = (1 + i % 5) as FieldType;
      const found = layouts.find(["v", `f${i}`], [F, type], 2);
      assert.deepEqual(found, { keys: ["v", `f${i}`], types: [F, type] });
      assert.equal(layouts.find(["v", `f${i}`], [F, type], 2), found);
    }
  }
});

Deno.test("field layouts: a lookup does not compare with every layout of the same first key", () => {
  // 10,000 layouts of one first key and 10,000 of distinct first keys should cost about the
  // same; a list per first key made the first ~1000x slower (0.4 ms a lookup).
  const time = (keyOf: (i: number) => string[]): number => {
    const layouts = new FieldLayouts();
    const keys = Array.from({ length: 10_000 }, (_, i) => keyOf(i));
    for (const k of keys) layouts.find(k, [F, F], 2);
    const start = performance.now();
    for (let i = 0; i < keys.length; i++) layouts.find(keys[(i * 7919) % keys.length], [F, F], 2);
    return performance.now() - start;
  };
  time((i) => [`w${i}`, "v"]); // warm up
  const distinct = time((i) => [`a${i}`, "v"]);
  const shared = time((i) => ["v", `a${i}`]);
  assert.ok(shared < 20 * distinct + 50, `shared first key ${shared} ms, distinct ${distinct} ms`);
});
