import assert from "node:assert/strict";
import { appliedData, ents, seededRng, TestNetwork } from "./_test_util.ts";
import { NotLeaderError, ProposalDroppedError } from "./errors.ts";
import { Raft } from "./raft.ts";
import { EntryType, type HardState, MessageType, newMessage } from "./types.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const hs = (term: number, vote = 0, commit = 0): HardState => ({ term, vote, commit });

function proposeAll(net: TestNetwork, ...values: string[]) {
  const leader = net.node(net.leader());
  for (const v of values) leader.propose(enc(v));
  net.flush();
}

Deno.test("raft: the first campaigner of three becomes leader in term 2", () => {
  const net = new TestNetwork({ ids: [1, 2, 3] });
  net.node(1).campaign();
  net.flush();
  assert.equal(net.leader(), 1);
  assert.equal(net.node(1).currentTerm, 2);
  for (const id of [2, 3]) {
    assert.equal(net.node(id).currentRole, "follower");
    assert.equal(net.node(id).leaderId, 1);
  }
});

Deno.test("raft: a single node elects itself on its first timeout and commits at once", () => {
  const net = new TestNetwork({ ids: [1] });
  net.tick(20);
  assert.equal(net.leader(), 1);
  proposeAll(net, "a", "b");
  assert.deepEqual(appliedData(net.records.get(1)!), ["a", "b"]);
});

Deno.test("raft: elections happen on timeout without a manual campaign", () => {
  const net = new TestNetwork({ ids: [1, 2, 3, 4, 5], seed: 7 });
  net.tick(30);
  const leader = net.leader();
  assert.notEqual(leader, 0);
  const terms = new Set([...net.nodes.values()].map((n) => n.currentTerm));
  assert.equal(terms.size, 1, "all nodes agree on the term");
});

Deno.test("raft: proposals replicate and apply in the same order on every node", () => {
  const net = new TestNetwork({ ids: [1, 2, 3] });
  net.node(1).campaign();
  net.flush();
  proposeAll(net, "x", "y", "z");
  net.tick(2); // heartbeats carry the commit index
  for (const id of [1, 2, 3]) assert.deepEqual(appliedData(net.records.get(id)!), ["x", "y", "z"]);
});

Deno.test("raft: a follower refuses proposals with a hint; a transferring leader drops them", () => {
  const net = new TestNetwork({ ids: [1, 2, 3] });
  net.node(1).campaign();
  net.flush();
  assert.throws(() => net.node(2).propose(enc("v")), (e) => {
    assert.ok(e instanceof NotLeaderError);
    assert.equal(e.leaderId, 1);
    return true;
  });
  net.isolate(3);
  net.node(1).transferLeadership(3);
  assert.throws(() => net.node(1).propose(enc("v")), ProposalDroppedError);
});

Deno.test("raft: a candidate with an older log loses (§5.4.1)", () => {
  // Node 1 has only term 1; nodes 2 and 3 have entries of term 2.
  const net = new TestNetwork({
    ids: [1, 2, 3],
    nodes: {
      1: { stored: { hardState: hs(2, 0, 1), snapshot: null, entries: confThen(1) } },
      2: { stored: { hardState: hs(2, 0, 1), snapshot: null, entries: confThen(1, 2) } },
      3: { stored: { hardState: hs(2, 0, 1), snapshot: null, entries: confThen(1, 2) } },
    },
    common: { preVote: false },
  });
  net.node(1).campaign();
  net.flush();
  assert.equal(net.node(1).currentRole === "leader", false);
  net.node(2).campaign();
  net.flush();
  assert.equal(net.leader(), 2);
});

