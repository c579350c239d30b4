import assert from "node:assert/strict";
import { CorruptionError, type FileHandle, type FileSystem, StorageError } from "../../core/mod.ts";
import { denoFileSystem } from "../../runtime/mod.ts";
import { type Entry, EntryType, type HardState, type Snapshot } from "../types.ts";
import type { SaveRequest } from "./raft_storage.ts";
import { SharedRaftLog } from "./shared_log.ts";
import { CrashedError, CrashFileSystem as MemFileSystem } from "../../core/testing/mod.ts";

const CONF = { voters: [1, 2, 3], learners: [] };
const e = (group: number, index: number, term: number): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: new TextEncoder().encode(`g${group}e${index}t${term}`),
});
const hs = (term: number, vote: number, commit: number): HardState => ({ term, vote, commit });
const snap = (index: number, term: number, data = [index & 0xff]): Snapshot => ({
  metadata: { index, term, confState: CONF },
  data: new Uint8Array(data),
});
const save = (
  entries: Entry[],
  hardState: HardState | null = null,
  mustSync = true,
  snapshot: Snapshot | null = null,
): SaveRequest => ({ entries, hardState, mustSync, snapshot });

function ids(entries: readonly Entry[] | undefined): string[] {
  return (entries ?? []).map((x) => `${x.index}/${x.term}`);
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "raft_shared_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function segmentFiles(dir: string): string[] {
  return [...Deno.readDirSync(`${dir}/log`)].map((d) => d.name).filter((n) => n.endsWith(".seg"))
    .sort().map((n) => `${dir}/log/${n}`);
}

/** `base` with every file handle's fdatasync going through `datasync`. */
function hookSync(
  base: FileSystem,
  datasync: (inner: () => Promise<void>) => Promise<void>,
): FileSystem {
  return {
    open: async (path, options) => {
      const h = await base.open(path, options);
      return {
        write: (d) => h.write(d),
        read: (b) => h.read(b),
        seek: (o, w) => h.seek(o, w),
        truncate: (n) => h.truncate(n),
        close: () => h.close(),
        datasync: () => datasync(() => h.datasync()),
      } satisfies FileHandle;
    },
    readFile: (p) => base.readFile(p),
    writeFileAtomic: (p, d) => base.writeFileAtomic(p, d),
    rename: (a, b) => base.rename(a, b),
    remove: (p, o) => base.remove(p, o),
    readDir: (p) => base.readDir(p),
    mkdir: (p) => base.mkdir(p),
    stat: (p) => base.stat(p),
    realPath: (p) => base.realPath(p),
    syncDir: (p) => base.syncDir(p),
  };
}

/** A file system whose fdatasyncs are counted and take `delayMs`. */
function countingFs(base: FileSystem, delayMs = 0): FileSystem & { syncs: number } {
  const fs: FileSystem & { syncs: number } = Object.assign(
    hookSync(base, async (inner) => {
      fs.syncs++;
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      await inner();
    }),
    { syncs: 0 },
  );
  return fs;
}

Deno.test("shared log: several groups' entries and hard states survive a reopen", () =>
  withDir(async (dir) => {
    const { log } = await SharedRaftLog.open({ fs: denoFileSystem, dir });
    const a = log.group(1);
    const b = log.group(2);
    await a.save(save([e(1, 1, 1), e(1, 2, 1)], hs(1, 1, 0)));
    await b.save(save([e(2, 1, 3)], hs(3, 2, 0)));
    await a.save(save([e(1, 3, 1)], hs(1, 1, 2)));
    await log.close();
    const { groups, tornBytes, corruption } = await SharedRaftLog.open({ fs: denoFileSystem, dir });
    assert.equal(tornBytes, 0);
    assert.equal(corruption, null);
    assert.deepEqual([...groups.keys()].sort(), [1, 2]);
    assert.deepEqual(ids(groups.get(1)?.entries), ["1/1", "2/1", "3/1"]);
    assert.deepEqual(groups.get(1)?.hardState, hs(1, 1, 2));
    assert.deepEqual(groups.get(1)?.entries[2].data, new TextEncoder().encode("g1e3t1"));
    assert.deepEqual(ids(groups.get(2)?.entries), ["1/3"]);
    assert.deepEqual(groups.get(2)?.hardState, hs(3, 2, 0));
  }));

