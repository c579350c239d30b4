import assert from "node:assert/strict";
import { type Clock, silentLogger } from "../core/mod.ts";
import type { MetaView, PartitionHash, PartitionKey } from "../cluster/mod.ts";
import { createGateway, gatewayConfigFromEnv, isReadOnlyInfluxQL } from "./mod.ts";
import { endToEndHeaders } from "./forward.ts";

function manualClock(): Clock & { advance(ms: number): void } {
  let now = 1000;
  return {
    nowMs: () => now,
    nowNanos: () => BigInt(now) * 1_000_000n,
    monotonicMs: () => now,
    advance: (ms) => void (now += ms),
  };
}

const VIEW: MetaView = {
  clusterId: "c1",
  nodeId: 1,
  appliedIndex: 7,
  nodes: [1, 2, 3].map((id) => ({
    id,
    httpAddress: `127.0.0.1:80${id}`,
    raftAddress: `127.0.0.1:90${id}`,
  })),
  databases: [{
    name: "db",
    partitions: [
      { groupId: 2, replicas: [1, 2, 3], leaderHint: 3 },
      { groupId: 3, replicas: [2, 3, 1], leaderHint: 3 },
      { groupId: 4, replicas: [3, 1, 2], leaderHint: 1 },
    ],
    defaultRetentionPolicy: "autogen",
    retentionPolicies: [{
      name: "autogen",
      durationNs: 0n,
      shardGroupDurationNs: 604_800_000_000_000n,
      replicaN: 1,
    }],
    // As a node older than these fields answers: the gateway forwards writes whole (tested
    // here); splitting them is planned_write_test.ts's.
    hash: "" as PartitionHash,
    hashKey: "" as PartitionKey,
  }],
};

/** A gateway over fake nodes: `down` refuse connections; every request is recorded. */
function harness(options: { down?: Set<number>; ttlMs?: number } = {}) {
  const down = options.down ?? new Set<number>();
  const clock = manualClock();
  const sent: { node: number; method: string; path: string; headers: Headers; body: string }[] = [];
  const metaReads: string[] = [];
  const fetchFn: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const node = Number(url.port) - 800;
    if (down.has(node)) throw new TypeError(`connection refused (node ${node})`);
    const body = await request.text();
    sent.push({
      node,
      method: request.method,
      path: url.pathname + url.search,
      headers: request.headers,
      body,
    });
    if (url.pathname === "/ping") return new Response(null, { status: 204 });
    return new Response(`answer of ${node}: ${body}`, {
      status: 200,
      headers: { "content-type": "application/json", connection: "close", "x-node": String(node) },
    });
  };
  const gateway = createGateway(
    gatewayConfigFromEnv({
      EPOCHNEXUS_GATEWAY_NODES: "127.0.0.1:901",
      EPOCHNEXUS_GATEWAY_META_TTL_MS: String(options.ttlMs ?? 5000),
    }),
    {
      clock,
      logger: silentLogger,
      fetch: fetchFn,
      readMeta: (base, clusterId) => {
        metaReads.push(`${base} ${clusterId}`);
        const node = Number(new URL(base).port) - 900;
        if (down.has(node)) return Promise.reject(new Error("connection refused"));
        return Promise.resolve(VIEW);
      },
    },
  );
  return { gateway, sent, metaReads, clock, down };
}

Deno.test("gateway: which queries only read (and so may be sent again)", () => {
  for (
    const q of [
      "SELECT * FROM m",
      " show databases ",
      "SELECT a FROM m; SHOW MEASUREMENTS",
      "EXPLAIN SELECT 1",
    ]
  ) {
    assert.ok(isReadOnlyInfluxQL(q), q);
  }
  for (
    const q of [
      "",
      "SELECT * INTO other FROM m",
      "CREATE DATABASE x",
      "SELECT 1; DROP DATABASE x",
      "DELETE FROM m",
      "SELECT * FROM m WHERE t = 'a; b'",
      "-- comment\nDROP DATABASE x",
    ]
  ) assert.ok(!isReadOnlyInfluxQL(q), q);
});

