/**
 * Scripted scenarios for the hard cases of the Raft paper, run in the deterministic simulator
 * with faults chosen by hand. Every scenario also runs the invariant checkers on every event and
 * the linearizability checker at the end.
 */
import assert from "node:assert/strict";
import { ELECTION_TICKS, Simulator, TICK_MS } from "./sim.ts";

const ELECTION_MS = ELECTION_TICKS * TICK_MS;

function quietSim(seed: number, voters: number, extra: Record<string, unknown> = {}): Simulator {
  const sim = new Simulator({ seed, voters, faults: false, autoClients: false, ...extra });
  sim.runUntil(3 * ELECTION_MS);
  assert.notEqual(sim.leader(), 0, "a leader is elected in a quiet cluster");
  return sim;
}

function makeLeader(sim: Simulator, id: number): void {
  const current = sim.leader();
  if (current !== id) {
    sim.raft(current).transferLeadership(id);
    sim.runUntil(sim.now + ELECTION_MS);
  }
  assert.equal(sim.leader(), id, `node ${id} leads`);
}

function assertClean(sim: Simulator): void {
  const r = sim.check();
  assert.deepEqual(r.violations, []);
}

Deno.test("scenario: figure 8 — an old-term entry on a majority is not committed by counting", () => {
  const sim = quietSim(8, 5);
  makeLeader(sim, 1);
  // S1 (term a) replicates X to S2 only.
  sim.partition([1, 2], [3, 4, 5]);
  const x = sim.submit(1, 1, { kind: "put", key: "k", value: "X" });
  sim.runUntil(sim.now + 200);
  const indexX = sim.raft(1).lastIndex;
  assert.equal(sim.raft(2).lastIndex, indexX, "S2 has X");
  assert.ok(sim.raft(1).committed < indexX, "X is not committed (no majority)");
  // S1 crashes; S3..S5 elect a leader (term b) that appends Y only to itself.
  sim.crash(1);
  sim.runUntil(sim.now + 4 * ELECTION_MS);
  const b = sim.leader();
  assert.ok([3, 4, 5].includes(b), `leader among 3..5, got ${b}`);
  sim.isolate(b);
  const y = sim.submit(2, b, { kind: "put", key: "k", value: "Y" });
  sim.runUntil(sim.now + 100);
  sim.crash(b);
  // S1 restarts and, with S2 and the two others, spreads X (term a) to a majority.
  sim.healNetwork();
  for (const id of [1, 2, 3, 4, 5]) if (id !== b) sim.partition([id], [b]);
  sim.restart(1);
  sim.runUntil(sim.now + 6 * ELECTION_MS);
  const c = sim.leader();
  assert.ok(c !== 0 && c !== b, `a leader without ${b}`);
  // Whatever happened to X, the cluster agrees, and only a current-term entry committed it.
  sim.healNetwork();
  sim.restart(b);
  sim.runUntil(sim.now + 6 * ELECTION_MS);
  assert.notEqual(sim.leader(), 0);
  assert.notEqual(y.status, "ok", "Y was never acknowledged: its leader was isolated");
  assert.ok(["ok", "unknown", "failed"].includes(x.status));
  assertClean(sim);
});

Deno.test("scenario: figure 7 — a follower with a divergent uncommitted tail is repaired", () => {
  const sim = quietSim(7, 3);
  makeLeader(sim, 1);
  // The leader writes entries nobody else receives, then is deposed.
  sim.isolate(1);
  for (let i = 0; i < 20; i++) {
    sim.submit(1, 1, { kind: "put", key: `k${i % 3}`, value: `old${i}` });
  }
  sim.runUntil(sim.now + 4 * ELECTION_MS);
  const b = sim.leader();
  assert.ok(b === 2 || b === 3, `a new leader among 2, 3: ${b}`);
  for (let i = 0; i < 5; i++) sim.submit(2, b, { kind: "put", key: "k0", value: `new${i}` });
  sim.runUntil(sim.now + ELECTION_MS);
  sim.healNetwork();
  sim.runUntil(sim.now + 3 * ELECTION_MS);
  const want = sim.raft(b).entries(1, 1e9).map((e) => `${e.index}/${e.term}`);
  const got = sim.raft(1).entries(1, 1e9).map((e) => `${e.index}/${e.term}`);
  assert.deepEqual(got.slice(-want.length), want.slice(-got.length), "logs match after repair");
  assert.equal(sim.raft(1).lastIndex, sim.raft(b).lastIndex);
  assertClean(sim);
});

