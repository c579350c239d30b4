/**
 * Leader leases (§6.4.1): when a leader may answer a read from its commit index without a
 * heartbeat round, and the follower-side rules that make that safe. Time is a variable the test
 * moves; each node reads it through its own drift rate.
 */
import assert from "node:assert/strict";
import { TestNetwork } from "./_test_util.ts";
import { CLOCK_DRIFT_BOUND, leaseDurationMs, type RaftOptions } from "./raft.ts";
import { type Message, MessageType, newMessage } from "./types.ts";

const TICK_MS = 100;
const ELECTION_TICKS = 10;
const enc = (s: string) => new TextEncoder().encode(s);

/** Real time in ms, and per node a clock running at `rate` against it. */
class Time {
  now = 0;
  lease(rate: number, durationMs = leaseDurationMs(TICK_MS, ELECTION_TICKS)) {
    return { nowMs: () => this.now * rate, durationMs };
  }
}

function leasedNetwork(time: Time, rates: Record<number, number> = {}, durationMs?: number) {
  const nodes: Record<number, Partial<RaftOptions>> = {};
  for (const id of [1, 2, 3]) {
    nodes[id] = { lease: time.lease(rates[id] ?? 1, durationMs), electionTicks: ELECTION_TICKS };
  }
  const net = new TestNetwork({ ids: [1, 2, 3], nodes });
  net.node(1).campaign();
  net.flush();
  net.node(1).propose(enc("a"));
  net.flush();
  return net;
}

/** Ticks the leader once (a heartbeat round, acknowledged by whoever it reaches). */
function heartbeatRound(net: TestNetwork, time: Time): void {
  time.now += TICK_MS;
  net.tick(1, [1]);
}

Deno.test("lease: a leader a quorum acknowledged serves a read at once, without a round", () => {
  const time = new Time();
  const net = leasedNetwork(time);
  assert.equal(net.node(1).leaseReadIndex(), null, "no heartbeat round acknowledged yet");
  heartbeatRound(net, time);
  assert.equal(net.node(1).leaseReadIndex(), net.node(1).committed);
  const heartbeats = net.delivered.filter((m) => m.type === MessageType.Heartbeat).length;
  net.node(1).readIndex(enc("r1"));
  net.flush();
  const rs = net.records.get(1)!.readStates;
  assert.equal(rs.length, 1);
  assert.equal(rs[0].index, net.node(1).committed);
  assert.equal(
    net.delivered.filter((m) => m.type === MessageType.Heartbeat).length,
    heartbeats,
    "the read took no heartbeat round",
  );
  // A follower's ReadIndex is answered at once too: two messages, no round.
  net.node(2).readIndex(enc("r2"));
  net.flush();
  assert.equal(net.records.get(2)!.readStates.length, 1);
  assert.equal(
    net.delivered.filter((m) => m.type === MessageType.Heartbeat).length,
    heartbeats,
    "the follower's read took no heartbeat round",
  );
});

Deno.test("lease: a deposed leader whose lease lapsed does not serve a read at once", () => {
  const time = new Time();
  const net = leasedNetwork(time);
  heartbeatRound(net, time);
  assert.notEqual(net.node(1).leaseReadIndex(), null);
  // Node 1 stalls (no ticks: it never runs check-quorum) while cut off; the others elect.
  net.isolate(1);
  for (let i = 0; i < 40 && net.leader() === 1; i++) {
    time.now += TICK_MS;
    net.tick(1, [2, 3]);
  }
  const leader = net.leader();
  assert.ok([2, 3].includes(leader), "the majority elected a new leader");
  net.node(leader).propose(enc("b"));
  net.flush();
  assert.equal(net.node(1).currentRole, "leader", "node 1 still believes it leads");
  assert.equal(net.node(1).leaseReadIndex(), null, "its lease lapsed");
  net.node(1).readIndex(enc("stale"));
  net.flush();
  assert.equal(net.records.get(1)!.readStates.length, 0, "a read on it waits for a round");
});

