/**
 * A query's read barriers through a node that follows every group (src/cluster/read_round.ts):
 * one ReadIndexes call per leader node confirms the read points, and the node's replicas are
 * read only once they have applied that far. Node 3 here leads nothing; its links in are cut
 * after a first write, so its replicas miss the second write (acknowledged by nodes 1 and 2)
 * until the links heal while the query waits.
 */
import assert from "node:assert/strict";
import { META_GROUP_ID } from "../../src/cluster/meta/meta_state.ts";
import { countCpu, startMemoryCluster, waitUntil, writeCpuPoints } from "./_memory_cluster.ts";

Deno.test("a follower's query waits for the read points its leaders' nodes confirm in one call each", async () => {
  const cluster = await startMemoryCluster({
    nodes: 3,
    defaults: { partitions: 6, replicationFactor: 3 },
    writeTimeoutMs: 3_000,
    tickMs: 100, // leases of ~650 ms, as on a real node: a loaded machine rarely lapses them
  });
  const [first, , third] = cluster.nodes;
  try {
    await first.store.createDatabase("db");
    await writeCpuPoints(first, 0, 20);
    // Node 3 hands over whatever it leads: every group it reads is led on another node.
    await waitUntil("node 3 leads no group", 10_000, () => {
      let leads = 0;
      for (const [, replica] of third.node.replicas) {
        if (replica.raft.isLeader()) {
          leads++;
          replica.raft.transferLeadership(1);
        }
      }
      if (third.node.meta.raft.isLeader()) {
        leads++;
        third.node.meta.raft.transferLeadership(1);
      }
      return leads === 0;
    });
    // A leader answers for a group only under its lease (a new leader: after its first commit).
    await waitUntil(
      "every group's leader holds a lease",
      10_000,
      () =>
        [META_GROUP_ID, ...third.node.replicas.keys()].every((id) =>
          cluster.nodes.some(({ node }) => {
            const member = id === META_GROUP_ID ? node.meta.raft : node.replicas.get(id)?.raft;
            return member?.raft.leaseReadIndex() != null;
          })
        ),
    );
    // Counted by a query of node 3's own replicas, not by values stored: a write sent again
    // after a 503 may have been applied once already (stored twice until deduplicated).
    await waitUntil(
      "node 3 has applied the 20 points",
      10_000,
      async () => await countCpu(third, "any") === 20,
    );

    const peers = third.node.network.peers;
    const ask = peers.readIndexes!;
    const calls: { node: number; groups: number[]; answers: number[] }[] = [];
    peers.readIndexes = async (node, groupIds) => {
      const answers = await ask(node, groupIds);
      calls.push({ node, groups: [...groupIds], answers });
      return answers;
    };
    // A leader whose lease lapsed (a loaded machine) answers 0, and node 3 falls back to a Raft
    // ReadIndex, whose answer the cut may lose: that query fails, and the round is done again.
    let written = 20;
    let confirmed = 0;
    for (let round = 0; round < 5 && confirmed === 0; round++) {
      await waitUntil(
        "node 3 caught up",
        20_000,
        async () => await countCpu(third, "any") === written,
      );
      calls.length = 0;
      cluster.hub.cut.add("1>3");
      cluster.hub.cut.add("2>3");
      await writeCpuPoints(first, written, 10); // acknowledged by nodes 1 and 2; node 3 hears nothing
      written += 10;
      assert.equal(third.store.stats().values, written - 10, "node 3's replicas lag the write");
      const answer = countCpu(third);
      await waitUntil("node 3 asked its leaders' nodes", 10_000, () => calls.length > 0);
      setTimeout(() => {
        cluster.hub.cut.delete("1>3");
        cluster.hub.cut.delete("2>3");
      }, 100);
      const counted = await answer;
      if (typeof counted === "string") continue;
      assert.equal(counted, written, "the read waited for the points acknowledged before it");
      confirmed = calls.flatMap((c) => c.answers).filter((index) => index > 0).length;
    }
    assert.ok(confirmed > 0, "the leaders confirmed read points under their leases");

    const nodes = calls.map((c) => c.node);
    assert.equal(new Set(nodes).size, nodes.length, `one call per leader node: ${nodes}`);
    // (A group whose leader node 3 has not heard of since a heal takes its own barrier.)
    const asked = calls.flatMap((c) => c.groups);
    assert.ok(asked.length > nodes.length, `several groups per call: ${asked}`);
    assert.ok(asked.includes(META_GROUP_ID), "the metadata's barrier goes in the same round");
  } finally {
    cluster.hub.cut.clear();
    await cluster.close();
  }
});