Deno.test("raft: only entries of the current term commit by counting replicas (§5.4.2, figure 8)", () => {
  // Leader 1 at term 3 holds an entry of term 2 at index 2 that only it and node 2 have.
  const stored = (entries: ReturnType<typeof ents>) => ({
    stored: { hardState: hs(3, 0, 1), snapshot: null, entries },
  });
  const net = new TestNetwork({
    ids: [1, 2, 3],
    nodes: { 1: stored(confThen(2)), 2: stored(confThen(2)), 3: stored(confThen()) },
  });
  // Drop appends so the new leader's entry of term 4 does not reach anyone yet.
  net.ignored.add(MessageType.App);
  net.node(1).campaign();
  net.flush();
  assert.equal(net.leader(), 1);
  assert.equal(net.node(1).currentTerm, 4);
  // A quorum (1, 2) has index 2 of term 2, but it must not commit by counting.
  assert.equal(net.node(1).committed, 1);
  net.heal();
  net.tick(1);
  // Once the term-4 entry reaches a quorum, both commit.
  assert.equal(net.node(1).committed, 3);
  assert.equal(net.node(1).termAt(3), 4);
});

Deno.test("raft: figure 7 followers all converge to the leader's log", () => {
  // The leader's log of figure 7 (terms of indexes 1..10), with our conf entry at index 1.
  const leaderTerms = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
  const followers: number[][] = [
    [1, 1, 1, 4, 4, 5, 5, 6, 6], // (a)
    [1, 1, 1, 4], // (b)
    [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6], // (c)
    [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7], // (d)
    [1, 1, 1, 4, 4, 4, 4], // (e)
    [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3], // (f)
  ];
  for (const [i, terms] of followers.entries()) {
    const nodes: Record<number, object> = {
      1: {
        stored: {
          hardState: hs(8, 0, 1),
          snapshot: null,
          entries: confLog([1, 2, 3], leaderTerms),
        },
      },
      2: { stored: { hardState: hs(8, 0, 1), snapshot: null, entries: confLog([1, 2, 3], terms) } },
      3: { stored: { hardState: hs(8, 0, 1), snapshot: null, entries: confLog([1, 2, 3], [1]) } },
    };
    const net = new TestNetwork({ ids: [1, 2, 3], nodes, common: { preVote: false } });
    // Node 3 is empty and votes for node 1; node 2 may be ahead (c, d) and must be overwritten.
    net.node(1).campaign();
    net.flush();
    assert.equal(net.leader(), 1, `case ${"abcdef"[i]}`);
    net.tick(3);
    const want = net.node(1).entries(1, 100).map((e) => `${e.index}/${e.term}`);
    for (const id of [2, 3]) {
      const got = net.node(id).entries(1, 100).map((e) => `${e.index}/${e.term}`);
      assert.deepEqual(got, want, `case ${"abcdef"[i]} node ${id}`);
      assert.equal(net.node(id).committed, net.node(1).committed);
    }
  }
});

Deno.test("raft: pre-vote keeps a partitioned node's term; it rejoins without disruption", () => {
  const net = new TestNetwork({ ids: [1, 2, 3] });
  net.node(1).campaign();
  net.flush();
  const term = net.node(1).currentTerm;
  net.isolate(3);
  net.tick(100);
  assert.equal(net.node(3).currentTerm, term, "pre-vote does not bump the term");
  assert.equal(net.node(3).currentRole, "precandidate");
  net.heal();
  net.tick(3);
  assert.equal(net.leader(), 1);
  assert.equal(net.node(1).currentTerm, term);
  assert.equal(net.node(3).leaderId, 1);
});

Deno.test("raft: without pre-vote a rejoining node forces a new term (the disruption pre-vote avoids)", () => {
  const net = new TestNetwork({ ids: [1, 2, 3], common: { preVote: false, checkQuorum: false } });
  net.node(1).campaign();
  net.flush();
  const term = net.node(1).currentTerm;
  net.isolate(3);
  net.tick(50);
  assert.ok(net.node(3).currentTerm > term);
  net.heal();
  net.tick(30);
  assert.ok(net.node(1).currentTerm > term);
});

Deno.test("raft: check-quorum makes an isolated leader step down", () => {
  const net = new TestNetwork({ ids: [1, 2, 3] });
  net.node(1).campaign();
  net.flush();
  net.isolate(1);
  net.tick(25);
  assert.notEqual(net.node(1).currentRole, "leader");
  assert.ok([2, 3].includes(net.leader()));
});

