/**
 * The shared Raft log's records and recovery (src/raft/storage/shared_*): a segment file of any
 * bytes is replayed by `SharedLogReplay.readSegment` (as the last segment and as a closed one)
 * without throwing, damage is reported as an offset and a reason, every group assembles to a
 * run of consecutive entries (or a `CorruptionError`), and `recoverSharedLog` on a disk holding
 * the segment resolves or throws only `CorruptionError`, and recovering the disk it repaired
 * gives the same groups again. Structured inputs are checkpoints and records of every kind for a
 * few groups; mutated ones often get their record checksums computed again, so the damage reaches
 * the record parser behind the checksum.
 * @module
 */
import fc from "fast-check";
import { CorruptionError, silentLogger } from "../../../src/core/mod.ts";
import { CrashFileSystem } from "../../../src/core/testing/mod.ts";
import { ByteSink, RECORD_HEADER_SIZE } from "../../../src/raft/storage/record.ts";
import {
  appendSharedCheckpoint,
  appendSharedDrop,
  appendSharedEntry,
  appendSharedHardState,
  appendSharedReset,
  appendSharedSegmentHeader,
  SHARED_SEGMENT_HEADER_SIZE,
} from "../../../src/raft/storage/shared_record.ts";
import { assembleGroup, SharedLogReplay } from "../../../src/raft/storage/shared_replay.ts";
import { recoverSharedLog, segmentName } from "../../../src/raft/storage/shared_recovery.ts";
import { crc32c } from "../../../src/core/mod.ts";
import { mutate } from "../_mutate.ts";
import { sameData } from "../_same.ts";
import { count, demand, expectOnlyAsync, type FuzzTarget } from "../_target.ts";

const group = fc.integer({ min: 1, max: 4 });
const hardState = fc.record({
  term: fc.nat(20),
  vote: fc.nat(5),
  commit: fc.nat(40),
});

type Op =
  | { kind: "entries"; group: number; from: number; n: number; term: number }
  | { kind: "hardState"; group: number; hs: { term: number; vote: number; commit: number } }
  | {
    kind: "reset";
    group: number;
    index: number;
    hs: { term: number; vote: number; commit: number };
  }
  | { kind: "drop"; group: number }
  | { kind: "checkpoint" };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("entries" as const),
      group,
      from: fc.integer({ min: 1, max: 30 }),
      n: fc.integer({ min: 1, max: 5 }),
      term: fc.nat(20),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("hardState" as const), group, hs: hardState }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("reset" as const),
      group,
      index: fc.nat(30),
      hs: hardState,
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("drop" as const), group }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("checkpoint" as const) }) },
);

/** A segment: header, its leading checkpoint, records; sometimes a torn or zeroed tail. */
const segments: fc.Arbitrary<Uint8Array> = fc.record({
  ops: fc.array(op, { maxLength: 14 }),
  tail: fc.constantFrom("none", "none", "none", "cut", "zeros"),
  cut: fc.nat(),
}).map(({ ops, tail, cut }) => {
  const out = new ByteSink(256);
  appendSharedSegmentHeader(out, 1);
  const last = new Map<number, number>();
  const items = () =>
    [...last].map(([g, l]) => ({
      group: g,
      hardState: { term: 1, vote: 0, commit: 0 },
      base: 0,
      last: l,
    }));
  appendSharedCheckpoint(out, items());
  for (const o of ops) {
    if (o.kind === "entries") {
      for (let i = 0; i < o.n; i++) {
        const index = o.from + i;
        appendSharedEntry(out, o.group, {
          index,
          term: o.term,
          type: 0,
          data: Uint8Array.of(index & 0xff),
        });
        last.set(o.group, index);
      }
    } else if (o.kind === "hardState") appendSharedHardState(out, o.group, o.hs);
    else if (o.kind === "reset") {
      appendSharedReset(out, o.group, o.index, o.hs);
      last.set(o.group, o.index);
    } else if (o.kind === "drop") {
      appendSharedDrop(out, o.group);
      last.delete(o.group);
    } else appendSharedCheckpoint(out, items());
  }
  let bytes = out.written().slice();
  if (tail === "cut" && bytes.length > SHARED_SEGMENT_HEADER_SIZE) {
    bytes = bytes.subarray(
      0,
      SHARED_SEGMENT_HEADER_SIZE + (cut % (bytes.length - SHARED_SEGMENT_HEADER_SIZE)),
    );
  }
  if (tail === "zeros") {
    const z = new Uint8Array(bytes.length + 1 + (cut % 300));
    z.set(bytes);
    bytes = z;
  }
  return bytes;
});

