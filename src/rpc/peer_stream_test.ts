import assert from "node:assert/strict";
import { FieldType, type Logger } from "../core/mod.ts";
import { MessageType, newMessage } from "../raft/mod.ts";
import type { PartitionWrite, PeerService } from "../cluster/mod.ts";
import { type RunningServer, serveHttp, systemClock, upgradeDialer } from "../runtime/mod.ts";
import { ConnectClusterNetwork, type ConnectClusterNetworkOptions } from "./cluster_network.ts";
import { CLUSTER_SECRET_HEADER } from "./cluster_secret.ts";
import { encodeFrame, FrameKind, FrameReader } from "./peer_frames.ts";
import {
  CLUSTER_ID_HEADER,
  NODE_ID_HEADER,
  PEER_STREAM_PATH,
  PEER_STREAM_PROTOCOL,
} from "./peer_stream.ts";

/** A node's network served over real HTTP on loopback, and what reached it. */
interface TestPeer {
  network: ConnectClusterNetwork;
  server: RunningServer;
  url: string;
  /** Connect requests served, by path. */
  connectCalls: string[];
  logs: string[];
  /** The pool of the peer's Connect calls: closed by `stop`, else a spare keep-alive
   * connection in it holds the other peer's shutdown until the pool's idle timeout (90 s). */
  client: Deno.HttpClient;
}

async function startPeer(
  nodeId: number,
  options: Partial<ConnectClusterNetworkOptions> & { upgrades?: boolean } = {},
): Promise<TestPeer> {
  const logs: string[] = [];
  const log = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    logs.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  const logger: Logger = { info: log("info"), warn: log("warn"), error: log("error") };
  const client = Deno.createHttpClient({});
  const network = new ConnectClusterNetwork({
    clusterId: "c1",
    nodeId,
    dial: upgradeDialer(),
    fetch: (input, init) => fetch(input, { ...init, client }),
    timeoutMs: 30_000,
    logger,
    clock: systemClock,
    ...options,
  });
  const connectCalls: string[] = [];
  const server = await serveHttp((request) => {
    connectCalls.push(new URL(request.url).pathname);
    return network.fetchHandler(request);
  }, {
    hostname: "127.0.0.1",
    port: 0,
    // An older node's server: an upgrade request reaches the handler as any request.
    upgrade: options.upgrades === false ? undefined : network.upgradeHandler,
  });
  return { network, server, url: `http://127.0.0.1:${server.port}`, connectCalls, logs, client };
}

function link(peers: TestPeer[]): void {
  for (const [i, a] of peers.entries()) {
    for (const [j, b] of peers.entries()) if (i !== j) a.network.setPeer(j + 1, b.url);
  }
}

async function stop(...peers: TestPeer[]): Promise<void> {
  for (const p of peers) {
    p.network.close();
    p.client.close();
  }
  await Promise.all(peers.map((p) => p.server.shutdown()));
}

/** A service whose writePartition answers the number of points, after `delayOf(write)` ms. */
function countingService(delayOf: (write: PartitionWrite) => number | Promise<void>): PeerService {
  return {
    writePartition: async (write: PartitionWrite) => {
      const delay = delayOf(write);
      if (typeof delay !== "number") await delay;
      else await new Promise((r) => setTimeout(r, delay));
      if (write.database === "refuse") {
        const { EpochError } = await import("../core/mod.ts");
        throw new EpochError("failed_precondition", "not the leader", {
          details: { leaderHint: 3 },
        });
      }
      return { accepted: write.points.length, rejected: [] };
    },
  } as unknown as PeerService;
}