Deno.test("raft: check-quorum followers ignore vote requests while their leader is alive", () => {
  const net = new TestNetwork({ ids: [1, 2, 3], common: { preVote: false } });
  net.node(1).campaign();
  net.flush();
  const term = net.node(1).currentTerm;
  net.node(3).step(
    newMessage({ type: MessageType.Vote, from: 2, to: 3, term: term + 5, index: 99, logTerm: 99 }),
  );
  assert.equal(net.node(3).currentTerm, term);
});

Deno.test("raft: a stale leader learns the new term from an append response and steps down", () => {
  const net = new TestNetwork({ ids: [1, 2, 3] });
  net.node(1).campaign();
  net.flush();
  net.isolate(1);
  net.tick(25, [2, 3]);
  const newLeader = net.leader();
  assert.ok(newLeader === 2 || newLeader === 3);
  // Node 1 still believes it leads (it has not ticked); it proposes, which cannot commit.
  assert.equal(net.node(1).currentRole, "leader");
  const pos = net.node(1).propose(enc("lost"));
  net.heal();
  net.flush();
  net.tick(2);
  assert.equal(net.node(1).currentRole, "follower");
  assert.notEqual(net.node(1).termAt(pos.index), pos.term, "the stale entry was overwritten");
  assert.ok(!appliedData(net.records.get(1)!).includes("lost"));
});

Deno.test("raft: replication backs off to probe and catches up a lagging follower", () => {
  const net = new TestNetwork({ ids: [1, 2, 3] });
  net.node(1).campaign();
  net.flush();
  net.isolate(3);
  for (let i = 0; i < 50; i++) proposeAll(net, `v${i}`);
  net.heal();
  net.tick(3);
  assert.equal(net.node(3).lastIndex, net.node(1).lastIndex);
  assert.equal(appliedData(net.records.get(3)!).length, 50);
});

Deno.test("raft: the inflight window bounds unacknowledged appends", () => {
  const net = new TestNetwork({ ids: [1, 2], common: { maxInflightMsgs: 4 } });
  net.node(1).campaign();
  net.flush();
  net.hold = true;
  for (let i = 0; i < 10; i++) {
    net.node(1).propose(enc(`p${i}`));
    net.flush(); // each proposal is flushed alone so it would go in its own message
  }
  const apps = net.held.filter((m) => m.type === MessageType.App && m.to === 2);
  assert.equal(apps.length, 4);
  net.hold = false;
  for (const m of net.held) net.deliver(m);
  net.held = [];
  net.flush();
  net.tick(2);
  assert.equal(net.node(2).lastIndex, net.node(1).lastIndex);
});

Deno.test("raft: proposals between two readies go to a follower in one message (batching)", () => {
  const net = new TestNetwork({ ids: [1, 2, 3] });
  net.node(1).campaign();
  net.flush();
  const before = net.delivered.length;
  for (let i = 0; i < 20; i++) net.node(1).propose(enc(`b${i}`));
  net.flush();
  const apps = net.delivered.slice(before).filter((m) => m.type === MessageType.App && m.to === 2);
  assert.equal(apps[0].entries.length, 20);
});

Deno.test("raft: leadership transfer to an up-to-date follower", () => {
  const net = new TestNetwork({ ids: [1, 2, 3] });
  net.node(1).campaign();
  net.flush();
  proposeAll(net, "a");
  net.node(1).transferLeadership(3);
  net.flush();
  assert.equal(net.leader(), 3);
  assert.equal(net.node(1).leaderId, 3);
});

Deno.test("raft: leadership transfer to a lagging follower waits for it to catch up", () => {
  const net = new TestNetwork({ ids: [1, 2, 3] });
  net.node(1).campaign();
  net.flush();
  net.isolate(3);
  proposeAll(net, "a", "b");
  net.heal();
  net.node(1).transferLeadership(3);
  net.flush();
  assert.equal(net.leader(), 3);
  assert.deepEqual(appliedData(net.records.get(3)!).slice(0, 2), ["a", "b"]);
});

