import assert from "node:assert/strict";
import { CrashedError, CrashFileSystem } from "./crash_fs.ts";
import { seededRandom } from "./seeded_random.ts";

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

/** Every disk `n` seeds of crashes leave. */
function crashes(fs: CrashFileSystem, n = 200): CrashFileSystem[] {
  return Array.from({ length: n }, (_, seed) => fs.crash(seededRandom(seed)));
}

async function content(fs: CrashFileSystem, path: string): Promise<Uint8Array | null> {
  return (await fs.stat(path)) ? await fs.readFile(path) : null;
}

Deno.test("crash fs: synced data survives; unsynced data is lost, cut, torn by sector or zero-filled", async () => {
  const fs = new CrashFileSystem();
  await fs.mkdir("/d");
  const h = await fs.open("/d/f", { write: true, create: true });
  await h.write(bytes(700, 1));
  await h.datasync();
  await fs.syncDir("/d");
  await h.write(bytes(5000, 2));
  const seen = { lost: false, whole: false, cut: false, tornSector: false, zeroTail: false };
  for (const disk of crashes(fs)) {
    const data = (await content(disk, "/d/f"))!;
    assert.ok(data.length >= 700 && data.length <= 5700, `length ${data.length}`);
    assert.deepEqual(data.subarray(0, 700), bytes(700, 1), "synced bytes intact");
    const tail = data.subarray(700);
    assert.ok(tail.every((b) => b === 0 || b === 2), "only new bytes or zeros");
    const firstZero = tail.indexOf(0);
    if (data.length === 700) seen.lost = true;
    else if (firstZero < 0) seen[data.length === 5700 ? "whole" : "cut"] = true;
    else if (tail.subarray(firstZero).some((b) => b === 2)) seen.tornSector = true;
    else seen.zeroTail = true;
    if (firstZero >= 0 && tail.subarray(firstZero).some((b) => b === 2)) {
      // A torn sector: zeros from a sector boundary (or the write's start) on, in the last page.
      assert.equal((700 + firstZero) % 512 === 0 || firstZero === 0, true, `zeros at ${firstZero}`);
    }
  }
  assert.deepEqual(seen, { lost: true, whole: true, cut: true, tornSector: true, zeroTail: true });
});

Deno.test("crash fs: directory entries are durable once their folder is fsynced, renames atomic", async () => {
  const fs = new CrashFileSystem();
  await fs.mkdir("/d"); // durable: mkdir fsyncs the parent
  const a = await fs.open("/d/a", { write: true, create: true });
  await a.write(bytes(10, 1));
  await a.datasync();
  let kept = 0;
  for (const disk of crashes(fs)) if (await disk.stat("/d/a")) kept++;
  assert.ok(kept > 0 && kept < 200, `an unsynced creation survives sometimes (${kept}/200)`);
  await fs.syncDir("/d");
  await fs.rename("/d/a", "/d/b");
  const outcomes = new Set<string>();
  for (const disk of crashes(fs)) {
    const names = (await disk.readDir("/d")).join(",");
    outcomes.add(names);
    const file = await content(disk, `/d/${names}`);
    assert.deepEqual(file, bytes(10, 1));
  }
  assert.deepEqual([...outcomes].sort(), ["a", "b"], "a rename is whole or undone");
  await fs.syncDir("/d");
  for (const disk of crashes(fs, 20)) assert.deepEqual(await disk.readDir("/d"), ["b"]);
});

Deno.test("crash fs: a folder that did not survive takes its files with it", async () => {
  const fs = new CrashFileSystem();
  await fs.mkdir("/d");
  await fs.mkdir("/d/e");
  await fs.writeFileAtomic("/d/e/f", bytes(3, 7));
  await fs.remove("/d/e", { recursive: true });
  for (const disk of crashes(fs)) {
    const f = await content(disk, "/d/e/f");
    if (!(await disk.stat("/d/e"))) assert.equal(f, null, "no file without its folder");
    else assert.ok(f === null || f.every((b) => b === 7));
  }
});

Deno.test("crash fs: a folder removed and made again is another folder: the old one's removals and files stay out of it", async () => {
  // The cluster simulation's seed 117: a replica dropped (removal not fsynced), then a snapshot
  // installed at the same path by a rename fsynced in the new folder. The old removal of a file
  // whose path the snapshot reuses must not take the snapshot's file when a crash applies it.
  const fs = new CrashFileSystem();
  await fs.mkdir("/r/d/data/s");
  await fs.writeFileAtomic("/r/d/data/s/f", bytes(3, 1));
  await fs.remove("/r/d", { recursive: true });
  await fs.mkdir("/r/d"); // fsyncs /r: the old /r/d is gone for good
  for (const disk of crashes(fs)) {
    assert.equal(await content(disk, "/r/d/data/s/f"), null, "the old folder's file came back");
  }
  await fs.mkdir("/r/d/in/s");
  await fs.writeFileAtomic("/r/d/in/s/f", bytes(3, 2));
  await fs.rename("/r/d/in", "/r/d/data");
  await fs.syncDir("/r/d");
  for (const disk of crashes(fs)) {
    assert.deepEqual(await content(disk, "/r/d/data/s/f"), bytes(3, 2), "the new file was lost");
  }
});

Deno.test("crash fs: writeFileAtomic cut at any step leaves the old content or the new", async () => {
  const setup = async (fs: CrashFileSystem) => {
    await fs.mkdir("/d");
    await fs.writeFileAtomic("/d/f", bytes(900, 1));
  };
  const reference = new CrashFileSystem();
  await setup(reference);
  const before = reference.mutations;
  await reference.writeFileAtomic("/d/f", bytes(1300, 2));
  assert.equal(reference.mutations - before, 5, "create, write, datasync, rename, syncDir");
  for (let k = 0; k <= 5; k++) {
    const fs = new CrashFileSystem();
    await setup(fs);
    fs.failAfter(k);
    await fs.writeFileAtomic("/d/f", bytes(1300, 2)).catch((error) => {
      assert.ok(error instanceof CrashedError);
    });
    for (const disk of crashes(fs, 50)) {
      const f = (await content(disk, "/d/f"))!;
      assert.ok(
        f.length === 900 && f.every((b) => b === 1) || f.length === 1300 && f.every((b) => b === 2),
        `cut after ${k}: ${f.length} bytes`,
      );
      if (k === 5) assert.equal(f.length, 1300, "durable once it returned");
    }
  }
});

Deno.test("crash fs: failAfter cuts the power after n mutations; crash is deterministic", async () => {
  const fs = new CrashFileSystem();
  fs.trace = [];
  fs.failAfter(3);
  await fs.mkdir("/d"); // mkdir, syncDir
  const h = await fs.open("/d/f", { write: true, create: true }); // create
  await assert.rejects(() => h.write(bytes(1, 1)), CrashedError);
  assert.ok(fs.poweredOff);
  await assert.rejects(() => fs.stat("/d"), CrashedError, "reads fail too once the power is off");
  assert.deepEqual(fs.trace, ["mkdir /d", "syncDir /", "create /d/f"]);
  const a = fs.crash(seededRandom(7)), b = fs.crash(seededRandom(7));
  assert.deepEqual(a.files(), b.files());
});