function write(points: number, database = "db"): PartitionWrite {
  return {
    groupId: 7,
    database,
    retentionPolicy: "autogen",
    consistency: "quorum",
    points: Array.from({ length: points }, (_, i) => ({
      measurement: "m",
      tags: [],
      fields: [{ key: "v", type: FieldType.Float, value: i }],
      timeMs: 1_700_000_000_000 + i,
      timeSubMs: 0,
    })),
  };
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** `promise`, or a rejection when it is still pending after `ms`. */
function settledWithin<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/**
 * Calls until the stream to node 2 is open (the first calls go over Connect meanwhile), then
 * waits for those calls to end.
 */
async function openStream(a: TestPeer): Promise<void> {
  const calls: Promise<unknown>[] = [];
  await until("stream open", () => {
    calls.push(a.network.peers.writePartition(2, write(1)).catch(() => {}));
    return a.network.streamOpen(2);
  });
  await Promise.all(calls);
}

Deno.test("peer stream: many concurrent calls, answered out of order, each to its caller", async () => {
  const [a, b] = [await startPeer(1), await startPeer(2)];
  try {
    link([a, b]);
    // Larger writes answer sooner: answers come back in another order than the calls went.
    b.network.serve(countingService((w) => Math.max(0, 60 - w.points.length)));
    await openStream(a);
    const before = b.connectCalls.length;
    const sizes = Array.from({ length: 200 }, (_, i) => 1 + ((i * 37) % 80));
    const answers = await Promise.all(
      sizes.map((n) => a.network.peers.writePartition(2, write(n))),
    );
    assert.deepEqual(answers.map((x) => x.accepted), sizes);
    assert.equal(
      b.connectCalls.length,
      before,
      "no call went over Connect once the stream was open",
    );
    // A failure crosses with its code and details, as over Connect.
    await assert.rejects(
      () => a.network.peers.writePartition(2, write(1, "refuse")),
      (e: Error & { code?: string; details?: Record<string, unknown> }) =>
        e.code === "failed_precondition" && e.details?.leaderHint === 3,
    );
    const traffic = a.network.traffic().find((t) => t.node === 2)!;
    assert.ok(traffic.sentBytes > 200 * 100, `frames are counted: ${JSON.stringify(traffic)}`);
  } finally {
    await stop(a, b);
  }
});

Deno.test("peer stream: a connection killed mid-call fails its calls at once; the next call opens another", async () => {
  const [a, b] = [await startPeer(1), await startPeer(2)];
  let release = () => {};
  const held = new Promise<void>((resolve) => release = resolve);
  try {
    link([a, b]);
    let arrived = 0;
    b.network.serve(countingService((w) => {
      if (w.database !== "hang") return 0;
      arrived++;
      return held;
    }));
    await openStream(a);
    const started = performance.now();
    const connectCalls = b.connectCalls.length;
    const hanging = [1, 2, 3].map(() => a.network.peers.writePartition(2, write(2, "hang")));
    await until("the calls reached node 2", () => arrived === 3);
    assert.equal(b.connectCalls.length, connectCalls, "the calls went on the stream");
    b.network.close(); // node 2 drops the connection (as a killed process's kernel does)
    for (const call of hanging) {
      await assert.rejects(
        () => settledWithin(call, 5_000),
        (e: Error & { code?: string }) =>
          e.code === "unavailable" && /connection to node 2 ended/.test(e.message),
      );
    }
    assert.ok(performance.now() - started < 10_000, "failed long before the 30 s call timeout");
    await openStream(a);
    const before = b.connectCalls.length;
    assert.equal((await a.network.peers.writePartition(2, write(5))).accepted, 5);
    assert.equal(b.connectCalls.length, before, "the call went over the new stream");
  } finally {
    release();
    await stop(a, b);
  }
});

Deno.test("peer stream: a peer silent for a whole call's time is dropped, so calls go over Connect", async () => {
  const [a, b] = [await startPeer(1, { timeoutMs: 500 }), await startPeer(2)];
  let release = () => {};
  const held = new Promise<void>((resolve) => release = resolve);
  try {
    link([a, b]);
    // "hang" is never answered and nothing else flows: a host gone without a FIN looks so.
    b.network.serve(countingService((w) => w.database === "hang" ? held : 0));
    await openStream(a);
    await assert.rejects(
      () => a.network.peers.writePartition(2, write(1, "hang")),
      (e: Error & { code?: string }) => e.code === "deadline_exceeded",
    );
    await until("the silent stream dropped", () => !a.network.streamOpen(2), 5_000);
    // The next calls go over Connect, then over a new stream (node 2 closes the one it held).
    assert.equal((await a.network.peers.writePartition(2, write(3))).accepted, 3);
    await openStream(a);
  } finally {
    release();
    await stop(a, b);
  }
});

Deno.test("peer stream: refused without the secret, with another, or from a stranger", async () => {
  const [a, b] = [await startPeer(1, { secret: "s1" }), await startPeer(2, { secret: "s2" })];
  try {
    link([a, b]);
    b.network.serve(countingService(() => 0));
    // Node 1 presents the wrong secret: its stream is refused, its Connect calls too, as before.
    await assert.rejects(
      () => a.network.peers.writePartition(2, write(1)),
      (e: Error & { code?: string }) => e.code === "unauthenticated",
    );
    await until("refusal logged", () => a.logs.some((l) => /peer stream refused/.test(l)));
    assert.equal(a.network.streamOpen(2), false);
    assert.ok(
      a.logs.some((l) => /^warn peer stream refused.*"status":401/.test(l)),
      a.logs.join("\n"),
    );
    assert.ok(
      b.logs.some((l) =>
        l.includes("without the cluster secret refused") && l.includes(PEER_STREAM_PATH)
      ),
      b.logs.join("\n"),
    );
    const dial = upgradeDialer();
    const ask = (headers: Record<string, string>) =>
      dial({
        url: `${b.url}${PEER_STREAM_PATH}`,
        protocol: PEER_STREAM_PROTOCOL,
        headers,
        timeoutMs: 5_000,
      });
    const known = { [CLUSTER_ID_HEADER]: "c1", [NODE_ID_HEADER]: "1" };
    assert.equal((await ask(known)).status, 401, "no secret");
    assert.equal(
      (await ask({ ...known, [CLUSTER_SECRET_HEADER]: "s1" })).status,
      401,
      "wrong secret",
    );
    const stranger = await ask({ ...known, [NODE_ID_HEADER]: "9", [CLUSTER_SECRET_HEADER]: "s2" });
    assert.equal(stranger.status, 403);
    assert.match(stranger.body ?? "", /node 9 is not a known member/);
    const other = await ask({ ...known, [CLUSTER_ID_HEADER]: "c2", [CLUSTER_SECRET_HEADER]: "s2" });
    assert.equal(other.status, 403);
    const ok = await ask({ ...known, [CLUSTER_SECRET_HEADER]: "s2" });
    assert.equal(ok.status, 101);
    ok.channel?.close();
  } finally {
    await stop(a, b);
  }
});

Deno.test("peer stream: a frame over the bound ends the connection with a clear error", async () => {
  const b = await startPeer(2, { stream: { maxFrameBytes: 1024 } });
  const a = await startPeer(1, { stream: { maxFrameBytes: 1024 } });
  try {
    link([a, b]);
    b.network.serve(countingService(() => 0));
    // The caller sends a payload over its bound by Connect, not on the stream.
    await openStream(a);
    const before = b.connectCalls.length;
    assert.equal((await a.network.peers.writePartition(2, write(300))).accepted, 300);
    assert.equal(b.connectCalls.length, before + 1, "the large call went over Connect");
    // A peer that sends one anyway loses its connection.
    const outcome = await upgradeDialer()({
      url: `${b.url}${PEER_STREAM_PATH}`,
      protocol: PEER_STREAM_PROTOCOL,
      headers: { [CLUSTER_ID_HEADER]: "c1", [NODE_ID_HEADER]: "1" },
      timeoutMs: 5_000,
    });
    const channel = outcome.channel!;
    let ended = false;
    channel.start(() => {}, () => ended = true);
    await channel.write(encodeFrame(FrameKind.WritePartition, 1, new Uint8Array(2048)));
    await until("connection dropped", () => ended);
    assert.ok(
      b.logs.some((l) => /peer stream dropped.*2048 bytes.*over the bound of 1024/.test(l)),
      b.logs.join("\n"),
    );
  } finally {
    await stop(a, b);
  }
});

Deno.test("peer stream: an older node without the upgrade gets Connect calls", async () => {
  const [a, b] = [await startPeer(1), await startPeer(2, { upgrades: false })];
  try {
    link([a, b]);
    b.network.serve(countingService(() => 0));
    for (let i = 1; i <= 5; i++) {
      assert.equal((await a.network.peers.writePartition(2, write(i))).accepted, i);
    }
    await until("refusal logged", () => a.logs.some((l) => /peer stream refused/.test(l)));
    assert.equal(a.network.streamOpen(2), false);
    assert.ok(
      a.logs.some((l) => /^info peer stream refused.*"status":404/.test(l)),
      a.logs.join("\n"),
    );
    assert.equal(b.connectCalls.filter((p) => p.endsWith("/WritePartition")).length, 5);
  } finally {
    await stop(a, b);
  }
});

Deno.test("peer stream: over the bound of bytes waiting to be written, a call fails at once", async () => {
  const [a, b] = [await startPeer(1, { stream: { maxQueuedBytes: 1000 } }), await startPeer(2)];
  try {
    link([a, b]);
    b.network.serve(countingService(() => 0));
    await openStream(a);
    await a.network.peers.writePartition(2, write(1)); // nothing waits now
    // Both calls are made in one task: the first one's frame still waits when the second comes.
    const first = a.network.peers.writePartition(2, write(200));
    const second = a.network.peers.writePartition(2, write(200));
    await assert.rejects(
      () => second,
      (e: Error & { code?: string }) =>
        e.code === "unavailable" && /bytes wait to be written to node 2/.test(e.message),
    );
    assert.equal((await first).accepted, 200);
  } finally {
    await stop(a, b);
  }
});

Deno.test("peer frames: cut right whatever the chunk boundaries", () => {
  const frames = [
    encodeFrame(FrameKind.RaftSend, 1, new Uint8Array(0)),
    encodeFrame(
      FrameKind.WritePartition,
      0xffff_fffe,
      Uint8Array.from({ length: 300 }, (_, i) => i),
    ),
    encodeFrame(FrameKind.Answer, 3, new Uint8Array([9, 8, 7])),
  ];
  const stream = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of frames) {
    stream.set(f, at);
    at += f.length;
  }
  for (const step of [1, 2, 5, 9, 10, 64, stream.length]) {
    const got: string[] = [];
    const reader = new FrameReader(
      1024,
      (kind, id, payload) =>
        got.push(`${kind}:${id}:${payload.length}:${payload.slice(0, 3).join(",")}`),
    );
    for (let i = 0; i < stream.length; i += step) reader.push(stream.slice(i, i + step));
    assert.deepEqual(got, ["1:1:0:", "2:4294967294:300:0,1,2", "128:3:3:9,8,7"], `step ${step}`);
  }
  const small = new FrameReader(100, () => {});
  assert.throws(() => small.push(frames[1]), /frame of 300 bytes .* over the bound of 100 bytes/);
});