Deno.test("raft: a transfer to an unreachable node times out and proposals resume", () => {
  const net = new TestNetwork({ ids: [1, 2, 3] });
  net.node(1).campaign();
  net.flush();
  net.isolate(3);
  net.node(1).transferLeadership(3);
  assert.throws(() => net.node(1).propose(enc("x")), ProposalDroppedError);
  net.tick(11, [1, 2]);
  assert.equal(net.leader(), 1);
  net.node(1).propose(enc("x"));
});

Deno.test("raft: ReadIndex on the leader answers after a quorum heartbeat round", () => {
  const net = new TestNetwork({ ids: [1, 2, 3] });
  net.node(1).campaign();
  net.flush();
  proposeAll(net, "a");
  net.node(1).readIndex(enc("r1"));
  net.flush();
  const rs = net.records.get(1)!.readStates;
  assert.equal(rs.length, 1);
  assert.equal(rs[0].index, net.node(1).committed);
  assert.deepEqual(rs[0].context, enc("r1"));
});

Deno.test("raft: ReadIndex from a follower is forwarded and answered", () => {
  const net = new TestNetwork({ ids: [1, 2, 3] });
  net.node(1).campaign();
  net.flush();
  proposeAll(net, "a");
  net.node(2).readIndex(enc("r2"));
  net.flush();
  const rs = net.records.get(2)!.readStates;
  assert.equal(rs.length, 1);
  assert.equal(rs[0].index, net.node(1).committed);
});

Deno.test("raft: ReadIndex on a leader cut off from its quorum never answers", () => {
  const net = new TestNetwork({ ids: [1, 2, 3] });
  net.node(1).campaign();
  net.flush();
  net.isolate(1);
  net.node(1).readIndex(enc("r"));
  net.flush();
  assert.equal(net.records.get(1)!.readStates.length, 0);
});

Deno.test("raft: ReadIndex waits for the new leader's first commit in its term", () => {
  const net = new TestNetwork({ ids: [1, 2, 3] });
  net.ignored.add(MessageType.AppResp);
  net.node(1).campaign();
  net.flush();
  net.node(1).readIndex(enc("r"));
  net.flush();
  assert.equal(net.records.get(1)!.readStates.length, 0);
  net.heal();
  net.tick(1);
  assert.equal(net.records.get(1)!.readStates.length, 1);
  assert.equal(net.records.get(1)!.readStates[0].index, net.node(1).committed);
});

Deno.test("raft: add a learner, promote it, then remove a voter", () => {
  const net = new TestNetwork({ ids: [1, 2, 3] });
  net.node(1).campaign();
  net.flush();
  proposeAll(net, "a");
  net.add(4);
  net.node(1).proposeConfChange({ type: "addLearner", nodeId: 4 });
  net.flush();
  net.tick(2);
  assert.deepEqual(net.node(4).currentConf(), { voters: [1, 2, 3], learners: [4] });
  assert.deepEqual(appliedData(net.records.get(4)!), ["a"]);
  assert.equal(net.node(4).promotable(), false);
  net.node(1).proposeConfChange({ type: "addVoter", nodeId: 4 });
  net.flush();
  net.tick(2);
  assert.deepEqual(net.node(4).currentConf(), { voters: [1, 2, 3, 4], learners: [] });
  net.node(1).proposeConfChange({ type: "removeNode", nodeId: 2 });
  net.flush();
  net.tick(2);
  assert.deepEqual(net.node(1).currentConf().voters, [1, 3, 4]);
  // With 2 gone, a quorum of {1,3,4} still commits.
  net.isolate(2);
  proposeAll(net, "b");
  net.tick(2);
  assert.deepEqual(appliedData(net.records.get(4)!), ["a", "b"]);
});

