import { deepEqual, equal, match } from "node:assert/strict";
import { MemoryStore } from "./_memory_store_test_helper.ts";
import type { ContinuousQueryAdmin } from "./continuous_queries.ts";
import { executeStatements } from "./executor.ts";
import { parseQuery } from "./parser.ts";

const NOW = 1764000000000000000n;

async function run(store: MemoryStore, q: string, admin?: ContinuousQueryAdmin) {
  const [result] = await executeStatements(store, parseQuery(q), {
    database: "db",
    nowNs: NOW,
    ...(admin && { continuousQueries: admin }),
  });
  return result;
}

Deno.test("continuous queries on a server that runs no jobs: none kept, CREATE refused", async () => {
  const store = new MemoryStore();
  await store.createDatabase("db");
  await store.createDatabase("a");
  const show = await run(store, "SHOW CONTINUOUS QUERIES");
  // InfluxDB's answer when there are none: each database, in creation order, with no rows.
  deepEqual(show.series?.map((s) => [s.name, s.values.length]), [["db", 0], ["a", 0]]);
  equal((await run(store, "DROP CONTINUOUS QUERY cq ON db")).error, undefined);
  const cq = "BEGIN SELECT mean(v) INTO m2 FROM m GROUP BY time(1m) END";
  equal(
    (await run(store, `CREATE CONTINUOUS QUERY cq ON nodb ${cq}`)).error,
    "database not found: nodb",
  );
  match(
    (await run(store, `CREATE CONTINUOUS QUERY cq ON db ${cq}`)).error ?? "",
    /^not supported: /,
  );
});

Deno.test("CREATE CONTINUOUS QUERY hands the runner main's AST qualified, RESAMPLE 0s as absent", async () => {
  const store = new MemoryStore();
  await store.createDatabase("db");
  const created: Parameters<ContinuousQueryAdmin["createContinuousQuery"]>[0][] = [];
  const admin: ContinuousQueryAdmin = {
    createContinuousQuery: (spec) => Promise.resolve(void created.push(spec)),
    dropContinuousQuery: () => Promise.resolve(),
    continuousQueries: () => [],
  };
  const result = await run(
    store,
    "CREATE CONTINUOUS QUERY cq ON db RESAMPLE EVERY 0s FOR 1h BEGIN " +
      "SELECT mean(v) INTO autogen.:MEASUREMENT FROM m GROUP BY time(1m) END",
    admin,
  );
  equal(result.error, undefined);
  equal(created.length, 1);
  const [spec] = created;
  equal(spec.everyNs, undefined);
  equal(spec.forNs, 3_600_000_000_000n);
  deepEqual(spec.select.into, { kind: "measurement", database: "db", retentionPolicy: "autogen" });
  // As InfluxDB prints it: no EVERY 0s, measurements qualified, the back-reference kept.
  equal(
    spec.query,
    "CREATE CONTINUOUS QUERY cq ON db RESAMPLE FOR 1h BEGIN SELECT mean(v) INTO " +
      "db.autogen.:MEASUREMENT FROM db.autogen.m GROUP BY time(1m) END",
  );
});
