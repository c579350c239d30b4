import assert from "node:assert/strict";
import { StorageError } from "../../core/mod.ts";
import { seededRng } from "../_test_util.ts";
import { type Entry, EntryType, type HardState, type Snapshot } from "../types.ts";
import type { RecoveredState } from "./raft_storage.ts";
import { SharedRaftLog } from "./shared_log.ts";
import { CrashedError, CrashFileSystem as MemFileSystem } from "../../core/testing/mod.ts";

const CONF = { voters: [1, 2, 3], learners: [] };
const GROUPS = [0, 1, 2, 3, 4];

function entry(group: number, index: number, term: number): Entry {
  return {
    index,
    term,
    type: EntryType.Normal,
    data: new TextEncoder().encode(`${group}:${index}:${term}`),
  };
}

/** What the test knows of one group: what it asked for, and what is durable for sure. */
interface Model {
  log: Entry[];
  snapIndex: number;
  hard: HardState;
  acked: Entry[];
  ackedHard: HardState;
  ackedSnapIndex: number;
  /** Every entry version ever written (index -> terms). */
  written: Map<number, Set<number>>;
  /** A drop was asked for and has not been acknowledged. */
  dropping: boolean;
}

function freshModel(): Model {
  return {
    log: [],
    snapIndex: 0,
    hard: { term: 1, vote: 0, commit: 0 },
    acked: [],
    ackedHard: { term: 0, vote: 0, commit: 0 },
    ackedSnapIndex: 0,
    written: new Map(),
    dropping: false,
  };
}

function isCrash(error: unknown): boolean {
  return error instanceof CrashedError ||
    (error instanceof StorageError && error.cause instanceof CrashedError);
}

/** Checks a group's recovered state against what was acknowledged; returns the model to go on with. */
function checkGroup(where: string, m: Model, st: RecoveredState | undefined, group: number): Model {
  const hard = st?.hardState ?? { term: 0, vote: 0, commit: 0 };
  const entries = st?.entries ?? [];
  assert.equal(st?.corruption ?? null, null, `${where}: ${st?.corruption?.message}`);
  const rs = st?.snapshot?.metadata.index ?? 0;
  assert.ok(rs >= m.ackedSnapIndex, `${where}: snapshot ${rs} < saved ${m.ackedSnapIndex}`);
  assert.ok(
    hard.term > m.ackedHard.term ||
      (hard.term === m.ackedHard.term && hard.vote === m.ackedHard.vote),
    `${where}: hard state ${JSON.stringify(hard)} behind synced ${JSON.stringify(m.ackedHard)}`,
  );
  const byIndex = new Map(entries.map((e) => [e.index, e]));
  for (const e of m.acked) {
    if (e.index <= rs) continue;
    assert.equal(byIndex.get(e.index)?.term, e.term, `${where}: synced entry ${e.index} lost`);
  }
  for (const [i, e] of entries.entries()) {
    assert.equal(e.index, rs + 1 + i, `${where}: entries not contiguous after snapshot ${rs}`);
    assert.ok(m.written.get(e.index)?.has(e.term), `${where}: entry ${e.index}/${e.term} invented`);
    assert.deepEqual(
      e.data,
      entry(group, e.index, e.term).data,
      `${where}: entry of another group`,
    );
  }
  return {
    log: entries.slice(),
    snapIndex: rs,
    hard: hard.term > 0 ? hard : { term: 1, vote: 0, commit: 0 },
    acked: entries.slice(),
    ackedHard: hard,
    ackedSnapIndex: rs,
    written: m.written,
    dropping: false,
  };
}

/**
 * Drives the real shared log with Raft-like saves of several groups at once (appends,
 * conflicting overwrites, term and vote changes, commit-only changes, installed and local
 * snapshots, compaction, drops and new lives of a dropped id, segment rotations) and cuts the
 * power at random points, including in the middle of a round of several groups, and in the
 * middle of recovery itself; with one to three fdatasyncs under way at once. After each restart, per group:
 * - recovery finds no corruption (a crash only ever leaves a torn tail);
 * - every entry that was fsynced and acknowledged, and not since overwritten, is there;
 * - term and vote are at least the last fsynced ones; the snapshot at least the last saved;
 * - every recovered entry was written, by that group (no invented or crossed entries);
 * - a group whose drop was acknowledged stays gone (unless its id was used again).
 */
