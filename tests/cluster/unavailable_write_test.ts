/**
 * What the write doors answer when a partition has no leader: a node cut off from the others
 * (the minority) cannot commit, so `/write` and `/ingest` answer 503 with Retry-After and name
 * every point not written; the InfluxDB answers of every other case (204, 400 partial write)
 * stay as they are, and after the link heals the same request is written whole.
 */
import assert from "node:assert/strict";
import { ProposalDroppedError } from "../../src/raft/mod.ts";
import { type MemoryNode, startMemoryCluster, waitUntil } from "./_memory_cluster.ts";

const T0 = 1_700_000_000_000_000_000n;

async function call(node: MemoryNode, path: string, init: RequestInit) {
  const r = await node.app(new Request(`http://node${path}`, init));
  const text = await r.text();
  return { status: r.status, retryAfter: r.headers.get("retry-after"), text };
}

/**
 * A call on the majority, sent again on 503 (a leader being elected or moved, with writes timing
 * out after 300 ms here), as a client would: what it checks is the answer once a leader is there.
 */
async function callAgainOn503(node: MemoryNode, path: string, init: RequestInit) {
  let answer = await call(node, path, init);
  for (let attempt = 0; answer.status === 503 && attempt < 50; attempt++) {
    await new Promise((r) => setTimeout(r, 100));
    answer = await call(node, path, init);
  }
  return answer;
}

const lines = (from: number, n: number, host = "h") =>
  Array.from(
    { length: n },
    (_, i) => `cpu,host=${host}${(from + i) % 4} v=${from + i} ${T0 + BigInt(from + i)}`,
  )
    .join("\n");

/** Three nodes, one database replicated on all; node 3 is then cut off from the others. */
async function isolatedThird(ingest = {}) {
  const cluster = await startMemoryCluster({
    nodes: 3,
    defaults: { partitions: 4, replicationFactor: 3 },
    writeTimeoutMs: 300,
    ingest,
  });
  const [first, , third] = cluster.nodes;
  await first.store.createDatabase("db");
  // Fields and the shard group exist before the cut: later writes need no metadata change.
  // Leaders are still being elected and spread (writes time out after 300 ms here): this set-up
  // write is sent again on 503 until written, as a client would.
  const before = await callAgainOn503(first, "/write?db=db", { method: "POST", body: lines(0, 8) });
  assert.equal(before.status, 204, before.text);
  cluster.hub.isolate(3);
  await waitUntil(
    "node 3 knows no partition leader",
    5_000,
    () => [...third.node.replicas.values()].every((r) => r.leader() === 0),
  );
  return cluster;
}

