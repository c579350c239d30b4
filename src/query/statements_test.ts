import { deepEqual, equal, match, rejects, throws } from "node:assert/strict";
import { OverloadError } from "../core/errors.ts";
import { MemoryStore } from "./_memory_store_test_helper.ts";
import { encodeJson } from "./encode_json.ts";
import { executeQuery } from "./executor.ts";
import { QueryRegistry } from "./limits.ts";
import type { DeleteRequest, RetentionPolicySpec } from "./store.ts";
import { FieldType, type Point } from "../core/point.ts";

const NOW = 1764000000000000000n;
const DATA = `
cpu,host=a,region=us usage=0.5 1678886400000000000
cpu,host=b,region=eu usage=0.25 1678886420000000000
mem,host=a free=10i 1678886400000000000
`;

async function newStore(): Promise<MemoryStore> {
  const store = new MemoryStore({ shardGroupNs: 60_000_000_000n, partitions: 2 });
  await store.createDatabase("db");
  store.writeLines("db", DATA);
  return store;
}

async function run(store: MemoryStore, q: string, extra = {}): Promise<string> {
  const results = await executeQuery(store, q, { database: "db", nowNs: NOW, ...extra });
  return encodeJson(results, {}).trimEnd();
}

Deno.test("cardinality statements answer as InfluxDB 1.6.7", async () => {
  const store = await newStore();
  equal(
    await run(store, "SHOW SERIES CARDINALITY"),
    '{"results":[{"statement_id":0,"series":[{"columns":["cardinality estimation"],"values":[[3]]}]}]}',
  );
  equal(
    await run(store, "SHOW SERIES EXACT CARDINALITY FROM cpu WHERE host = 'a'"),
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["count"],"values":[[1]]}]}]}',
  );
  equal(
    await run(store, "SHOW MEASUREMENT EXACT CARDINALITY"),
    '{"results":[{"statement_id":0,"series":[{"columns":["count"],"values":[[2]]}]}]}',
  );
  equal(
    await run(store, "SHOW TAG VALUES EXACT CARDINALITY WITH KEY = host"),
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["count"],"values":[[2]]},{"name":"mem","columns":["count"],"values":[[1]]}]}]}',
  );
});

Deno.test("retention policy and delete statements call the store, or say it lacks them", async () => {
  const store = await newStore();
  match(
    await run(store, "DROP MEASUREMENT cpu"),
    /DROP MEASUREMENT is not supported by this store/,
  );
  const created: RetentionPolicySpec[] = [];
  const deletes: DeleteRequest[] = [];
  const s = store as MemoryStore & Record<string, unknown>;
  s.createRetentionPolicy = (_db: string, spec: RetentionPolicySpec) => {
    created.push(spec);
    return Promise.resolve();
  };
  s.deleteSeries = (_db: string, r: DeleteRequest) => {
    deletes.push(r);
    return Promise.resolve();
  };
  equal(
    await run(store, "CREATE RETENTION POLICY week ON db DURATION 7d REPLICATION 1 DEFAULT"),
    '{"results":[{"statement_id":0}]}',
  );
  deepEqual(created, [{
    name: "week",
    durationNs: 604800000000000n,
    shardGroupDurationNs: 0n,
    replicaN: 1,
    isDefault: true,
  }]);
  // EpochNexus's size limit and cold tier (issue 16), in either order before DEFAULT.
  await run(
    store,
    "CREATE RETENTION POLICY big ON db DURATION INF REPLICATION 1 COLD_AFTER 30d MAX_BYTES 5000",
  );
  deepEqual(created[1], {
    name: "big",
    durationNs: 0n,
    shardGroupDurationNs: 0n,
    replicaN: 1,
    isDefault: false,
    maxBytes: 5000,
    coldAfterNs: 30n * 86_400_000_000_000n,
  });
  await rejects(
    run(store, "CREATE RETENTION POLICY bad ON db DURATION INF REPLICATION 1 MAX_BYTES 1.5"),
    /found 1\.5, expected integer at line 1, char 72/,
  );
  await run(store, "DELETE FROM cpu WHERE host = 'a' AND time < '2023-03-15T13:20:10Z'");
  equal(deletes.length, 1);
  deepEqual(deletes[0].measurements, ["cpu"]);
  equal(deletes[0].maxNs, 1678886409999999999n);
  equal(deletes[0].dropSeries, false);
  equal(deletes[0].seriesFilter!("cpu", [{ key: "host", value: "a" }]), true);
  equal(deletes[0].seriesFilter!("cpu", [{ key: "host", value: "b" }]), false);
  equal(
    await run(store, "DROP SERIES FROM cpu WHERE time > 0"),
    `{"results":[{"statement_id":0,"error":"DROP SERIES doesn't support time in WHERE clause"}]}`,
  );
});