Deno.test("shared log: a conflicting suffix is replaced in its group only", async () => {
  const fs = new MemFileSystem();
  const { log } = await SharedRaftLog.open({ fs, dir: "/d" });
  await log.group(1).save(save([e(1, 1, 1), e(1, 2, 1), e(1, 3, 1), e(1, 4, 1)], hs(2, 1, 1)));
  await log.group(2).save(save([e(2, 1, 1), e(2, 2, 1), e(2, 3, 1)], hs(1, 1, 0)));
  await log.group(1).save(save([e(1, 3, 2), e(1, 4, 2), e(1, 5, 2)]));
  await log.close();
  const { groups } = await SharedRaftLog.open({ fs, dir: "/d" });
  assert.deepEqual(ids(groups.get(1)?.entries), ["1/1", "2/1", "3/2", "4/2", "5/2"]);
  assert.deepEqual(groups.get(1)?.hardState, hs(2, 1, 1));
  assert.deepEqual(ids(groups.get(2)?.entries), ["1/1", "2/1", "3/1"]);
});

Deno.test("shared log: saves of many groups issued together share one or two fsyncs", async () => {
  for (const k of [8, 64]) {
    const fs = countingFs(new MemFileSystem());
    const { log } = await SharedRaftLog.open({ fs, dir: "/d" });
    const groups = Array.from({ length: k }, (_, i) => log.group(i));
    fs.syncs = 0;
    const before = log.stats().fsyncs;
    await Promise.all(groups.map((g, i) => g.save(save([e(i, 1, 1)], hs(1, 1, 0)))));
    assert.ok(fs.syncs >= 1 && fs.syncs <= 2, `${k} groups: ${fs.syncs} fsyncs`);
    assert.equal(log.stats().fsyncs - before, fs.syncs);
    await log.close();
    const { groups: back } = await SharedRaftLog.open({ fs, dir: "/d" });
    assert.equal(back.size, k);
    for (let i = 0; i < k; i++) assert.deepEqual(ids(back.get(i)?.entries), ["1/1"]);
  }
});

Deno.test("shared log: saves arriving during an fsync are covered together by the next one", () =>
  withDir(async (dir) => {
    // The first fsync is held until the other saves have queued behind it (no timing guess).
    let armed = false;
    let syncs = 0;
    let started: () => void = () => {};
    const firstStarted = new Promise<void>((r) => started = r);
    let release: () => void = () => {};
    const released = new Promise<void>((r) => release = r);
    const fs = hookSync(denoFileSystem, async (inner) => {
      if (armed && ++syncs === 1) {
        started();
        await released;
      }
      await inner();
    });
    const { log } = await SharedRaftLog.open({ fs, dir });
    armed = true;
    const first = log.group(0).save(save([e(0, 1, 1)], hs(1, 1, 0)));
    await firstStarted;
    const rest = Array.from(
      { length: 16 },
      (_, i) => log.group(i + 1).save(save([e(i + 1, 1, 1)], hs(1, 1, 0))),
    );
    release();
    await Promise.all([first, ...rest]);
    assert.equal(syncs, 2, "one fsync for the first save, one for the 16 that waited");
    await log.close();
  }));

Deno.test("shared log: a save resolves only after the fsync that covers it", async () => {
  let release: () => void = () => {};
  let holding = false;
  const fs = hookSync(new MemFileSystem(), async (inner) => {
    if (holding) await new Promise<void>((r) => release = r);
    await inner();
  });
  const { log } = await SharedRaftLog.open({ fs, dir: "/d" });
  holding = true;
  let done = false;
  const p = log.group(1).save(save([e(1, 1, 1)], hs(1, 1, 0))).then(() => done = true);
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(done, false, "resolved before its fsync finished");
  holding = false;
  release();
  await p;
  assert.equal(done, true);
  await log.close();
});

