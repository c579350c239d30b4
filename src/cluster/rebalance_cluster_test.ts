/**
 * Moves on in-process clusters: a node that joins receives replicas, a removed node drains and
 * leaves, a lost node's replicas are made again elsewhere, all while writes go on, with every
 * acknowledged point answered afterwards by every node.
 */
import assert from "node:assert/strict";
import { FieldType, type Point, seriesKey, silentLogger, sortTags } from "../core/mod.ts";
import { encodeJson, executeQuery } from "../query/mod.ts";
import { seededRng } from "../raft/_test_util.ts";
import { denoFileSystem, systemClock } from "../runtime/mod.ts";
import { ClusterStore } from "./cluster_store.ts";
import { partitionOf } from "./hash.ts";
import { MemoryHub } from "./memory_network.ts";
import { ClusterNode, type ClusterNodeOptions } from "./node.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const BASE_MS = 1_700_000_000_000;

function point(host: string, k: number): Point {
  return {
    measurement: "cpu",
    tags: sortTags([{ key: "host", value: host }]),
    fields: [{ key: "usage", type: FieldType.Float, value: k }],
    timeMs: BASE_MS + k * 1000,
    timeSubMs: 0,
  };
}

type Extra = Partial<ClusterNodeOptions>;

/** A cluster on one in-memory hub whose nodes can be added, stopped and started again. */
class TestCluster {
  readonly hub = new MemoryHub();
  readonly dirs = new Map<number, string>();
  readonly running = new Map<number, { node: ClusterNode; store: ClusterStore }>();
  constructor(readonly defaults: Record<string, number>, readonly extra: Extra) {}

  async start(id: number): Promise<void> {
    let dir = this.dirs.get(id);
    const first = dir === undefined;
    if (!dir) {
      dir = await Deno.makeTempDir({ prefix: `epochnexus-move-${id}-` });
      this.dirs.set(id, dir);
      if (id > 1) {
        const answer = await this.any().node.admit({
          httpAddress: `node${id}:8080`,
          raftAddress: `node${id}:9000`,
          version: "test",
          clusterId: "",
        });
        assert.equal(answer.nodeId, id);
      }
    }
    this.hub.network(id).reset();
    const node = await ClusterNode.start({
      dataDir: dir,
      identity: { clusterId: "c", nodeId: id, bootstrap: id === 1 && first },
      httpAddress: `node${id}:8080`,
      raftAddress: `node${id}:9000`,
      version: "test",
      network: this.hub.network(id),
      fs: denoFileSystem,
      clock: systemClock,
      rng: seededRng(id),
      logger: silentLogger,
      sleep,
      tickMs: 10,
      maintenanceIntervalMs: 0,
      retainEntries: 4,
      defaults: this.defaults,
      ...this.extra,
    });
    this.running.set(id, { node, store: new ClusterStore(node, { clock: systemClock, sleep }) });
  }

  async stop(id: number): Promise<void> {
    const n = this.running.get(id)!;
    this.running.delete(id);
    this.hub.isolate(id);
    await n.node.close();
    this.hub.isolate(id, false);
  }

  any() {
    return this.running.values().next().value!;
  }

  async maintainAll(): Promise<void> {
    for (const { node } of [...this.running.values()]) await node.maintain();
  }

  /** Runs maintenance on every node until `done` or the deadline. */
  async until(what: string, done: () => boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await this.maintainAll();
      await sleep(20);
    }
  }

  /** {@linkcode until} with a condition that must be awaited. */
  async untilAsync(what: string, done: () => Promise<boolean>, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    while (!(await done())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await this.maintainAll();
      await sleep(20);
    }
  }

  partitions() {
    return this.any().node.meta.state.databases.get("db")!.partitions;
  }

  /** The number of replicas each running node holds open. */
  held(): Map<number, number> {
    return new Map([...this.running].map(([id, { node }]) => [id, node.replicas.size]));
  }

  settled(): boolean {
    return this.partitions().every((p) =>
      p.replicas.length === p.target.length && p.target.every((n) => p.replicas.includes(n))
    );
  }

  async close(): Promise<void> {
    for (const id of [...this.running.keys()]) await this.stop(id);
    for (const dir of this.dirs.values()) await Deno.remove(dir, { recursive: true });
  }
}

async function count(store: ClusterStore): Promise<string> {
  const results = await executeQuery(store, "SELECT count(usage), sum(usage) FROM cpu", {
    database: "db",
    nowNs: 1_800_000_000_000_000_000n,
  });
  return encodeJson(results);
}

