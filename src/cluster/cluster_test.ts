import assert from "node:assert/strict";
import {
  type FieldLayout,
  FieldLayouts,
  FieldType,
  PackedPoint,
  type Point,
  silentLogger,
  sortTags,
} from "../core/mod.ts";
import { encodeJson, executeQuery, parseStatement } from "../query/mod.ts";
import type { SelectStatement } from "../query/ast.ts";
import { selectReplica } from "./partition_reads.ts";
import { seededRng } from "../raft/_test_util.ts";
import { denoFileSystem, systemClock } from "../runtime/mod.ts";
import { ClusterStore } from "./cluster_store.ts";
import { MemoryHub } from "./memory_network.ts";
import { ClusterNode, type NodeIdentity } from "./node.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function point(host: string, ms: number, value: number): Point {
  return {
    measurement: "cpu",
    tags: sortTags([{ key: "host", value: host }]),
    fields: [{ key: "usage", type: FieldType.Float, value }],
    timeMs: ms,
    timeSubMs: 0,
  };
}

async function startNode(
  hub: MemoryHub,
  dir: string,
  identity: NodeIdentity,
): Promise<{ node: ClusterNode; store: ClusterStore }> {
  const node = await ClusterNode.start({
    dataDir: dir,
    identity,
    httpAddress: `node${identity.nodeId}:8080`,
    raftAddress: `node${identity.nodeId}:9000`,
    version: "test",
    network: hub.network(identity.nodeId),
    fs: denoFileSystem,
    clock: systemClock,
    rng: seededRng(identity.nodeId),
    logger: silentLogger,
    sleep,
    tickMs: 10,
    maintenanceIntervalMs: 0,
  });
  return { node, store: new ClusterStore(node, { clock: systemClock, sleep }) };
}

