import assert from "node:assert/strict";
import { denoFileSystem } from "../runtime/mod.ts";
import { seededRng } from "./_test_util.ts";
import { RaftNode } from "./driver.ts";
import { SharedRaftLog } from "./storage/shared_log.ts";
import type { Timers } from "./timers.ts";

Deno.test("raft driver with a lease clock: a burst of overdue tick callbacks counts as one tick", async () => {
  const dir = await Deno.makeTempDir({ prefix: "raft_lease_" });
  const { log, groups } = await SharedRaftLog.open({ fs: denoFileSystem, dir });
  let fireTick = () => {};
  const timers: Timers = {
    setInterval: (fn) => (fireTick = fn, 1),
    clearInterval: () => {},
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (id) => clearTimeout(id as number),
  };
  let nowMs = 0;
  const node = await RaftNode.start({
    id: 1,
    peers: [1],
    storage: log.group(1),
    recovered: groups.get(1) ?? {
      hardState: { term: 0, vote: 0, commit: 0 },
      snapshot: null,
      entries: [],
      tornBytes: 0,
      corruption: null,
      recoverUntil: 0,
    },
    transport: { start: () => {}, send: () => {}, stop: () => Promise.resolve() },
    stateMachine: { apply: () => {}, snapshot: () => new Uint8Array(), restore: () => {} },
    rng: seededRng(1),
    timers,
    tickMs: 100,
    electionTicks: 10,
    monotonicMs: () => nowMs,
  });
  try {
    // A lone voter campaigns after 10-19 ticks. 50 callbacks at one instant are one tick.
    for (let i = 0; i < 50; i++) fireTick();
    assert.equal(node.isLeader(), false, "the burst counted as many ticks");
    for (let i = 0; i < 20 && !node.isLeader(); i++) {
      nowMs += 100;
      fireTick();
    }
    assert.equal(node.isLeader(), true, "ticks a tick apart count");
  } finally {
    await node.stop();
    log.close();
    await Deno.remove(dir, { recursive: true });
  }
});