Deno.test("gateway: settings are validated, naming the variable", () => {
  assert.throws(() => gatewayConfigFromEnv({}), /EPOCHNEXUS_GATEWAY_NODES: .*required/);
  assert.throws(
    () => gatewayConfigFromEnv({ EPOCHNEXUS_GATEWAY_NODES: "a:1,b" }),
    /EPOCHNEXUS_GATEWAY_NODES: "b" is not host:port/,
  );
  assert.throws(
    () =>
      gatewayConfigFromEnv({ EPOCHNEXUS_GATEWAY_NODES: "a:1", EPOCHNEXUS_GATEWAY_DOWN_MS: "x" }),
    /EPOCHNEXUS_GATEWAY_DOWN_MS/,
  );
  const c = gatewayConfigFromEnv({ EPOCHNEXUS_GATEWAY_NODES: " a:1 , https://b:2/ " });
  assert.deepEqual(c.seeds, ["http://a:1", "https://b:2"]);
  assert.equal(c.metaTtlMs, 5000);
});

Deno.test("gateway: hop-by-hop headers stay behind, credentials pass", () => {
  const h = endToEndHeaders(
    new Headers({
      authorization: "Basic eA==",
      connection: "keep-alive, x-private",
      "x-private": "1",
      "transfer-encoding": "chunked",
      host: "gw",
      "content-type": "text/plain",
    }),
  );
  assert.deepEqual([...h.keys()].sort(), ["authorization", "content-type"]);
});

Deno.test("gateway: round robin over nodes, a read-only query sent again after a refused connection", async () => {
  const { gateway, sent, down } = harness();
  const answers = [];
  for (let i = 0; i < 3; i++) {
    const r = await gateway.fetch(
      new Request("http://gw/query?db=db&q=SHOW+DATABASES", {
        headers: { authorization: "Bearer t" },
      }),
    );
    answers.push(r.headers.get("x-epochnexus-gateway-node"));
    assert.equal(r.headers.get("connection"), null);
    await r.body?.cancel();
  }
  assert.deepEqual(answers.sort(), ["1", "2", "3"]);
  assert.ok(sent.every((s) => s.headers.get("authorization") === "Bearer t"));

  down.add(2);
  const nodes = [];
  for (let i = 0; i < 3; i++) {
    const r = await gateway.fetch(
      new Request("http://gw/query", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "q=SELECT+1",
      }),
    );
    assert.equal(r.status, 200);
    assert.match(await r.text(), /^answer of [13]: q=SELECT\+1$/);
    nodes.push(r.headers.get("x-epochnexus-gateway-node"));
  }
  assert.ok(!nodes.includes("2"), String(nodes));
});

Deno.test("gateway: the web console's page and assets come from a live node", async () => {
  const { gateway, sent, down } = harness();
  const first = await gateway.fetch(new Request("http://gw/"));
  assert.equal(first.status, 200);
  assert.match(await first.text(), /^answer of [123]: $/);
  down.add(1); // a read-only GET goes to another node
  for (const path of ["/console/app.js", "/", "/console/app.css", "/"]) {
    const r = await gateway.fetch(new Request(`http://gw${path}`));
    assert.equal(r.status, 200, path);
    assert.match(await r.text(), /^answer of [23]: $/);
  }
  assert.ok(sent.every((s) => s.method === "GET"));
  const post = await gateway.fetch(new Request("http://gw/", { method: "POST", body: "x" }));
  assert.equal(post.status, 404);
  await post.body?.cancel();
});

Deno.test("gateway: a write reaching a dead node is not sent again, and says so", async () => {
  const { gateway, sent, down } = harness();
  down.add(3);
  // Node 3 leads most of db's partitions: the write goes there first.
  const r = await gateway.fetch(
    new Request("http://gw/write?db=db", { method: "POST", body: "m v=1" }),
  );
  assert.equal(r.status, 502);
  assert.match((await r.json()).error, /node 3 .*some of its points may have been written/);
  assert.equal(sent.filter((s) => s.path.startsWith("/write")).length, 0);
  // The next goes to a live node, body streamed through.
  const ok = await gateway.fetch(
    new Request("http://gw/write?db=db", { method: "POST", body: "m v=2" }),
  );
  assert.equal(ok.status, 200);
  assert.deepEqual(sent.map((s) => [s.path, s.body]), [["/write?db=db", "m v=2"]]);
});

