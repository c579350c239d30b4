/**
 * Joining while the metadata group's previous membership change is not committed yet (the
 * leader promotes the last node to join while the next one asks): the admission waits for it
 * instead of refusing the node (a refused node stops with 409).
 */
import assert from "node:assert/strict";
import { startMemoryCluster } from "./_memory_cluster.ts";

Deno.test("a node asking to join during another membership change is admitted", async () => {
  const cluster = await startMemoryCluster({ nodes: 2 });
  try {
    const { node } = cluster.nodes[0];
    // Another change starts right after the new node is registered, before its own change.
    let pending: Promise<void> | undefined;
    const propose = node.proposeMeta.bind(node);
    node.proposeMeta = async (command) => {
      const result = await propose(command);
      if (command.op === "add_node") {
        pending = node.meta.changeMembership({ type: "addLearner", nodeId: 99 })
          .catch(() => {}); // settles with the group (a failed admission stops it first)
      }
      return result;
    };
    const answer = await node.admit({
      httpAddress: "node3:8080",
      raftAddress: "node3:9000",
      version: "test",
      clusterId: "",
    });
    await pending;
    assert.equal(answer.nodeId, 3);
    assert.ok(node.meta.raft.raft.currentConf().learners.includes(3));
  } finally {
    await cluster.close();
  }
});

Deno.test("a node asking to join through a node that does not lead the metadata group is admitted", async () => {
  const cluster = await startMemoryCluster({ nodes: 3 });
  try {
    const leader = cluster.nodes.find(({ node }) => node.meta.isLeader())!.node;
    const follower = cluster.nodes.find(({ node }) => !node.meta.isLeader())!.node;
    // The leader's maintenance runs as its background task would, while the follower admits.
    let admitted = false;
    const maintaining = (async () => {
      for (let i = 0; i < 500 && !admitted; i++) {
        await leader.maintain();
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const answer = await follower.admit({
      httpAddress: "node4:8080",
      raftAddress: "node4:9000",
      version: "test",
      clusterId: "",
    }).finally(() => admitted = true);
    await maintaining;
    assert.equal(answer.nodeId, 4);
    const conf = leader.meta.raft.raft.currentConf();
    assert.ok(conf.learners.includes(4) || conf.voters.includes(4), JSON.stringify(conf));
    assert.deepEqual(answer.members.map((m) => m.id).sort(), [1, 2, 3, 4]);
  } finally {
    await cluster.close();
  }
});
