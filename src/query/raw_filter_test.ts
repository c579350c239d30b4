import assert from "node:assert/strict";
import fc from "fast-check";
import { MemoryStore } from "./_memory_store_test_helper.ts";
import { executeQuery } from "./executor.ts";
import { encodeJson } from "./encode_json.ts";
import type { FieldColumn, QueryStore, ShardReader } from "./store.ts";

/** The store read as parts of two points (columns only), as the storage view reads blocks. */
function withParts(store: MemoryStore): QueryStore {
  const cut = (c: FieldColumn, from: number, to: number): FieldColumn => ({
    type: c.type,
    length: to - from,
    timesMs: c.timesMs.slice(from, to),
    timesSubMs: c.timesSubMs.slice(from, to),
    values: c.values.slice(from, to) as FieldColumn["values"],
  });
  const wrap = (r: ShardReader): ShardReader => ({
    measurements: () => r.measurements(),
    series: (m) => r.series(m),
    fieldTypes: (m) => r.fieldTypes(m),
    readField: (s, f, lo, hi) => r.readField(s, f, lo, hi),
    async readFieldSummaries(s, f, lo, hi) {
      const col = await r.readField(s, f, lo, hi);
      if (col === undefined) return [];
      const parts = [];
      for (let i = 0; i < col.length; i += 2) {
        parts.push({ kind: "column" as const, column: cut(col, i, Math.min(i + 2, col.length)) });
      }
      return parts;
    },
  });
  return {
    databases: () => store.databases(),
    createDatabase: (n) => store.createDatabase(n),
    dropDatabase: (n) => store.dropDatabase(n),
    retentionPolicies: (db) => store.retentionPolicies(db),
    defaultRetentionPolicy: (db) => store.defaultRetentionPolicy(db),
    shards: (db, rp, lo, hi) => store.shards(db, rp, lo, hi).map(wrap),
  };
}

// Raw queries with a field condition visit only the instants where the condition's own columns
// pass (shard_exec.ts passingInstants). Checked against a direct reading of the points: sparse
// fields, conditions on one or two fields, with and without a tag term.
Deno.test("raw rows under a field condition are the instants where it holds", async () => {
  const point = fc.record({
    a: fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined }),
    b: fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined }),
    c: fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined }),
  });
  await fc.assert(
    fc.asyncProperty(
      fc.array(point, { minLength: 1, maxLength: 30 }),
      fc.integer({ min: 0, max: 9 }),
      fc.integer({ min: 0, max: 9 }),
      fc.constantFrom("one", "or", "and", "tag"),
      async (points, x, y, shape) => {
        const store = new MemoryStore({ shardGroupNs: 60_000_000_000n, partitions: 1 });
        await store.createDatabase("db");
        const lines = points.flatMap((p, i) => {
          const f = (["a", "b", "c"] as const).filter((k) => p[k] !== undefined)
            .map((k) => `${k}=${p[k]}`);
          return f.length === 0 ? [] : [`m,host=h ${f.join(",")} ${1_000_000_000_000 + i * 1e9}`];
        });
        if (lines.length === 0) return;
        store.writeLines("db", lines.join("\n"));
        const where = {
          one: `a > ${x}`,
          or: `a > ${x} OR b < ${y}`,
          and: `a > ${x} AND b < ${y}`,
          tag: `a > ${x} AND host = 'h'`,
        }[shape];
        const holds = (p: (typeof points)[number]) => {
          const a = p.a !== undefined && p.a > x, b = p.b !== undefined && p.b < y;
          return shape === "or" ? a || b : shape === "and" ? a && b : a;
        };
        const want = points.flatMap((p, i) =>
          (p.b !== undefined || p.c !== undefined) && holds(p)
            ? [[1000 + i, p.b ?? null, p.c ?? null]]
            : []
        );
        for (const s of [store, withParts(store)]) {
          const results = await executeQuery(s, `SELECT b, c FROM m WHERE ${where}`, {
            database: "db",
            nowNs: 0n,
          });
          const body = JSON.parse(encodeJson(results, { epoch: "s" }));
          assert.deepEqual(body.results[0].series?.[0]?.values ?? [], want, where);
        }
      },
    ),
    { numRuns: 150 },
  );
});
