import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { denoFileSystem, systemRng } from "../runtime/mod.ts";
import {
  type Entry,
  EntryType,
  type Message,
  MessageType,
  newMessage,
  RaftLogStorage,
  RaftNode,
  type ReplicatedStateMachine,
  type TransportHandler,
} from "../raft/mod.ts";
import { TestNetwork } from "../raft/_test_util.ts";
import { RaftService, SendRequestSchema } from "./gen/epochnexus/raft/v1/raft_pb.ts";
import { ConnectRaftTransport, fromProto, toProto } from "./raft_transport.ts";

/** fetch that routes http://node<N>/... to node N's handler, with no sockets. */
function memoryFetch(
  handlers: Map<number, (r: Request) => Promise<Response>>,
  down = new Set<number>(),
) {
  return (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const req = new Request(input, init);
    const id = Number(new URL(req.url).hostname.replace("node", ""));
    const h = handlers.get(id);
    if (!h || down.has(id)) return Promise.reject(new TypeError(`connection refused: node${id}`));
    return h(req);
  };
}

function recorder(): TransportHandler & {
  got: Message[];
  unreachable: number[];
  snaps: [number, boolean][];
} {
  const r = {
    got: [] as Message[],
    unreachable: [] as number[],
    snaps: [] as [number, boolean][],
    receive: (ms: Message[]) => r.got.push(...ms),
    reportUnreachable: (to: number) => r.unreachable.push(to),
    reportSnapshot: (to: number, ok: boolean) => r.snaps.push([to, ok]),
  };
  return r;
}

/** The context of a real lease round: a leased leader's tick heartbeat. */
function leaseRoundContext(): Uint8Array {
  const net = new TestNetwork({
    ids: [1, 2, 3],
    common: { checkQuorum: true, lease: { nowMs: () => 0, durationMs: 500 } },
  });
  net.node(1).campaign();
  net.flush();
  net.tick(1, [1]);
  const round = net.delivered.findLast((m) => m.type === MessageType.Heartbeat && m.context);
  assert.ok(round?.context, "a leased leader's tick sends a heartbeat round with a context");
  return round.context;
}

