import assert from "node:assert/strict";
import { FieldType, type Point, silentLogger, sortTags } from "../core/mod.ts";
import {
  ClusterNode,
  ClusterStore,
  MemoryHub,
  type MetaView,
  type PeerClient,
} from "../cluster/mod.ts";
import { configureQueries, createApp } from "../http/mod.ts";
import { seededRng } from "../raft/_test_util.ts";
import { denoFileSystem, systemClock } from "../runtime/mod.ts";
import { createGateway, GATEWAY_PLAN_HEADER } from "./mod.ts";

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

/**
 * A one-node cluster in memory (its partitions are Raft groups with real logs on disk) behind a
 * gateway: the node's HTTP app answers the gateway's fetch (only `Bearer good` passes its
 * stand-in gate), and the gateway reads partitions through the in-memory network, as another
 * member would. Every request and partition read is counted.
 */
async function harness(dir: string, doctor: (view: MetaView) => MetaView = (v) => v) {
  const hub = new MemoryHub();
  const node = await ClusterNode.start({
    dataDir: dir,
    identity: { clusterId: "c1", nodeId: 1, bootstrap: true },
    httpAddress: "node1:8080",
    raftAddress: "node1:9000",
    version: "test",
    network: hub.network(1),
    fs: denoFileSystem,
    clock: systemClock,
    rng: seededRng(1),
    logger: silentLogger,
    sleep,
    tickMs: 10,
    maintenanceIntervalMs: 0,
  });
  const store = new ClusterStore(node, { clock: systemClock, sleep });
  const app = createApp({
    engine: store,
    clock: systemClock,
    logger: silentLogger,
    defaultDatabase: "db",
    maxBodyBytes: 1 << 20,
  });
  const nodeQueries: string[] = [];
  const metaReads = { count: 0 };
  const reads = { describe: 0, select: 0, batched: 0, batchedGroups: 0 };
  /** Per read: the node asked and the consistency asked for. */
  const asked: string[] = [];
  const memory = hub.network(99).peers;
  const peers: Pick<PeerClient, "describe" | "select" | "selectShards"> = {
    describe: (target, request) => {
      reads.describe++;
      asked.push(`describe ${request.groupId}@${target} ${request.consistency}`);
      return memory.describe(target, request);
    },
    select: (target, request) => {
      reads.select++;
      asked.push(`select ${request.groupId}@${target} ${request.consistency}`);
      return memory.select(target, request);
    },
    // As a node serves a batched Select: each shard group's part, in order.
    selectShards: (target, request, shards) => {
      reads.batched++;
      reads.batchedGroups += shards.length;
      asked.push(`select ${request.groupId}@${target} ${request.consistency}`);
      return Promise.all(shards.map((s) => memory.select(target, { ...request, ...s })));
    },
  };
  const gateway = createGateway({
    seeds: ["http://node1:9000"],
    metaTtlMs: 60_000,
    downMs: 1000,
  }, {
    clock: systemClock,
    logger: silentLogger,
    readMeta: () => {
      metaReads.count++;
      return Promise.resolve(doctor(node.metaView()));
    },
    peers: () => peers,
    fetch: (input, init) => {
      const request = new Request(input, init);
      const url = new URL(request.url);
      assert.equal(url.host, "node1:8080");
      if (url.pathname === "/query") nodeQueries.push(url.search);
      if (request.headers.get("authorization") !== "Bearer good") {
        return Promise.resolve(Response.json({ error: "authorization failed" }, { status: 401 }));
      }
      return app(request);
    },
  });
  return { node, store, app, gateway, nodeQueries, reads, asked, metaReads };
}