Deno.test("shared log: a save without mustSync keeps its order and costs no fsync", async () => {
  const fs = countingFs(new MemFileSystem());
  const { log } = await SharedRaftLog.open({ fs, dir: "/d" });
  const g = log.group(5);
  fs.syncs = 0;
  await g.save(save([e(5, 1, 1), e(5, 2, 1)], hs(1, 0, 0), false));
  await g.save(save([e(5, 2, 2)], null, false));
  assert.equal(fs.syncs, 0);
  await g.save(save([e(5, 3, 2)], hs(2, 0, 0), true));
  assert.equal(fs.syncs, 1);
  await log.close();
  const { groups } = await SharedRaftLog.open({ fs, dir: "/d" });
  assert.deepEqual(ids(groups.get(5)?.entries), ["1/1", "2/2", "3/2"]);
});

Deno.test("shared log: a commit-only hard state rides along with the group's next write", () =>
  withDir(async (dir) => {
    const { log } = await SharedRaftLog.open({ fs: denoFileSystem, dir });
    const g = log.group(1);
    await g.save(save([e(1, 1, 1)], hs(1, 1, 0)));
    const size = () => Deno.statSync(segmentFiles(dir).at(-1)!).size;
    const before = size();
    await g.save(save([], hs(1, 1, 1), false));
    assert.equal(size(), before, "no write for a commit-only change");
    await g.save(save([e(1, 2, 1)]));
    await log.close();
    const { groups } = await SharedRaftLog.open({ fs: denoFileSystem, dir });
    assert.deepEqual(groups.get(1)?.hardState, hs(1, 1, 1));
  }));

Deno.test("shared log: a bad save is refused alone; the others in its round are kept", async () => {
  const fs = new MemFileSystem();
  const { log } = await SharedRaftLog.open({ fs, dir: "/d" });
  const results = await Promise.allSettled([
    log.group(1).save(save([e(1, 1, 1)])),
    log.group(2).save(save([e(2, 5, 1)])), // a gap: the caller's bug
    log.group(3).save(save([e(3, 1, 1)])),
  ]);
  assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled"]);
  assert.match(String((results[1] as PromiseRejectedResult).reason), /BUG: storing entry 5/);
  await log.group(2).save(save([e(2, 1, 1)]));
  await log.close();
  const { groups } = await SharedRaftLog.open({ fs, dir: "/d" });
  assert.deepEqual(ids(groups.get(2)?.entries), ["1/1"]);
  assert.deepEqual(ids(groups.get(3)?.entries), ["1/1"]);
});

Deno.test("shared log: installing a snapshot restarts the group's log after it", async () => {
  const fs = new MemFileSystem();
  const { log } = await SharedRaftLog.open({ fs, dir: "/d" });
  const g = log.group(7);
  await g.save(save([e(7, 1, 1), e(7, 2, 1), e(7, 3, 1)], hs(1, 0, 0)));
  const s = snap(50, 3, [1, 2, 3]);
  await g.save(save([], hs(3, 0, 50), true, s));
  await g.save(save([e(7, 51, 3)]));
  await log.close();
  const { groups } = await SharedRaftLog.open({ fs, dir: "/d" });
  assert.deepEqual(groups.get(7)?.snapshot, s);
  assert.deepEqual(ids(groups.get(7)?.entries), ["51/3"]);
  assert.deepEqual(groups.get(7)?.hardState, hs(3, 0, 50));
});

Deno.test("shared log: a torn tail is cut on open, every group keeps what was synced", () =>
  withDir(async (dir) => {
    const { log } = await SharedRaftLog.open({ fs: denoFileSystem, dir });
    await log.group(1).save(save([e(1, 1, 1), e(1, 2, 1)], hs(1, 0, 0)));
    await log.group(2).save(save([e(2, 1, 1)], hs(1, 0, 0)));
    await log.group(1).save(save([{ ...e(1, 3, 1), data: new Uint8Array(100) }]));
    await log.close();
    const path = segmentFiles(dir).at(-1)!;
    Deno.truncateSync(path, Deno.statSync(path).size - 40);
    const opened = await SharedRaftLog.open({ fs: denoFileSystem, dir });
    assert.equal(opened.corruption, null);
    assert.ok(opened.tornBytes > 0);
    assert.deepEqual(ids(opened.groups.get(1)?.entries), ["1/1", "2/1"]);
    assert.deepEqual(ids(opened.groups.get(2)?.entries), ["1/1"]);
    for (const st of opened.groups.values()) assert.equal(st.corruption, null);
    // Appending after the cut works and survives another reopen.
    await opened.log.group(1).save(save([e(1, 3, 2)]));
    await opened.log.close();
    const again = await SharedRaftLog.open({ fs: denoFileSystem, dir });
    assert.deepEqual(ids(again.groups.get(1)?.entries), ["1/1", "2/1", "3/2"]);
    await again.log.close();
  }));