/** Computes each record's checksum again, following the lengths as they are now. */
function reframe(bytes: Uint8Array): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = SHARED_SEGMENT_HEADER_SIZE;
  // Bounded: each step moves past a record of at least its header.
  while (at + RECORD_HEADER_SIZE <= bytes.length) {
    const length = view.getUint32(at, true);
    const end = at + RECORD_HEADER_SIZE + length;
    if (end > bytes.length) break;
    view.setUint32(at + 4, crc32c(bytes.subarray(at + RECORD_HEADER_SIZE, end)), true);
    at = end;
  }
  return bytes;
}

const damaged = fc.tuple(
  segments,
  fc.array(fc.tuple(fc.nat(12), fc.nat(), fc.nat(), fc.nat()), { minLength: 1, maxLength: 3 }),
  fc.boolean(),
).map(([bytes, mutations, fix]) => {
  // Payload-preserving mutations (flips and overwrites) keep the records' lengths true.
  const inPlace = mutations.map(([k, a, b, c]) =>
    [[0, 1, 2, 11][k % 4], a, b, c] as [number, number, number, number]
  );
  const out = mutate(bytes, fix ? inPlace : mutations, [], []);
  return fix ? reframe(out) : out;
});

/** What a recovery found: per group, its hard state and entry indexes and terms. */
function summary(
  groups: Map<number, { hardState: unknown; entries: readonly { index: number; term: number }[] }>,
) {
  return [...groups].sort(([a], [b]) => a - b).map(([id, s]) => ({
    id,
    hardState: s.hardState,
    entries: s.entries.map((e) => `${e.index}/${e.term}`).join(" "),
  }));
}

export const sharedLogTarget: FuzzTarget = {
  name: "shared-log",
  about: "SharedLogReplay reads any segment without throwing; groups assemble to consecutive " +
    "entries; recoverSharedLog throws only CorruptionError and is idempotent",
  inputs: fc.oneof(segments, damaged, damaged),
  open() {
    const outcomes: Record<string, number> = {};
    return Promise.resolve({
      outcomes,
      async check(data: Uint8Array) {
        for (const isLast of [true, false]) {
          const replay = new SharedLogReplay();
          const seg = { seq: 1, path: "/log/1.seg", data };
          const damage = replay.readSegment(seg, isLast);
          if (damage) {
            demand(
              Number.isInteger(damage.offset) && damage.offset >= 0 &&
                damage.offset <= data.length &&
                typeof damage.why === "string" && damage.why !== "",
              () => `bad damage report ${JSON.stringify(damage)}`,
            );
            replay.scanBeyond(seg, damage.offset);
          }
          for (const [id, g] of replay.groups) {
            const { state } = assembleGroup(id, g, null, "/log");
            demand(
              state.corruption === null || state.corruption instanceof CorruptionError,
              "a corruption that is not a CorruptionError",
            );
            state.entries.forEach((e, i) =>
              demand(e.index === i + 1, () => `group ${id}: entry ${i} has index ${e.index}`)
            );
          }
          if (isLast) count(outcomes, damage ? (damage.torn ? "torn" : "damaged") : "whole");
        }
        // Recovery on a disk, as a node opens it (failOnCorruption: damage before the tail stops
        // it, files untouched): resolves, cutting a torn tail, or refuses with a CorruptionError;
        // a second recovery of what it left finds the same groups.
        const fs = new CrashFileSystem();
        await fs.mkdir("/log");
        await fs.writeFileAtomic(`/log/${segmentName(1)}`, data);
        const paths = {
          fs,
          logDir: "/log",
          snapDir: "/snap",
          logger: silentLogger,
          failOnCorruption: true,
        };
        const first = await expectOnlyAsync(() => recoverSharedLog(paths), [CorruptionError]);
        if (first !== undefined) {
          const second = await recoverSharedLog(paths);
          demand(
            sameData(summary(first.opened.groups), summary(second.opened.groups)),
            () =>
              `a second recovery finds other groups: ${
                JSON.stringify(summary(first.opened.groups))
              } then ${JSON.stringify(summary(second.opened.groups))}`,
          );
        }
        // The library's default cuts the log at the damage instead: that throws nothing.
        const cutting = new CrashFileSystem();
        await cutting.mkdir("/log");
        await cutting.writeFileAtomic(`/log/${segmentName(1)}`, data);
        await recoverSharedLog({ ...paths, fs: cutting, failOnCorruption: false });
      },
      close: () => Promise.resolve(),
    });
  },
};