Deno.test("gateway: a SELECT is planned in the gateway and read from the partitions, after a node checked the caller", async () => {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-gateway-" });
  const { node, store, app, gateway, nodeQueries, reads, asked } = await harness(dir);
  try {
    await store.createDatabase("db");
    // Three shard groups (a week each): every partition is read in several.
    const week = 7 * 86_400_000;
    const points = ["a", "b", "c", "d", "e", "f"].flatMap((h, i) =>
      [0, 1, 2].map((k) => point(h, 1_700_000_000_000 + k * week, i * 10 + k))
    );
    assert.equal((await store.write("db", undefined, points)).accepted, 18);
    const headers = { authorization: "Bearer good" };
    const q = "SELECT sum(usage), max(usage) FROM cpu GROUP BY host";
    const url = `http://gw/query?db=db&q=${encodeURIComponent(q)}`;
    const direct = await (await app(new Request(url, { headers }))).text();
    assert.match(direct, /"host":"f"/);

    const first = await gateway.fetch(new Request(url, { headers }));
    assert.equal(first.headers.get(GATEWAY_PLAN_HEADER), "planned");
    assert.equal(await first.text(), direct);
    // The node was asked only whether the caller may read db; every partition was read.
    assert.equal(nodeQueries.length, 1);
    const partitions = node.meta.state.databases.get("db")!.partitions.length;
    assert.equal(reads.describe, partitions);
    // One Select call per partition for all the shard groups it is read in, not one per group.
    assert.ok(reads.batched > 0);
    assert.ok(reads.select + reads.batched <= partitions, JSON.stringify(reads));
    assert.ok(reads.batchedGroups > reads.batched, JSON.stringify(reads));
    // One read barrier per partition: its description at the leader; the SELECT parts then go
    // to the node that passed it, without a barrier of their own.
    for (const read of asked) {
      if (read.startsWith("describe")) assert.match(read, / leader$/);
      else {
        const group = read.split(" ")[1];
        assert.ok(asked.includes(`describe ${group} leader`), `${read} without its describe`);
        assert.match(read, / any$/);
      }
    }

    // The check is kept a while: the next SELECT costs the node no /query at all.
    const native = await gateway.fetch(
      new Request("http://gw/query", {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify({ query: q, db: "db" }),
      }),
    );
    assert.equal(native.headers.get(GATEWAY_PLAN_HEADER), "planned");
    assert.equal(await native.text(), direct);
    assert.equal(nodeQueries.length, 1);
    // At `any` consistency the replicas are read as they are: the same answer here.
    const any = await gateway.fetch(new Request(`${url}&consistency=any`, { headers }));
    assert.equal(any.headers.get(GATEWAY_PLAN_HEADER), "planned");
    assert.equal(await any.text(), direct);

    // Other credentials are checked again; refused, the request goes to the node, which answers
    // it (its 401), and no partition is read for it.
    const before = { ...reads };
    const refused = await gateway.fetch(
      new Request(url, { headers: { authorization: "Bearer bad" } }),
    );
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get(GATEWAY_PLAN_HEADER), "forwarded");
    assert.deepEqual(reads, before);
    assert.equal(nodeQueries.length, 3); // the check, then the request itself

    // Statements that change state, and SHOW, go to the node.
    const shown = await gateway.fetch(
      new Request(`http://gw/query?q=${encodeURIComponent("SHOW DATABASES")}`, { headers }),
    );
    assert.equal(shown.headers.get(GATEWAY_PLAN_HEADER), "forwarded");
    assert.match(await shown.text(), /"db"/);
    // A database the gateway's copy lacks is read again, then sent on when still unknown.
    const unknown = await gateway.fetch(
      new Request(`http://gw/query?db=nope&q=${encodeURIComponent(q)}`, { headers }),
    );
    assert.equal(unknown.headers.get(GATEWAY_PLAN_HEADER), "forwarded");
    assert.match(await unknown.text(), /database not found: nope/);
  } finally {
    await node.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gateway: a planned SELECT is held to the nodes' configured query limits", async () => {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-gateway-" });
  const { node, store, app, gateway } = await harness(dir);
  try {
    await store.createDatabase("db");
    const points = ["a", "b", "c", "d"].map((h, i) => point(h, 1_700_000_000_000, i));
    assert.equal((await store.write("db", undefined, points)).accepted, 4);
    // A node configured with max_select_buckets = 10 (the defaults allow a million); the
    // coordinator checks it before any partition is read.
    const limits = { maxBuckets: 10 };
    configureQueries(store, limits, () => systemClock.monotonicMs());
    node.queryLimits = limits;
    const headers = { authorization: "Bearer good" };
    const q = "SELECT mean(usage) FROM cpu WHERE time >= 1699999990s AND time < 1700000050s " +
      "GROUP BY time(1s)";
    const url = `http://gw/query?db=db&q=${encodeURIComponent(q)}`;
    const direct = await (await app(new Request(url, { headers }))).text();
    assert.match(direct, /max-select-buckets limit exceeded/);
    const viaGateway = await gateway.fetch(new Request(url, { headers }));
    assert.equal(viaGateway.headers.get(GATEWAY_PLAN_HEADER), "planned");
    assert.equal(await viaGateway.text(), direct);
  } finally {
    await node.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gateway: a read answered by another leader than its copy names makes it read the metadata again", async () => {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-gateway-" });
  // The copy says node 2 (gone: no such member answers) leads every partition; node 1 does.
  let stale = true;
  const { node, store, gateway, metaReads, asked } = await harness(dir, (view) =>
    stale
      ? {
        ...view,
        nodes: [...view.nodes, { id: 2, httpAddress: "node2:8080", raftAddress: "node2:9000" }],
        databases: view.databases.map((d) => ({
          ...d,
          partitions: d.partitions.map((p) => ({
            ...p,
            replicas: [2, ...p.replicas],
            leaderHint: 2,
          })),
        })),
      }
      : view);
  try {
    await store.createDatabase("db");
    const points = ["a", "b", "c", "d"].map((h, i) => point(h, 1_700_000_000_000, i));
    assert.equal((await store.write("db", undefined, points)).accepted, 4);
    const headers = { authorization: "Bearer good" };
    const url = `http://gw/query?db=db&q=${encodeURIComponent("SELECT count(usage) FROM cpu")}`;
    const ask = async () => {
      const r = await gateway.fetch(new Request(url, { headers }));
      assert.equal(r.headers.get(GATEWAY_PLAN_HEADER), "planned");
      assert.match(await r.text(), /"count"\],"values":\[\["1970-01-01T00:00:00Z",4\]\]/);
    };
    // Right answers (the "not leader" node is passed over), and the copy is read again although
    // its time to live (60 s) is far off: within a second or so of the first stale answer.
    await ask();
    assert.equal(metaReads.count, 1);
    assert.ok(asked.some((a) => a.includes("@2 leader")), "the stale hint was not tried first");
    stale = false;
    const deadline = Date.now() + 10_000;
    while (metaReads.count === 1 && Date.now() < deadline) {
      await ask();
      await sleep(100);
    }
    assert.equal(metaReads.count, 2, "the metadata copy was not read again");
    // Fresh hints: reads go to the leader at once, and the copy is not read again.
    asked.length = 0;
    const settled = Date.now() + 1500;
    while (Date.now() < settled) {
      await ask();
      await sleep(100);
    }
    assert.ok(asked.every((a) => !a.includes("@2")), asked.join(", "));
    assert.equal(metaReads.count, 2, "a copy with the right leaders was read again");
  } finally {
    await node.close();
    await Deno.remove(dir, { recursive: true });
  }
});