Deno.test("SHOW QUERIES lists running queries; KILL QUERY of an unknown id is InfluxDB's error", async () => {
  const store = await newStore();
  let now = 1000;
  const registry = new QueryRegistry({ now: () => now });
  now = 1000;
  equal(
    await run(store, "SHOW QUERIES", { registry }),
    '{"results":[{"statement_id":0,"series":[{"columns":["qid","query","database","duration","status"],"values":[[1,"SHOW QUERIES","db","0s","running"]]}]}]}',
  );
  equal(
    await run(store, "KILL QUERY 999", { registry }),
    '{"results":[{"statement_id":0,"error":"no such query id: 999"}]}',
  );
});

Deno.test("limits: series, points and buckets are refused with InfluxDB's texts", async () => {
  const store = await newStore();
  match(
    await run(store, "SELECT usage FROM cpu", { limits: { maxSeries: 1 } }),
    /max-select-series limit exceeded: \(2\/1\)/,
  );
  match(
    await run(store, "SELECT usage FROM cpu", { limits: { maxPoints: 1 } }),
    /max-select-point limit exceeed: \(2\/1\)/,
  );
  match(
    await run(
      store,
      "SELECT mean(usage) FROM cpu WHERE time >= '2023-03-15T00:00:00Z' AND time < '2023-03-16T00:00:00Z' GROUP BY time(1s)",
      { limits: { maxBuckets: 1000 } },
    ),
    /max-select-buckets limit exceeded: \(86400\/1000\)/,
  );
});

Deno.test("a query whose caller's signal aborts (its client went away) stops as abandoned", async () => {
  const store = await newStore();
  const controller = new AbortController();
  controller.abort(new Error("the client went away"));
  equal(
    await run(store, "SELECT usage FROM cpu", { signal: controller.signal }),
    '{"results":[{"statement_id":0,"error":"query abandoned: the client went away"}]}',
  );
});

Deno.test("SELECT ... INTO writes points through the store and answers `written`", async () => {
  const store = await newStore();
  match(await run(store, "SELECT usage INTO copy FROM cpu"), /cannot write/);
  const written: { db: string; rp?: string; points: Point[] }[] = [];
  (store as MemoryStore & Record<string, unknown>).write = (
    db: string,
    rp: string | undefined,
    points: Point[],
  ) => {
    written.push({ db, rp, points });
    return Promise.resolve({ accepted: points.length, rejected: [] });
  };
  equal(
    await run(store, "SELECT count(usage) INTO db.autogen.counts FROM cpu GROUP BY host"),
    '{"results":[{"statement_id":0,"series":[{"name":"result","columns":["time","written"],"values":[["1970-01-01T00:00:00Z",2]]}]}]}',
  );
  equal(written[0].db, "db");
  equal(written[0].rp, "autogen");
  deepEqual(written[0].points[0], {
    measurement: "counts",
    tags: [{ key: "host", value: "a" }],
    fields: [{ key: "count", type: FieldType.Integer, value: 1 }],
    timeMs: 0,
    timeSubMs: 0,
  });
});

Deno.test("max-concurrent-queries: the next query is refused with 429's OverloadError", () => {
  const registry = new QueryRegistry({ now: () => 0, maxConcurrent: 1 });
  const first = registry.begin("SELECT 1", "db");
  throws(() => registry.begin("SELECT 2", "db"), (e) => e instanceof OverloadError);
  first.done();
  registry.begin("SELECT 3", "db").done();
});

Deno.test("query-timeout: a long query stops at its deadline without blocking the loop", async () => {
  const store = new MemoryStore({ shardGroupNs: 3_600_000_000_000n, partitions: 1 });
  await store.createDatabase("db");
  const lines: string[] = [];
  for (let s = 0; s < 4000; s++) lines.push(`cpu,host=h${s} usage=${s} 1678886400000000000`);
  store.writeLines("db", lines.join("\n"));
  let ticks = 0;
  const timer = setInterval(() => ticks++, 0);
  const answer = await run(store, "SELECT mean(usage) FROM cpu GROUP BY host", {
    limits: { timeoutMs: 1 },
  });
  clearInterval(timer);
  equal(answer, '{"results":[{"statement_id":0,"error":"query-timeout limit exceeded"}]}');
  equal(ticks > 0, true);
});
