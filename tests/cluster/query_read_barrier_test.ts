/**
 * A query shares one read barrier among its reads without losing linearizability: one barrier
 * for its reads, and another after one of its statements writes (its effect may not be applied
 * on this node yet).
 */
import assert from "node:assert/strict";
import { startMemoryCluster, waitUntil, writeAcknowledged } from "./_memory_cluster.ts";

const T0 = 1_700_000_000_000_000_000n;

/** A 3-node cluster with one partition (3 replicas) holding `cpu v=0..4`, and who leads it. */
async function onePartition() {
  const cluster = await startMemoryCluster({
    nodes: 3,
    defaults: { partitions: 1, replicationFactor: 3 },
    writeTimeoutMs: 5_000,
  });
  await cluster.nodes[0].store.createDatabase("db");
  await writeAcknowledged(
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
