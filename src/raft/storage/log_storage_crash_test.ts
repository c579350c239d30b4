import assert from "node:assert/strict";
import { seededRng } from "../_test_util.ts";
import { type Entry, EntryType, type HardState, type Snapshot } from "../types.ts";
import { RaftLogStorage } from "./log_storage.ts";
import { CrashedError, CrashFileSystem } from "../../core/testing/mod.ts";

const CONF = { voters: [1, 2, 3], learners: [] };

function entry(index: number, term: number): Entry {
  return {
    index,
    term,
    type: EntryType.Normal,
    data: new TextEncoder().encode(`${index}:${term}`),
  };
}

/**
 * Drives the real log storage with Raft-like saves (appends, conflicting overwrites, term and
 * vote changes, commit-only changes, installed and local snapshots, compaction) and crashes it
 * at random points, including in the middle of a save. After each restart:
 * - recovery finds no corruption (a crash only ever leaves a torn tail);
 * - every entry that was fsynced and not since overwritten is there with its term;
 * - term and vote are at least the last fsynced ones; the snapshot is at least the last saved;
 * - every recovered entry is one that was written (no invented or mixed-up entries).
 */
Deno.test("log storage: crashes at any point never lose synced state or corrupt the log", async () => {
  let totalCrashes = 0;
  for (let seed = 1; seed <= 500; seed++) {
    const rand = seededRng(seed);
    const int = (lo: number, hi: number) => lo + Math.floor(rand.next() * (hi - lo + 1));
    let fs = new CrashFileSystem();
    let { storage } = await RaftLogStorage.open({ fs, dir: "/d", segmentBytes: int(120, 600) });
    // What is durable for sure, and every entry version ever written (index -> terms).
    let acked: Entry[] = [];
    let ackedHard: HardState = { term: 0, vote: 0, commit: 0 };
    let ackedSnapIndex = 0;
    let snapIndex = 0;
    let log: Entry[] = [];
    let hard: HardState = { term: 1, vote: 0, commit: 0 };
    const written = new Map<number, Set<number>>();
    const crashes = { n: 0 };

    const restart = async () => {
      fs = fs.crash(() => rand.next());
      crashes.n++;
      const opened = await RaftLogStorage.open({ fs, dir: "/d", segmentBytes: int(120, 600) });
      storage = opened.storage;
      const st = opened.state;
      const where = `seed ${seed} crash ${crashes.n}`;
      assert.equal(st.corruption, null, `${where}: ${st.corruption?.message}`);
      const rs = st.snapshot?.metadata.index ?? 0;
      assert.ok(rs >= ackedSnapIndex, `${where}: snapshot ${rs} < saved ${ackedSnapIndex}`);
      assert.ok(
        st.hardState.term > ackedHard.term ||
          (st.hardState.term === ackedHard.term && st.hardState.vote === ackedHard.vote),
        `${where}: hard state ${JSON.stringify(st.hardState)} behind synced ${
          JSON.stringify(ackedHard)
        }`,
      );
      const byIndex = new Map(st.entries.map((e) => [e.index, e]));
      for (const e of acked) {
        if (e.index <= rs) continue;
        assert.equal(
          byIndex.get(e.index)?.term,
          e.term,
          `${where}: synced entry ${e.index}/${e.term} lost`,
        );
      }
      for (const [i, e] of st.entries.entries()) {
        assert.equal(e.index, rs + 1 + i, `${where}: entries not contiguous after snapshot ${rs}`);
        assert.ok(
          written.get(e.index)?.has(e.term),
          `${where}: entry ${e.index}/${e.term} never written`,
        );
        assert.deepEqual(e.data, entry(e.index, e.term).data);
      }
      // Continue from what survived.
      log = st.entries.slice();
      snapIndex = rs;
      hard = st.hardState.term > 0 ? st.hardState : { term: 1, vote: 0, commit: 0 };
      acked = log.slice();
      ackedHard = st.hardState;
      ackedSnapIndex = rs;
    };

    for (let step = 0; step < 60; step++) {
      const crashNow = rand.next() < 0.15;
      if (crashNow) fs.failAfter(int(0, 6));
      try {
        const roll = rand.next();
        const last = log.length > 0 ? log[log.length - 1].index : snapIndex;
        if (roll < 0.08 && last > snapIndex) {
          // A local snapshot at some persisted index, then compaction behind it.
          const at = int(
            snapIndex + 1,
            Math.min(last, acked.length > 0 ? acked[acked.length - 1].index : snapIndex),
          );
          if (at > snapIndex) {
            const term = log.find((e) => e.index === at)!.term;
            const s: Snapshot = {
              metadata: { index: at, term, confState: CONF },
              data: new Uint8Array([at]),
            };
            await storage.saveSnapshot(s);
            ackedSnapIndex = at;
            snapIndex = at;
            await storage.compact(at - int(0, 3));
          }
        } else if (roll < 0.12) {
          // A snapshot from the leader replaces the log.
          const at = last + int(1, 20);
          hard = { term: hard.term + 1, vote: 0, commit: at };
          const s: Snapshot = {
            metadata: { index: at, term: hard.term, confState: CONF },
            data: new Uint8Array([1]),
          };
          log = [];
          snapIndex = at;
          acked = [];
          await storage.save({ hardState: hard, entries: [], snapshot: s, mustSync: true });
          ackedSnapIndex = at;
          ackedHard = hard;
        } else if (roll < 0.22) {
          // Commit moves on without a sync.
          hard = { ...hard, commit: Math.min(last, hard.commit + 1) };
          await storage.save({ hardState: hard, entries: [], snapshot: null, mustSync: false });
        } else {
          // Append, sometimes overwriting a suffix under a new term (and vote).
          let from = last + 1;
          let newHard: HardState | null = null;
          if (rand.next() < 0.3) {
            hard = { term: hard.term + 1, vote: int(1, 3), commit: hard.commit };
            newHard = hard;
            from = Math.max(snapIndex + 1, hard.commit + 1, last + 1 - int(0, 4));
          }
          const batch = Array.from({ length: int(1, 5) }, (_, i) => entry(from + i, hard.term));
          for (const e of batch) {
            if (!written.has(e.index)) written.set(e.index, new Set());
            written.get(e.index)!.add(e.term);
          }
          // Entries being overwritten were never committed: they may go even if synced before.
          acked = acked.filter((e) => e.index < from);
          log = [...log.filter((e) => e.index < from), ...batch];
          await storage.save({
            hardState: newHard,
            entries: batch,
            snapshot: null,
            mustSync: true,
          });
          acked = log.slice();
          if (newHard) ackedHard = newHard;
        }
      } catch (error) {
        if (!(error instanceof CrashedError)) throw error;
      }
      if (crashNow) await restart();
    }
    totalCrashes += crashes.n;
  }
  assert.ok(totalCrashes > 500, `crashes: ${totalCrashes}`);
});

