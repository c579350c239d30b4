import assert from "node:assert/strict";
import { MetaState } from "./meta_state.ts";
import { cqJobId } from "./meta_jobs.ts";

const cq = {
  name: "cq1",
  database: "db",
  query:
    "CREATE CONTINUOUS QUERY cq1 ON db BEGIN SELECT mean(v) INTO db.autogen.m1 FROM db.autogen.m GROUP BY time(1h) END",
  select: "SELECT mean(v) INTO db.autogen.m1 FROM db.autogen.m GROUP BY time(1h)",
  everyNs: "0",
  forNs: "0",
};

function state(): MetaState {
  const s = new MetaState();
  s.apply({ op: "add_node", httpAddress: "a:1", raftAddress: "a:2", version: "t" });
  s.apply({
    op: "create_database",
    name: "db",
    partitions: 1,
    hash: "fnv1a64",
    hashKey: "series",
    replicationFactor: 1,
  });
  return s;
}

Deno.test("continuous queries: InfluxDB's rules for create and drop; they go with their database", () => {
  const s = state();
  assert.deepEqual(s.apply({ op: "create_cq", cq: { ...cq, database: "nope" } }), {
    ok: false,
    error: "database not found: nope",
  });
  assert.deepEqual(s.apply({ op: "create_cq", cq }), { ok: true });
  assert.deepEqual(s.apply({ op: "create_cq", cq }), { ok: true }); // the same again
  assert.deepEqual(s.apply({ op: "create_cq", cq: { ...cq, query: `${cq.query} ` } }), {
    ok: false,
    error: "continuous query already exists",
  });
  s.apply({ op: "jobs_round", round: { runs: { [cqJobId("db", "cq1")]: "3600000000000" } } });
  assert.equal(s.jobs.lastRuns.get(cqJobId("db", "cq1")), 3_600_000_000_000n);
  assert.deepEqual(s.apply({ op: "drop_cq", database: "db", name: "cq1" }), { ok: true });
  assert.equal(s.jobs.lastRuns.size, 0);
  assert.deepEqual(s.apply({ op: "drop_cq", database: "db", name: "cq1" }), { ok: true });
  s.apply({ op: "create_cq", cq });
  s.apply({ op: "drop_database", name: "db" });
  assert.equal(s.jobs.cqs.size, 0);
});

Deno.test("the schedule's state survives a snapshot: runs, alerts, evaluations, API rules", () => {
  const s = state();
  s.apply({ op: "create_cq", cq });
  s.apply({ op: "put_alert_rule", rule: { name: "Hot", database: "db" } });
  const alert = {
    labels: { alertname: "Hot" },
    state: "firing" as const,
    activeAtMs: 1,
    firedAtMs: 2,
    resolvedAtMs: 0,
    notifiedMs: 3,
    value: 35,
  };
  s.apply({
    op: "jobs_round",
    round: {
      runs: { [cqJobId("db", "cq1")]: "99" },
      evaluations: { Hot: { atMs: 5, durationMs: 1, error: "", node: 1 } },
      alerts: { Hot: { x: alert, gone: null } },
    },
  });
  const copy = new MetaState();
  copy.restore(s.snapshot());
  assert.deepEqual(copy.jobs.toJSON(), s.jobs.toJSON());
  assert.equal(copy.jobs.alerts.get("Hot")?.get("x")?.firedAtMs, 2);
  // An alert set to null is gone, and a rule without alerts too.
  copy.apply({ op: "jobs_round", round: { alerts: { Hot: { x: null } } } });
  assert.equal(copy.jobs.alerts.has("Hot"), false);
});