Deno.test("shared log: zeros after the last record are a torn tail", () =>
  withDir(async (dir) => {
    const { log } = await SharedRaftLog.open({ fs: denoFileSystem, dir });
    await log.group(1).save(save([e(1, 1, 1)], hs(1, 0, 0)));
    await log.close();
    Deno.writeFileSync(segmentFiles(dir).at(-1)!, new Uint8Array(64), { append: true });
    const opened = await SharedRaftLog.open({ fs: denoFileSystem, dir });
    assert.equal(opened.tornBytes, 64);
    assert.equal(opened.corruption, null);
    assert.deepEqual(ids(opened.groups.get(1)?.entries), ["1/1"]);
    await opened.log.close();
  }));

Deno.test("shared log: a corrupt record in the middle is reported to every group", () =>
  withDir(async (dir) => {
    const { log } = await SharedRaftLog.open({ fs: denoFileSystem, dir });
    await log.group(1).save(save([e(1, 1, 1), e(1, 2, 1), e(1, 3, 1)], hs(4, 1, 0)));
    await log.group(2).save(save([e(2, 1, 1)], hs(1, 0, 0)));
    await log.group(2).save(save([e(2, 2, 1), e(2, 3, 1), e(2, 4, 1)], hs(1, 0, 4)));
    await log.close();
    const path = segmentFiles(dir).at(-1)!;
    const bytes = Deno.readFileSync(path);
    const needle = new TextEncoder().encode("g1e2t1");
    let at = -1;
    for (let i = 0; i < bytes.length - needle.length && at < 0; i++) {
      if (needle.every((b, k) => bytes[i + k] === b)) at = i;
    }
    bytes[at] ^= 0x01;
    Deno.writeFileSync(path, bytes);
    const opened = await SharedRaftLog.open({ fs: denoFileSystem, dir });
    assert.ok(opened.corruption instanceof CorruptionError);
    assert.equal(opened.corruption.file, path);
    assert.match(opened.corruption.message, /checksum mismatch/);
    const g1 = opened.groups.get(1)!;
    const g2 = opened.groups.get(2)!;
    assert.deepEqual(ids(g1.entries), ["1/1"]);
    assert.equal(g1.corruption, opened.corruption);
    assert.equal(g1.recoverUntil, 3, "group 1 had entry 3 after the damage");
    assert.deepEqual(ids(g2.entries), [], "group 2's records came after the cut");
    assert.equal(g2.recoverUntil, 4, "group 2 had entries up to 4 and commit 4");
    assert.ok(Deno.statSync(`${path}.corrupt`).isFile, "damaged bytes kept for the operator");
    await opened.log.close();
  }));

Deno.test("shared log: compaction deletes a segment once no group needs it, in any order", async () => {
  const fs = new MemFileSystem();
  const { log } = await SharedRaftLog.open({ fs, dir: "/d", segmentBytes: 300 });
  const busy = log.group(1);
  const idle = log.group(2);
  await idle.save(save([e(2, 1, 1), e(2, 2, 1)], hs(1, 0, 0)));
  for (let i = 1; i <= 40; i++) await busy.save(save([e(1, i, 1)], hs(1, 0, i - 1)));
  const before = log.stats();
  assert.ok(before.segments > 5, `segments: ${before.segments}`);
  await busy.saveSnapshot(snap(40, 1));
  await busy.compact(40);
  // The idle group's two entries keep the oldest segment; every other old one goes.
  const after = log.stats();
  assert.equal(after.segments, 2, `segments after compaction: ${after.segments}`);
  assert.deepEqual(after.oldestSegmentHeldBy, [2]);
  assert.ok(after.bytes < before.bytes);
  await idle.saveSnapshot(snap(2, 1));
  await idle.compact(2);
  assert.equal(log.stats().segments, 1);
  assert.deepEqual(log.stats().oldestSegmentHeldBy, []);
  await log.close();
  const { groups } = await SharedRaftLog.open({ fs, dir: "/d", segmentBytes: 300 });
  assert.equal(groups.get(1)?.snapshot?.metadata.index, 40);
  assert.deepEqual(ids(groups.get(1)?.entries), []);
  assert.deepEqual(groups.get(1)?.hardState, hs(1, 0, 39));
  assert.deepEqual(ids(groups.get(2)?.entries), []);
});

