/**
 * Reads at `leader` consistency go to each partition's leader's node: a coordinator that holds a
 * follower replica takes no ReadIndex round on it (a Raft message to the leader and back) but
 * asks the leader's node, which answers from its lease; and the answer still holds every write
 * acknowledged before the query.
 */
import assert from "node:assert/strict";
import { MessageType } from "../../src/raft/types.ts";
import { type MemoryNode, startMemoryCluster, waitUntil } from "./_memory_cluster.ts";

const T0 = 1_700_000_000_000_000_000n;

async function write(node: MemoryNode, body: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (let attempt = 0;; attempt++) {
    const r = await node.app(new Request("http://node/write?db=db", { method: "POST", body }));
    const text = await r.text();
    if (r.status === 503 && Date.now() < deadline && attempt < 100) continue;
    assert.equal(r.status, 204, text);
    return;
  }
}

async function count(node: MemoryNode): Promise<unknown> {
  const params = new URLSearchParams({ db: "db", q: "SELECT count(v) FROM cpu" });
  const r = await node.app(new Request(`http://node/query?${params}`));
  const body = await r.json();
  return body.results[0].error ?? body.results[0].series?.[0]?.values[0][1];
}

Deno.test("a query through a follower's node reads at the leader's node and sees every acknowledged write", async () => {
  const cluster = await startMemoryCluster({
    nodes: 3,
    defaults: { partitions: 1, replicationFactor: 3 },
    writeTimeoutMs: 5_000,
  });
  try {
    const [first] = cluster.nodes;
    await first.store.createDatabase("db");
    await write(first, `cpu,host=h v=0 ${T0}`);
    const replicaOf = (n: MemoryNode) => [...n.node.replicas.values()][0];
    await waitUntil(
      "every replica knows the leader",
      10_000,
      () => cluster.nodes.every((n) => replicaOf(n).leader() !== 0),
    );
    const leaderId = replicaOf(first).leader();
    const leader = cluster.nodes.find((n) => n.node.nodeId === leaderId)!;
    const follower = cluster.nodes.find((n) => n.node.nodeId !== leaderId)!;
    const writer = cluster.nodes.find((n) => n !== leader && n !== follower)!;

    let followerBarriers = 0;
    const replica = replicaOf(follower);
    const barrier = replica.readBarrier.bind(replica);
    replica.readBarrier = (timeoutMs?: number) => {
      followerBarriers++;
      return barrier(timeoutMs);
    };
    const selects = new Map<number, number>();
    const peers = follower.node.network.peers;
    const select = peers.select.bind(peers);
    peers.select = (target, request) => {
      selects.set(target, (selects.get(target) ?? 0) + 1);
      return select(target, request);
    };

    // The follower's replica hears its leader's heartbeats but gets no entry: it lags behind
    // every write below, so a read of it here would miss them.
    const raft = replica.raft.raft;
    const step = raft.step.bind(raft);
    raft.step = (m) => {
      if (m.type !== MessageType.App) step(m);
    };
    // Each write is acknowledged (committed by the leader and the writer's replica) before the
    // read: the read must count it.
    for (let i = 1; i <= 10; i++) {
      await write(writer, `cpu,host=h v=${i} ${T0 + BigInt(i)}`);
      assert.equal(await count(follower), i + 1, `read ${i} through the follower's node`);
    }
    assert.equal(followerBarriers, 0, "no ReadIndex round on the follower's replica");
    assert.ok((selects.get(leaderId) ?? 0) >= 10, `selects by target: ${[...selects]}`);
    assert.ok(follower.store.stats().values < 11, "the follower's replica did lag");
  } finally {
    await cluster.close();
  }
});