/** Writes batches through rotating nodes until stopped; returns the points acknowledged. */
function writer(cluster: TestCluster) {
  let stop = false;
  let acknowledged = 0;
  let k = 1000;
  const done = (async () => {
    for (let i = 0; !stop && i < 5000; i++) {
      const nodes = [...cluster.running.values()];
      const { store } = nodes[i % nodes.length];
      const batch = ["a", "b", "c", "d", "e", "f", "g", "h"].map((h) => point(h, k));
      k++;
      try {
        const outcome = await store.write("db", undefined, batch);
        acknowledged += outcome.accepted;
      } catch {
        // Refused whole (no leader for a moment): not acknowledged, not counted.
      }
      await sleep(5);
    }
  })();
  return {
    async stop(): Promise<number> {
      stop = true;
      await done;
      return acknowledged;
    },
  };
}

/** The answer a node must give for `n` points written with `point(host, k)` for k in order. */
async function expectAll(cluster: TestCluster, total: number): Promise<void> {
  for (const [id, { store }] of cluster.running) {
    const answer = JSON.parse(await count(store));
    const row = answer.results[0].series[0].values[0];
    assert.equal(row[1], total, `node ${id} counts ${row[1]} points, ${total} acknowledged`);
  }
}

Deno.test("a node that joins receives replicas while writes go on; nothing is lost", async () => {
  const cluster = new TestCluster({ partitions: 6, replicationFactor: 2 }, { maxMoves: 2 });
  try {
    for (const id of [1, 2, 3]) await cluster.start(id);
    const { store } = cluster.any();
    await store.createDatabase("db");
    const first = ["a", "b", "c", "d", "e", "f", "g", "h"].flatMap((h) =>
      Array.from({ length: 50 }, (_, k) => point(h, k))
    );
    assert.equal((await store.write("db", undefined, first)).accepted, first.length);
    // The data is in segments and the logs are compacted: the newcomer must copy snapshots.
    for (const { store } of cluster.running.values()) await store.flush();
    assert.deepEqual([...cluster.held().values()], [4, 4, 4]);

    const writes = writer(cluster);
    await cluster.start(4);
    await cluster.until("node 4 to hold its share", () => {
      const held = cluster.held();
      return cluster.settled() && held.get(4)! >= 3 &&
        cluster.partitions().every((p) => p.replicas.length === 2);
    });
    const acknowledged = await writes.stop();
    assert.ok(acknowledged > 0, "writes went on during the moves");
    // Replicas that moved away are dropped; the four nodes hold 12 replicas, 3 each.
    await cluster.until("the old copies to go", () => {
      const held = [...cluster.held().values()];
      return held.reduce((a, b) => a + b, 0) === 12;
    });
    assert.deepEqual([...cluster.held().values()], [3, 3, 3, 3]);
    const moved = cluster.running.get(4)!.node;
    const withData = [...moved.replicas.values()].filter((r) => r.engine.stats().values > 0);
    assert.ok(withData.length >= 1, "node 4's replicas hold the partitions' points");
    await expectAll(cluster, first.length + acknowledged);
  } finally {
    await cluster.close();
  }
});

Deno.test("cluster remove: a node drains, then leaves; its data stays on the others", async () => {
  const cluster = new TestCluster({ partitions: 4, replicationFactor: 2 }, { maxMoves: 2 });
  try {
    for (const id of [1, 2, 3]) await cluster.start(id);
    const { store, node } = cluster.any();
    await store.createDatabase("db");
    const points = ["a", "b", "c", "d", "e", "f"].flatMap((h) =>
      Array.from({ length: 20 }, (_, k) => point(h, k))
    );
    assert.equal((await store.write("db", undefined, points)).accepted, points.length);
    // Not while a database needs more nodes than would remain.
    await assert.rejects(() => node.removeNode(7), /not a member/);
    await node.removeNode(3);
    await assert.rejects(() => node.removeNode(2), /2 replicas .* only 1 other node/);
    await cluster.until("node 3 to leave", () => !node.meta.state.nodes.has(3));
    // Out of the metadata group, it still learned that its last replica went (and dropped it).
    const three = cluster.running.get(3)!.node;
    await cluster.until("node 3 to drop its replicas", () => three.replicas.size === 0, 10_000);
    for (const p of cluster.partitions()) assert.ok(!p.replicas.includes(3), JSON.stringify(p));
    await cluster.stop(3);
    await expectAll(cluster, points.length);
  } finally {
    await cluster.close();
  }
});

