import assert from "node:assert/strict";
import fc from "fast-check";
import { escapeMeasurement, escapeTag, seriesKey, type Tag } from "./point.ts";

Deno.test("series keys escape as line protocol does", () => {
  assert.equal(escapeMeasurement("cpu load,x=y"), "cpu\\ load\\,x=y");
  assert.equal(escapeTag("a b,c=d"), "a\\ b\\,c\\=d");
  assert.equal(escapeTag("plain"), "plain");
  assert.equal(
    seriesKey("m m", [{ key: "h=1", value: "x y" }, { key: "r", value: "z" }]),
    "m\\ m,h\\=1=x\\ y,r=z",
  );
});

function reference(measurement: string, tags: readonly Tag[]): string {
  return escapeMeasurement(measurement) +
    tags.map((t) => `,${escapeTag(t.key)}=${escapeTag(t.value)}`).join("");
}

Deno.test("seriesKey memo: shared Tag objects hit; a changed measurement, tag or tag count misses", () => {
  const tags: Tag[] = [{ key: "host", value: "a b" }, { key: "region", value: "eu" }];
  assert.equal(seriesKey("cpu", tags), "cpu,host=a\\ b,region=eu");
  assert.equal(seriesKey("cpu", tags.slice()), "cpu,host=a\\ b,region=eu");
  assert.equal(seriesKey("mem", tags), "mem,host=a\\ b,region=eu");
  assert.equal(seriesKey("mem", tags.slice(0, 1)), "mem,host=a\\ b");
  assert.equal(
    seriesKey("mem", [tags[0], { key: "region", value: "eu" }]),
    "mem,host=a\\ b,region=eu",
  );
  tags[1].value = "us";
  assert.equal(seriesKey("mem", tags), "mem,host=a\\ b,region=us");
  tags[0].key = "h";
  assert.equal(seriesKey("mem", tags), "mem,h=a\\ b,region=us");
  assert.equal(seriesKey("m,x", []), "m\\,x");
});

Deno.test("seriesKey memo: a frozen array of frozen Tags is remembered whole; changeable Tags are not", () => {
  const shared = Object.freeze([
    Object.freeze({ key: "host", value: "a" }),
    Object.freeze({ key: "region", value: "eu" }),
  ]);
  assert.equal(seriesKey("cpu", shared), "cpu,host=a,region=eu");
  assert.equal(seriesKey("cpu", shared), "cpu,host=a,region=eu");
  assert.equal(seriesKey("mem", shared), "mem,host=a,region=eu"); // another measurement, same tags
  assert.equal(seriesKey("cpu", shared), "cpu,host=a,region=eu");
  // A frozen array whose Tags may still change: every call sees the Tags as they are now.
  const host: Tag = { key: "host", value: "a" };
  const frozenArray = Object.freeze([host]);
  assert.equal(seriesKey("cpu", frozenArray), "cpu,host=a");
  host.value = "b";
  assert.equal(seriesKey("cpu", frozenArray), "cpu,host=b");
  host.key = "h";
  assert.equal(seriesKey("cpu", frozenArray), "cpu,h=b");
});

Deno.test("seriesKey memo: any sequence of calls and in-place changes gives the exact key", () => {
  const text = fc.constantFrom("a", "b", "a b", "x=y", "é", "");
  const step = fc.record({
    measurement: fc.constantFrom("cpu", "mem", "c,d"),
    pick: fc.array(fc.nat(3), { minLength: 1, maxLength: 4 }),
    mutate: fc.option(fc.record({ at: fc.nat(3), value: text }), { nil: undefined }),
  });
  fc.assert(
    fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
      const pool: Tag[] = [0, 1, 2, 3].map((i) => ({ key: `k${i}`, value: `v${i}` }));
      for (const s of steps) {
        if (s.mutate) pool[s.mutate.at].value = s.mutate.value;
        const tags = [...new Set(s.pick)].sort().map((i) => pool[i]);
        assert.equal(seriesKey(s.measurement, tags), reference(s.measurement, tags));
      }
    }),
    { numRuns: 300 },
  );
});
