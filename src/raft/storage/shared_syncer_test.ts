import assert from "node:assert/strict";
import type { FileHandle } from "../../core/mod.ts";
import { SegmentSyncer } from "./shared_syncer.ts";

interface Held {
  done: () => void;
  fail: (e: unknown) => void;
}

/** A handle whose fdatasyncs finish when the test says so (listed in `started` too). */
class HeldHandle implements FileHandle {
  readonly pending: Held[] = [];
  constructor(private readonly started: Held[] = []) {}
  write = () => Promise.resolve(0);
  read = () => Promise.resolve(null);
  seek = () => Promise.resolve(0);
  truncate = () => Promise.resolve();
  close(): void {}
  datasync(): Promise<void> {
    return new Promise((done, fail) => {
      this.pending.push({ done, fail });
      this.started.push({ done, fail });
    });
  }
}

const tick = () => new Promise((r) => setTimeout(r, 0));

function waiter(log: string[], name: string) {
  return { resolve: () => log.push(name), reject: (e: unknown) => log.push(`${name}: ${e}`) };
}

Deno.test("syncer: bytes written while an fdatasync runs wait for the next one", async () => {
  const h = new HeldHandle();
  const log: string[] = [];
  const syncer = new SegmentSyncer(() => {}, () => {});
  syncer.attach([h]);
  syncer.wrote(100);
  syncer.after(100, waiter(log, "a"));
  assert.equal(h.pending.length, 1);
  syncer.wrote(50); // written after the fdatasync began: not covered by it
  syncer.after(150, waiter(log, "b"));
  syncer.wrote(50);
  syncer.after(200, waiter(log, "c"));
  assert.equal(h.pending.length, 1, "one at a time");
  h.pending.shift()!.done();
  await tick();
  assert.deepEqual(log, ["a"]);
  assert.equal(h.pending.length, 1, "the next covers b and c together");
  h.pending.shift()!.done();
  await tick();
  assert.deepEqual(log, ["a", "b", "c"]);
  assert.equal(syncer.count, 2);
  assert.ok(syncer.allDurable);
});

Deno.test("syncer: concurrent fdatasyncs may finish out of order; each covers what preceded it", async () => {
  const started: Held[] = [];
  const h1 = new HeldHandle(started);
  const h2 = new HeldHandle(started);
  const log: string[] = [];
  const syncer = new SegmentSyncer(() => {}, () => {});
  syncer.attach([h1, h2]);
  syncer.wrote(100);
  syncer.after(100, waiter(log, "a")); // fdatasync 1 covers 100
  syncer.wrote(100);
  syncer.after(200, waiter(log, "b")); // fdatasync 2 covers 200
  const [first, second] = started;
  assert.ok(first && second, "two under way");
  assert.equal(h1.pending.length + h2.pending.length, 2, "one on each handle");
  second.done(); // the later one finishes first: it covers both
  await tick();
  assert.deepEqual(log, ["a", "b"]);
  first.done();
  await tick();
  assert.deepEqual(log, ["a", "b"]);
  assert.equal(syncer.count, 2);
});

Deno.test("syncer: a failed fdatasync fails every waiter, now and later", async () => {
  const h = new HeldHandle();
  const log: string[] = [];
  const errors: unknown[] = [];
  const syncer = new SegmentSyncer(() => {}, (e) => {
    errors.push(e);
    syncer.fail(e as Error);
  });
  syncer.attach([h]);
  syncer.wrote(10);
  syncer.after(10, waiter(log, "a"));
  syncer.wrote(10);
  syncer.after(20, waiter(log, "b"));
  h.pending.shift()!.fail(new Error("EIO"));
  await tick();
  assert.deepEqual(log, ["a: Error: EIO", "b: Error: EIO"]);
  syncer.after(20, waiter(log, "c"));
  assert.equal(log.at(-1), "c: Error: EIO");
  assert.equal(errors.length, 1);
});
