/**
 * Read barriers are shared without losing linearizability: concurrent barriers of a replica share
 * ReadIndex rounds, but one asked while a round is in flight waits for the next round (the round
 * in flight may have fixed its index before a write it must see); a query takes one barrier for
 * its reads, and another after one of its statements writes.
 */
import assert from "node:assert/strict";
import type { Message } from "../../src/raft/mod.ts";
import { MessageType } from "../../src/raft/mod.ts";
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

/** A 3-node cluster with one partition (3 replicas) holding `cpu v=0..4`, and who leads it. */
async function onePartition() {
  const cluster = await startMemoryCluster({
    nodes: 3,
    defaults: { partitions: 1, replicationFactor: 3 },
    writeTimeoutMs: 5_000,
  });
  await cluster.nodes[0].store.createDatabase("db");
  await write(
    cluster.nodes[0],
    Array.from({ length: 5 }, (_, i) => `cpu,host=h${i} v=${i} ${T0 + BigInt(i)}`).join("\n"),
  );
  const replicaOf = (i: number) => [...cluster.nodes[i].node.replicas.values()][0];
  await waitUntil(
    "every replica knows the leader and applied the 5 points",
    10_000,
    () =>
      cluster.nodes.every((n, i) => replicaOf(i).leader() !== 0 && n.store.stats().values === 5),
  );
  const leaderId = replicaOf(0).leader();
  const leader = cluster.nodes.findIndex(({ node }) => node.nodeId === leaderId);
  const follower = cluster.nodes.findIndex(({ node }) => node.nodeId !== leaderId);
  return { cluster, replicaOf, leader, follower };
}

Deno.test("concurrent read barriers of a replica share ReadIndex rounds", async () => {
  const { cluster, replicaOf, follower } = await onePartition();
  try {
    const replica = replicaOf(follower);
    const raft = replica.raft.raft;
    let rounds = 0;
    const readIndex = raft.readIndex.bind(raft);
    raft.readIndex = (context: Uint8Array) => {
      rounds++;
      readIndex(context);
    };
    await Promise.all(Array.from({ length: 20 }, () => replica.readBarrier(5_000)));
    assert.ok(rounds <= 2, `20 concurrent barriers took ${rounds} ReadIndex rounds`);
  } finally {
    await cluster.close();
  }
});

Deno.test("a read barrier asked while a round is in flight waits for the next round", async () => {
  const { cluster, replicaOf, leader, follower } = await onePartition();
  try {
    const replica = replicaOf(follower);
    const raft = replica.raft.raft;
    const held: Message[] = [];
    const step = raft.step.bind(raft);
    raft.step = (m: Message) => {
      if (m.type === MessageType.ReadIndexResp && held.length === 0) held.push(m);
      else step(m);
    };
    const first = replica.readBarrier(10_000);
    await waitUntil("the first round's answer is held", 5_000, () => held.length === 1);
    // A write the follower does not receive, acknowledged before the second barrier is asked.
    const leaderId = cluster.nodes[leader].node.nodeId;
    const followerId = cluster.nodes[follower].node.nodeId;
    cluster.hub.cut.add(`${leaderId}>${followerId}`);
    await write(cluster.nodes[leader], `cpu,host=late v=99 ${T0 + 99n}`);
    let secondDone = false;
    const second = replica.readBarrier(10_000).then(() => {
      secondDone = true;
      return cluster.nodes[follower].store.stats().values;
    });
    step(held[0]); // the first round ends with the index it took before the write
    await first;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(secondDone, false, "the second barrier was served by the earlier round");
    cluster.hub.cut.delete(`${leaderId}>${followerId}`);
    assert.equal(await second, 6, "the barrier's reads see the write acknowledged before it");
  } finally {
    await cluster.close();
  }
});

Deno.test("a query takes one read barrier for its reads, and another after it writes", async () => {
  const { cluster } = await onePartition();
  try {
    const node = cluster.nodes[1];
    let barriers = 0;
    const readBarrier = node.store.readBarrier.bind(node.store);
    node.store.readBarrier = (databases: readonly string[]) => {
      barriers++;
      return readBarrier(databases);
    };
    const ask = async (q: string) => {
      const r = await node.app(
        new Request(`http://node/query?${new URLSearchParams({ db: "db", q })}`, {
          method: "POST",
        }),
      );
      const body = await r.json();
      return body.results.map((x: { series?: { values: unknown[][] }[]; error?: string }) =>
        x.error ?? x.series?.[0]?.values[0][1]
      );
    };
    assert.deepEqual(
      (await ask("SELECT count(v) FROM cpu; SELECT sum(v) FROM cpu; SHOW MEASUREMENTS")).slice(
        0,
        2,
      ),
      [5, 10],
    );
    assert.equal(barriers, 1, "three reads, one barrier");
    barriers = 0;
    assert.deepEqual(
      await ask(
        "SELECT count(v) FROM cpu; DELETE FROM cpu WHERE host = 'h0'; SELECT count(v) FROM cpu",
      ),
      [5, undefined, 4],
    );
    assert.equal(barriers, 2, "the read after the delete takes its own barrier");
  } finally {
    await cluster.close();
  }
});
