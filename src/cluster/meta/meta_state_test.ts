import assert from "node:assert/strict";
import { MetaState } from "./meta_state.ts";

const HOUR = 3_600_000;
const T0 = 1_678_838_400_000; // 2023-03-15T00:00Z: inside a 7-day group, not at its start

Deno.test("shard groups: a time between groups of an earlier, shorter duration gets the gap between them", () => {
  const state = new MetaState();
  state.apply({ op: "add_node", httpAddress: "a:1", raftAddress: "a:2", version: "v" });
  state.apply({
    op: "create_database",
    name: "db",
    partitions: 1,
    hash: "fnv1a64",
    hashKey: "series",
    replicationFactor: 1,
  });
  const hourly = { op: "alter_retention_policy", database: "db", name: "autogen" } as const;
  state.apply({ ...hourly, shardGroupDurationNs: String(HOUR * 1e6) });
  state.apply({
    op: "create_shard_groups",
    database: "db",
    retentionPolicy: "autogen",
    timesMs: [T0 + 2 * HOUR, T0, T0 + 5 * HOUR],
  });
  state.apply({ ...hourly, shardGroupDurationNs: "0" }); // back to 7 days
  state.apply({
    op: "create_shard_groups",
    database: "db",
    retentionPolicy: "autogen",
    timesMs: [T0 + 3.5 * HOUR],
  });
  const groups = state.databases.get("db")!.retentionPolicies.get("autogen")!.shardGroups
    .map((g) => [(g.startMs - T0) / HOUR, (g.endMs - T0) / HOUR]);
  assert.deepEqual(groups, [[0, 1], [2, 3], [3, 5], [5, 6]]);
});