/** Runs `body` on a fresh one-node cluster (bootstrapped, database "db" created), then closes it. */
async function withOneNode(
  body: (node: ClusterNode, store: ClusterStore) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-cluster-" });
  const { node, store } = await startNode(new MemoryHub(), dir, {
    clusterId: "c1",
    nodeId: 1,
    bootstrap: true,
  });
  try {
    await store.createDatabase("db");
    await body(node, store);
  } finally {
    await node.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function query(store: ClusterStore, q: string): Promise<string> {
  const results = await executeQuery(store, q, {
    database: "db",
    nowNs: 1_700_000_060_000_000_000n,
  });
  return encodeJson(results);
}

Deno.test("one-node cluster: writes go through the partitions' logs and survive a restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-cluster-" });
  const hub = new MemoryHub();
  const identity = { clusterId: "c1", nodeId: 1, bootstrap: true };
  try {
    let { node, store } = await startNode(hub, dir, identity);
    await store.createDatabase("db");
    const points = ["a", "b", "c", "d", "e", "f"].flatMap((h, i) =>
      [0, 1, 2].map((k) => point(h, 1_700_000_000_000 + k * 1000, i * 10 + k))
    );
    const outcome = await store.write("db", undefined, points);
    assert.deepEqual(outcome, { accepted: 18, rejected: [], unavailable: 0 });
    const before = await query(store, "SELECT sum(usage) FROM cpu GROUP BY host");
    assert.match(before, /"host":"f"/);
    // Points spread over several partitions.
    const used = [...node.replicas.values()].filter((r) => r.engine.stats().values > 0);
    assert.ok(used.length > 1, `points in ${used.length} partitions`);
    await node.close();
    hub.network(1).reset();
    ({ node, store } = await startNode(hub, dir, { ...identity, bootstrap: false }));
    // The restarted node elects itself in each group and answers the same.
    const deadline = Date.now() + 5000;
    while ([...node.replicas.values()].some((r) => !r.isLeader()) && Date.now() < deadline) {
      await sleep(10);
    }
    assert.equal(await query(store, "SELECT sum(usage) FROM cpu GROUP BY host"), before);
    const conflict = await store.write("db", undefined, [{
      ...point("a", 1_700_000_009_000, 1),
      fields: [{ key: "usage", type: FieldType.String, value: "x" }],
    }]);
    assert.equal(conflict.accepted, 0);
    assert.match(conflict.rejected[0].reason, /field type conflict/);
    await node.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Starts `n` nodes on one hub: the first founds the cluster, the others are admitted. */
async function startCluster(
  hub: MemoryHub,
  n: number,
  defaults: Record<string, number>,
  extra: { retainEntries?: number } = {},
) {
  const dirs: string[] = [];
  const nodes: { node: ClusterNode; store: ClusterStore }[] = [];
  for (let id = 1; id <= n; id++) {
    const dir = await Deno.makeTempDir({ prefix: `epochnexus-cluster-${id}-` });
    dirs.push(dir);
    if (id > 1) {
      const answer = await nodes[0].node.admit({
        httpAddress: `node${id}:8080`,
        raftAddress: `node${id}:9000`,
        version: "test",
        clusterId: "",
      });
      assert.equal(answer.nodeId, id);
    }
    const node = await ClusterNode.start({
      dataDir: dir,
      identity: { clusterId: "c", nodeId: id, bootstrap: id === 1 },
      httpAddress: `node${id}:8080`,
      raftAddress: `node${id}:9000`,
      version: "test",
      network: hub.network(id),
      fs: denoFileSystem,
      clock: systemClock,
      rng: seededRng(id),
      logger: silentLogger,
      sleep,
      tickMs: 10,
      maintenanceIntervalMs: 0,
      defaults,
      ...extra,
    });
    nodes.push({ node, store: new ClusterStore(node, { clock: systemClock, sleep }) });
  }
  return {
    nodes,
    dirs,
    async close() {
      for (const { node } of nodes) await node.close();
      for (const dir of dirs) await Deno.remove(dir, { recursive: true });
    },
  };
}

const QUERIES = [
  "SELECT sum(usage), mean(usage), count(usage) FROM cpu GROUP BY time(10s)",
  "SELECT mean(usage) FROM cpu GROUP BY host",
  "SELECT max(usage), host FROM cpu",
  "SELECT * FROM cpu WHERE usage > 5 ORDER BY time DESC LIMIT 7",
  "SELECT percentile(usage, 50) FROM cpu GROUP BY time(20s), host",
  "SHOW SERIES",
  "SHOW TAG VALUES WITH KEY = host",
  "SHOW MEASUREMENTS",
  "SHOW FIELD KEYS",
  "SHOW SERIES EXACT CARDINALITY",
];

Deno.test("three nodes, one replica per partition: answers equal a one-node cluster's byte for byte", async () => {
  const points = Array.from({ length: 12 }, (_, h) => `h${h}`).flatMap((h, i) =>
    Array.from({ length: 30 }, (_, k) => point(h, 1_700_000_000_000 + k * 1000, i * 0.1 + k * 0.3))
  );
  const one = await startCluster(new MemoryHub(), 1, { partitions: 6 });
  const three = await startCluster(new MemoryHub(), 3, { partitions: 6, replicationFactor: 1 });
  try {
    await one.nodes[0].store.createDatabase("db");
    assert.equal((await one.nodes[0].store.write("db", undefined, points)).accepted, points.length);
    await three.nodes[1].store.createDatabase("db");
    // Written through node 1, read through node 3: most partitions are elsewhere.
    const outcome = await three.nodes[0].store.write("db", undefined, points);
    assert.deepEqual(outcome, { accepted: points.length, rejected: [], unavailable: 0 });
    const held = three.nodes.map(({ node }) => node.replicas.size);
    assert.deepEqual(held.sort(), [2, 2, 2], "6 partitions over 3 nodes, one replica each");
    for (const q of QUERIES) {
      assert.equal(await query(three.nodes[2].store, q), await query(one.nodes[0].store, q), q);
    }
    // Deletes run on every partition's leader, wherever it is.
    for (
      const d of ["DELETE FROM cpu WHERE host = 'h1'", "DROP SERIES FROM cpu WHERE host = 'h2'"]
    ) {
      await query(three.nodes[1].store, d);
      await query(one.nodes[0].store, d);
    }
    for (const q of QUERIES) {
      assert.equal(await query(three.nodes[0].store, q), await query(one.nodes[0].store, q), q);
    }
    assert.doesNotMatch(await query(three.nodes[2].store, "SHOW SERIES"), /host=h2"/);
  } finally {
    await one.close();
    await three.close();
  }
});

Deno.test("a replica that fell behind the leader's compacted log copies another replica's files", async () => {
  const hub = new MemoryHub();
  const cluster = await startCluster(hub, 3, { partitions: 1, replicationFactor: 3 }, {
    retainEntries: 2,
  });
  try {
    const [one, , three] = cluster.nodes;
    await one.store.createDatabase("db");
    const batch = (k: number) =>
      ["a", "b", "c"].map((h, i) => point(h, 1_700_000_000_000 + k * 1000, k * 10 + i));
    assert.equal((await one.store.write("db", undefined, batch(0))).accepted, 3);
    hub.isolate(3);
    for (let k = 1; k <= 20; k++) {
      assert.equal((await one.store.write("db", undefined, batch(k))).accepted, 3);
      // Each flush compacts the leader's log: node 3 falls behind what it keeps.
      if (k % 5 === 0) { for (const { store } of cluster.nodes.slice(0, 2)) await store.flush(); }
    }
    // The leader's status tells how far behind each replica's log is (the console's lag).
    assert.ok(lagOf(cluster.nodes, 3) >= 20, `node 3 lags ${lagOf(cluster.nodes, 3)} entries`);
    assert.ok(lagOf(cluster.nodes, 3) > lagOf(cluster.nodes, 2));
    hub.isolate(3, false);
    const want = await query(one.store, "SELECT count(usage), sum(usage) FROM cpu GROUP BY host");
    const replica = three.node.localReplica(
      three.node.meta.state.databases.get("db")!.partitions[0].groupId,
    )!;
    const deadline = Date.now() + 20_000;
    while (
      replica.applied < one.node.replicas.values().next().value!.applied && Date.now() < deadline
    ) {
      await sleep(20);
    }
    assert.ok(
      replica.flushedBefore > 3,
      `node 3 did not install a snapshot (${replica.flushedBefore})`,
    );
    assert.equal(
      await query(three.store, "SELECT count(usage), sum(usage) FROM cpu GROUP BY host"),
      want,
    );
    while (lagOf(cluster.nodes, 3) > 0 && Date.now() < deadline) await sleep(20);
    assert.equal(lagOf(cluster.nodes, 3), 0, "node 3 caught up, and the status says so");
  } finally {
    await cluster.close();
  }
});

/**
 * A replica's lag in entries in the first partition of `db`, from the status of the node that
 * leads it (`lastIndex` minus the replica's `matched` index); -1 when no node reports one.
 */
function lagOf(nodes: { node: ClusterNode }[], replica: number): number {
  for (const { node } of nodes) {
    const status = node.status() as {
      databases: {
        name: string;
        partitions: { lastIndex?: number; matched?: Record<number, number> }[];
      }[];
    };
    const p = status.databases.find((d) => d.name === "db")?.partitions[0];
    if (p?.lastIndex !== undefined && p.matched?.[replica] !== undefined) {
      return p.lastIndex - p.matched[replica];
    }
  }
  return -1;
}

Deno.test("dropped retention policies and expired shard groups leave every replica", async () => {
  const cluster = await startCluster(new MemoryHub(), 3, { partitions: 2, replicationFactor: 3 });
  try {
    const [one] = cluster.nodes;
    await one.store.createDatabase("db");
    await query(one.store, "CREATE RETENTION POLICY short ON db DURATION 2h REPLICATION 1");
    const now = Date.now();
    const points = ["a", "b", "c", "d"].flatMap((h) => [point(h, now - 1000, 1), point(h, now, 2)]);
    // Right after creation a partition may still be electing its leader: its points are
    // refused as unavailable (the client sends them again), never half-written.
    const writeAll = async (rp: string) => {
      for (let attempt = 0; attempt < 100; attempt++) {
        const outcome = await one.store.write("db", rp, points);
        assert.deepEqual(outcome.rejected, []);
        if (outcome.accepted === points.length) return;
        await sleep(50);
      }
      throw new Error(`the points of ${rp} were not all accepted in 100 attempts`);
    };
    await writeAll("short");
    await writeAll("autogen");
    const replicas = () => cluster.nodes.flatMap(({ node }) => [...node.replicas.values()]);
    const groupsOf = (rp: string) =>
      replicas().map((r) =>
        r.engine.retentionPolicies("db").some((p) => p.name === rp)
          ? r.engine.shards("db", rp, -(2n ** 63n), 2n ** 63n - 1n).length
          : -1
      );
    assert.ok(groupsOf("short").every((n) => n === 1), `short: ${groupsOf("short")}`);
    await query(one.store, "DROP RETENTION POLICY short ON db");
    // Retention expiring autogen's group is a metadata decision the leaders carry out.
    const db = one.node.meta.state.databases.get("db")!;
    const ids = db.retentionPolicies.get("autogen")!.shardGroups.map((g) => g.id);
    await one.node.proposeMeta({
      op: "drop_shard_groups",
      database: "db",
      retentionPolicy: "autogen",
      ids,
    });
    const deadline = Date.now() + 10_000;
    const done = () =>
      groupsOf("short").every((n) => n === -1) && groupsOf("autogen").every((n) => n === 0);
    while (!done() && Date.now() < deadline) {
      for (const { node } of cluster.nodes) await node.maintain();
      await sleep(20);
    }
    assert.deepEqual([groupsOf("short"), groupsOf("autogen")], [
      [-1, -1, -1, -1, -1, -1],
      [0, 0, 0, 0, 0, 0],
    ]);
  } finally {
    await cluster.close();
  }
});

Deno.test("a partition's part of a query is held to the query's limits where it runs", async () => {
  const cluster = await startCluster(new MemoryHub(), 1, { partitions: 1 });
  try {
    const [{ node, store }] = cluster.nodes;
    await store.createDatabase("db");
    await store.write("db", undefined, ["a", "b", "c"].map((h) => point(h, 1_700_000_000_000, 1)));
    const db = node.meta.state.databases.get("db")!;
    const replica = await node.heldReplica(db.partitions[0].groupId);
    const statement = parseStatement("SELECT usage FROM cpu") as SelectStatement;
    const request = {
      groupId: db.partitions[0].groupId,
      database: "db",
      retentionPolicy: "autogen",
      startMs: db.retentionPolicies.get("autogen")!.shardGroups[0].startMs,
      consistency: "leader" as const,
      request: {
        statement,
        schemas: [{ fields: new Map([["usage", FieldType.Float]]), tagKeys: ["host"] }],
        nowNs: 1_700_000_060_000_000_000n,
      },
      measurements: ["cpu"],
    };
    assert.equal((await selectReplica(replica, request)).length, 3);
    await assert.rejects(
      () => selectReplica(replica, { ...request, limits: { maxSeries: 2 } }),
      /max-select-series limit exceeded/,
    );
  } finally {
    await cluster.close();
  }
});

Deno.test("a node that restarts at another address tells the metadata, and the others reach it", async () => {
  const hub = new MemoryHub();
  const cluster = await startCluster(hub, 3, { partitions: 2, replicationFactor: 3 });
  try {
    const [one, , three] = cluster.nodes;
    await one.store.createDatabase("db");
    assert.equal(
      (await one.store.write("db", undefined, [point("a", 1_700_000_000_000, 1)])).accepted,
      1,
    );
    const dir = cluster.dirs[2];
    await three.node.close();
    hub.network(3).reset();
    const restarted = await ClusterNode.start({
      dataDir: dir,
      identity: { clusterId: "c", nodeId: 3, bootstrap: false },
      httpAddress: "node3-moved:8080",
      raftAddress: "node3-moved:9000",
      version: "test",
      network: hub.network(3),
      fs: denoFileSystem,
      clock: systemClock,
      rng: seededRng(33),
      logger: silentLogger,
      sleep,
      tickMs: 10,
      maintenanceIntervalMs: 0,
    });
    cluster.nodes[2] = {
      node: restarted,
      store: new ClusterStore(restarted, { clock: systemClock, sleep }),
    };
    assert.equal(one.node.meta.state.nodes.get(3)?.raftAddress, "node3-moved:9000");
    assert.equal(
      (await one.store.write("db", undefined, [point("b", 1_700_000_000_000, 2)])).accepted,
      1,
    );
    assert.match(await query(cluster.nodes[2].store, "SELECT count(usage) FROM cpu"), /,2\]/);
  } finally {
    await cluster.close();
  }
});

Deno.test("max_series_per_database holds for the database, not for each of its partitions", async () => {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-cluster-limit-" });
  const node = await ClusterNode.start({
    dataDir: dir,
    identity: { clusterId: "c", nodeId: 1, bootstrap: true },
    httpAddress: "node1:8080",
    raftAddress: "node1:9000",
    version: "test",
    network: new MemoryHub().network(1),
    fs: denoFileSystem,
    clock: systemClock,
    rng: seededRng(1),
    logger: silentLogger,
    sleep,
    tickMs: 10,
    maintenanceIntervalMs: 0,
    defaults: { partitions: 4 },
    engine: { maxSeriesPerDatabase: 8 },
  });
  try {
    const store = new ClusterStore(node, { clock: systemClock, sleep });
    await store.createDatabase("db");
    const hosts = Array.from({ length: 20 }, (_, i) => point(`h${i}`, 1_700_000_000_000, i));
    const outcome = await store.write("db", undefined, hosts);
    assert.ok(outcome.accepted <= 8 && outcome.accepted >= 4, `accepted ${outcome.accepted}`);
    assert.equal(outcome.rejected.length, 20 - outcome.accepted);
    assert.match(outcome.rejected[0].reason, /max-series-per-database limit exceeded/);
  } finally {
    await node.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("leadership goes back to each partition's preferred replica", async () => {
  const cluster = await startCluster(new MemoryHub(), 3, { partitions: 6, replicationFactor: 3 });
  try {
    const [one] = cluster.nodes;
    await one.store.createDatabase("db");
    const db = one.node.meta.state.databases.get("db")!;
    // Every partition led by node 1, whatever placement preferred.
    for (const p of db.partitions) {
      const r = one.node.localReplica(p.groupId)!;
      // Each leader hands over to node 1 (a plain campaign loses to followers that still hear
      // from their leader); asked again only after a round has had time to finish.
      for (let round = 0; round < 10 && !r.isLeader(); round++) {
        for (const { node } of cluster.nodes) {
          const replica = node.localReplica(p.groupId)!;
          if (replica.isLeader()) replica.raft.transferLeadership(one.node.nodeId);
        }
        const deadline = Date.now() + 1000;
        while (!r.isLeader() && Date.now() < deadline) await sleep(20);
      }
      assert.ok(r.isLeader(), `node 1 could not win partition ${p.index}`);
    }
    const leaders = () => db.partitions.map((p) => one.node.localReplica(p.groupId)!.leader());
    const preferred = db.partitions.map((p) => p.replicas[0]);
    assert.notDeepEqual(leaders(), preferred);
    const deadline = Date.now() + 10_000;
    while (JSON.stringify(leaders()) !== JSON.stringify(preferred) && Date.now() < deadline) {
      for (const { node } of cluster.nodes) await node.maintain();
      await sleep(30);
    }
    assert.deepEqual(leaders(), preferred);
  } finally {
    await cluster.close();
  }
});

Deno.test("one-node cluster: one field layout in two measurements is checked against each one's types", async () => {
  // The router skips the type check of a point whose layout passed just before: only for the
  // same measurement, as the types it passed against (declared or new in this batch) are that
  // measurement's.
  await withOneNode(async (node, store) => {
    const layouts = new FieldLayouts();
    const F = FieldType.Float, I = FieldType.Integer;
    const vFloat = layouts.find(["v"], [F], 1), vInteger = layouts.find(["v"], [I], 1);
    const tags = Object.freeze([Object.freeze({ key: "host", value: "a" })]);
    const packed = (measurement: string, layout: FieldLayout, v: number, ms: number) =>
      new PackedPoint(measurement, tags, layout, [v], { ms, subMs: 0 });
    const t = 1_700_000_000_000;
    // Both new: each measurement's field is declared (the metadata keeps partitions that a
    // measurement's points reach from taking a field with two types).
    const first = await store.write("db", undefined, [
      packed("disk", vFloat, 0.5, t),
      packed("net", vFloat, 0.5, t),
    ]);
    assert.equal(first.accepted, 2);
    const declared = (m: string) => node.meta.state.databases.get("db")?.fieldTypes.get(m);
    assert.deepEqual([declared("disk"), declared("net")], [
      new Map([["v", F]]),
      new Map([["v", F]]),
    ]);
    assert.equal((await store.write("db", undefined, [packed("mem", vInteger, 1, t)])).accepted, 1);
    const conflict =
      'field type conflict: input field "v" on measurement "mem" is type float, already exists as type integer';
    // New for cpu in this batch, then declared: both loops of the router.
    for (const [ms, first] of [[t + 1000, "new"], [t + 5000, "declared"]] as const) {
      const outcome = await store.write("db", undefined, [
        packed("cpu", vFloat, 1.5, ms),
        packed("cpu", vFloat, 2.5, ms + 1000),
        packed("mem", vFloat, 3.5, ms + 1000), // the same layout, but mem's v is an integer
        packed("cpu", vFloat, 4.5, ms + 2000),
      ]);
      assert.deepEqual(
        { accepted: outcome.accepted, rejected: outcome.rejected },
        { accepted: 3, rejected: [{ index: 2, reason: conflict }] },
        `cpu's v ${first}`,
      );
    }
  });
});

Deno.test("one-node cluster: a field declared first elsewhere with another type, while a write waits, refuses every point of that layout", async () => {
  // The router declares a batch's new fields, then checks its points again against what the
  // metadata took: another node may have declared the field first. That second check starts
  // afresh; what passed before the declaration proves nothing after it.
  await withOneNode(async (node, store) => {
    const propose = node.proposeMeta.bind(node);
    node.proposeMeta = async (command) => {
      if (command.op === "declare_fields" && command.measurement === "race") {
        // Another node's write of an integer v is committed just before this one's declaration.
        await propose({ ...command, fields: { v: FieldType.Integer } });
      }
      return propose(command);
    };
    const layouts = new FieldLayouts();
    const vFloat = layouts.find(["v"], [FieldType.Float], 1);
    const tags = Object.freeze([Object.freeze({ key: "host", value: "a" })]);
    const t = 1_700_000_000_000;
    const outcome = await store.write(
      "db",
      undefined,
      [0, 1, 2].map((i) =>
        new PackedPoint("race", tags, vFloat, [i + 0.5], { ms: t + i, subMs: 0 })
      ),
    );
    const conflict =
      'field type conflict: input field "v" on measurement "race" is type float, already exists as type integer';
    assert.deepEqual(
      { accepted: outcome.accepted, rejected: outcome.rejected },
      { accepted: 0, rejected: [0, 1, 2].map((index) => ({ index, reason: conflict })) },
    );
  });
});