async function until(cond: () => boolean, ms = 5_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("raft transport: messages round-trip through protobuf unchanged", () => {
  const m = newMessage({
    type: MessageType.App,
    to: 2,
    from: 1,
    term: 7,
    logTerm: 6,
    index: 2 ** 40,
    commit: 99,
    entries: [{ index: 2 ** 40 + 1, term: 7, type: EntryType.Conf, data: new Uint8Array([1, 2]) }],
    reject: true,
    rejectHint: 5,
    context: new Uint8Array([9]),
  });
  assert.deepEqual(fromProto(toProto(m)), m);
});

Deno.test("raft transport: one call per destination for every group; rejects other clusters and strangers", async () => {
  const handlers = new Map<number, (r: Request) => Promise<Response>>();
  const inner = memoryFetch(handlers);
  let sends = 0;
  const fetch = (input: RequestInfo | URL, init?: RequestInit) => {
    if (String(input instanceof Request ? input.url : input).endsWith("/Send")) sends++;
    return inner(input, init);
  };
  const a = new ConnectRaftTransport({
    clusterId: "c1",
    nodeId: 1,
    peers: { 2: "http://node2" },
    fetch,
  });
  const b = new ConnectRaftTransport({
    clusterId: "c1",
    nodeId: 2,
    peers: { 1: "http://node1" },
    fetch,
  });
  handlers.set(1, a.fetchHandler);
  handlers.set(2, b.fetchHandler);
  const groups = [5, 6, 7];
  const senders = groups.map((g) => a.group(g));
  const receivers = groups.map(() => recorder());
  for (const t of senders) t.start(recorder());
  groups.forEach((g, i) => b.group(g).start(receivers[i]));
  const msgs = Array.from(
    { length: 50 },
    (_, i) => newMessage({ type: MessageType.Heartbeat, from: 1, to: 2, term: 1, commit: i }),
  );
  // Every group's heartbeats of one "tick" at once: they share calls.
  for (const m of msgs) for (const t of senders) t.send([m]);
  await until(() => receivers.every((r) => r.got.length === 50));
  for (const r of receivers) {
    assert.deepEqual(r.got.map((m) => m.commit), msgs.map((m) => m.commit), "in order");
  }
  assert.ok(sends <= 50, `${sends} calls for ${3 * 50} messages of 3 groups`);

  const client = createClient(
    RaftService,
    createConnectTransport({ baseUrl: "http://node2", fetch, useBinaryFormat: true }),
  );
  const req = (clusterId: string, from: number) =>
    create(SendRequestSchema, { clusterId, from: BigInt(from), to: 2n, groups: [] });
  await assert.rejects(() => client.send(req("other", 1)), /cluster id mismatch.*"other".*"c1"/);
  await assert.rejects(() => client.send(req("c1", 9)), /node 9 is not a known member/);
  // A group the receiver does not run loses its messages, not the others'.
  await client.send(create(SendRequestSchema, {
    clusterId: "c1",
    from: 1n,
    to: 2n,
    groups: [
      { groupId: 77n, messages: [toProto(msgs[0])] },
      { groupId: 5n, messages: [toProto({ ...msgs[0], commit: 99 })] },
    ],
  }));
  assert.equal(receivers[0].got.at(-1)?.commit, 99);
  // An unreachable peer is reported to every group whose messages it misses.
  handlers.delete(2);
  const lost = recorder();
  const g8 = a.group(8);
  g8.start(lost);
  g8.send([newMessage({ type: MessageType.Heartbeat, from: 1, to: 2, term: 1 })]);
  await until(() => lost.unreachable.includes(2));
  for (const t of [...senders, g8]) await t.stop();
});

Deno.test("raft transport: a snapshot travels in checked chunks", async () => {
  const handlers = new Map<number, (r: Request) => Promise<Response>>();
  const fetch = memoryFetch(handlers);
  const a = new ConnectRaftTransport({
    clusterId: "c",
    nodeId: 1,
    peers: { 2: "http://node2" },
    fetch,
    snapshotChunkBytes: 1000,
  });
  const b = new ConnectRaftTransport({
    clusterId: "c",
    nodeId: 2,
    peers: { 1: "http://node1" },
    fetch,
  });
  handlers.set(1, a.fetchHandler);
  handlers.set(2, b.fetchHandler);
  const ra = recorder();
  const rb = recorder();
  a.group(1).start(ra);
  const gb = b.group(1);
  gb.start(rb);
  const data = Uint8Array.from({ length: 10_500 }, (_, i) => (i * 31) & 0xff);
  const snap = {
    metadata: { index: 40, term: 3, confState: { voters: [1, 2], learners: [3] } },
    data,
  };
  const ga = a.group(1);
  ga.start(ra);
  ga.send([newMessage({ type: MessageType.Snap, from: 1, to: 2, term: 3, snapshot: snap })]);
  await until(() => ra.snaps.length === 1);
  assert.deepEqual(ra.snaps, [[2, true]]);
  assert.equal(rb.got.length, 1);
  assert.deepEqual(rb.got[0].snapshot, snap);
  await ga.stop();
  await gb.stop();
});

class KvMachine implements ReplicatedStateMachine {
  map = new Map<string, string>();
  apply(e: Entry): string {
    const [k, v] = new TextDecoder().decode(e.data).split("=");
    this.map.set(k, v);
    return `set ${k}`;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify([...this.map]));
  }
  restore(data: Uint8Array): void {
    this.map = new Map(JSON.parse(new TextDecoder().decode(data)));
  }
}

