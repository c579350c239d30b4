/**
 * Joining through any node: each new process is given the address of the node started just
 * before it, which does not lead the metadata group (the first node does), so the admission is
 * registered through a forwarded proposal and completed by the leader's maintenance.
 */
import assert from "node:assert/strict";
import { TestCluster } from "../_cluster.ts";

Deno.test({
  name: "e2e: nodes joining through a node that does not lead the metadata group all become voters",
  sanitizeResources: false,
  fn: async () => {
    const cluster = await TestCluster.start({ size: 3, joinThrough: (i) => i - 1 });
    try {
      for (const i of [0, 1, 2]) {
        const status = await cluster.status(i);
        assert.equal(status.nodes.length, 3, JSON.stringify(status.nodes));
        assert.ok(status.nodes.every((n) => n.meta === "voter"), JSON.stringify(status.nodes));
      }
      assert.match(cluster.logs(), /registered node added to the metadata group/);
    } finally {
      await cluster.stop();
    }
  },
});
