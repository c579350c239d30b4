import assert from "node:assert/strict";
import fc from "fast-check";
import { CorruptionError, type FileSystem } from "../../core/mod.ts";
import { denoFileSystem } from "../../runtime/mod.ts";
import { type Entry, EntryType, type HardState, type Snapshot } from "../types.ts";
import { RaftLogStorage } from "./log_storage.ts";
import { decodeSnapshotFile, encodeSnapshotFile } from "./record.ts";

const e = (index: number, term: number, text = `e${index}t${term}`): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: new TextEncoder().encode(text),
});
const hs = (term: number, vote: number, commit: number): HardState => ({ term, vote, commit });

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "raft_log_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function open(dir: string, fs: FileSystem = denoFileSystem, segmentBytes?: number) {
  return await RaftLogStorage.open({ fs, dir, segmentBytes });
}

function ids(entries: readonly Entry[]): string[] {
  return entries.map((x) => `${x.index}/${x.term}`);
}

function lastSegment(dir: string): string {
  const names = [...Deno.readDirSync(`${dir}/log`)].map((d) => d.name).filter((n) =>
    n.endsWith(".seg")
  ).sort();
  return `${dir}/log/${names[names.length - 1]}`;
}

Deno.test("log storage: entries and hard state survive a reopen", () =>
  withDir(async (dir) => {
    const { storage } = await open(dir);
    await storage.save({
      hardState: hs(2, 1, 0),
      entries: [e(1, 1), e(2, 2)],
      snapshot: null,
      mustSync: true,
    });
    await storage.save({
      hardState: hs(2, 1, 2),
      entries: [e(3, 2)],
      snapshot: null,
      mustSync: false,
    });
    await storage.sync();
    storage.close();
    const { state } = await open(dir);
    assert.deepEqual(state.hardState, hs(2, 1, 2));
    assert.deepEqual(ids(state.entries), ["1/1", "2/2", "3/2"]);
    assert.deepEqual(state.entries[2].data, new TextEncoder().encode("e3t2"));
    assert.equal(state.tornBytes, 0);
    assert.equal(state.corruption, null);
  }));

Deno.test("log storage: a conflicting suffix is truncated and the hard state kept", () =>
  withDir(async (dir) => {
    const { storage } = await open(dir);
    await storage.save({
      hardState: hs(3, 2, 1),
      entries: [e(1, 1), e(2, 2), e(3, 2), e(4, 2)],
      snapshot: null,
      mustSync: true,
    });
    await storage.save({
      hardState: null,
      entries: [e(3, 3), e(4, 3), e(5, 3)],
      snapshot: null,
      mustSync: true,
    });
    storage.close();
    const { state } = await open(dir);
    assert.deepEqual(ids(state.entries), ["1/1", "2/2", "3/3", "4/3", "5/3"]);
    assert.deepEqual(state.hardState, hs(3, 2, 1));
  }));

Deno.test("log storage: segments roll, compaction drops covered segments, reopen keeps the rest", () =>
  withDir(async (dir) => {
    const { storage } = await open(dir, denoFileSystem, 300);
    for (let i = 1; i <= 40; i++) {
      await storage.save({
        hardState: hs(1, 0, i - 1),
        entries: [e(i, 1)],
        snapshot: null,
        mustSync: true,
      });
    }
    assert.ok(storage.segmentCount > 3, `segments: ${storage.segmentCount}`);
    const snap: Snapshot = {
      metadata: { index: 30, term: 1, confState: { voters: [1], learners: [] } },
      data: new Uint8Array([7]),
    };
    await storage.saveSnapshot(snap);
    const before = storage.segmentCount;
    await storage.compact(30);
    assert.ok(storage.segmentCount < before);
    storage.close();
    const { state } = await open(dir, denoFileSystem, 300);
    assert.equal(state.snapshot?.metadata.index, 30);
    assert.deepEqual(ids(state.entries), Array.from({ length: 10 }, (_, i) => `${31 + i}/1`));
    assert.deepEqual(state.hardState, hs(1, 0, 39));
  }));