Deno.test("raft driver over Connect: three nodes elect, replicate, and catch up a node by snapshot", async () => {
  const handlers = new Map<number, (r: Request) => Promise<Response>>();
  const down = new Set<number>();
  const fetch = memoryFetch(handlers, down);
  const root = await Deno.makeTempDir({ prefix: "raft_driver_" });
  const ids = [1, 2, 3];
  const peersOf = (id: number) =>
    Object.fromEntries(ids.filter((p) => p !== id).map((p) => [p, `http://node${p}`]));
  const machines = new Map<number, KvMachine>();
  const start = async (id: number) => {
    const t = new ConnectRaftTransport({
      clusterId: "test",
      nodeId: id,
      peers: peersOf(id),
      fetch,
      snapshotChunkBytes: 256,
    });
    handlers.set(id, t.fetchHandler);
    const { storage, state } = await RaftLogStorage.open({
      fs: denoFileSystem,
      dir: `${root}/n${id}`,
    });
    const sm = new KvMachine();
    machines.set(id, sm);
    return await RaftNode.start({
      id,
      peers: ids,
      storage,
      recovered: state,
      transport: t.group(1),
      stateMachine: sm,
      rng: systemRng,
      tickMs: 10,
      snapshotEntries: 20,
      retainEntries: 5,
    });
  };
  const nodes = new Map<number, RaftNode>();
  try {
    for (const id of ids) nodes.set(id, await start(id));
    await until(() => [...nodes.values()].some((n) => n.isLeader()));
    let leader = [...nodes.values()].find((n) => n.isLeader())!;
    assert.equal(await leader.propose(new TextEncoder().encode("a=1")), "set a");
    // Take one follower down, write enough to compact past it, bring it back.
    const lagging = ids.find((id) => id !== leader.id)!;
    await nodes.get(lagging)!.stop();
    down.add(lagging);
    for (let i = 0; i < 60; i++) await leader.propose(new TextEncoder().encode(`k${i % 5}=${i}`));
    assert.ok(leader.status().firstIndex > 10, "leader compacted its log");
    down.delete(lagging);
    nodes.set(lagging, await start(lagging));
    leader = [...nodes.values()].find((n) => n.isLeader())!;
    await until(() => nodes.get(lagging)!.status().applied >= leader.status().commit);
    assert.deepEqual(
      [...machines.get(lagging)!.map].sort(),
      [...machines.get(leader.id)!.map].sort(),
    );
    await leader.readBarrier();
    const follower = nodes.get(ids.find((id) => id !== leader.id && id !== lagging)!)!;
    await follower.readBarrier();
    await assert.rejects(() => follower.propose(new TextEncoder().encode("x=1")), /not the leader/);
  } finally {
    for (const n of nodes.values()) await n.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("raft transport: a heartbeat's plain answer waits for the next call to its node, nothing else does", async () => {
  const handlers = new Map<number, (r: Request) => Promise<Response>>();
  const inner = memoryFetch(handlers);
  let sends = 0;
  const fetch = (input: RequestInfo | URL, init?: RequestInit) => {
    if (String(input instanceof Request ? input.url : input).endsWith("/Send")) sends++;
    return inner(input, init);
  };
  const HOLD_MS = 60_000; // longer than the test: an answer that waited for its hold is a failure
  const a = new ConnectRaftTransport({
    clusterId: "c1",
    nodeId: 1,
    peers: { 2: "http://node2" },
    fetch,
    heartbeatResponseHoldMs: HOLD_MS,
  });
  const b = new ConnectRaftTransport({ clusterId: "c1", nodeId: 2, peers: { 1: "http://node1" } });
  handlers.set(2, b.fetchHandler);
  const got = recorder();
  b.group(5).start(got);
  const sender = a.group(5);
  sender.start(recorder());
  const msg = (type: MessageType, context: Uint8Array | null = null) =>
    newMessage({ type, from: 1, to: 2, term: 1, context });
  // A plain heartbeat answer waits...
  sender.send([msg(MessageType.HeartbeatResp)]);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(sends, 0, "a heartbeat's answer waits for other traffic");
  // ...and goes with the next call that may not wait (a heartbeat), in one call.
  sender.send([msg(MessageType.Heartbeat)]);
  await until(() => got.got.length === 2);
  assert.deepEqual(got.got.map((m) => m.type), [MessageType.HeartbeatResp, MessageType.Heartbeat]);
  assert.equal(sends, 1);
  // A lease round's answer waits too (the lease is timed from the round's send).
  sender.send([msg(MessageType.HeartbeatResp, leaseRoundContext())]);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(sends, 1, "a lease round's answer waits for other traffic");
  // An append's answer and a read's heartbeat answer go at once.
  sender.send([msg(MessageType.AppResp)]);
  await until(() => got.got.length === 4);
  sender.send([msg(MessageType.HeartbeatResp, new TextEncoder().encode("1:7"))]);
  await until(() => got.got.length === 5);
  // Waiting answers go when the group stops, not after the hold.
  sender.send([msg(MessageType.HeartbeatResp)]);
  await sender.stop();
  assert.equal(got.got.length, 6);
});

Deno.test("raft transport: a heartbeat's answer alone goes after its hold", async () => {
  const handlers = new Map<number, (r: Request) => Promise<Response>>();
  const a = new ConnectRaftTransport({
    clusterId: "c1",
    nodeId: 1,
    peers: { 2: "http://node2" },
    fetch: memoryFetch(handlers),
    heartbeatResponseHoldMs: 30,
  });
  const b = new ConnectRaftTransport({ clusterId: "c1", nodeId: 2, peers: { 1: "http://node1" } });
  handlers.set(2, b.fetchHandler);
  const got = recorder();
  b.group(5).start(got);
  const sender = a.group(5);
  sender.start(recorder());
  sender.send([newMessage({ type: MessageType.HeartbeatResp, from: 1, to: 2, term: 1 })]);
  await until(() => got.got.length === 1);
  await sender.stop();
});