Deno.test("a lost node's replicas are made again elsewhere; back, it drops its stale copies", async () => {
  const cluster = new TestCluster({ partitions: 4, replicationFactor: 3 }, {
    maxMoves: 4,
    deadNodeTimeoutMs: 1000,
  });
  try {
    for (const id of [1, 2, 3, 4]) await cluster.start(id);
    const { store } = cluster.any();
    await store.createDatabase("db");
    const points = ["a", "b", "c", "d", "e", "f"].flatMap((h) =>
      Array.from({ length: 20 }, (_, k) => point(h, k))
    );
    assert.equal((await store.write("db", undefined, points)).accepted, points.length);
    const lost = cluster.partitions().find((p) => p.replicas.includes(4))!;
    assert.ok(lost, "node 4 holds a replica");
    await cluster.stop(4);
    await cluster.until(
      "every partition to have three replicas on live nodes",
      () =>
        cluster.settled() &&
        cluster.partitions().every((p) => p.replicas.length === 3 && !p.replicas.includes(4)),
    );
    await expectAll(cluster, points.length);
    // Back, node 4 learns it was replaced: it drops those copies (it may receive new ones as
    // the cluster spreads replicas again, each copied afresh).
    const stale = cluster.running.get(1)!.node.meta.state.databases.get("db")!.partitions
      .filter((p) => !p.replicas.includes(4) && !p.target.includes(4)).map((p) => p.groupId);
    await cluster.start(4);
    const four = cluster.running.get(4)!.node;
    await cluster.until("node 4 to hold only what the metadata gives it", () =>
      cluster.settled() &&
      [...four.replicas.keys()].every((g) =>
        four.meta.state.partition(g)?.partition.replicas.includes(4)
      ));
    assert.ok(stale.length > 0);
    await expectAll(cluster, points.length);
  } finally {
    await cluster.close();
  }
});

Deno.test("bytes spread too: two heavy partitions on one node of even counts, one moves", async () => {
  const cluster = new TestCluster({ partitions: 4, replicationFactor: 1 }, {
    maxMoves: 2,
    rebalanceMinByteGap: 1,
    partitionBytesRefreshMs: 0,
  });
  try {
    for (const id of [1, 2]) await cluster.start(id);
    const { store, node } = cluster.any();
    await store.createDatabase("db");
    const db = node.meta.state.databases.get("db")!;
    // A host per partition (its series hashes there), heavy on node 1's two partitions.
    const hostOf = new Map<number, string>();
    for (let i = 0; hostOf.size < 4 && i < 1000; i++) {
      const host = `h${i}`;
      const key = seriesKey("cpu", sortTags([{ key: "host", value: host }]));
      const index = partitionOf(db.hash, key, 4);
      if (!hostOf.has(index)) hostOf.set(index, host);
    }
    const heavy = cluster.partitions().filter((p) => p.replicas[0] === 1);
    assert.equal(heavy.length, 2, JSON.stringify(cluster.partitions()));
    let total = 0;
    for (const p of cluster.partitions()) {
      const n = heavy.includes(p) ? 6000 : 100;
      const host = hostOf.get(p.index)!;
      // Values that compress badly, so that the heavy partitions are heavy on disk too.
      const points = Array.from({ length: n }, (_, k) => ({
        ...point(host, k),
        fields: [{
          key: "usage",
          type: FieldType.Float,
          value: ((k * 2654435761) % 1000003) / 7.3,
        }],
      }));
      assert.equal((await store.write("db", undefined, points)).accepted, n);
      total += n;
    }
    for (const { store } of cluster.running.values()) await store.flush();
    const heavyIds = heavy.map((p) => p.groupId);
    await cluster.until("a heavy partition to move to node 2", () =>
      cluster.settled() &&
      cluster.partitions().filter((p) => p.replicas.includes(2) && heavyIds.includes(p.groupId))
          .length === 1);
    // Counts stay even (a swap), and the status shows each node's bytes.
    const held = cluster.partitions().map((p) => p.replicas[0]);
    assert.deepEqual(held.filter((n) => n === 1).length, 2, JSON.stringify(held));
    let nodes: { id: number; bytes: number }[] = [];
    await cluster.untilAsync("the sizes measured after the move", async () => {
      nodes = (await node.statusWithBytes()).nodes as { id: number; bytes: number }[];
      const [one, two] = nodes.map((n) => n.bytes);
      return one > 0 && two > 0 && Math.abs(one - two) < Math.max(one, two) / 2;
    });
    await expectAll(cluster, total);
  } finally {
    await cluster.close();
  }
});