/**
 * Saves of several entries of hundreds of bytes span sectors: a power loss may leave any sector
 * of the last, unsynced save unwritten (zeros) while a later one made it. That is a torn tail,
 * cut on open, never corruption (which would send the node to recover from its peers).
 */
Deno.test("log storage: a save torn in the middle by a power loss is a torn tail", async () => {
  const save = (b: number) =>
    Array.from({ length: 6 }, (_, i) => {
      const index = b * 6 + i + 1;
      return { ...entry(index, 1), data: new Uint8Array(200 + (index * 131) % 500).fill(index) };
    });
  const reference = new CrashFileSystem();
  const saves = 12;
  const run = async (fs: CrashFileSystem) => {
    let synced = 0;
    try {
      const { storage } = await RaftLogStorage.open({ fs, dir: "/d" });
      for (let b = 0; b < saves; b++) {
        const hardState = { term: 1, vote: 1, commit: 0 };
        await storage.save({ hardState, entries: save(b), snapshot: null, mustSync: true });
        synced = b * 6 + 6;
      }
    } catch (error) {
      if (!(error instanceof CrashedError)) throw error;
    }
    return synced;
  };
  await run(reference);
  for (let k = 0; k <= reference.mutations; k++) {
    const fs = new CrashFileSystem();
    fs.failAfter(k);
    const synced = await run(fs);
    for (let seed = 0; seed < 40; seed++) {
      const { state } = await RaftLogStorage.open({
        fs: fs.crash(seededRng(k * 100 + seed).next),
        dir: "/d",
      });
      const where = `cut after mutation ${k}, seed ${seed}`;
      assert.equal(state.corruption, null, `${where}: ${state.corruption?.message}`);
      assert.ok((state.entries.at(-1)?.index ?? 0) >= synced, `${where}: synced entries lost`);
    }
  }
});
