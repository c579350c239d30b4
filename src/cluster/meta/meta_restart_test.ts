import assert from "node:assert/strict";
import { silentLogger } from "../../core/mod.ts";
import { seededRng } from "../../raft/_test_util.ts";
import { denoFileSystem, systemClock } from "../../runtime/mod.ts";
import { MemoryHub } from "../memory_network.ts";
import { ClusterNode, type NodeIdentity } from "../node.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function startNode(hub: MemoryHub, dir: string, identity: NodeIdentity): Promise<ClusterNode> {
  return ClusterNode.start({
    dataDir: dir,
    identity,
    httpAddress: "node1:8080",
    raftAddress: "node1:9000",
    version: "test",
    network: hub.network(identity.nodeId),
    fs: denoFileSystem,
    clock: systemClock,
    rng: seededRng(identity.nodeId),
    logger: silentLogger,
    sleep,
    tickMs: 10,
    maintenanceIntervalMs: 0,
    // What a start waits at most for its metadata copy to apply what it had committed.
    requestTimeoutMs: 2000,
  });
}

/**
 * A restarted node's metadata copy counts as applied what its Raft node applied, snapshots and
 * entries without a command (a leader's first entry) included. It counted only commands: a start
 * whose committed log ended in a snapshot (the node trims its log once every head is flushed) or
 * in a leader's empty entry (a restart at the same addresses) waited out the request timeout
 * (10 s by default) for an index it had applied.
 */
Deno.test("metadata copy: a restart applies up to the commit its log ends with, snapshot or empty entry", async () => {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-meta-restart-" });
  const hub = new MemoryHub();
  const identity = { clusterId: "c1", nodeId: 1, bootstrap: true };
  try {
    let node = await startNode(hub, dir, identity);
    // The founding start's log ends with a command (add_node); the next ones, at the same
    // addresses, with the empty entry of the term they elect themselves in.
    for (const how of ["command", "empty entry", "snapshot"]) {
      const deadline = Date.now() + 5000;
      while (!node.meta.isLeader() && Date.now() < deadline) await sleep(10);
      // The leader's empty entry of its term is committed and applied once it leads alone.
      while (node.meta.applied < node.meta.raft.status().lastIndex) {
        assert.ok(Date.now() < deadline, "the lone leader applies its first entry");
        await sleep(10);
      }
      if (how === "snapshot") await node.meta.snapshotNow();
      const commit = node.meta.raft.status().commit;
      await node.close();
      hub.network(1).reset();
      node = await startNode(hub, dir, { ...identity, bootstrap: false });
      // Applied at start, or once the node has elected itself again (it needs no new command).
      await node.meta.waitApplied(commit, 5000).catch((error) => {
        assert.fail(`${how}: index ${commit} not applied after the restart: ${error.message}`);
      });
      assert.ok(node.meta.applied >= commit, `${how}: applied ${node.meta.applied} < ${commit}`);
    }
    await node.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