Deno.test("peer stream: Raft messages of every group go on the stream, each to its group", async () => {
  const [a, b] = [await startPeer(1), await startPeer(2)];
  try {
    link([a, b]);
    b.network.serve(countingService(() => 0));
    const received = new Map<number, number[]>();
    const unreachable: number[] = [];
    for (const group of [1, 2]) {
      b.network.transport(group).start({
        receive: (messages) =>
          received.set(group, [...(received.get(group) ?? []), ...messages.map((m) => m.index)]),
        reportUnreachable: () => {},
        reportSnapshot: () => {},
      });
    }
    const senders = [1, 2].map((group) => {
      const t = a.network.transport(group);
      t.start({
        receive: () => {},
        reportUnreachable: (to) => unreachable.push(to),
        reportSnapshot: () => {},
      });
      return t;
    });
    await openStream(a);
    const before = b.connectCalls.length;
    for (let i = 1; i <= 50; i++) {
      for (const [g, t] of senders.entries()) {
        t.send([
          newMessage({ type: MessageType.App, from: 1, to: 2, term: 1, index: i * 10 + g + 1 }),
        ]);
      }
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    const want = Array.from({ length: 50 }, (_, i) => (i + 1) * 10);
    await until(
      "all delivered",
      () => (received.get(2)?.length ?? 0) === 50 && (received.get(1)?.length ?? 0) === 50,
    );
    assert.deepEqual(received.get(1), want.map((x) => x + 1));
    assert.deepEqual(received.get(2), want.map((x) => x + 2));
    assert.equal(
      b.connectCalls.length,
      before,
      "no Send went over Connect once the stream was open",
    );
    assert.deepEqual(unreachable, []);
  } finally {
    await stop(a, b);
  }
});