Deno.test("raft: one configuration change at a time", () => {
  const net = new TestNetwork({ ids: [1, 2, 3] });
  net.node(1).campaign();
  net.flush();
  net.isolate(2);
  net.isolate(3);
  net.node(1).proposeConfChange({ type: "addLearner", nodeId: 4 });
  assert.throws(
    () => net.node(1).proposeConfChange({ type: "addLearner", nodeId: 5 }),
    ProposalDroppedError,
  );
});

Deno.test("raft: a new leader refuses a configuration change before its first commit", () => {
  const net = new TestNetwork({ ids: [1, 2, 3] });
  net.ignored.add(MessageType.AppResp);
  net.node(1).campaign();
  net.flush();
  assert.throws(
    () => net.node(1).proposeConfChange({ type: "addLearner", nodeId: 4 }),
    /has not yet committed an entry of its term/,
  );
});

Deno.test("raft: removing the leader: it commits its removal, steps down, the rest elect", () => {
  const net = new TestNetwork({ ids: [1, 2, 3] });
  net.node(1).campaign();
  net.flush();
  net.node(1).proposeConfChange({ type: "removeNode", nodeId: 1 });
  net.flush();
  assert.notEqual(net.node(1).currentRole, "leader");
  assert.equal(net.node(1).promotable(), false);
  net.tick(30);
  const leader = net.leader();
  assert.ok(leader === 2 || leader === 3);
  proposeAll(net, "after");
  net.tick(2);
  for (const id of [2, 3]) assert.deepEqual(appliedData(net.records.get(id)!), ["after"]);
});

Deno.test("raft: a configuration entry that is overwritten reverts the configuration", () => {
  const net = new TestNetwork({ ids: [1, 2, 3] });
  net.node(1).campaign();
  net.flush();
  net.isolate(1);
  net.node(1).proposeConfChange({ type: "addLearner", nodeId: 9 });
  net.flush();
  assert.deepEqual(net.node(1).currentConf().learners, [9]);
  net.tick(30, [2, 3]);
  net.heal();
  net.tick(3);
  assert.deepEqual(net.node(1).currentConf().learners, []);
});

Deno.test("raft: a follower behind the compaction point gets a snapshot", () => {
  const net = new TestNetwork({ ids: [1, 2, 3] });
  net.node(1).campaign();
  net.flush();
  net.isolate(3);
  proposeAll(net, "a", "b", "c");
  const leader = net.node(1);
  const applied = leader.status().applied;
  leader.createSnapshot(applied, enc("state-at-" + applied));
  leader.compactLog(applied);
  assert.equal(leader.status().firstIndex, applied + 1);
  net.heal();
  net.tick(3);
  const rec = net.records.get(3)!;
  assert.equal(rec.snapshot?.metadata.index, applied);
  assert.deepEqual(rec.snapshot?.metadata.confState, { voters: [1, 2, 3], learners: [] });
  assert.equal(net.node(3).committed, leader.committed);
  proposeAll(net, "d");
  net.tick(2);
  assert.deepEqual(appliedData(rec), ["d"]);
});

Deno.test("raft: restart from stored state keeps term, vote and log", () => {
  const net = new TestNetwork({ ids: [1, 2, 3] });
  net.node(1).campaign();
  net.flush();
  proposeAll(net, "a", "b");
  net.tick(2);
  const stored = net.storedState(2);
  const r = new Raft({ id: 2, rng: seededRng(5), stored });
  assert.equal(r.currentTerm, stored.hardState.term);
  assert.equal(r.status().vote, 1);
  assert.equal(r.lastIndex, net.node(2).lastIndex);
  assert.deepEqual(r.currentConf().voters, [1, 2, 3]);
  const rd = r.ready();
  assert.deepEqual(
    rd.committedEntries.filter((e) => e.type === EntryType.Normal && e.data.length > 0).map((e) =>
      new TextDecoder().decode(e.data)
    ),
    ["a", "b"],
    "committed entries are re-applied after restart",
  );
});