Deno.test("shared log: segments whose entries were all overwritten are deleted", async () => {
  const fs = new MemFileSystem();
  const { log } = await SharedRaftLog.open({ fs, dir: "/d", segmentBytes: 200 });
  const g = log.group(1);
  for (let i = 1; i <= 12; i++) await g.save(save([e(1, i, 1)], hs(1, 0, 0)));
  const before = log.stats().segments;
  assert.ok(before > 3);
  await g.save(save([e(1, 1, 2)], hs(2, 0, 0))); // a new leader replaced everything
  // The segments go in the background, once the overwrite is durable.
  const deadline = performance.now() + 5_000;
  while (log.stats().segments > 2 && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1));
  }
  assert.ok(log.stats().segments <= 2, `segments: ${log.stats().segments}`);
  await log.close();
  const { groups } = await SharedRaftLog.open({ fs, dir: "/d", segmentBytes: 200 });
  assert.deepEqual(ids(groups.get(1)?.entries), ["1/2"]);
});

Deno.test("shared log: a dropped group is forgotten, frees its segments, and its id starts afresh", async () => {
  const fs = new MemFileSystem();
  const { log } = await SharedRaftLog.open({ fs, dir: "/d", segmentBytes: 300 });
  const doomed = log.group(9);
  await doomed.save(save([e(9, 1, 1), e(9, 2, 1)], hs(5, 5, 0)));
  await doomed.saveSnapshot(snap(1, 1));
  for (let i = 1; i <= 20; i++) await log.group(1).save(save([e(1, i, 1)], hs(1, 0, 0)));
  await log.group(1).saveSnapshot(snap(20, 1));
  await log.group(1).compact(20);
  assert.ok(log.stats().segments > 1, "group 9 holds the oldest segment");
  await log.dropGroup(9);
  assert.equal(log.stats().segments, 1);
  await assert.rejects(() => doomed.save(save([e(9, 3, 1)])), StorageError);
  assert.equal(await fs.stat("/d/snapshots/9.snap"), null);
  await log.close();
  let opened = await SharedRaftLog.open({ fs, dir: "/d", segmentBytes: 300 });
  assert.deepEqual([...opened.groups.keys()], [1]);
  const fresh = opened.log.group(9);
  await fresh.save(save([e(9, 1, 7)], hs(7, 0, 0)));
  await opened.log.close();
  opened = await SharedRaftLog.open({ fs, dir: "/d", segmentBytes: 300 });
  assert.deepEqual(ids(opened.groups.get(9)?.entries), ["1/7"]);
  assert.deepEqual(opened.groups.get(9)?.hardState, hs(7, 0, 0));
  assert.equal(opened.groups.get(9)?.snapshot, null);
});

