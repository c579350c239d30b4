import assert from "node:assert/strict";
import { CrashedError, CrashFileSystem, seededRandom } from "../../core/testing/mod.ts";
import { DISCARDED_SUFFIX, discardReplicaFolder, removeDiscardedFolders } from "./discard.ts";

const PARTITIONS = "/data/partitions";
const FILES = [
  "catalog.json",
  "data/1/1/1699488000000_604800000/0000000001-0000000001.seg",
  "data/1/1/1699488000000_604800000/0000000002-0000000002.seg",
  "data/1/1/1698883200000_604800000/0000000001-0000000001.seg",
];

/** A disk holding group 3's replica folder, every file and folder durable. */
async function replicaOnDisk(): Promise<CrashFileSystem> {
  const fs = new CrashFileSystem();
  for (const file of FILES) {
    const path = `${PARTITIONS}/3/${file}`;
    await fs.mkdir(path.slice(0, path.lastIndexOf("/")));
    const h = await fs.open(path, { write: true, create: true });
    await h.write(new TextEncoder().encode(file));
    await h.datasync();
    h.close();
    await fs.syncDir(path.slice(0, path.lastIndexOf("/")));
  }
  return fs;
}

/** The files under `dir` (relative), or null when the folder is gone. */
async function filesUnder(fs: CrashFileSystem, dir: string): Promise<string[] | null> {
  if (!(await fs.stat(dir))) return null;
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const name of await fs.readDir(d)) {
      const path = `${d}/${name}`;
      if ((await fs.stat(path))!.isDirectory) await walk(path);
      else out.push(path.slice(dir.length + 1));
    }
  };
  await walk(dir);
  return out.sort();
}

Deno.test("a power loss while a dropped replica's folder is deleted leaves all of it or none", async () => {
  let cuts = 0;
  for (let cut = 0;; cut++) {
    const fs = await replicaOnDisk();
    fs.failAfter(cut);
    let finished = true;
    try {
      await discardReplicaFolder(fs, PARTITIONS, 3);
    } catch (error) {
      if (!(error instanceof CrashedError)) throw error;
      finished = false;
    }
    for (let seed = 0; seed < 40; seed++) {
      const disk = fs.crash(seededRandom(seed * 1000 + cut));
      const left = await filesUnder(disk, `${PARTITIONS}/3`);
      // A part of the folder would be opened as the replica: a catalog without its segments.
      if (left !== null) {
        assert.deepEqual(left, [...FILES].sort(), `cut after ${cut} steps, crash ${seed}`);
      }
      if (finished) assert.equal(left, null, `finished, crash ${seed}: the folder came back`);
      await removeDiscardedFolders(disk, PARTITIONS);
      assert.deepEqual(
        (await disk.readDir(PARTITIONS)).filter((n) => n.endsWith(DISCARDED_SUFFIX)),
        [],
      );
    }
    cuts++;
    if (finished) break;
  }
  assert.ok(cuts > FILES.length, `the deletion was cut at ${cuts} points`);
});
