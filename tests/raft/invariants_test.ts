import assert from "node:assert/strict";
import { EntryType, Raft } from "../../src/raft/mod.ts";
import { InvariantChecker } from "./invariants.ts";
import { Prng } from "./sim_support.ts";

const e = (index: number, term: number, text = "x") => ({
  index,
  term,
  type: EntryType.Normal,
  data: new TextEncoder().encode(text),
});

function leaderRaft(id: number): Raft {
  const r = new Raft({ id, rng: new Prng(id), peers: [id] });
  r.ready();
  r.advance();
  r.campaign();
  return r;
}

Deno.test("invariants: two leaders in one term are caught", () => {
  const c = new InvariantChecker();
  const a = leaderRaft(1);
  const b = leaderRaft(2);
  assert.equal(a.currentTerm, b.currentTerm);
  c.onLeader(a);
  assert.deepEqual(c.violations, []);
  c.onLeader(b);
  assert.match(c.violations[0], /election safety: nodes 1 and 2 both lead term 2/);
});

Deno.test("invariants: log matching and state machine safety", () => {
  const c = new InvariantChecker();
  const r = leaderRaft(1);
  c.onPersist(r, [e(5, 2, "a")]);
  c.onPersist(r, [e(5, 2, "a")]);
  assert.deepEqual(c.violations, []);
  c.onPersist(r, [e(5, 2, "b")]);
  assert.match(c.violations[0], /log matching: two different entries at index 5 term 2/);
  c.onApply(1, e(7, 3, "p"));
  c.onApply(2, e(7, 3, "p"));
  assert.equal(c.violations.length, 1);
  c.onApply(3, e(7, 4, "q"));
  assert.match(c.violations[1], /state machine safety: node 3 applied 7\/4/);
});

Deno.test("invariants: double votes and durability regressions across restarts", () => {
  const c = new InvariantChecker();
  c.onVoteGranted(1, 5, 2);
  c.onVoteGranted(1, 5, 2);
  assert.deepEqual(c.violations, []);
  c.onVoteGranted(1, 5, 3);
  assert.match(c.violations[0], /double vote: node 1 voted for 2 and 3 in term 5/);
  c.onSend(2, 9);
  c.onSynced(2, { term: 9, vote: 1, commit: 40 });
  c.onRestart(2, { term: 9, vote: 1, commit: 40 }, 0);
  assert.equal(c.violations.length, 1);
  c.onRestart(2, { term: 8, vote: 1, commit: 12 }, 0);
  assert.match(c.violations[1], /restarted at term 8 after sending term 9/);
  assert.match(c.violations[2], /restarted at commit 12 after syncing 40/);
});

Deno.test("invariants: a new leader missing an entry committed in an earlier term is caught", () => {
  const c = new InvariantChecker();
  // Index 5 was applied, committed by the leader of term 2.
  c.onApply(1, e(5, 2));
  const old = leaderRaft(1); // leader of term 2
  (c as unknown as { commitByTerm: Map<number, number> }).commitByTerm.set(2, 5);
  c.afterEvent(old);
  // A node whose log ends at index 1 wins term 3 (as if votes had been miscounted).
  const boot = new Raft({ id: 3, rng: new Prng(3), peers: [3] }).ready().entries;
  const lacks = new Raft({
    id: 3,
    rng: new Prng(4),
    stored: { hardState: { term: 2, vote: 0, commit: 1 }, snapshot: null, entries: boot },
  });
  lacks.campaign();
  assert.equal(lacks.currentRole, "leader");
  assert.equal(lacks.currentTerm, 3);
  c.onLeader(lacks);
  assert.match(c.violations.join("\n"), /leader completeness: leader 3 of term 3 lacks index 5/);
});
