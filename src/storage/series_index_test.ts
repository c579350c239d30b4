import assert from "node:assert/strict";
import fc from "fast-check";
import {
  differenceIds,
  type IndexedSeries,
  intersectIds,
  Postings,
  type SeriesFilter,
  SeriesIndex,
  unionIds,
} from "./series_index.ts";

function series(id: number, measurement: string, tags: Record<string, string>): IndexedSeries {
  const sorted = Object.keys(tags).sort().map((k) => ({ key: k, value: tags[k] }));
  const key = measurement + sorted.map((t) => `,${t.key}=${t.value}`).join("");
  return { id, key, measurement, tags: sorted };
}

/** The filter evaluated on one series, as InfluxDB does (a missing tag reads ""). */
function naive(f: SeriesFilter, s: IndexedSeries): boolean {
  const v = (k: string) => s.tags.find((t) => t.key === k)?.value ?? "";
  switch (f.op) {
    case "AND":
      return f.terms.every((t) => naive(t, s));
    case "OR":
      return f.terms.some((t) => naive(t, s));
    case "=":
      return v(f.key) === f.value;
    case "!=":
      return v(f.key) !== f.value;
    case "=~":
      return f.test(v(f.key));
    case "!~":
      return !f.test(v(f.key));
  }
}

const keys = (list: readonly IndexedSeries[]) => list.map((s) => s.key);

Deno.test("set operations match a naive model", () => {
  const sorted = fc.uniqueArray(fc.integer({ min: 0, max: 300 }), { maxLength: 80 })
    .map((a) => Uint32Array.from(a).sort());
  fc.assert(
    fc.property(sorted, sorted, (a, b) => {
      const sa = new Set(a), sb = new Set(b);
      assert.deepEqual([...intersectIds(a, b)], [...a].filter((x) => sb.has(x)));
      assert.deepEqual([...unionIds(a, b)], [...new Set([...a, ...b])].sort((x, y) => x - y));
      assert.deepEqual([...differenceIds(a, b)], [...a].filter((x) => !sb.has(x)));
      assert.deepEqual([...differenceIds(b, a)], [...b].filter((x) => !sa.has(x)));
    }),
    { numRuns: 300 },
  );
});

Deno.test("set operations take the galloping paths for skewed sizes", () => {
  const big = Uint32Array.from({ length: 1000 }, (_, i) => i * 2);
  const small = Uint32Array.of(0, 3, 500, 1998, 5000);
  assert.deepEqual([...intersectIds(small, big)], [0, 500, 1998]);
  assert.deepEqual([...intersectIds(big, small)], [0, 500, 1998]);
  const diff = differenceIds(big, small);
  assert.equal(diff.length, 997);
  assert.ok(!diff.includes(500) && diff.includes(502) && diff[0] === 2);
});

Deno.test("Postings: out-of-order adds are sorted on read; removes keep order", () => {
  const p = new Postings();
  p.add(5);
  assert.deepEqual([...p.view()], [5]); // one id, held inline
  p.removeAll(Uint32Array.of(4, 6));
  assert.equal(p.size, 1);
  p.removeAll(Uint32Array.of(5));
  assert.equal(p.size, 0);
  assert.deepEqual([...p.view()], []);
  for (const id of [5, 1, 9, 3, 7]) p.add(id);
  assert.deepEqual([...p.view()], [1, 3, 5, 7, 9]);
  p.removeAll(Uint32Array.of(5));
  p.add(2);
  assert.deepEqual([...p.view()], [1, 2, 3, 7, 9]);
  p.removeAll(Uint32Array.of(1, 9, 100));
  assert.deepEqual([...p.view()], [2, 3, 7]);
  assert.equal(p.size, 3);
});