Deno.test("log storage: a torn tail (record cut short) is cut on open", () =>
  withDir(async (dir) => {
    const { storage } = await open(dir);
    await storage.save({
      hardState: hs(1, 0, 0),
      entries: [e(1, 1), e(2, 1)],
      snapshot: null,
      mustSync: true,
    });
    await storage.save({
      hardState: null,
      entries: [e(3, 1, "x".repeat(100))],
      snapshot: null,
      mustSync: true,
    });
    storage.close();
    const path = lastSegment(dir);
    const size = Deno.statSync(path).size;
    Deno.truncateSync(path, size - 40);
    const { storage: s2, state } = await open(dir);
    assert.deepEqual(ids(state.entries), ["1/1", "2/1"]);
    assert.ok(state.tornBytes > 0);
    assert.equal(state.corruption, null);
    // Appending after the cut works and survives another reopen.
    await s2.save({ hardState: null, entries: [e(3, 2)], snapshot: null, mustSync: true });
    s2.close();
    const { state: again } = await open(dir);
    assert.deepEqual(ids(again.entries), ["1/1", "2/1", "3/2"]);
  }));

Deno.test("log storage: a last record failing its checksum at the end of file is a torn tail", () =>
  withDir(async (dir) => {
    const { storage } = await open(dir);
    await storage.save({
      hardState: hs(1, 0, 0),
      entries: [e(1, 1)],
      snapshot: null,
      mustSync: true,
    });
    await storage.save({ hardState: null, entries: [e(2, 1)], snapshot: null, mustSync: true });
    storage.close();
    const path = lastSegment(dir);
    const bytes = Deno.readFileSync(path);
    bytes[bytes.length - 2] ^= 0xff;
    Deno.writeFileSync(path, bytes);
    const { state } = await open(dir);
    assert.deepEqual(ids(state.entries), ["1/1"]);
    assert.equal(state.corruption, null);
    assert.ok(state.tornBytes > 0);
  }));

Deno.test("log storage: zeros after the last record (preallocated tail) are a torn tail", () =>
  withDir(async (dir) => {
    const { storage } = await open(dir);
    await storage.save({
      hardState: hs(1, 0, 0),
      entries: [e(1, 1)],
      snapshot: null,
      mustSync: true,
    });
    storage.close();
    const path = lastSegment(dir);
    Deno.writeFileSync(path, new Uint8Array(64), { append: true });
    const { state } = await open(dir);
    assert.deepEqual(ids(state.entries), ["1/1"]);
    assert.equal(state.tornBytes, 64);
    assert.equal(state.corruption, null);
  }));

Deno.test("log storage: a corrupt record in the middle is reported and the node must recover", () =>
  withDir(async (dir) => {
    const { storage } = await open(dir);
    await storage.save({
      hardState: hs(4, 1, 0),
      entries: [e(1, 1), e(2, 1), e(3, 1), e(4, 1)],
      snapshot: null,
      mustSync: true,
    });
    await storage.save({ hardState: hs(4, 1, 4), entries: [], snapshot: null, mustSync: true });
    storage.close();
    const path = lastSegment(dir);
    const bytes = Deno.readFileSync(path);
    // Flip a byte inside entry 2's payload (records after it stay intact).
    const needle = new TextEncoder().encode("e2t1");
    let at = -1;
    for (let i = 0; i < bytes.length - 4 && at < 0; i++) {
      if (needle.every((b, k) => bytes[i + k] === b)) at = i;
    }
    bytes[at] ^= 0x01;
    Deno.writeFileSync(path, bytes);
    const { state } = await open(dir);
    assert.ok(state.corruption instanceof CorruptionError);
    assert.equal(state.corruption.file, path);
    assert.ok(state.corruption.offset > 0 && state.corruption.offset < at);
    assert.match(state.corruption.message, /checksum mismatch/);
    assert.deepEqual(ids(state.entries), ["1/1"]);
    assert.equal(state.recoverUntil, 4, "stay non-voting until commit passes what we had");
    assert.ok(Deno.statSync(`${path}.corrupt`).isFile, "damaged bytes kept for the operator");
  }));

Deno.test("log storage: installing a snapshot replaces the log", () =>
  withDir(async (dir) => {
    const { storage } = await open(dir);
    await storage.save({
      hardState: hs(1, 0, 0),
      entries: [e(1, 1), e(2, 1)],
      snapshot: null,
      mustSync: true,
    });
    const snap: Snapshot = {
      metadata: { index: 50, term: 3, confState: { voters: [1, 2], learners: [3] } },
      data: new Uint8Array([1, 2, 3]),
    };
    await storage.save({ hardState: hs(3, 0, 50), entries: [], snapshot: snap, mustSync: true });
    await storage.save({ hardState: null, entries: [e(51, 3)], snapshot: null, mustSync: true });
    storage.close();
    const { state } = await open(dir);
    assert.deepEqual(state.snapshot, snap);
    assert.deepEqual(ids(state.entries), ["51/3"]);
    assert.deepEqual(state.hardState, hs(3, 0, 50));
  }));