Deno.test("bytes: only the metadata leader measures, one call per node it asks; every node shows them", async () => {
  const cluster = new TestCluster({ partitions: 6, replicationFactor: 1 }, {
    partitionBytesRefreshMs: 0,
  });
  try {
    for (const id of [1, 2, 3]) await cluster.start(id);
    const { store } = cluster.any();
    await store.createDatabase("db");
    const points = Array.from({ length: 60 }, (_, k) => point(`h${k % 30}`, k));
    assert.equal((await store.write("db", undefined, points)).accepted, 60);
    for (const { store } of cluster.running.values()) await store.flush();
    // Calls for sizes, by the node making them.
    const calls: { from: number; to: number; groups: number }[] = [];
    let perPartition = 0;
    for (const id of cluster.running.keys()) {
      const peers = cluster.hub.network(id).peers;
      const bytes = peers.partitionBytes!.bind(peers), sizes = peers.partitionSizes.bind(peers);
      peers.partitionBytes = (to, request) => {
        calls.push({ from: id, to, groups: request.measure.length });
        return bytes(to, request);
      };
      peers.partitionSizes = (to, request) => {
        perPartition++;
        return sizes(to, request);
      };
    }
    const leaderOf = () =>
      [...cluster.running.values()].find(({ node }) => node.meta.isLeader())?.node;
    await cluster.until("the metadata leader's figures of every partition", () => {
      const leader = leaderOf();
      return leader !== undefined &&
        cluster.partitions().every((p) => (leader.partitionBytes.get(p.groupId) ?? 0) > 0);
    });
    // One pass on every node: only the leader asks, once per other node, for the partitions
    // that node leads (its own it measures in-process).
    const leader = leaderOf()!;
    calls.length = 0;
    await cluster.maintainAll();
    await Promise.all(
      [...cluster.running.values()].map(({ node }) => node.partitionBytes.settled()),
    );
    assert.ok(calls.every((c) => c.from === leader.nodeId), JSON.stringify(calls));
    assert.ok(calls.length <= 2, JSON.stringify(calls));
    assert.equal(new Set(calls.map((c) => c.to)).size, calls.length, JSON.stringify(calls));
    const ledElsewhere = cluster.partitions().filter((p) => p.replicas[0] !== leader.nodeId).length;
    assert.equal(calls.reduce((n, c) => n + c.groups, 0), ledElsewhere, JSON.stringify(calls));
    assert.equal(perPartition, 0, "sizes asked partition by partition");
    // Every node's status shows the leader's figures (the others ask it; they measure nothing).
    for (const { node } of cluster.running.values()) {
      const status = await node.statusWithBytes();
      const db =
        (status.databases as { name: string; partitions: { groupId: number; bytes?: number }[] }[])
          .find((d) => d.name === "db")!;
      for (const p of db.partitions) {
        assert.equal(p.bytes, leader.partitionBytes.get(p.groupId), `node ${node.nodeId}`);
      }
    }
    // A node answers null for a group it holds no replica of: no figure from a non-holder.
    const other = [...cluster.running.values()].find(({ node }) => node !== leader)!.node;
    const notHeld = cluster.partitions().find((p) => !p.replicas.includes(other.nodeId))!;
    const answer = await cluster.hub.network(leader.nodeId).peers.partitionBytes!(other.nodeId, {
      measure: [notHeld.groupId],
    });
    assert.deepEqual(answer.measured, [null]);
  } finally {
    await cluster.close();
  }
});

Deno.test("a leader-only Describe at a follower is refused naming the leader; a plain one is answered", async () => {
  const cluster = new TestCluster({ partitions: 2, replicationFactor: 3 }, {});
  try {
    for (const id of [1, 2, 3]) await cluster.start(id);
    const { store } = cluster.any();
    await store.createDatabase("db");
    // Hosts enough that each of the two partitions holds points (one shard group each).
    const points = Array.from({ length: 20 }, (_, k) => point(`h${k}`, 1));
    assert.equal((await store.write("db", undefined, points)).accepted, 20);
    const p = cluster.partitions()[0];
    let leader = 0;
    await cluster.until("partition 0 has a leader", () => {
      leader = cluster.running.get(1)!.node.replicas.get(p.groupId)?.leader() ?? 0;
      return leader !== 0;
    });
    const follower = [1, 2, 3].find((id) => id !== leader)!;
    const request = {
      groupId: p.groupId,
      database: "db",
      retentionPolicy: "autogen",
      minNs: 0n,
      maxNs: 2n ** 62n,
      consistency: "leader" as const,
      series: false,
    };
    const peers = cluster.hub.network(99).peers;
    // A follower answers through a ReadIndex (nodes' own reads); asked leader-only, it refuses.
    assert.equal((await peers.describe(follower, request)).length, 1);
    await assert.rejects(
      () => peers.describe(follower, { ...request, leaderOnly: true }),
      (error: Error & { details?: { leaderId?: number } }) =>
        error.details?.leaderId === leader && /not the leader/.test(error.message),
    );
    assert.equal((await peers.describe(leader, { ...request, leaderOnly: true })).length, 1);
  } finally {
    await cluster.close();
  }
});
