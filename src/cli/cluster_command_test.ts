import assert from "node:assert/strict";
import { type ClusterStatus, formatClusterStatus } from "./cluster_command.ts";

Deno.test("cluster status: nodes with their state and load, moves with their copy, partitions", () => {
  const status: ClusterStatus = {
    clusterId: "c1",
    nodeId: 1,
    metaLeader: 1,
    nodes: [
      {
        id: 1,
        httpAddress: "a:8080",
        raftAddress: "a:9000",
        version: "v",
        meta: "voter",
        live: true,
        bytes: 3 * 1024 * 1024 + 512 * 1024,
      },
      {
        id: 2,
        httpAddress: "b:8080",
        raftAddress: "b:9000",
        version: "v",
        meta: "voter",
        live: false,
      },
      {
        id: 3,
        httpAddress: "c:8080",
        raftAddress: "c:9000",
        version: "v",
        meta: "learner",
        draining: true,
      },
    ],
    moves: [{
      database: "db",
      index: 0,
      groupId: 5,
      from: [2],
      to: [1],
      learners: [{ id: 1, match: 40, commit: 90 }],
    }],
    databases: [{
      name: "db",
      replicationFactor: 2,
      partitions: [{
        index: 0,
        groupId: 5,
        replicas: [3, 2],
        target: [3, 1],
        leader: 3,
        bytes: 2048,
      }],
    }],
  };
  const text = formatClusterStatus(status);
  assert.match(text, /metadata leader 1, 1 move\(s\) in progress/);
  const lines = text.split("\n");
  const row = (start: string) => lines.find((l) => l.startsWith(start))!.split(/\s+/);
  assert.deepEqual(row("1 "), [
    "1",
    "a:8080",
    "a:9000",
    "v",
    "live",
    "voter",
    "0",
    "0",
    "3.5MiB",
  ]);
  assert.deepEqual(row("2 ").slice(4), ["lost", "voter", "1", "0", "-"]);
  assert.deepEqual(row("3 ").slice(4), ["draining", "learner", "1", "1", "-"]);
  assert.ok(lines.some((l) => /^db\s+0\s+5\s+2\s+1\s+node 1: 40\/90$/.test(l)), text);
  assert.ok(lines.some((l) => /^0\s+5\s+3\s+3,2\s+3,1\s+2\.0KiB\s+-\s+-$/.test(l)), text);
  // Columns line up: every row of the nodes table starts its second column at one place.
  const nodeRows = lines.filter((l) => /^[123] /.test(l));
  assert.equal(new Set(nodeRows.map((l) => l.indexOf(":8080"))).size, 1);
});
