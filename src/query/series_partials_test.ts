import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeJson } from "./encode_json.ts";
import { executeQuery } from "./executor.ts";
import { MemoryStore, type TestPoint } from "./_memory_store_test_helper.ts";
import { foldSeriesPartials, runRequestBySeries } from "./series_partials.ts";
import type { PlanRequest, QueryStore, SeriesRef, ShardReader } from "./store.ts";
import type { SelectPlan } from "./plan.ts";
import type { QueryBudget } from "./limits.ts";
import type { ShardPartial } from "./shard_exec.ts";

/** One shard's series seen by one "node": those whose key hashes to `part` of `parts`. */
class SubsetReader implements ShardReader {
  constructor(
    private readonly inner: ShardReader,
    private readonly keep: (key: string) => boolean,
  ) {}
  measurements(): string[] {
    return this.inner.measurements();
  }
  series(m: string): readonly SeriesRef[] {
    return this.inner.series(m).filter((s) => this.keep(s.key));
  }
  fieldTypes(m: string) {
    return this.inner.fieldTypes(m);
  }
  readField(s: SeriesRef, f: string, min: bigint, max: bigint) {
    return this.inner.readField(s, f, min, max);
  }
}

/** A shard whose series are spread over `parts` nodes, each running the plan on its own. */
class SplitReader extends SubsetReader {
  constructor(inner: ShardReader, private readonly parts: number, private readonly salt: number) {
    super(inner, () => true);
    this.shard = inner;
  }
  private readonly shard: ShardReader;
  async runPlan(
    plan: SelectPlan,
    request: PlanRequest,
    measurements: readonly string[],
    budget?: QueryBudget,
  ): Promise<ShardPartial> {
    const series = [];
    for (let p = 0; p < this.parts; p++) {
      const part = new SubsetReader(this.shard, (key) => spread(key, this.salt) % this.parts === p);
      // Each node plans again from the request, as a remote node does.
      series.push(...await runRequestBySeries([part], request, measurements, budget));
    }
    return foldSeriesPartials(plan, series);
  }
}

function spread(key: string, salt: number): number {
  let h = salt;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619) >>> 0;
  return h;
}

/** The same data, with every shard split over nodes that answer with series partials. */
function splitStore(inner: MemoryStore, parts: number, salt: number): QueryStore {
  return {
    databases: () => inner.databases(),
    createDatabase: (n) => inner.createDatabase(n),
    dropDatabase: (n) => inner.dropDatabase(n),
    retentionPolicies: (db) => inner.retentionPolicies(db),
    defaultRetentionPolicy: (db) => inner.defaultRetentionPolicy(db),
    shards: (db, rp, min, max) =>
      inner.shards(db, rp, min, max).map((r) => new SplitReader(r, parts, salt)),
  };
}

const QUERIES = [
  "SELECT count(v), sum(v), mean(v), spread(v), stddev(v) FROM m GROUP BY time(7s)",
  "SELECT mean(v), sum(v) FROM m GROUP BY host",
  "SELECT mean(v) FROM m GROUP BY time(5s), host fill(previous)",
  "SELECT median(v), mode(v), percentile(v, 90) FROM m GROUP BY time(11s)",
  "SELECT first(v), last(v), min(v), max(v) FROM m GROUP BY time(6s)",
  "SELECT top(v, 3), bottom(v, 2) FROM m",
  "SELECT top(v, host, 2) FROM m",
  "SELECT distinct(v) FROM m GROUP BY time(20s)",
  "SELECT count(distinct(v)) FROM m",
  "SELECT integral(v) FROM m GROUP BY time(10s)",
  "SELECT sum(i), mean(i), max(i) FROM m GROUP BY time(9s)",
  "SELECT derivative(mean(v), 1s), cumulative_sum(sum(v)) FROM m GROUP BY time(5s)",
  "SELECT * FROM m WHERE v > 0 LIMIT 40",
  "SELECT v, host FROM m ORDER BY time DESC LIMIT 25",
  "SELECT max(v), host FROM m GROUP BY time(8s)",
  "SELECT mean(v) FROM m GROUP BY *",
];

// Floats whose sums depend on the order of additions to the last bit.
const value = fc.oneof(
  fc.double({ min: -1e6, max: 1e6, noNaN: true }),
  fc.constantFrom(0.1, 0.2, 0.3, 1e16, -1e16, 3.3333333333333335),
);

Deno.test("series partials folded in key order answer as one shard, for every function", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({
          host: fc.constantFrom("a", "b", "c", "d", "e", "f", "g"),
          region: fc.constantFrom("x", "y"),
          t: fc.integer({ min: 0, max: 60 }),
          v: value,
          i: fc.integer({ min: -1000, max: 1000 }),
        }),
        { minLength: 1, maxLength: 120 },
      ),
      fc.integer({ min: 2, max: 5 }),
      fc.integer({ min: 0, max: 1000 }),
      async (rows, parts, salt) => {
        const one = new MemoryStore({ shardGroupNs: 30_000_000_000n, partitions: 1 });
        const points: TestPoint[] = rows.map((r) => ({
          measurement: "m",
          tags: { host: r.host, region: r.region },
          fields: { v: { float: r.v }, i: BigInt(r.i) },
          ns: BigInt(r.t) * 1_000_000_000n,
        }));
        one.writeTestPoints("db", points);
        const split = splitStore(one, parts, salt);
        const options = { database: "db", nowNs: 3_600_000_000_000n };
        for (const q of QUERIES) {
          const want = encodeJson(await executeQuery(one, q, options));
          const got = encodeJson(await executeQuery(split, q, options));
          assert.equal(got, want, q);
        }
      },
    ),
    { numRuns: 60 },
  );
});
