import assert from "node:assert/strict";
import fc from "fast-check";
import type { FileSystem } from "../../core/mod.ts";
import { type Entry, EntryType, type HardState, type Snapshot } from "../types.ts";
import type { RecoveredState } from "./raft_storage.ts";
import { SharedRaftLog } from "./shared_log.ts";
import { CrashFileSystem as MemFileSystem } from "../../core/testing/mod.ts";

const CONF = { voters: [1], learners: [] };
const SEGMENT_BYTES = 400;

const entry = (group: number, index: number, term: number): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: new TextEncoder().encode(`${group}/${index}/${term}`),
});

/** The model of one group: what recovery must give back. */
interface GroupModel {
  entries: Entry[];
  snapshot: Snapshot | null;
  hard: HardState;
  /** The commit index written with the last record (recovery gives at least this). */
  writtenCommit: number;
}

const newModel = (): GroupModel => ({
  entries: [],
  snapshot: null,
  hard: { term: 1, vote: 0, commit: 0 },
  writtenCommit: 0,
});

const lastIndex = (m: GroupModel) => m.entries.at(-1)?.index ?? m.snapshot?.metadata.index ?? 0;

type Command =
  | { op: "append"; group: number; back: number; count: number; bump: boolean }
  | { op: "commit"; group: number }
  | { op: "vote"; group: number }
  | { op: "install"; group: number; ahead: number }
  | { op: "snapshot"; group: number; back: number; keep: number }
  | { op: "drop"; group: number }
  | { op: "reopen"; restoreDeleted: boolean };

const group = fc.integer({ min: 0, max: 3 });
const command: fc.Arbitrary<Command> = fc.oneof(
  {
    arbitrary: fc.record({
      op: fc.constant("append" as const),
      group,
      back: fc.nat(4),
      count: fc.integer({ min: 1, max: 4 }),
      bump: fc.boolean(),
    }),
    weight: 8,
  },
  { arbitrary: fc.record({ op: fc.constant("commit" as const), group }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant("vote" as const), group }), weight: 1 },
  {
    arbitrary: fc.record({ op: fc.constant("install" as const), group, ahead: fc.nat(10) }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      op: fc.constant("snapshot" as const),
      group,
      back: fc.nat(5),
      keep: fc.nat(3),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ op: fc.constant("drop" as const), group }), weight: 1 },
  {
    arbitrary: fc.record({ op: fc.constant("reopen" as const), restoreDeleted: fc.boolean() }),
    weight: 2,
  },
);

/** A file system that keeps a copy of every segment file it deletes, to put back later. */
function stashingFs(base: MemFileSystem): FileSystem & { restore(): Promise<void> } {
  const stash = new Map<string, Uint8Array>();
  return {
    open: (p, o) => base.open(p, o),
    readFile: (p) => base.readFile(p),
    writeFileAtomic: (p, d) => base.writeFileAtomic(p, d),
    rename: (a, b) => base.rename(a, b),
    async remove(path, options) {
      if (path.endsWith(".seg") && await base.stat(path)) {
        stash.set(path, await base.readFile(path));
      }
      await base.remove(path, options);
    },
    readDir: (p) => base.readDir(p),
    mkdir: (p) => base.mkdir(p),
    stat: (p) => base.stat(p),
    realPath: (p) => base.realPath(p),
    syncDir: (p) => base.syncDir(p),
    /** Puts back every deleted segment: what a crash may do to deletions not fsynced. */
    async restore() {
      for (const [path, bytes] of stash) {
        if (!(await base.stat(path))) await base.writeFileAtomic(path, bytes);
      }
    },
  };
}