/**
 * The worst case the drift bound allows: the leader's clock slow, the followers' fast. Node 1
 * leads; only node 2 acknowledges one heartbeat round, then node 1 is cut off and stalls. Node
 * 3 campaigns as often as it can; node 2 must refuse it until its guard ends. Returns when the
 * leader last served a lease read and when a new leader first committed (real ms).
 */
function partitionedLeaderRace(durationMs?: number): { lastLease: number; newCommit: number } {
  const time = new Time();
  const slow = 1 - CLOCK_DRIFT_BOUND;
  const fast = 1 + CLOCK_DRIFT_BOUND;
  const rates: Record<number, number> = { 1: slow, 2: fast, 3: fast };
  const net = leasedNetwork(time, rates, durationMs);
  net.cut.add("1-3").add("3-1");
  heartbeatRound(net, time);
  const sentAt = time.now;
  assert.notEqual(net.node(1).leaseReadIndex(), null);
  net.isolate(1);
  let lastLease = -1;
  let newCommit = -1;
  const ticksOf = (id: number) => Math.floor(time.now * rates[id] / TICK_MS);
  const ticked = { 2: ticksOf(2), 3: ticksOf(3) };
  for (let step = 0; step < 5_000 && newCommit < 0; step++) {
    time.now += 1;
    for (const id of [2, 3] as const) {
      while (ticked[id] < ticksOf(id)) {
        ticked[id]++;
        net.node(id).tick();
        net.flush();
      }
    }
    if (step % 5 === 0 && net.node(3).currentRole !== "leader") {
      net.node(3).campaign();
      net.flush();
    }
    if (net.node(1).leaseReadIndex() !== null) lastLease = time.now;
    for (const id of [2, 3]) {
      const n = net.node(id);
      if (n.currentRole === "leader" && n.termAt(n.committed) === n.currentTerm) {
        newCommit = time.now;
      }
    }
  }
  assert.ok(newCommit > 0, "the majority elected a leader that committed");
  assert.ok(lastLease > sentAt, "the lease held for a while after the cut");
  return { lastLease, newCommit };
}

Deno.test("lease: a leader cut off from its quorum stops serving before a new leader can commit", () => {
  const { lastLease, newCommit } = partitionedLeaderRace();
  assert.ok(
    lastLease < newCommit,
    `the old leader served a lease read at ${lastLease} ms, a new leader committed at ${newCommit} ms`,
  );
});

Deno.test("lease: the race above is close: a lease of a full election timeout loses it", () => {
  // Without the drift and early-tick allowances the old leader still serves after the new one
  // committed: the test above would fail on such a duration.
  const { lastLease, newCommit } = partitionedLeaderRace(ELECTION_TICKS * TICK_MS);
  assert.ok(lastLease >= newCommit, `${lastLease} < ${newCommit}`);
});

Deno.test("lease: a follower inside the lease window refuses to vote, after it grants", () => {
  const time = new Time();
  const net = leasedNetwork(time);
  heartbeatRound(net, time);
  const term = net.node(3).currentTerm;
  const vote = (from: number) =>
    newMessage({ type: MessageType.Vote, from, to: 3, term: term + 1, index: 99, logTerm: 99 });
  net.node(3).step(vote(2));
  net.flush();
  assert.equal(net.node(3).currentTerm, term, "ignored while its leader is alive");
  net.isolate(1);
  net.tick(ELECTION_TICKS, [3]);
  net.node(3).step(vote(2));
  assert.equal(net.node(3).currentTerm, term + 1, "granted once an election timeout passed");
});

Deno.test("lease: a node restarted with stored state refuses votes for an election timeout", () => {
  const time = new Time();
  const net = leasedNetwork(time);
  heartbeatRound(net, time);
  // Node 3 acknowledged the round, then restarts: it no longer knows a leader.
  const restarted = new TestNetwork({
    ids: [3],
    nodes: { 3: { stored: net.storedState(3), lease: time.lease(1), electionTicks: 10 } },
  }).node(3);
  const term = restarted.currentTerm;
  assert.equal(restarted.leaderId, 0);
  const vote = newMessage({
    type: MessageType.Vote,
    from: 2,
    to: 3,
    term: term + 1,
    index: 99,
    logTerm: 99,
  });
  restarted.step(vote);
  assert.equal(restarted.currentTerm, term, "no vote right after a restart");
  for (let i = 0; i < ELECTION_TICKS; i++) restarted.tick();
  restarted.step(vote);
  assert.equal(restarted.currentTerm, term + 1, "granted an election timeout later");
  assert.equal(restarted.status().vote, 2);
});