Deno.test("shared log: deleted segments that come back after a crash change nothing", async () => {
  const fs = new MemFileSystem();
  const { log } = await SharedRaftLog.open({ fs, dir: "/d", segmentBytes: 250 });
  const deleted = new Map<string, Uint8Array>();
  const keep = async () => {
    for (const n of await fs.readDir("/d/log")) {
      if (!deleted.has(n)) deleted.set(n, await fs.readFile(`/d/log/${n}`));
    }
  };
  for (let i = 1; i <= 15; i++) {
    await log.group(1).save(save([e(1, i, 1)], hs(1, 0, 0)));
    await log.group(2).save(save([e(2, i, 1)], hs(1, 0, 0)));
    await log.group(3).save(save([e(3, i, 1)], hs(1, 0, 0)));
    await keep();
  }
  await log.group(1).save(save([e(1, 5, 2)], hs(2, 0, 0))); // overwrite
  await log.group(2).saveSnapshot(snap(12, 1));
  await log.group(2).compact(12);
  await log.group(3).save(save([], hs(2, 0, 0), true, snap(30, 2))); // install
  await log.dropGroup(3);
  await log.group(3).save(save([e(3, 1, 4)], hs(4, 0, 0))); // a new life for id 3
  await keep();
  await log.close();
  const clean = await SharedRaftLog.open({ fs, dir: "/d", segmentBytes: 250 });
  await clean.log.close();
  const present = new Set(await fs.readDir("/d/log"));
  let restored = 0;
  for (const [n, bytes] of deleted) {
    if (present.has(n)) continue;
    await fs.writeFileAtomic(`/d/log/${n}`, bytes);
    restored++;
  }
  assert.ok(restored > 5, `restored ${restored} segments`);
  const back = await SharedRaftLog.open({ fs, dir: "/d", segmentBytes: 250 });
  assert.equal(back.corruption, null);
  for (const id of [1, 2, 3]) {
    const a = clean.groups.get(id)!;
    const b = back.groups.get(id)!;
    assert.equal(b.corruption, null, `group ${id}: ${b.corruption?.message}`);
    assert.deepEqual(ids(b.entries), ids(a.entries), `group ${id}`);
    assert.deepEqual(b.hardState, a.hardState, `group ${id}`);
    assert.deepEqual(b.snapshot, a.snapshot, `group ${id}`);
  }
  assert.deepEqual(ids(back.groups.get(1)?.entries).slice(3, 6), ["4/1", "5/2"]);
  assert.deepEqual(ids(back.groups.get(3)?.entries), ["1/4"]);
});

Deno.test("shared log: a lost segment is reported to the group whose entries it held", async () => {
  const fs = new MemFileSystem();
  const { log } = await SharedRaftLog.open({ fs, dir: "/d", segmentBytes: 200 });
  for (let i = 1; i <= 10; i++) await log.group(1).save(save([e(1, i, 1)], hs(1, 0, i - 1)));
  await log.group(2).save(save([e(2, 1, 1)], hs(1, 0, 0)));
  await log.close();
  const names = await fs.readDir("/d/log");
  await fs.remove(`/d/log/${names[2]}`);
  await fs.syncDir("/d/log");
  const opened = await SharedRaftLog.open({ fs, dir: "/d", segmentBytes: 200 });
  const g1 = opened.groups.get(1)!;
  assert.ok(g1.corruption instanceof CorruptionError);
  assert.match(g1.corruption.message, /group 1: entries \d+\.\.10 are missing/);
  assert.equal(g1.recoverUntil, 10);
  assert.ok(g1.entries.length < 10 && g1.entries.length > 0);
  assert.equal(opened.groups.get(2)?.corruption, null);
});

Deno.test("shared log: a damaged snapshot file fails its group only, until dropped", async () => {
  const fs = new MemFileSystem();
  const { log } = await SharedRaftLog.open({ fs, dir: "/d" });
  await log.group(1).save(save([e(1, 1, 1), e(1, 2, 1)], hs(1, 0, 2)));
  await log.group(1).saveSnapshot(snap(2, 1));
  await log.group(2).save(save([e(2, 1, 1)], hs(1, 0, 0)));
  await log.close();
  const bytes = await fs.readFile("/d/snapshots/1.snap");
  bytes[20] ^= 1;
  await fs.writeFileAtomic("/d/snapshots/1.snap", bytes);
  const opened = await SharedRaftLog.open({ fs, dir: "/d" });
  assert.match(opened.failed.get(1)?.message ?? "", /snapshot checksum mismatch/);
  assert.equal(opened.groups.has(1), false);
  assert.deepEqual(ids(opened.groups.get(2)?.entries), ["1/1"]);
  assert.throws(() => opened.log.group(1), CorruptionError);
  await opened.log.dropGroup(1);
  assert.equal(await fs.stat("/d/snapshots/1.snap"), null);
  await opened.log.group(1).save(save([e(1, 1, 9)], hs(9, 0, 0)));
  await opened.log.close();
  const again = await SharedRaftLog.open({ fs, dir: "/d" });
  assert.equal(again.failed.size, 0);
  assert.deepEqual(ids(again.groups.get(1)?.entries), ["1/9"]);
});

