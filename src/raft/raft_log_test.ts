import assert from "node:assert/strict";
import { ents } from "./_test_util.ts";
import { RaftLog } from "./raft_log.ts";

Deno.test("raft log: append truncates a conflicting suffix and re-marks it unstable", () => {
  const log = new RaftLog(null, ents(1, 1, 2, 2), 1);
  assert.equal(log.unstableFrom, 5);
  const truncatedAt = log.append([{ index: 3, term: 3, type: 0, data: new Uint8Array() }]);
  assert.equal(truncatedAt, 3);
  assert.equal(log.lastIndex(), 3);
  assert.deepEqual(log.unstableEntries().map((e) => e.term), [3]);
  assert.throws(() => log.append(ents(9)), /overwrite committed/);
});

Deno.test("raft log: findConflict and findConflictByTerm", () => {
  const log = new RaftLog(null, ents(1, 1, 2, 2, 4, 4), 0);
  assert.equal(log.findConflict(ents(1, 1)), 0);
  assert.equal(log.findConflict(ents(1, 1, 3)), 3);
  assert.equal(log.findConflict(ents(1, 1, 2, 2, 4, 4, 4)), 7);
  assert.equal(log.findConflictByTerm(6, 3), 4);
  assert.equal(log.findConflictByTerm(6, 1), 2);
  assert.equal(log.findConflictByTerm(6, 0), 0);
});

Deno.test("raft log: up-to-date comparison (§5.4.1)", () => {
  const log = new RaftLog(null, ents(1, 2, 2), 0);
  assert.equal(log.isUpToDate(3, 2), true);
  assert.equal(log.isUpToDate(2, 2), false);
  assert.equal(log.isUpToDate(1, 3), true);
  assert.equal(log.isUpToDate(9, 1), false);
});

Deno.test("raft log: slice honours the byte budget but returns at least one entry", () => {
  const log = new RaftLog(null, ents(1, 1, 1, 1), 0);
  assert.equal(log.slice(1, 5, 1).length, 1);
  assert.equal(log.slice(1, 5, 60).length, 2);
  assert.equal(log.slice(1, 5).length, 4);
});

Deno.test("raft log: compaction keeps the boundary term; restore replaces everything", () => {
  const log = new RaftLog(null, ents(1, 2, 3, 4), 4);
  log.applied = 3;
  log.compactTo(2);
  assert.equal(log.firstIndex(), 3);
  assert.equal(log.term(2), 2);
  assert.equal(log.term(1), undefined);
  assert.throws(() => log.compactTo(4), /beyond applied/);
  log.restore({
    metadata: { index: 10, term: 5, confState: { voters: [1], learners: [] } },
    data: new Uint8Array(),
  });
  assert.equal(log.lastIndex(), 10);
  assert.equal(log.lastTerm(), 5);
  assert.equal(log.committed, 10);
});
