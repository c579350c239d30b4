import assert from "node:assert/strict";
import { EpochError } from "../core/mod.ts";
import { parseStatement, type SelectStatement } from "../query/mod.ts";
import { MemoryStore } from "../query/_memory_store_test_helper.ts";
import { cqDefinition, runCq } from "./continuous_query.ts";

const cq = (text: string) =>
  cqDefinition({
    name: "cq",
    database: "db",
    select: parseStatement(text) as SelectStatement,
    query: text,
  });
const range = { startNs: 0n, endNs: 60_000_000_000n, nowNs: 60_000_000_000n };

Deno.test("a run keeps the failure's code: the schedule retries a cluster's, skips a query's", async () => {
  const store = new MemoryStore();
  await store.createDatabase("db");
  const ok = cq("SELECT max(v) INTO m2 FROM m GROUP BY time(1m)");
  // A partition without a leader: unavailable, so the same range runs again next round.
  class Leaderless extends MemoryStore {
    readBarrier(): Promise<void> {
      return Promise.reject(new EpochError("unavailable", "group 3 has no leader"));
    }
  }
  const leaderless = new Leaderless();
  await leaderless.createDatabase("db");
  await assert.rejects(
    runCq(leaderless, ok, range),
    (e) => e instanceof EpochError && e.code === "unavailable",
  );
  // INTO a database that does not exist: the query's own failure.
  await assert.rejects(
    runCq(store, cq("SELECT max(v) INTO nowhere.autogen.m2 FROM m GROUP BY time(1m)"), range),
    (e) => e instanceof EpochError && e.code === "not_found" && /nowhere/.test(e.message),
  );
});

Deno.test("FOR must reach max(interval, EVERY), as InfluxDB checks it", () => {
  const select = parseStatement(
    "SELECT max(v) INTO m2 FROM m GROUP BY time(1m)",
  ) as SelectStatement;
  const spec = { name: "cq", database: "db", select, query: "" };
  assert.throws(
    () => cqDefinition({ ...spec, everyNs: 120_000_000_000n, forNs: 90_000_000_000n }),
    /must be a minimum of 2m, got 90s/,
  );
  cqDefinition({ ...spec, everyNs: 120_000_000_000n, forNs: 120_000_000_000n });
});