Deno.test("shared log: a failed fsync makes it refuse further work until reopened", async () => {
  let failSync = false;
  const fs = hookSync(
    new MemFileSystem(),
    (inner) => failSync ? Promise.reject(new Error("EIO")) : inner(),
  );
  const { log } = await SharedRaftLog.open({ fs, dir: "/d" });
  await log.group(1).save(save([e(1, 1, 1)], hs(1, 0, 0)));
  failSync = true;
  await assert.rejects(() => log.group(1).save(save([e(1, 2, 1)])), /EIO/);
  failSync = false;
  await assert.rejects(
    () => log.group(2).save(save([e(2, 1, 1)])),
    (err) => err instanceof StorageError && /unusable.*reopen/.test(err.message),
  );
  await log.close();
  const { groups } = await SharedRaftLog.open({ fs, dir: "/d" });
  assert.deepEqual(ids(groups.get(1)?.entries).slice(0, 1), ["1/1"]);
});

Deno.test("shared log: compacting beyond the saved snapshot is a bug", async () => {
  const { log } = await SharedRaftLog.open({ fs: new MemFileSystem(), dir: "/d" });
  await log.group(1).save(save([e(1, 1, 1), e(1, 2, 1)], hs(1, 0, 0)));
  await log.group(1).saveSnapshot(snap(1, 1));
  await assert.rejects(() => log.group(1).compact(2), /BUG: compacting group 1 to 2/);
  await log.close();
});

Deno.test("shared log: group ids must be non-negative safe integers", async () => {
  const { log } = await SharedRaftLog.open({ fs: new MemFileSystem(), dir: "/d" });
  assert.throws(() => log.group(-1), RangeError);
  assert.throws(() => log.group(1.5), RangeError);
  assert.equal(log.group(2 ** 53 - 1).groupId, 2 ** 53 - 1);
  await log.close();
});

Deno.test("shared log: a drop is durable once dropGroup resolves", async () => {
  const fs = new MemFileSystem();
  const { log } = await SharedRaftLog.open({ fs, dir: "/d" });
  await log.group(4).save(save([e(4, 1, 1), e(4, 2, 1)], hs(1, 0, 0)));
  await log.group(4).saveSnapshot(snap(2, 1));
  await log.dropGroup(4);
  const durable = fs.crash(() => 0); // every directory change not fsynced is undone
  assert.equal(await durable.stat("/d/snapshots/4.snap"), null, "snapshot file removal durable");
  const { groups } = await SharedRaftLog.open({ fs: durable, dir: "/d" });
  assert.equal(groups.has(4), false);
});

Deno.test("shared log: recovery finishes a drop cut short after its tombstone, durably", async () => {
  const base = new MemFileSystem();
  let crashOnSnapshotRemoval = false;
  const fs: FileSystem = {
    ...hookSync(base, (inner) => inner()),
    remove: (path, options) =>
      crashOnSnapshotRemoval && path.endsWith(".snap")
        ? Promise.reject(new CrashedError())
        : base.remove(path, options),
  };
  const { log } = await SharedRaftLog.open({ fs, dir: "/d" });
  await log.group(4).save(save([e(4, 1, 1), e(4, 2, 1)], hs(3, 3, 0)));
  await log.group(4).saveSnapshot(snap(2, 1));
  crashOnSnapshotRemoval = true;
  await assert.rejects(() => log.dropGroup(4), CrashedError);
  const afterCrash = base.crash(() => 0);
  assert.ok(await afterCrash.stat("/d/snapshots/4.snap"), "the tombstone made it, the removal not");
  const opened = await SharedRaftLog.open({ fs: afterCrash, dir: "/d" });
  assert.equal(opened.groups.has(4), false);
  const again = afterCrash.crash(() => 0);
  assert.equal(await again.stat("/d/snapshots/4.snap"), null, "leftover removed durably");
  assert.equal((await SharedRaftLog.open({ fs: again, dir: "/d" })).groups.has(4), false);
});