Deno.test("shared log: crashes at any point never lose synced state or corrupt the log", async () => {
  let totalCrashes = 0;
  let rotations = 0;
  for (let seed = 1; seed <= 300; seed++) {
    const rand = seededRng(seed);
    const int = (lo: number, hi: number) => lo + Math.floor(rand.next() * (hi - lo + 1));
    const segmentBytes = () => int(150, 900);
    let fs = new MemFileSystem();
    let log = (await SharedRaftLog.open({
      fs,
      dir: "/d",
      segmentBytes: segmentBytes(),
      syncConcurrency: int(1, 3),
    })).log;
    const models = new Map<number, Model>();
    let crashes = 0;

    const restart = async () => {
      crashes++;
      fs = fs.crash(() => rand.next());
      if (rand.next() < 0.25) {
        // Power fails again while recovering.
        fs.failAfter(int(0, 12));
        try {
          await SharedRaftLog.open({
            fs,
            dir: "/d",
            segmentBytes: segmentBytes(),
            syncConcurrency: int(1, 3),
          });
        } catch (error) {
          if (!isCrash(error)) throw error;
        }
        fs = fs.crash(() => rand.next());
      }
      const opened = await SharedRaftLog.open({
        fs,
        dir: "/d",
        segmentBytes: segmentBytes(),
        syncConcurrency: int(1, 3),
      });
      log = opened.log;
      const where = `seed ${seed} crash ${crashes}`;
      assert.equal(opened.corruption, null, `${where}: ${opened.corruption?.message}`);
      assert.equal(opened.failed.size, 0, `${where}: failed groups`);
      for (const id of opened.groups.keys()) {
        assert.ok(models.has(id), `${where}: group ${id} recovered, but its drop was acknowledged`);
      }
      for (const [id, m] of models) {
        const st = opened.groups.get(id);
        if (m.dropping && !st) {
          models.delete(id); // the drop made it to disk
          continue;
        }
        models.set(id, checkGroup(`${where} group ${id}`, m, st, id));
      }
    };

    const operate = async (id: number): Promise<void> => {
      let m = models.get(id);
      if (!m) {
        m = freshModel();
        models.set(id, m);
      }
      const g = log.group(id);
      const roll = rand.next();
      const last = m.log.length > 0 ? m.log[m.log.length - 1].index : m.snapIndex;
      const ackedLast = m.acked.length > 0 ? m.acked[m.acked.length - 1].index : m.snapIndex;
      if (roll < 0.08 && ackedLast > m.snapIndex) {
        // A local snapshot at some persisted index, then compaction behind it.
        const at = int(m.snapIndex + 1, ackedLast);
        const term = m.log.find((e) => e.index === at)!.term;
        const s: Snapshot = {
          metadata: { index: at, term, confState: CONF },
          data: new Uint8Array([at]),
        };
        m.snapIndex = at;
        await g.saveSnapshot(s);
        m.ackedSnapIndex = at;
        await g.compact(at - int(0, 3));
      } else if (roll < 0.12) {
        // A snapshot from the leader replaces the log (its uncommitted suffix too).
        const at = Math.max(m.snapIndex, m.hard.commit) + int(1, 20);
        m.hard = { term: m.hard.term + 1, vote: 0, commit: at };
        const hard = m.hard;
        const s: Snapshot = {
          metadata: { index: at, term: hard.term, confState: CONF },
          data: new Uint8Array([1]),
        };
        m.log = [];
        m.snapIndex = at;
        m.acked = [];
        await g.save({ hardState: hard, entries: [], snapshot: s, mustSync: true });
        m.ackedSnapIndex = at;
        m.ackedHard = hard;
      } else if (roll < 0.2) {
        // Commit moves on without a sync.
        m.hard = { ...m.hard, commit: Math.min(last, m.hard.commit + 1) };
        await g.save({ hardState: m.hard, entries: [], snapshot: null, mustSync: false });
      } else if (roll < 0.25) {
        // An election: a new term and a vote, nothing else.
        m.hard = { term: m.hard.term + 1, vote: int(1, 3), commit: m.hard.commit };
        const hard = m.hard;
        await g.save({ hardState: hard, entries: [], snapshot: null, mustSync: true });
        m.ackedHard = hard;
      } else if (roll < 0.28) {
        m.dropping = true;
        await log.dropGroup(id);
        models.delete(id);
      } else {
        // Append, sometimes overwriting a suffix under a new term (and vote), sometimes
        // without a sync (durable only once a later synced save covers it).
        let from = last + 1;
        let newHard: HardState | null = null;
        const mustSync = rand.next() < 0.85;
        if (rand.next() < 0.3) {
          if (mustSync) {
            m.hard = { term: m.hard.term + 1, vote: int(1, 3), commit: m.hard.commit };
            newHard = m.hard;
          }
          from = Math.max(m.snapIndex + 1, m.hard.commit + 1, last + 1 - int(0, 4));
        }
        const batch = Array.from({ length: int(1, 4) }, (_, i) => entry(id, from + i, m.hard.term));
        for (const e of batch) {
          if (!m.written.has(e.index)) m.written.set(e.index, new Set());
          m.written.get(e.index)!.add(e.term);
        }
        // Entries being overwritten were never committed: they may go even if synced before.
        m.acked = m.acked.filter((e) => e.index < from);
        m.log = [...m.log.filter((e) => e.index < from), ...batch];
        await g.save({ hardState: newHard, entries: batch, snapshot: null, mustSync });
        if (mustSync) m.acked = m.log.slice();
        if (newHard) m.ackedHard = newHard;
      }
    };

    for (let step = 0; step < 50; step++) {
      const crashNow = rand.next() < 0.15;
      if (crashNow) fs.failAfter(int(0, 8));
      const chosen = GROUPS.filter(() => rand.next() < 0.4);
      const before = log.stats().segments;
      const results = await Promise.allSettled(chosen.map((id) => operate(id)));
      for (const r of results) {
        if (r.status === "rejected" && !(crashNow && isCrash(r.reason))) throw r.reason;
      }
      if (!crashNow && log.stats().segments > before) rotations++;
      if (crashNow) await restart();
    }
    totalCrashes += crashes;
  }
  assert.ok(totalCrashes > 1_500, `crashes: ${totalCrashes}`);
  assert.ok(rotations > 1_000, `rotations: ${rotations}`);
});
