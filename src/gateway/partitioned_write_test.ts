import assert from "node:assert/strict";
import { type Clock, seriesKey, silentLogger, sortTags } from "../core/mod.ts";
import { type MetaView, partitionOf } from "../cluster/mod.ts";
import { createGateway, GATEWAY_PLAN_HEADER, gatewayConfigFromEnv } from "./mod.ts";

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
    hash: "fnv1a64",
    hashKey: "series",
  }],
};

/** The partition of a line `m,host=<h> ...`, as the nodes place it. */
function partitionOfLine(line: string): number {
  const host = /host=([^ ,]+)/.exec(line)![1];
  return partitionOf("fnv1a64", seriesKey("m", sortTags([{ key: "host", value: host }])), 3);
}

/**
 * Fake nodes: an empty write (the gateway's credential probe) passes; `/ingest` answers as a
 * node does, refusing lines with `bad=` at their line of the part; `down` refuse connections.
 */
function harness() {
  const down = new Set<number>();
  /** Nodes answering every part 503 (their partition is electing a leader). */
  const electing = new Set<number>();
  /** Nodes answering every part 429 (too many writes at once). */
  const overloaded = new Set<number>();
  const metaReads = { count: 0 };
  const monotonic = { ms: 0 };
  const parts: { node: number; lines: string[]; search: string; auth: string | null }[] = [];
  const clock: Clock = {
    nowMs: () => 1_700_000_000_000,
    nowNanos: () => 1_700_000_000_000_000_000n,
    monotonicMs: () => monotonic.ms,
  };
  const fetchFn: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const node = Number(url.port) - 800;
    if (down.has(node)) throw new TypeError(`connection refused (node ${node})`);
    const body = await request.text();
    if (body === "") return new Response(null, { status: 204 });
    assert.equal(url.pathname, "/ingest");
    if (overloaded.has(node)) {
      return Response.json(
        { error: { code: "resource_exhausted", message: "too many concurrent writes" } },
        { status: 429, headers: { "retry-after": "1" } },
      );
    }
    if (electing.has(node)) {
      return Response.json(
        { error: { code: "unavailable", message: "partition 0 has no leader" } },
        { status: 503, headers: { "retry-after": "1" } },
      );
    }
    const lines = body.split("\n").filter((l) => l !== "");
    parts.push({ node, lines, search: url.search, auth: request.headers.get("authorization") });
    const errors = lines.flatMap((l, i) =>
      l.includes("bad=") ? [{ line: i + 1, reason: "refused by the schema" }] : []
    );
    if (errors.length === 0) return Response.json({ accepted: lines.length, rejected: 0 });
    return Response.json({
      error: {
        code: "invalid_argument",
        message: "rejected",
        accepted: lines.length - errors.length,
        rejected: errors.length,
        errors,
      },
    }, { status: 400 });
  };
  const gateway = createGateway(
    gatewayConfigFromEnv({ EPOCHNEXUS_GATEWAY_NODES: "127.0.0.1:901" }),
    {
      clock,
      logger: silentLogger,
      fetch: fetchFn,
      readMeta: () => {
        metaReads.count++;
        return Promise.resolve(VIEW);
      },
    },
  );
  return { gateway, parts, down, electing, overloaded, metaReads, monotonic };
}

const LINES = Array.from({ length: 30 }, (_, i) => `m,host=h${i} v=${i} ${i + 1}`);

Deno.test("gateway: a write is split by partition, each part sent to its leader with the caller's credentials", async () => {
  const { gateway, parts } = harness();
  const r = await gateway.fetch(
    new Request("http://gw/write?db=db&precision=s", {
      method: "POST",
      headers: { authorization: "Token u:p" },
      body: LINES.join("\n"),
    }),
  );
  assert.equal(r.status, 204, await r.text());
  assert.equal(r.headers.get(GATEWAY_PLAN_HEADER), "split");
  // One part per partition, at its leader hint, holding exactly that partition's points.
  const leaders = [3, 3, 1];
  const expected = new Map<number, string[]>();
  for (const l of LINES) {
    const p = partitionOfLine(l);
    if (!expected.has(p)) expected.set(p, []);
    expected.get(p)!.push(`m,host=${/host=([^ ]+)/.exec(l)![1]}`);
  }
  assert.equal(parts.length, expected.size);
  for (const part of parts) {
    const p = partitionOfLine(part.lines[0]);
    assert.equal(part.node, leaders[p]);
    assert.deepEqual(part.lines.map((l) => l.split(" ")[0]), expected.get(p));
    assert.equal(part.auth, "Token u:p");
    assert.match(part.search, /db=db.*precision=ns/);
  }
  // Seconds became nanoseconds on the way.
  assert.ok(parts.flatMap((p) => p.lines).includes("m,host=h0 v=0 1000000000"));
});

