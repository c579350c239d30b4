/**
 * One query must not take the server down (security issue #12): the bucket count of the answer
 * is bounded by default (also without a lower time bound, where the grid starts at the data),
 * what a query holds is charged to `max_query_memory_bytes` and past it the statement fails
 * naming the budget and the statement, over-long query texts are refused before parsing, and
 * fill(none) walks the buckets that have points rather than the whole grid.
 */
import { equal, match, ok, rejects } from "node:assert/strict";
import { TooLargeError } from "../core/errors.ts";
import { executeQuery } from "./executor.ts";
import { DEFAULT_QUERY_LIMITS, type QueryLimits, QueryMemory } from "./limits.ts";
import { MemoryStore } from "./_memory_store_test_helper.ts";
import { loadConfig } from "../config/config.ts";

const NOW = 1_764_000_000_000_000_000n; // 2025-11-24

async function run(store: MemoryStore, q: string, limits: QueryLimits = DEFAULT_QUERY_LIMITS) {
  const [r] = await executeQuery(store, q, { database: "db", nowNs: NOW, limits });
  return r;
}

async function onePoint(): Promise<MemoryStore> {
  const s = new MemoryStore({ shardGroupNs: 3_600_000_000_000n * 24n * 365n * 100n });
  await s.createDatabase("db");
  s.writeLines("db", "m v=1 946684800000000000"); // 2000-01-01
  return s;
}

Deno.test("the config defaults are the query room's defaults", () => {
  const c = loadConfig({ env: {} });
  equal(c.max_select_series, DEFAULT_QUERY_LIMITS.maxSeries);
  equal(c.max_select_points, DEFAULT_QUERY_LIMITS.maxPoints);
  equal(c.max_select_buckets, DEFAULT_QUERY_LIMITS.maxBuckets);
  equal(c.max_query_bytes, DEFAULT_QUERY_LIMITS.maxQueryBytes);
  equal(c.max_query_memory_bytes, DEFAULT_QUERY_LIMITS.maxMemoryBytes);
  equal(loadConfig({ env: { EPOCHNEXUS_MAX_QUERY_MEMORY_BYTES: "0" } }).max_query_memory_bytes, 0);
  equal(loadConfig({ env: { EPOCHNEXUS_MAX_QUERY_BYTES: "1MiB" } }).max_query_bytes, 1048576);
});

Deno.test("a 1s grid over ten million buckets is refused by default, before reading", async () => {
  const s = await onePoint();
  const r = await run(
    s,
    "SELECT mean(v) FROM m WHERE time >= '2000-01-01T00:00:00Z' AND time < '2000-04-25T17:46:40Z' GROUP BY time(1s)",
  );
  equal(r.error, "max-select-buckets limit exceeded: (10000000/1000000)");
});

Deno.test("without a lower time bound the answer's buckets (data to now) are bounded too", async () => {
  // One point in 2000, now in 2025: a 1s grid is 815 million rows of fill(null).
  const s = await onePoint();
  const r = await run(s, "SELECT count(v) FROM m GROUP BY time(1s)");
  match(r.error ?? "", /^max-select-buckets limit exceeded: \(\d+\/1000000\)$/);
  // A grid that fits is answered as before.
  const ok1 = await run(
    s,
    "SELECT count(v) FROM m WHERE time < '2000-01-01T00:00:10Z' GROUP BY time(1s)",
  );
  equal(ok1.error, undefined);
  equal(ok1.series?.[0].values.length, 10);
});

Deno.test("past max_query_memory_bytes a statement fails naming the budget and itself", async () => {
  const s = await onePoint();
  const limits: QueryLimits = { maxMemoryBytes: 16 * 1024 * 1024 }; // buckets unlimited
  const q =
    "SELECT mean(v) FROM m WHERE time >= '2000-01-01T00:00:00Z' AND time < '2000-04-25T17:46:40Z' GROUP BY time(1s)";
  const r = await run(s, q, limits);
  equal(
    r.error,
    "query memory budget exceeded: SELECT mean(v) FROM m WHERE time >= '2000-01-01T00:00:00Z' " +
      "AND time < '2000-04-25T17:46:40Z' GROUP BY time(1s) needs more than 16 MiB " +
      "(max_query_memory_bytes = 16777216); narrow the time range, use a larger GROUP BY time " +
      "interval or fewer series",
  );
  // fill(none) emits only buckets with points: the same grid is answered at once.
  const sparse = await run(s, q + " fill(none)", limits);
  equal(sparse.error, undefined);
  equal(sparse.series?.[0].values.length, 1);
});

