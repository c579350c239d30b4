/**
 * A query reads in-process the partition replicas the metadata lists on its node, as the
 * metadata stands after the read barrier; the barrier must cover those, not only the ones listed
 * when it started. Cluster sim seed 96: a move promoted node 3's replica of a partition; node 3's
 * metadata copy had not applied the new replica list yet, so the query's barrier skipped that
 * partition, and the metadata barrier (run at the same time) then applied the list. The query
 * read node 3's replica, which lagged a write acknowledged before the query: a stale read.
 *
 * The node here is a stand-in with just what `ClusterStore.readBarrier` consults, so the
 * metadata's change can land exactly inside the metadata barrier.
 */
import assert from "node:assert/strict";
import { ClusterStore } from "../../src/cluster/cluster_store.ts";
import type { ClusterNode } from "../../src/cluster/node.ts";
import { systemClock } from "../../src/runtime/mod.ts";

/** A replica whose barrier brings it up to date a few turns later (a ReadIndex round). */
class LaggingReplica {
  barriers = 0;
  current = false;
  async readBarrier(): Promise<void> {
    this.barriers++;
    for (let i = 0; i < 3; i++) await Promise.resolve();
    this.current = true;
  }
}

Deno.test("a replica the metadata barrier lists on this node passes the read barrier too", async () => {
  const NODE = 3;
  const listed = new LaggingReplica(); // listed here from the start
  const promoted = new LaggingReplica(); // listed by the change the metadata barrier applies
  const partitions = [
    { groupId: 1, replicas: [3, 1] },
    { groupId: 2, replicas: [2, 1] },
  ];
  const held = new Map([[1, listed], [2, promoted]]);
  const node = {
    nodeId: NODE,
    meta: {
      state: { databases: new Map([["db", { name: "db", partitions }]]) },
      sync: async () => {
        await Promise.resolve();
        partitions[1].replicas = [3, 2, 1]; // set_replicas, applied by this barrier
      },
    },
    localReplica: (groupId: number) =>
      partitions.find((p) => p.groupId === groupId)?.replicas.includes(NODE)
        ? held.get(groupId)
        : undefined,
    openReplica: (groupId: number) => Promise.resolve(held.get(groupId)),
  };
  const store = new ClusterStore(node as unknown as ClusterNode, {
    clock: systemClock,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  });

  await store.readBarrier(["db"]);

  for (const p of partitions) {
    const replica = node.localReplica(p.groupId);
    assert.ok(replica, `group ${p.groupId} is read in-process on node ${NODE}`);
    assert.ok(replica.current, `group ${p.groupId}: read in-process without its barrier`);
    assert.equal(replica.barriers, 1, `group ${p.groupId}: one barrier`);
  }
});