Deno.test("select: =, !=, =~, !~ with InfluxDB's empty-string rule for a missing tag", () => {
  const index = new SeriesIndex();
  index.add(series(1, "cpu", { host: "a", region: "east" }));
  index.add(series(2, "cpu", { host: "b", region: "west" }));
  index.add(series(3, "cpu", { host: "c" }));
  index.add(series(4, "mem", { host: "a" }));
  const sel = (f: SeriesFilter) => keys(index.select("cpu", f));
  assert.deepEqual(sel({ op: "=", key: "host", value: "a" }), ["cpu,host=a,region=east"]);
  assert.deepEqual(sel({ op: "!=", key: "region", value: "east" }), [
    "cpu,host=b,region=west",
    "cpu,host=c",
  ]);
  assert.deepEqual(sel({ op: "=", key: "region", value: "" }), ["cpu,host=c"]);
  assert.deepEqual(sel({ op: "!=", key: "region", value: "" }), [
    "cpu,host=a,region=east",
    "cpu,host=b,region=west",
  ]);
  assert.deepEqual(sel({ op: "=~", key: "region", test: (v) => v.startsWith("w") }), [
    "cpu,host=b,region=west",
  ]);
  assert.deepEqual(sel({ op: "!~", key: "region", test: (v) => v.startsWith("w") }), [
    "cpu,host=a,region=east",
    "cpu,host=c",
  ]);
  assert.deepEqual(
    sel({ op: "=~", key: "nope", test: (v) => v === "" }),
    keys(index.series("cpu")),
  );
  assert.deepEqual(sel({ op: "=", key: "nope", value: "x" }), []);
  assert.deepEqual(keys(index.select("disk", { op: "=", key: "host", value: "a" })), []);
  assert.deepEqual(index.measurements(), ["cpu", "mem"]);
  assert.deepEqual(index.tagKeys("cpu"), ["host", "region"]);
  assert.deepEqual(index.tagValues("cpu", "host"), ["a", "b", "c"]);
});

Deno.test("series stay in key order across adds and removes; emptied measurements go", () => {
  const index = new SeriesIndex();
  index.add(series(3, "cpu", { host: "c" }));
  index.add(series(1, "cpu", { host: "a" }));
  assert.deepEqual(keys(index.series("cpu")), ["cpu,host=a", "cpu,host=c"]);
  index.add(series(2, "cpu", { host: "b" }));
  assert.equal(index.add(series(2, "cpu", { host: "b" })), false);
  assert.deepEqual(keys(index.series("cpu")), ["cpu,host=a", "cpu,host=b", "cpu,host=c"]);
  index.remove([1, 99]);
  assert.deepEqual(keys(index.series("cpu")), ["cpu,host=b", "cpu,host=c"]);
  assert.deepEqual(index.tagValues("cpu", "host"), ["b", "c"]);
  index.add(series(1, "cpu", { host: "a" }));
  assert.deepEqual(keys(index.series("cpu")), ["cpu,host=a", "cpu,host=b", "cpu,host=c"]);
  index.remove([1, 2, 3]);
  assert.deepEqual(index.measurements(), []);
  assert.deepEqual(index.series("cpu"), []);
  assert.equal(index.size, 0);
  assert.throws(() => index.add(series(-1, "cpu", {})), /BUG: series id must be a uint32/);
});

