/**
 * A read barrier asked of a leader that is then lost: the follower's ReadIndex request gets no
 * answer, and the read must be retried with the next leader instead of waiting out the request
 * timeout (10 s) and failing. During the chaos test every kill of a leader did that to the
 * queries in flight.
 */
import assert from "node:assert/strict";
import { startMemoryCluster, waitUntil } from "./_memory_cluster.ts";

Deno.test("a read barrier whose leader is cut off completes with the next leader", async () => {
  const cluster = await startMemoryCluster({
    nodes: 3,
    defaults: { partitions: 1, replicationFactor: 3 },
    writeTimeoutMs: 8_000,
  });
  try {
    const [first] = cluster.nodes;
    await first.store.createDatabase("db");
    const r = await first.app(
      new Request("http://node/write?db=db", { method: "POST", body: "m v=1 1" }),
    );
    assert.equal(r.status, 204, await r.text());
    const replicaOf = (i: number) => [...cluster.nodes[i].node.replicas.values()][0];
    await waitUntil(
      "every replica knows the leader",
      5_000,
      () => cluster.nodes.every((_, i) => replicaOf(i).leader() !== 0),
    );
    const leader = replicaOf(0).leader();
    const follower = cluster.nodes.findIndex(({ node }) => node.nodeId !== leader);
    // The follower asks the leader it knows, which is gone by then: the request is dropped.
    cluster.hub.isolate(leader);
    const started = Date.now();
    await cluster.nodes[follower].store.readBarrier(["db"]);
    const newLeader = replicaOf(follower).leader();
    assert.ok(newLeader !== 0 && newLeader !== leader, `new leader ${newLeader}`);
    console.log(`read barrier across a leader change: ${Date.now() - started} ms`);
  } finally {
    await cluster.close();
  }
});