Deno.test("gateway: a split write names refused points at the caller's lines, and a part whose node is down is a 503", async () => {
  const { gateway, parts, down } = harness();
  const body = [...LINES];
  body[12] = "m,host=h12 v=12,bad=1 13"; // line 13
  body[25] = "m,host=h25 v=25,bad=1 26"; // line 26
  const native = await gateway.fetch(
    new Request("http://gw/ingest?db=db&precision=s", {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: body.join("\n"),
    }),
  );
  assert.equal(native.status, 400);
  const answer = await native.json();
  assert.deepEqual(answer.error.errors.map((e: { line: number }) => e.line), [13, 26]);
  assert.equal(answer.error.accepted, 28);

  // Node 3 refuses connections: the parts it leads are not written (503, Retry-After); the
  // others are.
  parts.length = 0;
  down.add(3);
  const r = await gateway.fetch(
    new Request("http://gw/write?db=db&precision=s", { method: "POST", body: LINES.join("\n") }),
  );
  assert.equal(r.status, 503);
  assert.equal(r.headers.get("retry-after"), "1");
  assert.match((await r.json()).error, /node 3 .*could not be reached/);
  const onNode3 = LINES.filter((l) => [0, 1].includes(partitionOfLine(l))).length;
  assert.deepEqual(parts.map((p) => p.node), [1]);
  assert.equal(parts[0].lines.length, LINES.length - onNode3);
  // Sent again, the parts go to live replicas (node 3 is marked down), and all is written.
  parts.length = 0;
  const again = await gateway.fetch(
    new Request("http://gw/write?db=db&precision=s", { method: "POST", body: LINES.join("\n") }),
  );
  assert.equal(again.status, 204);
  assert.ok(parts.every((p) => p.node !== 3));
  assert.equal(parts.reduce((n, p) => n + p.lines.length, 0), LINES.length);
});

Deno.test("gateway: a part refused while its partition elects a leader makes the gateway read the metadata again", async () => {
  const { gateway, electing, metaReads, monotonic } = harness();
  const write = () =>
    gateway.fetch(
      new Request("http://gw/write?db=db&precision=s", { method: "POST", body: LINES.join("\n") }),
    );
  assert.equal((await write()).status, 204);
  assert.equal(metaReads.count, 1);
  assert.equal((await write()).status, 204);
  assert.equal(metaReads.count, 1, "a copy within its time to live was read again");
  monotonic.ms += 1_000; // the copy is a second old
  electing.add(3);
  for (let i = 0; i < 5; i++) {
    const r = await write();
    assert.equal(r.status, 503);
    assert.equal(r.headers.get("retry-after"), "1");
  }
  // The first 503 marked the copy stale; the next write read it once, and the others, within
  // a second of that read, did not read it again.
  assert.equal(metaReads.count, 2, "503s within a second read the copy once");
  electing.clear();
  assert.equal((await write()).status, 204);
  assert.equal(metaReads.count, 2, "the 503 did not make the gateway read its copy again");
});

Deno.test("gateway: a part refused as overloaded (429) does not make the gateway read the metadata again", async () => {
  const { gateway, overloaded, metaReads, monotonic } = harness();
  const write = () =>
    gateway.fetch(
      new Request("http://gw/write?db=db&precision=s", { method: "POST", body: LINES.join("\n") }),
    );
  assert.equal((await write()).status, 204);
  overloaded.add(3);
  for (let i = 0; i < 4; i++) {
    monotonic.ms += 1_100; // past the 1 s a stale hint waits for, within the 5 s time to live
    const r = await write();
    assert.equal(r.status, 503, "a part not written: the caller tries again");
  }
  assert.equal(metaReads.count, 1, "an overloaded node says nothing of where leaders are");
});