function check(models: Map<number, GroupModel>, groups: Map<number, RecoveredState>, at: string) {
  assert.deepEqual([...groups.keys()].sort(), [...models.keys()].sort(), `${at}: groups`);
  for (const [id, m] of models) {
    const st = groups.get(id)!;
    const where = `${at}, group ${id}`;
    assert.equal(st.corruption, null, `${where}: ${st.corruption?.message}`);
    assert.deepEqual(st.snapshot, m.snapshot, `${where}: snapshot`);
    assert.deepEqual(
      st.entries.map((e) => `${e.index}/${e.term}`),
      m.entries.map((e) => `${e.index}/${e.term}`),
      `${where}: entries`,
    );
    assert.deepEqual(st.entries, m.entries, `${where}: entry data`);
    assert.equal(st.hardState.term, m.hard.term, `${where}: term`);
    assert.equal(st.hardState.vote, m.hard.vote, `${where}: vote`);
    assert.ok(
      st.hardState.commit >= m.writtenCommit && st.hardState.commit <= m.hard.commit,
      `${where}: commit ${st.hardState.commit} outside ${m.writtenCommit}..${m.hard.commit}`,
    );
  }
}

Deno.test("shared log: any sequence of saves of several groups reopens to the model", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 40 }), async (commands) => {
      const fs = stashingFs(new MemFileSystem());
      const open = () => SharedRaftLog.open({ fs, dir: "/d", segmentBytes: SEGMENT_BYTES });
      let log = (await open()).log;
      const models = new Map<number, GroupModel>();
      const model = (id: number) => {
        if (!models.has(id)) models.set(id, newModel());
        return models.get(id)!;
      };
      for (const [step, c] of commands.entries()) {
        if (c.op === "reopen") {
          await log.close();
          if (c.restoreDeleted) await fs.restore();
          const opened = await open();
          check(models, opened.groups, `step ${step} (${JSON.stringify(c)})`);
          log = opened.log;
          continue;
        }
        if (c.op === "drop") {
          await log.dropGroup(c.group);
          models.delete(c.group);
          continue;
        }
        // A group exists once something of it was written.
        if (!models.has(c.group) && c.op !== "append" && c.op !== "install") continue;
        const m = model(c.group);
        const g = log.group(c.group);
        const snapIndex = m.snapshot?.metadata.index ?? 0;
        const last = lastIndex(m);
        if (c.op === "append") {
          const from = Math.max(snapIndex + 1, m.hard.commit + 1, last + 1 - c.back);
          if (c.bump) m.hard = { ...m.hard, term: m.hard.term + 1, vote: c.group };
          const batch = Array.from(
            { length: c.count },
            (_, i) => entry(c.group, from + i, m.hard.term),
          );
          m.entries = [...m.entries.filter((e) => e.index < from), ...batch];
          await g.save({ hardState: m.hard, entries: batch, snapshot: null, mustSync: true });
          m.writtenCommit = m.hard.commit;
        } else if (c.op === "commit") {
          m.hard = { ...m.hard, commit: Math.min(last, m.hard.commit + 1) };
          await g.save({ hardState: m.hard, entries: [], snapshot: null, mustSync: false });
        } else if (c.op === "vote") {
          m.hard = { ...m.hard, term: m.hard.term + 1, vote: c.group + 1 };
          await g.save({ hardState: m.hard, entries: [], snapshot: null, mustSync: true });
          m.writtenCommit = m.hard.commit;
        } else if (c.op === "install") {
          // Ahead of the commit index, maybe inside the group's (uncommitted) log.
          const at = Math.max(snapIndex, m.hard.commit) + 1 + c.ahead;
          m.hard = { term: m.hard.term + 1, vote: 0, commit: at };
          const s: Snapshot = {
            metadata: { index: at, term: m.hard.term, confState: CONF },
            data: new Uint8Array([c.group, at & 0xff]),
          };
          m.snapshot = s;
          m.entries = [];
          await g.save({ hardState: m.hard, entries: [], snapshot: s, mustSync: true });
          m.writtenCommit = m.hard.commit;
        } else {
          const at = Math.max(snapIndex, last - c.back);
          if (at <= snapIndex) continue;
          const term = m.entries.find((e) => e.index === at)!.term;
          const s: Snapshot = {
            metadata: { index: at, term, confState: CONF },
            data: new Uint8Array([at & 0xff]),
          };
          m.snapshot = s;
          m.entries = m.entries.filter((e) => e.index > at);
          await g.saveSnapshot(s);
          await g.compact(Math.max(snapIndex, at - c.keep));
        }
      }
      await log.close();
      await fs.restore();
      const final = await open();
      check(models, final.groups, "end (deleted segments restored)");
      await final.log.close();
    }),
    { numRuns: 200 },
  );
});