Deno.test("log storage: a corrupt snapshot file refuses to open", () =>
  withDir(async (dir) => {
    const { storage } = await open(dir);
    await storage.saveSnapshot({
      metadata: { index: 5, term: 1, confState: { voters: [1], learners: [] } },
      data: new Uint8Array(10),
    });
    storage.close();
    const bytes = Deno.readFileSync(`${dir}/snapshot`);
    bytes[20] ^= 1;
    Deno.writeFileSync(`${dir}/snapshot`, bytes);
    await assert.rejects(() => open(dir), (err) => {
      assert.ok(err instanceof CorruptionError);
      assert.match(err.message, /snapshot checksum mismatch/);
      return true;
    });
  }));

Deno.test("log storage: fsync only when the Ready says mustSync", () =>
  withDir(async (dir) => {
    let syncs = 0;
    const counting: FileSystem = {
      ...denoFileSystem,
      async open(path, options) {
        const h = await denoFileSystem.open(path, options);
        return {
          write: (d) => h.write(d),
          read: (b) => h.read(b),
          seek: (o, w) => h.seek(o, w),
          truncate: (n) => h.truncate(n),
          close: () => h.close(),
          datasync: () => {
            syncs++;
            return h.datasync();
          },
        };
      },
    };
    const { storage } = await open(dir, counting);
    syncs = 0;
    await storage.save({
      hardState: hs(1, 0, 0),
      entries: [e(1, 1)],
      snapshot: null,
      mustSync: true,
    });
    assert.equal(syncs, 1);
    await storage.save({ hardState: hs(1, 0, 1), entries: [], snapshot: null, mustSync: false });
    assert.equal(syncs, 1);
    storage.close();
  }));

Deno.test("snapshot file: round-trips and names what is wrong", () => {
  const snap: Snapshot = {
    metadata: { index: 2 ** 40, term: 9, confState: { voters: [1, 2, 3], learners: [] } },
    data: new Uint8Array([5, 6]),
  };
  const bytes = encodeSnapshotFile(snap);
  assert.deepEqual(decodeSnapshotFile(bytes), snap);
  assert.match(decodeSnapshotFile(bytes.subarray(0, 10)) as string, /too short/);
  const bad = bytes.slice();
  bad[0] ^= 1;
  assert.match(decodeSnapshotFile(bad) as string, /checksum/);
});

Deno.test("log storage: any sequence of appends with conflicts reopens to the model log", async () => {
  const op = fc.record({
    back: fc.nat(4),
    count: fc.integer({ min: 1, max: 4 }),
    bump: fc.boolean(),
  });
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 15 }), async (ops) => {
      await withDir(async (dir) => {
        const { storage } = await open(dir, denoFileSystem, 200);
        let model: Entry[] = [];
        let term = 1;
        for (const o of ops) {
          const from = Math.max(1, model.length + 1 - o.back);
          if (o.bump) term++;
          const batch = Array.from({ length: o.count }, (_, i) => e(from + i, term));
          model = [...model.slice(0, from - 1), ...batch];
          await storage.save({
            hardState: hs(term, 0, 0),
            entries: batch,
            snapshot: null,
            mustSync: true,
          });
        }
        storage.close();
        const { state } = await open(dir, denoFileSystem, 200);
        assert.deepEqual(ids(state.entries), ids(model));
        assert.equal(state.hardState.term, term);
      });
    }),
    { numRuns: 25 },
  );
});

Deno.test("log storage: a commit-only hard state rides along with the next write", () =>
  withDir(async (dir) => {
    const { storage } = await open(dir);
    await storage.save({
      hardState: hs(1, 1, 0),
      entries: [e(1, 1)],
      snapshot: null,
      mustSync: true,
    });
    const size = () => Deno.statSync(lastSegment(dir)).size;
    const before = size();
    await storage.save({ hardState: hs(1, 1, 1), entries: [], snapshot: null, mustSync: false });
    assert.equal(size(), before, "no write for a commit-only change");
    await storage.save({ hardState: null, entries: [e(2, 1)], snapshot: null, mustSync: true });
    storage.close();
    const { state } = await open(dir);
    assert.deepEqual(state.hardState, hs(1, 1, 1));
    assert.deepEqual(ids(state.entries), ["1/1", "2/1"]);
  }));