// Random series, removals and filters: select() must equal the naive filter over series().
Deno.test("select equals the naive evaluation (property)", () => {
  const tagValue = fc.constantFrom("", "a", "b", "c", "d");
  const seriesArb = fc.record({
    m: fc.constantFrom("cpu", "mem"),
    host: tagValue,
    dc: tagValue,
    rack: tagValue,
  });
  const leaf: fc.Arbitrary<SeriesFilter> = fc.record({
    op: fc.constantFrom("=", "!=", "=~", "!~"),
    key: fc.constantFrom("host", "dc", "rack", "none"),
    value: tagValue,
  }).map(({ op, key, value }) =>
    op === "=" || op === "!="
      ? { op, key, value }
      : { op, key, test: (v: string) => v === value || v > "b" }
  );
  const filter = fc.letrec<{ f: SeriesFilter }>((tie) => ({
    f: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      leaf,
      fc.record({
        op: fc.constantFrom("AND" as const, "OR" as const),
        terms: fc.array(tie("f"), { minLength: 1, maxLength: 3 }),
      }),
    ),
  })).f;
  fc.assert(
    fc.property(
      fc.array(seriesArb, { maxLength: 60 }),
      fc.array(fc.integer({ min: 0, max: 70 }), { maxLength: 20 }),
      fc.array(filter, { minLength: 1, maxLength: 4 }),
      (list, removed, filters) => {
        const index = new SeriesIndex();
        const seen = new Map<string, IndexedSeries>();
        // Ids in a shuffled order, as a shard hands them out when several sources are merged.
        list.forEach((r, i) => {
          const tags: Record<string, string> = {};
          for (const k of ["host", "dc", "rack"] as const) if (r[k] !== "") tags[k] = r[k];
          const s = series((i * 37) % 71, r.m, tags);
          if (seen.has(s.key) || [...seen.values()].some((o) => o.id === s.id)) return;
          seen.set(s.key, s);
          index.add(s);
        });
        index.remove(removed);
        const live = [...seen.values()].filter((s) => !removed.includes(s.id));
        for (const m of ["cpu", "mem"]) {
          const all = live.filter((s) => s.measurement === m).map((s) => s.key).sort();
          assert.deepEqual(keys(index.series(m)), all);
          for (const f of filters) {
            const want = live.filter((s) => s.measurement === m && naive(f, s)).map((s) => s.key)
              .sort();
            assert.deepEqual(keys(index.select(m, f)), want);
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("select over many series orders large and small answers by key", () => {
  const index = new SeriesIndex();
  for (let i = 0; i < 5000; i++) {
    index.add(series(4999 - i, "cpu", { host: `h${i}`, rack: `r${i % 10}` }));
  }
  const few = index.select("cpu", { op: "=", key: "host", value: "h7" });
  assert.deepEqual(keys(few), ["cpu,host=h7,rack=r7"]);
  const many = index.select("cpu", { op: "!=", key: "rack", value: "r3" });
  assert.equal(many.length, 4500);
  assert.deepEqual(keys(many), keys(many).slice().sort());
  const tenth = index.select("cpu", { op: "=", key: "rack", value: "r3" });
  assert.equal(tenth.length, 500);
  assert.deepEqual(keys(tenth), keys(tenth).slice().sort());
});

// A value held by one series is stored as its bare id, by more as a Postings: adds and removes
// move a value between the two forms, and every answer must name the same series throughout.
Deno.test("a tag value going from one series to several and back answers the right series (property)", () => {
  const op = fc.oneof(
    fc.record({ add: fc.integer({ min: 1, max: 40 }), host: fc.integer({ min: 0, max: 12 }) }),
    fc.record({ remove: fc.integer({ min: 1, max: 40 }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
      const index = new SeriesIndex();
      const live = new Map<number, IndexedSeries>();
      const check = () => {
        for (let h = 0; h <= 12; h++) {
          const value = `h${h}`;
          const want = [...live.values()].filter((s) => s.tags[0].value === value)
            .map((s) => s.key).sort();
          assert.deepEqual(keys(index.select("cpu", { op: "=", key: "host", value })), want);
          assert.deepEqual(
            keys(index.select("cpu", { op: "=~", key: "host", test: (v) => v === value })),
            want,
          );
          const others = [...live.values()].filter((s) => s.tags[0].value !== value)
            .map((s) => s.key).sort();
          assert.deepEqual(keys(index.select("cpu", { op: "!=", key: "host", value })), others);
        }
        const values = [...new Set([...live.values()].map((s) => s.tags[0].value))].sort();
        assert.deepEqual(index.tagValues("cpu", "host"), values);
        assert.equal(index.size, live.size);
      };
      for (const o of ops) {
        if ("add" in o) {
          if (live.has(o.add)) continue;
          // The id in the key keeps keys distinct: several series share a host value.
          const s = series(o.add, "cpu", { host: `h${o.host}`, n: String(o.add) });
          live.set(o.add, s);
          assert.equal(index.add(s), true);
        } else {
          live.delete(o.remove);
          index.remove([o.remove]);
        }
        check();
      }
    }),
    { numRuns: 150 },
  );
});
