import assert from "node:assert/strict";
import { denoFileSystem } from "../runtime/mod.ts";
import { seededRng } from "./_test_util.ts";
import { RaftNode } from "./driver.ts";
import type { ReplicatedStateMachine } from "./state_machine.ts";
import { SharedRaftLog } from "./storage/shared_log.ts";
import { SharedTicker } from "./timers.ts";
import type { TransportHandler } from "./transport.ts";
import { MessageType, newMessage } from "./types.ts";

const machine: ReplicatedStateMachine = {
  apply: () => {},
  snapshot: () => new Uint8Array(),
  restore: () => {},
};

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A lone voter over a shared log, ticking through a SharedTicker; its transport is captured. */
async function loneNode(dir: string) {
  const { log } = await SharedRaftLog.open({ fs: denoFileSystem, dir });
  const ticker = new SharedTicker();
  let handler: TransportHandler | undefined;
  const sent: number[] = [];
  const node = await RaftNode.start({
    id: 1,
    peers: [1],
    storage: log.group(1),
    recovered: {
      hardState: { term: 0, vote: 0, commit: 0 },
      snapshot: null,
      entries: [],
      tornBytes: 0,
      corruption: null,
      recoverUntil: 0,
    },
    transport: {
      start: (h) => handler = h,
      send: (messages) => sent.push(...messages.map((m) => m.to)),
      stop: () => Promise.resolve(),
    },
    stateMachine: machine,
    rng: seededRng(1),
    timers: ticker.timers,
    tickMs: 5,
  });
  return {
    node,
    ticker,
    handler: () => handler!,
    sent,
    close: () => node.stop().then(() => log.close()),
  };
}

Deno.test("raft driver: a lone leader stops ticking, and ticks again once it has a member or stops leading", async () => {
  const dir = await Deno.makeTempDir({ prefix: "raft_idle_" });
  const { node, ticker, handler, sent, close } = await loneNode(dir);
  try {
    // A follower ticks: it needs its election timeout to stand.
    assert.equal(node.isLeader(), false);
    assert.equal(node.ticking, true);
    assert.equal(ticker.timerCount, 1);
    await until("the lone voter elects itself", () => node.isLeader());
    await node.propose(new TextEncoder().encode("a"));
    await until("the lone leader stops ticking", () => !node.ticking);
    assert.equal(ticker.timerCount, 0, "no timer left running on the node's ticker");

    // A learner needs heartbeats and retries: the leader ticks again, and heartbeats reach it.
    await node.proposeConfChange({ type: "addLearner", nodeId: 2 });
    await until("ticking with a learner", () => node.ticking);
    sent.length = 0;
    await until("heartbeats reach the learner", () => sent.filter((to) => to === 2).length >= 3);
    await node.proposeConfChange({ type: "removeNode", nodeId: 2 });
    await until("alone again, not ticking", () => !node.ticking);

    // A message of a higher term makes it a follower, which must tick to stand again.
    const term = node.status().term;
    handler().receive([
      newMessage({ type: MessageType.Heartbeat, from: 3, to: 1, term: term + 1 }),
    ]);
    await until("the deposed leader ticks", () => node.ticking && !node.isLeader());
    await until("it stands again and leads alone", () => node.isLeader() && !node.ticking);
    assert.ok(node.status().term > term + 1);
  } finally {
    await close();
    await Deno.remove(dir, { recursive: true });
  }
});
