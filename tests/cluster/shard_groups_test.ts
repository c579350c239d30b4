/**
 * A partition leader whose copy of the metadata lags the node that routed a write (which has
 * just made the points' shard group) makes the metadata's group, not one of its own: shard
 * groups are the metadata's on every replica (retention drops them by their bounds).
 */
import assert from "node:assert/strict";
import { startMemoryCluster, waitUntil } from "./_memory_cluster.ts";

const HOUR = 3_600_000;
const T0 = 1_678_838_400_000; // 2023-03-15T00:00Z

Deno.test("every replica's shard groups are the metadata's, whichever node routed the write", async () => {
  const cluster = await startMemoryCluster({
    nodes: 3,
    defaults: { partitions: 1, replicationFactor: 3 },
  });
  try {
    const [first] = cluster.nodes;
    await first.store.createDatabase("db");
    await first.store.alterRetentionPolicy("db", "autogen", {
      shardGroupDurationNs: 3_600_000_000_000n,
    });
    const replica = (i: number) => [...cluster.nodes[i].node.replicas.values()][0];
    await waitUntil("the partition has a leader", 5_000, () => replica(0).leader() !== 0);
    // Route through a node that leads neither the partition nor the metadata, so the write goes
    // to another node at once, ahead of the metadata change it made.
    const partitionLeader = replica(0).leader();
    const metaLeader = first.node.meta.leader();
    const via = cluster.nodes.find(({ node }) =>
      node.nodeId !== partitionLeader && node.nodeId !== metaLeader
    ) ?? cluster.nodes.find(({ node }) =>
      node.nodeId !== partitionLeader
    )!;
    for (const h of [2, 0, 5, 3, 1, 4]) {
      const body = `cpu,host=a v=${h} ${(T0 + h * HOUR + 30 * 60_000) * 1e6}`;
      const r = await via.app(new Request("http://node/write?db=db", { method: "POST", body }));
      assert.equal(r.status, 204, await r.text());
    }
    const expected = first.node.meta.state.databases.get("db")!.retentionPolicies.get("autogen")!
      .shardGroups.map((g) => [g.startMs, g.endMs]);
    assert.equal(expected.length, 6);
    for (let i = 0; i < 3; i++) {
      await waitUntil(`node ${i + 1} applied the six points`, 5_000, () =>
        replica(i).engine.stats().values === 6);
      const groups = replica(i).engine.shards("db", "autogen", -(2n ** 63n), 2n ** 63n - 1n)
        .map((s) => [s.startMs, s.endMs]).sort((a, b) =>
          a[0] - b[0]
        );
      assert.deepEqual(groups, expected, `node ${i + 1}`);
    }
  } finally {
    await cluster.close();
  }
});