Deno.test("shared log: entries replaced by a reset or a drop stay replaced when their segment outlives the record that replaced them", async () => {
  const fs = new MemFileSystem();
  const open = () => SharedRaftLog.open({ fs, dir: "/d", segmentBytes: 300 });
  const { log } = await open();
  // Group 2's entries keep the first segment alive for good.
  await log.group(2).save(save([e(2, 1, 1), e(2, 2, 1)], hs(1, 0, 0)));
  // Group 1: uncommitted entries beyond its commit, then a snapshot from the leader inside them.
  await log.group(1).save(save([1, 2, 3, 4, 5, 6].map((i) => e(1, i, 1)), hs(1, 0, 2)));
  // Group 5: entries, then dropped; id 5 starts a new life with fewer entries, then compacts.
  await log.group(5).save(save([1, 2, 3, 4, 5, 6].map((i) => e(5, i, 1)), hs(1, 0, 0)));
  await log.group(1).save(save([], hs(2, 0, 4), true, snap(4, 2)));
  await log.dropGroup(5);
  await log.group(5).save(save([e(5, 1, 3), e(5, 2, 3)], hs(3, 0, 2)));
  await log.group(5).saveSnapshot(snap(2, 3));
  await log.group(5).compact(2);
  // Filler that is then compacted, so that the segments holding the reset, the tombstone and
  // the new life's entries hold nothing live and go, while the first one stays.
  for (let i = 1; i <= 20; i++) await log.group(3).save(save([e(3, i, 1)], hs(1, 0, 0)));
  await log.group(3).saveSnapshot(snap(20, 1));
  await log.group(3).compact(20);
  await log.close();
  const names = await fs.readDir("/d/log");
  assert.equal(names.length, 2, `the first and the last segment remain: ${names}`);
  assert.equal(names[0], "0000000000000001.seg");
  const { groups } = await open();
  assert.equal(groups.get(1)?.snapshot?.metadata.index, 4);
  assert.deepEqual(ids(groups.get(1)?.entries), [], "entries 5 and 6 went with the reset");
  assert.deepEqual(groups.get(1)?.hardState, hs(2, 0, 4));
  assert.equal(groups.get(5)?.snapshot?.metadata.index, 2);
  assert.deepEqual(ids(groups.get(5)?.entries), [], "the first life's entries 3..6 are gone");
  assert.deepEqual(groups.get(5)?.hardState, hs(3, 0, 2));
  assert.deepEqual(ids(groups.get(2)?.entries), ["1/1", "2/1"]);
});

Deno.test("shared log: a segment is deleted only once what superseded it is durable", async () => {
  const fs = new MemFileSystem();
  const { log } = await SharedRaftLog.open({ fs, dir: "/d", segmentBytes: 400 });
  await log.group(1).save(save([e(1, 1, 1), e(1, 2, 1), e(1, 3, 1)], hs(1, 0, 0)));
  let last = 0;
  while (log.stats().segments < 2) await log.group(2).save(save([e(2, ++last, 1)], hs(1, 0, 0)));
  // Group 1's entries are replaced by a save that is written but not (yet) fsynced...
  await log.group(1).save(save([e(1, 1, 2), e(1, 2, 2), e(1, 3, 2)], null, false));
  // ...and a compaction leaves nothing live in the first segment.
  await log.group(2).saveSnapshot(snap(last, 1));
  await log.group(2).compact(last);
  assert.equal(log.stats().segments, 1);
  // Power fails: the deletion stays (the first random draw decides the one directory change
  // not fsynced), unsynced bytes are lost.
  let draws = 0;
  const after = fs.crash(() => draws++ === 0 ? 0.9 : 0);
  const { groups } = await SharedRaftLog.open({ fs: after, dir: "/d", segmentBytes: 400 });
  const g1 = groups.get(1)!;
  assert.equal(g1.corruption, null, g1.corruption?.message);
  assert.deepEqual(ids(g1.entries), ["1/2", "2/2", "3/2"]);
});