Deno.test("lease: a leader that sent TimeoutNow serves no lease read again in its term", () => {
  const time = new Time();
  const net = leasedNetwork(time);
  heartbeatRound(net, time);
  net.ignored.add(MessageType.TimeoutNow); // delayed: it may still arrive and win votes
  net.node(1).transferLeadership(2);
  net.flush();
  assert.equal(net.node(1).leaseReadIndex(), null, "no lease during the transfer");
  for (let i = 0; i < ELECTION_TICKS + 1; i++) heartbeatRound(net, time);
  assert.equal(net.node(1).currentRole, "leader", "the transfer timed out; node 1 leads");
  net.node(1).propose(enc("after")); // the transfer is over: proposals resume
  net.flush();
  assert.equal(net.node(1).leaseReadIndex(), null, "still no lease in this term");
  net.node(1).readIndex(enc("r"));
  net.flush();
  assert.equal(net.records.get(1)!.readStates.length, 1, "reads take a round instead");
});

Deno.test("lease: a late acknowledgement counts from its round's send, not its arrival", () => {
  const time = new Time();
  const net = leasedNetwork(time);
  net.hold = true;
  heartbeatRound(net, time); // sent at 100 ms; the network holds it
  net.hold = false;
  time.now += leaseDurationMs(TICK_MS, ELECTION_TICKS); // the lease of that round ends now
  const held = net.held.splice(0);
  for (const m of held) net.deliver(m);
  net.flush(); // the followers' acknowledgements arrive now
  assert.ok(held.some((m) => m.type === MessageType.Heartbeat));
  assert.equal(net.node(1).leaseReadIndex(), null, "acknowledged a round too old to lease");
  heartbeatRound(net, time);
  assert.notEqual(net.node(1).leaseReadIndex(), null, "a fresh round leases again");
});

/**
 * Ticks the leader `rounds` times, its followers' acknowledgements of each round reaching it
 * `delayTicks` ticks late (as a transport that holds heartbeat answers delivers them); returns
 * for each tick whether the leader held a lease right after it.
 */
function leaseWithLateAcks(delayTicks: number, rounds: number): boolean[] {
  const time = new Time();
  const net = leasedNetwork(time);
  const late: Message[][] = [];
  const leased: boolean[] = [];
  for (let i = 0; i < rounds; i++) {
    time.now += TICK_MS;
    net.hold = true;
    net.tick(1, [1]);
    // Everything but the acknowledgements goes at once (the tick's heartbeats, appends).
    const acks: Message[] = [];
    for (let step = 0; step < 100 && net.held.length > 0; step++) {
      for (const m of net.held.splice(0)) {
        if (m.type === MessageType.HeartbeatResp) acks.push(m);
        else net.deliver(m);
      }
      net.flush();
    }
    late.push(acks);
    if (late.length > delayTicks) { for (const m of late.shift()!) net.deliver(m); }
    net.flush();
    leased.push(net.node(1).leaseReadIndex() !== null);
  }
  return leased;
}

Deno.test("lease: acknowledgements held up to a tick (the transport's hold) keep the lease continuous", () => {
  // Rounds go every tick and each leases from its send: acks a tick late leave no gap.
  assert.deepEqual(leaseWithLateAcks(1, 30).slice(1), new Array(29).fill(true));
  // The arithmetic matters: acks later than the lease's length leave it lapsed.
  const lapsedAfter = Math.ceil(leaseDurationMs(TICK_MS, ELECTION_TICKS) / TICK_MS);
  assert.ok(!leaseWithLateAcks(lapsedAfter, 30).slice(lapsedAfter).some((v) => v));
});
