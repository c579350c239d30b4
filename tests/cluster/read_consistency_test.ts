/**
 * `consistency` of queries: `leader` (the default) sees every acknowledged write or fails with
 * an error naming the partition; `any` reads the nearest replica as it is: a node cut off from
 * the others answers from its own, stale, replicas without asking anyone.
 */
import assert from "node:assert/strict";
import {
  countCpu,
  type MemoryNode,
  startMemoryCluster,
  waitUntil,
  writeCpuPoints,
} from "./_memory_cluster.ts";

Deno.test("consistency=any answers from a cut-off node's own replicas; leader refuses naming the partition", async () => {
  const cluster = await startMemoryCluster({
    nodes: 3,
    defaults: { partitions: 4, replicationFactor: 3 },
    writeTimeoutMs: 300,
  });
  const [first, , third] = cluster.nodes;
  try {
    await first.store.createDatabase("db");
    await writeCpuPoints(first, 0, 20);
    // Counted by a query, not by values stored: a write sent again after a 503 may have been
    // applied once already, and its points are stored twice until they are deduplicated.
    await waitUntil(
      "node 3 has applied the 20 points",
      30_000,
      async () => await countCpu(third, "any") === 20,
    );
    cluster.hub.isolate(3);
    await writeCpuPoints(first, 20, 10); // the majority goes on
    assert.equal(await countCpu(first), 30);
    assert.equal(await countCpu(first, "any"), 30);
    assert.equal(await countCpu(third, "any"), 20, "node 3's own replicas, as they are");
    assert.match(
      String(await countCpu(third)),
      /^partition group \d+ cannot confirm a read|cannot answer/,
      "leader consistency never answers from a stale replica",
    );
    assert.equal(await countCpu(third, "leader"), await countCpu(third));
    const bad = await countCpu(third, "all");
    assert.match(String(bad), /^HTTP 400: invalid consistency "all": use leader/);
    cluster.hub.isolate(3, false);
    await waitUntil("node 3 caught up", 30_000, async () => await countCpu(third, "any") === 30);
    assert.equal(await countCpu(third), 30);
    assert.equal(await countCpu(third, "any"), 30);
  } finally {
    await cluster.close();
  }
});

Deno.test("consistency=any reads partitions held elsewhere from a replica that answers", async () => {
  const cluster = await startMemoryCluster({
    nodes: 3,
    defaults: { partitions: 6, replicationFactor: 2 },
    writeTimeoutMs: 300,
  });
  const [first, second] = cluster.nodes;
  try {
    await first.store.createDatabase("db");
    await writeCpuPoints(second, 0, 40);
    for (const node of cluster.nodes) {
      assert.ok(node.node.replicas.size < 6, "every node reads some partitions remotely");
      assert.equal(await countCpu(node), 40);
      // A follower may not have applied the last write yet: `any` sees it soon, not at once.
      await waitUntil(
        "consistency=any sees all 40",
        5_000,
        async () => await countCpu(node, "any") === 40,
      );
    }
    // Node 2 down: each partition it held has one more replica, which answers at `any`.
    cluster.hub.isolate(2);
    const native = await first.app(
      new Request("http://node/query", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: "SELECT count(v) FROM cpu", db: "db", consistency: "any" }),
      }),
    );
    const answer = await native.json();
    assert.equal(answer.results[0].series[0].values[0][1], 40, JSON.stringify(answer));
  } finally {
    await cluster.close();
  }
});

Deno.test("at leader consistency a node that missed a metadata change answers an error, never the stale state", async () => {
  const cluster = await startMemoryCluster({
    nodes: 3,
    defaults: { partitions: 2, replicationFactor: 3 },
    writeTimeoutMs: 500,
  });
  try {
    const ask = async (node: MemoryNode, q: string, consistency = "leader") => {
      const params = new URLSearchParams({ q, consistency });
      const r = await node.app(new Request(`http://node/query?${params}`, { method: "POST" }));
      const result = (await r.json()).results[0];
      return result.error ?? JSON.stringify(result.series?.[0]?.values ?? []);
    };
    const [first, , third] = cluster.nodes;
    await waitUntil("node 1 leads the metadata", 5_000, () => first.node.meta.isLeader());
    // Node 3 hears nothing from the leader: the change commits with node 2 alone.
    cluster.hub.cut.add("1>3");
    await ask(first, "CREATE DATABASE fresh");
    assert.match(await ask(first, "SHOW DATABASES"), /"fresh"/);
    assert.match(await ask(third, "SHOW DATABASES"), /^the metadata group cannot confirm a read/);
    assert.doesNotMatch(await ask(third, "SHOW DATABASES", "any"), /"fresh"/, "stale at any");
    cluster.hub.cut.delete("1>3");
    await waitUntil(
      "node 3 sees the new database",
      5_000,
      async () => /"fresh"/.test(await ask(third, "SHOW DATABASES")),
    );
  } finally {
    await cluster.close();
  }
});