Deno.test("gateway: the metadata is cached, read again when old or stale, from any member", async () => {
  const { gateway, metaReads, clock, down } = harness({ ttlMs: 1000 });
  const ask = async () => {
    const r = await gateway.fetch(new Request("http://gw/query?q=SHOW+DATABASES"));
    await r.body?.cancel();
    return r.status;
  };
  assert.equal(await ask(), 200);
  assert.equal(await ask(), 200);
  assert.deepEqual(metaReads, ["http://127.0.0.1:901 "]);
  clock.advance(1001);
  assert.equal(await ask(), 200);
  assert.deepEqual(metaReads.slice(1), ["http://127.0.0.1:901 c1"]);
  // The seed dies: a connection failure marks the copy stale; the other members answer.
  down.add(1);
  for (let i = 0; i < 3; i++) assert.equal(await ask(), 200);
  assert.deepEqual(metaReads.slice(2), ["http://127.0.0.1:901 c1", "http://127.0.0.1:902 c1"]);
  // Every node down: a clear 503.
  down.add(2).add(3);
  clock.advance(5000);
  const r = await gateway.fetch(new Request("http://gw/query?q=SHOW+DATABASES"));
  assert.equal(r.status, 503);
  assert.match((await r.json()).error, /no cluster node answered|no cluster node is reachable/);
  const health = await gateway.fetch(new Request("http://gw/health"));
  assert.equal(health.status, 503);
});

Deno.test("gateway: a query body over the kept size is streamed through whole, once", async () => {
  const { gateway, sent, down } = harness();
  const big = "q=SELECT+1" + "+".repeat(1_500_000);
  const r = await gateway.fetch(
    new Request("http://gw/query", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new Blob([big]).stream(),
    }),
  );
  assert.equal(r.status, 200);
  await r.body?.cancel();
  assert.equal(sent[0].body, big);
  // Not kept, so not sent again: a refused connection answers 502.
  for (const n of [1, 2, 3]) down.add(n);
  const refused = await gateway.fetch(
    new Request("http://gw/query", { method: "POST", body: new Blob([big]).stream() }),
  );
  assert.equal(refused.status, 502);
  assert.match((await refused.json()).error, /may have been applied/);
});

Deno.test("gateway: an answer cut by the node fails for the client too", async () => {
  const clock = manualClock();
  const gateway = createGateway(gatewayConfigFromEnv({ EPOCHNEXUS_GATEWAY_NODES: "n:901" }), {
    clock,
    logger: silentLogger,
    readMeta: () => Promise.resolve(VIEW),
    fetch: () => {
      let sent = false;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent) return controller.error(new Error("connection reset"));
          sent = true;
          controller.enqueue(new TextEncoder().encode('{"results":['));
        },
      });
      return Promise.resolve(new Response(body, { status: 200 }));
    },
  });
  const r = await gateway.fetch(new Request("http://gw/query?q=SELECT+1"));
  assert.equal(r.status, 200);
  await assert.rejects(() => r.text(), /connection reset/);
});

Deno.test("gateway: a remote_read goes to a live node, sent again after a refused connection", async () => {
  const { gateway, sent, down } = harness();
  const body = Uint8Array.of(0x0b, 0x28, 0x0a, 0x09, 0x08, 0x01); // bytes passed through as they are
  const read = () =>
    gateway.fetch(
      new Request("http://gw/api/v1/prom/read?db=db", {
        method: "POST",
        headers: { "content-encoding": "snappy", "content-type": "application/x-protobuf" },
        body,
      }),
    );
  const first = await read(); // reads the metadata while every node is up
  assert.equal(first.status, 200);
  await first.body?.cancel();
  down.add(1);
  down.add(2);
  for (let i = 0; i < 3; i++) {
    const r = await read();
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("x-epochnexus-gateway-node"), "3");
    await r.body?.cancel();
  }
  assert.equal(sent.length, 4);
  for (const s of sent) {
    assert.equal(s.path, "/api/v1/prom/read?db=db");
    assert.equal(s.headers.get("content-encoding"), "snappy");
    assert.deepEqual(new TextEncoder().encode(s.body), body);
  }
});
