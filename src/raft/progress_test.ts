import assert from "node:assert/strict";
import { Inflights, Progress } from "./progress.ts";

Deno.test("inflights: fills to capacity, frees acknowledged prefixes, wraps around", () => {
  const f = new Inflights(3);
  f.add(5);
  f.add(7);
  f.add(9);
  assert.equal(f.full(), true);
  f.freeLE(7);
  assert.equal(f.count, 1);
  f.add(11);
  f.add(13);
  assert.equal(f.full(), true);
  f.freeLE(100);
  assert.equal(f.count, 0);
  f.add(1);
  f.freeFirstOne();
  assert.equal(f.count, 0);
  assert.throws(() => {
    const g = new Inflights(1);
    g.add(1);
    g.add(2);
  }, /BUG/);
});

Deno.test("progress: probe pauses after one send; replicate advances next optimistically", () => {
  const p = new Progress(6, 2);
  assert.equal(p.isPaused(), false);
  p.sentEntries(3, 8);
  assert.equal(p.isPaused(), true, "probe waits for an answer");
  assert.equal(p.maybeUpdate(8), true);
  p.becomeReplicate();
  assert.equal(p.next, 9);
  p.sentEntries(2, 10);
  p.sentEntries(1, 11);
  assert.equal(p.next, 12);
  assert.equal(p.isPaused(), true, "two inflight messages fill the window");
  p.inflights.freeLE(10);
  assert.equal(p.isPaused(), false);
});

Deno.test("progress: stale rejections are ignored; fresh ones back off to the hint", () => {
  const p = new Progress(11, 4);
  p.match = 3;
  assert.equal(p.maybeDecrTo(9, 5), false, "probe: rejection of an index we did not send");
  assert.equal(p.maybeDecrTo(10, 5), true);
  assert.equal(p.next, 6);
  p.becomeReplicate();
  assert.equal(p.maybeDecrTo(2, 1), false, "replicate: rejection below match is stale");
  assert.equal(p.maybeDecrTo(7, 1), true);
  assert.equal(p.next, 4);
});

Deno.test("progress: after a snapshot, probing resumes after the snapshot index", () => {
  const p = new Progress(1, 4);
  p.becomeSnapshot(50);
  assert.equal(p.isPaused(), true);
  p.becomeProbe();
  assert.equal(p.next, 51);
});
