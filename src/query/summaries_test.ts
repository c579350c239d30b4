/**
 * Block statistics give the same answers as decoding: a store whose readFieldSummaries cuts
 * every column into blocks of 3 points (summaries where a block lies inside the range, columns
 * at the edges) is queried side by side with the plain store.
 */
import { equal, match } from "node:assert/strict";
import fc from "fast-check";
import { MemoryStore } from "./_memory_store_test_helper.ts";
import { encodeJson } from "./encode_json.ts";
import { executeQuery } from "./executor.ts";
import type { BlockSummary, FieldColumn, FieldPart, QueryStore, ShardReader } from "./store.ts";
import { instantFromNanos } from "../core/time.ts";

function summarise(col: FieldColumn, from: number, to: number): BlockSummary {
  const v = col.values;
  let min = v[from], max = v[from], iMin = from, iMax = from;
  let sum: number | bigint = 0;
  for (let i = from; i < to; i++) {
    if ((v[i] as number) < (min as number)) (min = v[i]), (iMin = i);
    if ((v[i] as number) > (max as number)) (max = v[i]), (iMax = i);
    sum = typeof sum === "bigint" || typeof v[i] === "bigint"
      ? BigInt(sum) + BigInt(v[i] as number)
      : sum + (v[i] as number);
  }
  return {
    kind: "summary",
    type: col.type,
    count: to - from,
    minTimeMs: col.timesMs[from],
    minTimeSubMs: col.timesSubMs[from],
    maxTimeMs: col.timesMs[to - 1],
    maxTimeSubMs: col.timesSubMs[to - 1],
    sum,
    min: min as number,
    minTimeOfMin: { ms: col.timesMs[iMin], subMs: col.timesSubMs[iMin] },
    max: max as number,
    minTimeOfMax: { ms: col.timesMs[iMax], subMs: col.timesSubMs[iMax] },
    first: v[from] as number,
    last: v[to - 1] as number,
  };
}

function slice(col: FieldColumn, from: number, to: number): FieldColumn {
  return {
    type: col.type,
    length: to - from,
    timesMs: col.timesMs.slice(from, to),
    timesSubMs: col.timesSubMs.slice(from, to),
    values: col.values.slice(from, to) as FieldColumn["values"],
  };
}

/**
 * The store with readFieldSummaries over blocks of 3 points; `honour`: blocks the options'
 * `summarize` refuses come as columns, as the storage view does (else every whole block is a
 * summary, as a reader that ignores the option).
 */
function withSummaries(store: MemoryStore, honour = false): QueryStore {
  const wrap = (r: ShardReader): ShardReader => ({
    measurements: () => r.measurements(),
    series: (m) => r.series(m),
    fieldTypes: (m) => r.fieldTypes(m),
    readField: (s, f, lo, hi) => r.readField(s, f, lo, hi),
    async readFieldSummaries(s, f, lo, hi, options) {
      const col = await r.readField(s, f, -(2n ** 62n), 2n ** 62n);
      if (col === undefined) return [];
      const a = instantFromNanos(lo), b = instantFromNanos(hi);
      const inside = (i: number) =>
        (col.timesMs[i] > a.ms || (col.timesMs[i] === a.ms && col.timesSubMs[i] >= a.subMs)) &&
        (col.timesMs[i] < b.ms || (col.timesMs[i] === b.ms && col.timesSubMs[i] <= b.subMs));
      const parts: FieldPart[] = [];
      for (let i = 0; i < col.length; i += 3) {
        const j = Math.min(i + 3, col.length);
        let k0 = i, k1 = j;
        while (k0 < j && !inside(k0)) k0++;
        while (k1 > k0 && !inside(k1 - 1)) k1--;
        if (k0 >= k1) continue;
        const refused = honour && options?.summarize !== undefined &&
          !options.summarize(
            col.timesMs[i],
            col.timesSubMs[i],
            col.timesMs[j - 1],
            col.timesSubMs[j - 1],
          );
        if (k0 === i && k1 === j && !refused) parts.push(summarise(col, i, j));
        else parts.push({ kind: "column", column: slice(col, k0, k1) });
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

const QUERIES = [
  "SELECT count(f), min(f), max(f), first(f), last(f), spread(f) FROM m",
  "SELECT count(i), sum(i), min(i), max(i), spread(i) FROM m GROUP BY host",
  "SELECT count(f), max(f), sum(i) FROM m WHERE time >= 1000000000 AND time < 41000000000 GROUP BY time(7s)",
  "SELECT first(f), last(i) FROM m WHERE time >= 0 AND time < 50000000000 GROUP BY time(10s), host",
  "SELECT min(f), host FROM m",
  "SELECT sum(f), mean(i) FROM m GROUP BY host",
  // Raw rows under field conditions: the other fields are picked from the parts at the
  // instants where the condition held.
  "SELECT i FROM m WHERE f > 2",
  "SELECT i, host FROM m WHERE f < 0 OR i > 20 GROUP BY host",
  "SELECT * FROM m WHERE i > 5 AND time >= 1000000000 AND time < 41000000000",
];

Deno.test("block summaries answer exactly as decoded points", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 49 }), fc.integer({ min: -50, max: 50 })), {
        minLength: 1,
        maxLength: 60,
      }),
      async (points) => {
        const store = new MemoryStore({ shardGroupNs: 20_000_000_000n, partitions: 2 });
        await store.createDatabase("db");
        store.writeLines(
          "db",
          points.map(([t, v], k) => `m,host=h${k % 3} f=${v / 4},i=${v}i ${t}000000000`).join("\n"),
        );
        for (const honour of [false, true]) {
          const summarised = withSummaries(store, honour);
          for (const q of QUERIES) {
            const opts = { database: "db", nowNs: 60_000_000_000n };
            const plain = encodeJson(await executeQuery(store, q, opts));
            const viaSummaries = encodeJson(await executeQuery(summarised, q, opts));
            equal(viaSummaries, plain, `${q} (honour ${honour})`);
          }
        }
      },
    ),
    { numRuns: 40 },
  );
});

Deno.test("EXPLAIN ANALYZE counts the blocks answered from statistics", async () => {
  const store = new MemoryStore({ shardGroupNs: 60_000_000_000n, partitions: 1 });
  await store.createDatabase("db");
  store.writeLines(
    "db",
    Array.from({ length: 12 }, (_, k) => `m f=${k} ${k}000000000`).join("\n"),
  );
  const r = await executeQuery(withSummaries(store), "EXPLAIN ANALYZE SELECT count(f) FROM m", {
    database: "db",
    nowNs: 60_000_000_000n,
  });
  match(encodeJson(r), /BLOCKS FROM STATISTICS: 4/);
});
