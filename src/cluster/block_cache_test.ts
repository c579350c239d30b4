import assert from "node:assert/strict";
import { FieldType, type Point, silentLogger } from "../core/mod.ts";
import { executeQuery } from "../query/mod.ts";
import { seededRng } from "../raft/_test_util.ts";
import { denoFileSystem, systemClock } from "../runtime/mod.ts";
import { ClusterStore } from "./cluster_store.ts";
import { MemoryHub } from "./memory_network.ts";
import { ClusterNode } from "./node.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

Deno.test("a node's partition replicas read through one block cache, bounded once for the node", async () => {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-cache-" });
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
    // 4 blocks of 25 values: the whole node may hold no more, whatever the partitions.
    engine: { blockValues: 25, blockCacheValues: 100 },
  });
  try {
    const store = new ClusterStore(node, { clock: systemClock, sleep });
    await store.createDatabase("db", { partitions: 4 });
    const points: Point[] = [];
    for (let h = 0; h < 16; h++) {
      for (let i = 0; i < 100; i++) {
        points.push({
          measurement: "cpu",
          tags: [{ key: "host", value: `h${h}` }],
          fields: [{ key: "v", type: FieldType.Float, value: i }],
          timeMs: 1_700_000_000_000 + i * 1000,
          timeSubMs: 0,
        });
      }
    }
    await store.write("db", undefined, points);
    await store.flush();
    const [r] = await executeQuery(store, "SELECT v FROM cpu", {
      database: "db",
      nowNs: 1_700_000_500_000_000_000n,
    });
    assert.equal(r.series?.[0].values.length, 1600);
    const replicas = [...node.replicas.values()];
    assert.equal(replicas.length, 4);
    for (const r of replicas) assert.equal(r.engine.blockCache, node.blockCache);
    assert.ok(node.blockCache.size > 0 && node.blockCache.size <= 100, `${node.blockCache.size}`);
    // The node's figures count the one cache once, not once per replica that reports it.
    const figures = store.figures();
    assert.ok(node.blockCache.misses > 0);
    assert.equal(figures.cacheHits, node.blockCache.hits);
    assert.equal(figures.cacheMisses, node.blockCache.misses);
    assert.equal(figures.cacheBytes, node.blockCache.bytes);
  } finally {
    await node.close();
    await Deno.remove(dir, { recursive: true });
  }
});