Deno.test("scenario: a stale leader (paused) cannot serve reads or writes and steps down", () => {
  const sim = quietSim(11, 3);
  makeLeader(sim, 1);
  sim.submit(1, 1, { kind: "put", key: "a", value: "v1" });
  sim.runUntil(sim.now + 200);
  sim.pause(1, 5_000);
  sim.runUntil(sim.now + 3 * ELECTION_MS);
  const b = sim.leader();
  assert.ok(b === 2 || b === 3, `new leader ${b}`);
  const w = sim.submit(2, b, { kind: "put", key: "a", value: "v2" });
  sim.runUntil(sim.now + 300);
  assert.equal(w.status, "ok");
  // Node 1 resumes believing it leads; a read and a write sent to it must not succeed stale.
  sim.runUntil(sim.now + 2_000);
  const staleRead = sim.submit(3, 1, { kind: "get", key: "a" });
  const staleWrite = sim.submit(3, 1, { kind: "put", key: "a", value: "stale" });
  sim.runUntil(sim.now + ELECTION_MS);
  assert.notEqual(sim.raft(1).currentRole, "leader");
  assert.ok(staleRead.status !== "ok" || staleRead.output === "v2", `read saw ${staleRead.output}`);
  assert.notEqual(staleWrite.status, "ok");
  assertClean(sim);
});

Deno.test("scenario: removing the leader — it steps down once committed, the rest go on", () => {
  const sim = quietSim(12, 3);
  const old = sim.leader();
  sim.raft(old).proposeConfChange({ type: "removeNode", nodeId: old });
  sim.runUntil(sim.now + 10 * ELECTION_MS);
  const now = sim.leader();
  assert.ok(now !== 0 && now !== old, `a new leader other than ${old}: ${now}`);
  assert.ok(!sim.raft(now).currentConf().voters.includes(old));
  assert.equal(sim.raft(old).promotable(), false);
  const w = sim.submit(1, now, { kind: "put", key: "x", value: "after" });
  sim.runUntil(sim.now + 500);
  assert.equal(w.status, "ok");
  assertClean(sim);
});

Deno.test("scenario: a slow follower far behind the compaction point gets a snapshot", () => {
  const sim = quietSim(13, 3, { snapshotEvery: 50 });
  const leader = sim.leader();
  const slow = [1, 2, 3].find((id) => id !== leader)!;
  sim.isolate(slow);
  for (let i = 0; i < 300; i++) {
    sim.submit(1 + (i % 3), leader, { kind: "put", key: `k${i % 7}`, value: `v${i}` });
    sim.runUntil(sim.now + 10);
  }
  sim.runUntil(sim.now + 500);
  assert.ok(
    sim.raft(leader).status().firstIndex > sim.raft(slow).lastIndex + 1,
    "compacted past it",
  );
  const installed = sim.stats.snapshotsInstalled;
  sim.healNetwork();
  sim.runUntil(sim.now + 3 * ELECTION_MS);
  assert.ok(sim.stats.snapshotsInstalled > installed, "a snapshot was installed");
  assert.equal(sim.raft(slow).committed, sim.raft(leader).committed);
  assert.deepEqual([...sim.node(slow).kv].sort(), [...sim.node(leader).kv].sort());
  assertClean(sim);
});

Deno.test("scenario: a partitioned node rejoins without disrupting the leader (pre-vote)", () => {
  const sim = quietSim(14, 3);
  const leader = sim.leader();
  const term = sim.raft(leader).currentTerm;
  const lone = [1, 2, 3].find((id) => id !== leader)!;
  sim.isolate(lone);
  sim.runUntil(sim.now + 20 * ELECTION_MS);
  assert.equal(sim.raft(lone).currentTerm, term, "pre-vote kept the isolated node's term");
  sim.healNetwork();
  sim.runUntil(sim.now + 3 * ELECTION_MS);
  assert.equal(sim.leader(), leader);
  assert.equal(sim.raft(leader).currentTerm, term);
  assert.equal(sim.raft(lone).leaderId, leader);
  assertClean(sim);
});