Deno.test("a minority node answers /write with 503, Retry-After and the lines not written", async () => {
  const cluster = await isolatedThird();
  const [first, , third] = cluster.nodes;
  try {
    const cut = await call(third, "/write?db=db", { method: "POST", body: lines(100, 3) });
    assert.equal(cut.status, 503, cut.text);
    assert.equal(cut.retryAfter, "1");
    const error = JSON.parse(cut.text).error as string;
    assert.match(error, /^3 points not written: their partition has no leader, retry the request/);
    for (const line of [1, 2, 3]) {
      assert.match(
        error,
        new RegExp(`line ${line}: not written: partition \\d of db has no leader`),
      );
    }
    // A bad line beside them: still 503 (a retry may write the others), and it is named too.
    const mixed = await call(third, "/write?db=db", {
      method: "POST",
      body: `${lines(200, 1)}\ncpu,host=x v= 5\n`,
    });
    assert.equal(mixed.status, 503, mixed.text);
    assert.match(mixed.text, /line 1: not written: partition/);
    assert.match(mixed.text, /line 2: missing field value/);
    // The majority keeps answering as InfluxDB does: 204, and 400 partial write for a bad line.
    assert.equal(
      (await callAgainOn503(first, "/write?db=db", { method: "POST", body: lines(300, 3) }))
        .status,
      204,
    );
    const partial = await callAgainOn503(first, "/write?db=db", {
      method: "POST",
      body: `${lines(400, 1)}\ncpu,host=x v=oops 1\n`,
    });
    assert.equal(partial.status, 400);
    assert.match(partial.text, /^\{"error":"partial write:/);
    // Healed: the very request refused before is written whole.
    cluster.hub.isolate(3, false);
    await waitUntil(
      "node 3 knows every partition leader",
      10_000,
      () => [...third.node.replicas.values()].every((r) => r.leader() !== 0),
    );
    const again = await call(third, "/write?db=db", { method: "POST", body: lines(100, 3) });
    assert.equal(again.status, 204, again.text);
  } finally {
    await cluster.close();
  }
});

Deno.test("a minority node answers /ingest with 503 naming the records; a stream stops at the first such batch", async () => {
  const cluster = await isolatedThird({ batchPoints: 2 });
  const [, , third] = cluster.nodes;
  try {
    const ndjson = Array.from({ length: 6 }, (_, i) =>
      JSON.stringify({
        measurement: "cpu",
        tags: { host: `h${i % 4}` },
        fields: { v: 500 + i },
        timestamp: (T0 + BigInt(500 + i)).toString(),
      })).join("\n");
    // Three chunks of two lines: the stream is decoded and written two points at a time.
    const chunks = [0, 2, 4].map((at) =>
      new TextEncoder().encode(ndjson.split("\n").slice(at, at + 2).join("\n") + "\n")
    );
    const r = await call(third, "/ingest?db=db&precision=ns", {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: ReadableStream.from(chunks),
    });
    assert.equal(r.status, 503, r.text);
    assert.equal(r.retryAfter, "1");
    const { error } = JSON.parse(r.text);
    assert.equal(error.code, "unavailable");
    assert.equal(error.accepted, 0);
    assert.equal(error.unavailable, 2, r.text);
    assert.deepEqual(error.stoppedAfter, { line: 2 });
    assert.deepEqual(error.errors.map((e: { line: number }) => e.line), [1, 2]);
    assert.match(error.message, /nothing after line 2 was written/);
    // JSON (read whole) and line protocol over /ingest answer the same way.
    const json = await call(third, "/ingest?db=db&precision=ns", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: `[${ndjson.split("\n").slice(0, 2).join(",")}]`,
    });
    assert.equal(json.status, 503, json.text);
    assert.deepEqual(JSON.parse(json.text).error.errors.map((e: { record: number }) => e.record), [
      1,
      2,
    ]);
  } finally {
    await cluster.close();
  }
});

Deno.test("a metadata change a write needs, dropped by a leader change, is proposed again; one that cannot be made is a 503", async () => {
  const cluster = await startMemoryCluster({
    nodes: 3,
    defaults: { partitions: 4, replicationFactor: 3 },
    writeTimeoutMs: 300,
  });
  const [first] = cluster.nodes;
  try {
    await first.store.createDatabase("db");
    // The metadata group drops the declaration of a write's new fields (its leader changed
    // under the proposal: the entry never applies), `drops` times.
    const node = first.node;
    const propose = node.proposeMeta.bind(node);
    let drops = 1;
    node.proposeMeta = (command) => {
      if (command.op !== "declare_fields" || drops === 0) return propose(command);
      drops--;
      return Promise.reject(new ProposalDroppedError("entry 23 was overwritten by term 3"));
    };
    const once = await callAgainOn503(first, "/write?db=db", { method: "POST", body: lines(0, 3) });
    assert.equal(once.status, 204, once.text);
    assert.equal(drops, 0, "the declaration was dropped once");
    drops = 1_000_000;
    const cut = await call(first, "/write?db=db", {
      method: "POST",
      body: `mem,host=a v=1 ${T0}\nmem,host=b v=2 ${T0}\ncpu,host=x v= 5\n`,
    });
    assert.equal(cut.status, 503, cut.text);
    assert.equal(cut.retryAfter, "1");
    const error = JSON.parse(cut.text).error as string;
    assert.match(error, /^2 points not written/);
    for (const line of [1, 2]) {
      assert.match(
        error,
        new RegExp(
          `line ${line}: not written: the metadata group took no change this write ` +
            `needs \\(proposal dropped`,
        ),
      );
    }
    assert.match(error, /line 3: missing field value/);
  } finally {
    await cluster.close();
  }
});
