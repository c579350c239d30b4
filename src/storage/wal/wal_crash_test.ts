/**
 * The WAL under power loss, on the crash-simulating file system: every disk mutation of a
 * workload (group commits of records spanning sectors and pages, rotations, a cut and a trim)
 * is a cut point; each is crashed with several seeds (unsynced data lost, kept in part, torn
 * sectors, directory entries undone) and the log reopened, then used and crashed again.
 */
import assert from "node:assert/strict";
import { silentLogger } from "../../core/mod.ts";
import { CrashFileSystem, seededRandom } from "../../core/testing/mod.ts";
import { WriteAheadLog } from "./wal.ts";

const DIR = "/wal";
const SEEDS = 6;
const text = (b: Uint8Array) => new TextDecoder().decode(b);
/** Record i: 40 to 700 bytes, so group commits span sectors and pages. */
const payload = (i: number) =>
  new TextEncoder().encode(
    `record ${i};`.padEnd(40 + (i * 97) % 660, String.fromCharCode(97 + i % 26)),
  );

function open(fs: CrashFileSystem, seen: string[]): Promise<WriteAheadLog> {
  return WriteAheadLog.open(
    { fs, dir: DIR, logger: silentLogger, segmentBytes: 2500 },
    (r) => seen.push(text(r.payload)),
  );
}

/**
 * Rounds of six concurrent appends; midway a cut and a trim of the segments before it, as a
 * flush does (the records trimmed may come back: the removal is not fsynced, nor need it be).
 */
async function workload(fs: CrashFileSystem, acked: Set<number>): Promise<void> {
  const wal = await open(fs, []);
  for (let round = 0; round < 12; round++) {
    await Promise.all(Array.from({ length: 6 }, (_, j) => {
      const i = round * 6 + j;
      return wal.append(1, payload(i)).then(() => void acked.add(i));
    }));
    if (round === 6) {
      // A checkpoint: the records before the cut are durable elsewhere and no longer owed.
      const first = await wal.cut(() => {});
      acked.clear();
      await wal.removeSegmentsBefore(first);
    }
  }
  await wal.close();
}

/** Reopens the crashed disk: it must open and hold every acknowledged record, in order. */
async function reopen(disk: CrashFileSystem, acked: Set<number>, where: string) {
  const seen: string[] = [];
  let wal: WriteAheadLog;
  try {
    wal = await open(disk, seen);
  } catch (error) {
    throw new Error(`${where}: the log does not open: ${error}`, { cause: error });
  }
  const ids = seen.map((s) => Number(/^record (\d+);/.exec(s)?.[1] ?? NaN));
  for (const [n, id] of ids.entries()) {
    assert.equal(seen[n], text(payload(id)), `${where}: record ${n} is not one written`);
    if (n > 0) assert.ok(id > ids[n - 1], `${where}: records out of order: ${ids}`);
  }
  for (const i of acked) assert.ok(ids.includes(i), `${where}: acknowledged record ${i} lost`);
  return { wal, ids };
}

Deno.test("WAL: a power loss after any disk mutation keeps every acknowledged record", async () => {
  const reference = new CrashFileSystem();
  await workload(reference, new Set());
  const cutPoints = reference.mutations;
  assert.ok(cutPoints > 50, `only ${cutPoints} cut points`);
  for (let k = 0; k <= cutPoints; k++) {
    const fs = new CrashFileSystem();
    fs.failAfter(k);
    const acked = new Set<number>();
    await workload(fs, acked).catch((error) => {
      if (!fs.poweredOff) throw error;
    });
    for (let seed = 0; seed < SEEDS; seed++) {
      const random = seededRandom(k * 1009 + seed);
      const where = `cut after mutation ${k}, seed ${seed}`;
      const disk = fs.crash(random);
      const { wal, ids } = await reopen(disk, acked, where);
      // After the recovery (a torn tail cut): a rotation and an append, cut by a second crash.
      const again = new Set(ids);
      disk.failAfter(Math.floor(random() * 12));
      try {
        await wal.cut(() => {});
        await wal.append(1, payload(1000));
        again.add(1000);
      } catch (error) {
        if (!disk.poweredOff) throw error;
      }
      disk.failAfter(0);
      await wal.close();
      await reopen(disk.crash(random), again, `${where}, after recovery`);
    }
  }
});

Deno.test("WAL: a write the full disk refused does not come back after a power loss", async () => {
  for (let seed = 0; seed < 50; seed++) {
    const fs = new CrashFileSystem();
    const wal = await open(fs, []);
    await wal.append(1, payload(1));
    fs.setFreeBytes(100 + seed * 7);
    await assert.rejects(() => wal.append(1, payload(6)), /disk full/);
    fs.setFreeBytes(Infinity);
    // The segment holding the undone write is closed: anything left in it is corruption.
    await wal.cut(() => {});
    await wal.append(1, payload(3));
    await wal.close();
    const { wal: reopened, ids } = await reopen(
      fs.crash(seededRandom(seed)),
      new Set([1, 3]),
      `seed ${seed}`,
    );
    assert.deepEqual(ids, [1, 3]);
    await reopened.close();
  }
});
