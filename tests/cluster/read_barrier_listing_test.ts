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
  readonly engine = { hasDatabase: () => false };
  barriers = 0;
  current = false;
  async readBarrier(): Promise<void> {
    this.barriers++;
    for (let i = 0; i < 3; i++) await Promise.resolve();
    this.current = true;
  }
}

/** A stand-in node holding `held`, with one database whose partitions are `partitions`. */
function standIn(
  partitions: { groupId: number; replicas: number[] }[],
  held: Map<number, LaggingReplica>,
  onSync: () => void = () => {},
) {
  const node = {
    nodeId: NODE,
    network: { peers: {} }, // no batched read round: each replica's own barrier
    meta: {
      state: {
        databases: new Map([["db", {
          name: "db",
          partitions,
          retentionPolicies: new Map([["autogen", { name: "autogen" }]]),
        }]]),
      },
      sync: async () => {
        await Promise.resolve();
        onSync();
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
  return { node, store };
}

const NODE = 3;

Deno.test("a replica the metadata barrier lists on this node passes the read barrier too", async () => {
  const listed = new LaggingReplica(); // listed here from the start
  const promoted = new LaggingReplica(); // listed by the change the metadata barrier applies
  const partitions = [
    { groupId: 1, replicas: [3, 1] },
    { groupId: 2, replicas: [2, 1] },
  ];
  const { node, store } = standIn(partitions, new Map([[1, listed], [2, promoted]]), () => {
    partitions[1].replicas = [3, 2, 1]; // set_replicas, applied by this barrier
  });

  await store.readBarrier(["db"]);

  for (const p of partitions) {
    const replica = node.localReplica(p.groupId);
    assert.ok(replica, `group ${p.groupId} is read in-process on node ${NODE}`);
    assert.ok(replica.current, `group ${p.groupId}: read in-process without its barrier`);
    assert.equal(replica.barriers, 1, `group ${p.groupId}: one barrier`);
  }
});

Deno.test("a replica listed on this node after the query's barrier is barriered before it is read", async () => {
  const listed = new LaggingReplica();
  const promoted = new LaggingReplica();
  const partitions = [
    { groupId: 1, replicas: [3, 1] },
    { groupId: 2, replicas: [2, 1] },
  ];
  const { node, store } = standIn(partitions, new Map([[1, listed], [2, promoted]]));
  await store.readBarrier(["db"]);
  assert.equal(promoted.barriers, 0, "not listed during the barrier: read at its leader");

  // The metadata applies the promotion between the barrier and the read (a statement before
  // this one waited on other nodes meanwhile).
  partitions[1].replicas = [3, 2, 1];
  const readers = await store.shardsAsync("db", "autogen", 0n, 1n);

  assert.deepEqual(readers, []);
  assert.ok(node.localReplica(2) === promoted, "group 2 is read in-process now");
  assert.ok(promoted.current, "group 2: read in-process without a barrier since it was listed");
  assert.equal(promoted.barriers, 1);
  assert.equal(listed.barriers, 1, "group 1: its barrier still holds, no second one");
  await store.shardsAsync("db", "autogen", 0n, 1n);
  assert.equal(promoted.barriers, 1, "group 2: fenced now, no barrier on the next read");
});