Deno.test("raft: Ready asks for fsync only when entries, term or vote change", () => {
  const net = new TestNetwork({ ids: [1, 2, 3] });
  net.node(1).campaign();
  net.flush();
  net.tick(1);
  const f = net.node(2);
  f.step(
    newMessage({
      type: MessageType.Heartbeat,
      from: 1,
      to: 2,
      term: f.currentTerm,
      commit: f.committed,
    }),
  );
  const rd = f.ready();
  assert.equal(rd.mustSync, false);
  f.advance();
  f.step(newMessage({
    type: MessageType.App,
    from: 1,
    to: 2,
    term: f.currentTerm,
    index: f.lastIndex,
    logTerm: f.termAt(f.lastIndex)!,
    entries: [{
      index: f.lastIndex + 1,
      term: f.currentTerm,
      type: EntryType.Normal,
      data: enc("q"),
    }],
  }));
  const rd2 = f.ready();
  assert.equal(rd2.mustSync, true);
  assert.equal(rd2.entries.length, 1);
  f.advance();
});

/** A log whose first entry is the bootstrap conf of {1,2,3} (term 1), then `terms` from index 2. */
function confThen(...terms: number[]) {
  return confLog([1, 2, 3], [1, ...terms]);
}

function confLog(voters: number[], terms: number[]) {
  const list = ents(...terms);
  const boot = new Raft({ id: voters[0], rng: seededRng(1), peers: voters });
  const first = boot.ready().entries[0];
  list[0] = first;
  return list;
}

Deno.test("raft: a node recovering from log corruption neither votes nor campaigns until repaired", () => {
  const net = new TestNetwork({ ids: [1, 2, 3] });
  net.node(1).campaign();
  net.flush();
  proposeAll(net, "a", "b");
  net.tick(2);
  const commit = net.node(1).committed;
  // Node 3 restarts having lost its log after index 1 (corruption cut), knowing it had `commit`.
  const stored = net.storedState(3);
  const damaged = { ...stored, entries: stored.entries.slice(0, 1) };
  const r3 = new Raft({ id: 3, rng: seededRng(9), stored: damaged, nonVotingUntil: commit });
  net.nodes.set(3, r3);
  assert.equal(r3.recovering(), true);
  assert.equal(r3.promotable(), false);
  r3.step(
    newMessage({
      type: MessageType.Vote,
      from: 2,
      to: 3,
      term: r3.currentTerm + 1,
      index: 99,
      logTerm: 99,
    }),
  );
  const rd = r3.ready();
  assert.ok(rd.messages.some((m) => m.type === MessageType.VoteResp && m.reject), "vote refused");
  r3.advance();
  net.flush();
  net.tick(30); // a leader (re-)elected among 1 and 2 repairs node 3's log
  assert.equal(r3.recovering(), false);
  assert.equal(r3.promotable(), true);
});

Deno.test("raft: a copy opened empty on a node that voted in the group grants no vote", () => {
  // Node 3 votes for 2 in term 2 while 1 is cut off; then its copy of the group is dropped (a
  // move took it away) and opened again empty (a move brings it back): its vote is gone with
  // the dropped copy. The stale 1, still listing 3 as a voter, must not be elected in term 2
  // with the empty copy's vote, next to the leader 2 of the same term.
  const net = new TestNetwork({ ids: [1, 2, 3] });
  net.isolate(1);
  net.node(2).campaign();
  net.flush();
  assert.equal(net.leader(), 2);
  assert.equal(net.node(2).currentTerm, 2);
  net.add(3);
  net.heal();
  net.isolate(2);
  net.node(1).campaign();
  net.flush();
  assert.equal(net.node(1).currentRole === "leader", false, "node 1 leads term 2 as well");
  assert.equal(net.node(3).status().vote, 0);
  // Once the empty copy learns its members (the leader's log), it votes again.
  net.heal();
  net.tick(3, [2]);
  net.flush();
  assert.deepEqual(net.node(3).currentConf().voters, [1, 2, 3]);
  net.isolate(2);
  net.tick(40, [1, 3]);
  net.flush();
  assert.ok([1, 3].includes(net.leader()), "1 and 3 elect one of them");
});
