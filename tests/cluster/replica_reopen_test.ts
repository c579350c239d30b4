import assert from "node:assert/strict";
import { ClusterStore } from "../../src/cluster/cluster_store.ts";
import { MemoryHub } from "../../src/cluster/memory_network.ts";
import { ClusterNode } from "../../src/cluster/node.ts";
import {
  FieldType,
  type FileSystem,
  type Logger,
  type Point,
  sortTags,
} from "../../src/core/mod.ts";
import { CrashFileSystem } from "../../src/core/testing/crash_fs.ts";
import { executeQuery } from "../../src/query/mod.ts";
import { seededRng } from "../../src/raft/_test_util.ts";
import { systemClock } from "../../src/runtime/mod.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function point(host: string, value: number): Point {
  return {
    measurement: "cpu",
    tags: sortTags([{ key: "host", value: host }]),
    fields: [{ key: "v", type: FieldType.Float, value }],
    timeMs: 1_700_000_000_000,
    timeSubMs: 0,
  };
}

/** A disk whose first look at one replica folder fails (a transient error, EMFILE say). */
function failingOnce(fs: FileSystem, path: string): FileSystem {
  let failed = false;
  return new Proxy(fs, {
    get(target, key) {
      const value = Reflect.get(target, key);
      if (key !== "mkdir") return typeof value === "function" ? value.bind(target) : value;
      return (p: string) => {
        if (!failed && p === path) {
          failed = true;
          return Promise.reject(new Error(`EMFILE: too many open files, mkdir ${p}`));
        }
        return target.mkdir(p);
      };
    },
  });
}

Deno.test("a replica whose open failed is opened again from its stored log, not as a new group", async () => {
  const disk = new CrashFileSystem();
  const errors: string[] = [];
  const logger: Logger = {
    info() {},
    warn() {},
    error: (m, f) => errors.push(`${m} ${JSON.stringify(f)}`),
  };
  const start = (fs: FileSystem, bootstrap: boolean) =>
    ClusterNode.start({
      dataDir: "/data",
      identity: { clusterId: "c", nodeId: 1, bootstrap },
      httpAddress: "node1:8086",
      raftAddress: "node1:8089",
      version: "test",
      network: new MemoryHub().network(1),
      fs,
      clock: systemClock,
      rng: seededRng(1),
      logger,
      sleep,
      tickMs: 10,
      maintenanceIntervalMs: 0,
    });
  let node = await start(disk, true);
  let store = new ClusterStore(node, { clock: systemClock, sleep });
  await store.createDatabase("db", { partitions: 1 });
  const groupId = node.meta.state.databases.get("db")!.partitions[0].groupId;
  assert.equal((await store.write("db", undefined, [point("a", 1)])).accepted, 1);
  await node.close();

  // The first attempt to open the replica fails; the node's next pass must reopen its log.
  node = await start(failingOnce(disk, `/data/partitions/${groupId}`), false);
  store = new ClusterStore(node, { clock: systemClock, sleep });
  try {
    assert.match(errors.join("\n"), /EMFILE/, "the first attempt failed");
    const outcome = await store.write("db", undefined, [point("b", 2)]);
    assert.deepEqual(outcome.rejected, []);
    assert.deepEqual(errors.filter((e) => e.includes("BUG")), []);
    // Both writes are there: a group opened as new would skip the entries below the engine's
    // flushed index, so "b" would be acknowledged and never applied.
    const results = await executeQuery(store, "SELECT v FROM cpu GROUP BY host", {
      database: "db",
      nowNs: 1_800_000_000_000_000_000n,
    });
    assert.deepEqual(results[0].series?.map((s) => s.tags?.host), ["a", "b"]);
  } finally {
    await node.close();
  }
});