Deno.test("points kept for median or percentile and raw rows are charged; count is not", async () => {
  const s = new MemoryStore({ shardGroupNs: 3_600_000_000_000n * 24n });
  await s.createDatabase("db");
  const lines = [];
  for (let i = 0; i < 50_000; i++) lines.push(`m v=${i % 97} ${(i + 1) * 1_000_000_000}`);
  s.writeLines("db", lines.join("\n"));
  const limits: QueryLimits = { maxMemoryBytes: 2 * 1024 * 1024 };
  for (
    const q of ["SELECT median(v) FROM m", "SELECT percentile(v, 90) FROM m", "SELECT v FROM m"]
  ) {
    match((await run(s, q, limits)).error ?? "", /^query memory budget exceeded: SELECT/, q);
  }
  equal((await run(s, "SELECT count(v), mean(v), max(v) FROM m", limits)).error, undefined);
  equal((await run(s, "SELECT median(v) FROM m", {})).series?.[0].values[0][1], 48);
});

Deno.test("a GROUP BY over many series holds its states or its rows, not both", async () => {
  // 2,000 series, each its own group: states of 160 bytes a shard (a bucket of one slot), rows
  // of 260 (one row of one column). finish() gives each group's states back once its row is made.
  for (const shardGroupNs of [3_600_000_000_000n * 24n, 1_000_000_000n]) {
    const s = new MemoryStore({ shardGroupNs });
    await s.createDatabase("db");
    const lines = [];
    // With 1 s shard groups every series has points in two shards: their partials are folded.
    for (let i = 0; i < 2000; i++) {
      lines.push(`m,host=h${i} v=1 1000000000`, `m,host=h${i} v=2 2000000000`);
    }
    s.writeLines("db", lines.join("\n"));
    const q = "SELECT count(v) FROM m GROUP BY host";
    const memory = new QueryMemory(0);
    const [all] = await executeQuery(s, q, { database: "db", nowNs: NOW, memory });
    equal(all.error, undefined);
    equal(all.series?.length, 2000);
    equal(memory.bytes, 2000 * 260, "the rows stay charged, the states were given back");
    // Above the states (320,000 bytes a shard) and the rows, below both together (840,000 or
    // 1,160,000 bytes): answered.
    const fits = await run(s, q, { maxMemoryBytes: 700_000 });
    equal(fits.error, undefined, String(shardGroupNs));
    equal(fits.series?.length, 2000);
    // Below the rows alone: still refused.
    match((await run(s, q, { maxMemoryBytes: 500_000 })).error ?? "", /^query memory budget/);
  }
});

Deno.test("a query text past max_query_bytes is refused before parsing, with its size", async () => {
  const s = await onePoint();
  const long = "SELECT v FROM m WHERE " + "v = 1 OR ".repeat(100_000) + "v = 1";
  await rejects(
    executeQuery(s, long, { database: "db", nowNs: NOW, limits: { maxQueryBytes: 65536 } }),
    (e) =>
      e instanceof TooLargeError &&
      e.message === `query is too long: ${long.length} bytes, max_query_bytes is 65536`,
  );
  // Multi-byte text is measured in UTF-8 bytes.
  const utf8 = "SELECT v FROM m WHERE t = '" + "é".repeat(30_000) + "'";
  await rejects(
    executeQuery(s, utf8, { database: "db", nowNs: NOW, limits: { maxQueryBytes: 40_000 } }),
    /query is too long: 60028 bytes, max_query_bytes is 40000/,
  );
  const [r] = await executeQuery(s, utf8, {
    database: "db",
    nowNs: NOW,
    limits: { maxQueryBytes: 60_028 },
  });
  ok(r.error === undefined);
});
