/**
 * Recovery of the shared Raft log, without IO: one pass over the segments' bytes rebuilds every
 * group's log and hard state ({@linkcode SharedLogReplay}), then each group is checked against
 * its snapshot ({@linkcode assembleGroup}). The caller (shared_log.ts) reads the files and acts on what this
 * finds: cuts a torn tail, sets a damaged segment aside.
 *
 * Why recovery tolerates holes while reading: a segment is deleted when none of its entries is
 * still live, and an entry is dead once a later record supersedes it. So an entry the log
 * later overwrote may survive in a kept segment while the entry before it went with a deleted
 * one. Such stale entries are always superseded by records read after them (a final version
 * of an index is written after the final version of the index before it), so recovery keeps
 * them provisionally and checks only the end result: every index from the snapshot up to the
 * group's last index must be present. A missing one means a live segment was lost.
 *
 * Records of a group before a reset or a tombstone may likewise survive in kept segments;
 * checkpoints (record 0 of every segment: every live group's hard state, base and last index)
 * put each group back in order: a group a checkpoint does not list had no state then.
 * @module
 */

import { CorruptionError } from "../../core/mod.ts";
import { EMPTY_HARD_STATE, type Entry, type HardState, type Snapshot } from "../types.ts";
import type { RecoveredState } from "./raft_storage.ts";
import { readU64, RECORD_HEADER_SIZE } from "./record.ts";
import {
  type CheckpointItem,
  readSharedRecord,
  SHARED_FORMAT_VERSION,
  SHARED_SEGMENT_HEADER_SIZE,
  SHARED_SEGMENT_MAGIC,
  type SharedRecordRead,
} from "./shared_record.ts";

/** One segment file as read from disk. */
export interface SegmentBytes {
  readonly seq: number;
  readonly path: string;
  readonly data: Uint8Array;
}

/** One group's state as the records left it. */
export interface ReplayedGroup {
  hardState: HardState;
  /** The log restarts after this index (the last reset's snapshot index). */
  base: number;
  /** The last log index the records say the group has. */
  last: number;
  /** Increasing indexes, possibly with holes (stale entries; see the module doc). */
  entries: Entry[];
  /** The segment sequence each entry was read from. */
  seqs: number[];
  /** The highest entry index, last index or commit index read: what the group had. */
  maxSeen: number;
}

/** Where reading a segment stopped before its end. */
export interface ReplayDamage {
  readonly offset: number;
  readonly why: string;
  /** A torn tail (never synced, cut silently) rather than corruption. */
  readonly torn: boolean;
}

/** Checks a segment's header and leading checkpoint; a string says what is wrong. */
function checkHead(seg: SegmentBytes, view: DataView): string | null {
  const { data } = seg;
  if (data.length < SHARED_SEGMENT_HEADER_SIZE) return `segment header cut at ${data.length} bytes`;
  if (view.getUint32(0, true) !== SHARED_SEGMENT_MAGIC) return "bad shared segment magic";
  if (data[4] !== SHARED_FORMAT_VERSION) return `unsupported shared log format version ${data[4]}`;
  const seq = readU64(view, 8);
  if (seq !== seg.seq) return `segment header says sequence ${seq}, its name ${seg.seq}`;
  const first = readSharedRecord(data, view, SHARED_SEGMENT_HEADER_SIZE);
  // Header and checkpoint are written and fsynced together before anything else: without a
  // valid checkpoint the header itself may be torn, so it is not trusted.
  return first.status === "checkpoint" ? null : "segment lacks its leading checkpoint record";
}

/**
 * One pass over the segments, fed in sequence order: {@linkcode readSegment} applies each
 * segment's records to the per-group state and stops at the first damage; after corruption,
 * {@linkcode scanBeyond} notes what the rest of the log shows each group had.
 */
export class SharedLogReplay {
  readonly groups = new Map<number, ReplayedGroup>();
  /** Groups whose last record is a tombstone. */
  readonly dropped = new Set<number>();
  /** After corruption: per group, the highest index or commit readable past it. */
  readonly beyond = new Map<number, number>();

  /** Applies one segment; returns where it is damaged, or null when it reads to its end. */
  readSegment(seg: SegmentBytes, isLast: boolean): ReplayDamage | null {
    const { data } = seg;
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const headProblem = checkHead(seg, view);
    if (headProblem) return { offset: 0, why: headProblem, torn: isLast };
    let offset = SHARED_SEGMENT_HEADER_SIZE;
    for (;;) {
      const rec = readSharedRecord(data, view, offset);
      if (rec.status === "end") return null;
      if (rec.status === "truncated" || rec.status === "corrupt") {
        // In the last segment, a bad record that no valid record follows is a torn write: the
        // length made it to disk but not all of the payload, or the file was extended with
        // zeros. A valid record after it means damage in the middle.
        const torn = isLast && (rec.status === "truncated" || !validRecordFollows(data, offset));
        return { offset, why: rec.why, torn };
      }
      this.apply(rec, seg.seq);
      offset = rec.next;
    }
  }

  /**
   * Notes per group the highest entry index, last index or commit readable in `seg` from
   * `after` on (past the bad record there, skipped by its length field when that looks sane;
   * the whole segment when `after` is null): what the node can prove it had before the damage.
   */
  scanBeyond(seg: SegmentBytes, after: number | null): void {
    const { data } = seg;
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let pos = SHARED_SEGMENT_HEADER_SIZE;
    if (after !== null) {
      if (after < SHARED_SEGMENT_HEADER_SIZE || after + RECORD_HEADER_SIZE > data.length) return;
      pos = after + RECORD_HEADER_SIZE + view.getUint32(after, true);
    }
    const note = (group: number, value: number) =>
      this.beyond.set(group, Math.max(this.beyond.get(group) ?? 0, value));
    while (pos < data.length) {
      const rec = readSharedRecord(data, view, pos);
      if (rec.status === "entry") note(rec.group, rec.entry.index);
      else if (rec.status === "hardState") note(rec.group, rec.hardState.commit);
      else if (rec.status === "reset") note(rec.group, rec.index);
      else if (rec.status === "drop") note(rec.group, 0);
      else if (rec.status === "checkpoint") {
        for (const it of rec.items) note(it.group, Math.max(it.last, it.hardState.commit));
      } else break;
      pos = rec.next;
    }
  }

  private get(group: number): ReplayedGroup {
    let g = this.groups.get(group);
    if (!g) {
      g = { hardState: EMPTY_HARD_STATE, base: 0, last: 0, entries: [], seqs: [], maxSeen: 0 };
      this.groups.set(group, g);
      this.dropped.delete(group);
    }
    return g;
  }

  private apply(rec: SharedRecordRead, seq: number): void {
    switch (rec.status) {
      case "entry": {
        const g = this.get(rec.group);
        const index = rec.entry.index;
        truncateFrom(g, index); // an entry at or below the last replaces the suffix from there
        g.entries.push(rec.entry);
        g.seqs.push(seq);
        g.last = index;
        g.maxSeen = Math.max(g.maxSeen, index);
        return;
      }
      case "hardState": {
        const g = this.get(rec.group);
        g.hardState = rec.hardState;
        g.maxSeen = Math.max(g.maxSeen, rec.hardState.commit);
        return;
      }
      case "reset": {
        const g = this.get(rec.group);
        g.entries = [];
        g.seqs = [];
        g.base = rec.index;
        g.last = rec.index;
        g.hardState = rec.hardState;
        g.maxSeen = Math.max(g.maxSeen, rec.index, rec.hardState.commit);
        return;
      }
      case "drop":
        this.groups.delete(rec.group);
        this.dropped.add(rec.group);
        return;
      case "checkpoint":
        this.checkpoint(rec.items);
        return;
    }
  }

  /** Puts every group in the state the checkpoint lists; unlisted groups had none. */
  private checkpoint(items: readonly CheckpointItem[]): void {
    const listed = new Set<number>();
    for (const item of items) {
      listed.add(item.group);
      const g = this.get(item.group);
      g.hardState = item.hardState;
      g.base = item.base;
      g.last = item.last;
      g.maxSeen = Math.max(g.maxSeen, item.last, item.hardState.commit);
      // Entries held past its last index are stale (from before a reset or a drop whose
      // records are gone); those at or below the base go with the snapshot check at the end.
      truncateFrom(g, item.last + 1);
    }
    for (const id of [...this.groups.keys()]) if (!listed.has(id)) this.groups.delete(id);
  }
}

/** Drops the entries at or after `index`. */
function truncateFrom(g: ReplayedGroup, index: number): void {
  let n = g.entries.length;
  while (n > 0 && g.entries[n - 1].index >= index) n--;
  g.entries.length = n;
  g.seqs.length = n;
}

/** Whether a valid record starts where the (bad) record at `offset` says it ends. */
function validRecordFollows(data: Uint8Array, offset: number): boolean {
  if (offset + RECORD_HEADER_SIZE > data.length) return false;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const next = offset + RECORD_HEADER_SIZE + view.getUint32(offset, true);
  if (next >= data.length) return false;
  const status = readSharedRecord(data, view, next).status;
  return status !== "end" && status !== "truncated" && status !== "corrupt";
}

/** One group's recovered state and what the log still holds of it. */
export interface AssembledGroup {
  readonly state: RecoveredState;
  /** The segment sequence of each recovered entry. */
  readonly seqs: number[];
  readonly base: number;
}

/**
 * Checks a replayed group against its snapshot and turns it into what Raft starts from: the
 * entries after the snapshot, which must run without a hole up to the group's last index. A
 * hole, or a reset past the snapshot (its snapshot file is missing or older), is corruption:
 * the log is cut before it and the group must not vote until repaired.
 */
export function assembleGroup(
  id: number,
  replayed: ReplayedGroup | undefined,
  snapshot: Snapshot | null,
  where: string,
): AssembledGroup {
  const g = replayed ??
    { hardState: EMPTY_HARD_STATE, base: 0, last: 0, entries: [], seqs: [], maxSeen: 0 };
  const snapIndex = snapshot?.metadata.index ?? 0;
  let corruption: CorruptionError | null = null;
  let first = 0;
  while (first < g.entries.length && g.entries[first].index <= snapIndex) first++;
  let end = first;
  while (end < g.entries.length && g.entries[end].index === snapIndex + 1 + end - first) end++;
  const held = end > first ? g.entries[end - 1].index : snapIndex;
  if (g.base > snapIndex) {
    corruption = new CorruptionError(
      where,
      0,
      `group ${id}: the log restarts after index ${g.base} but the group's snapshot ` +
        (snapshot ? `is at ${snapIndex}` : "is missing"),
    );
    end = first;
  } else if (held < g.last) {
    corruption = new CorruptionError(
      where,
      0,
      `group ${id}: entries ${held + 1}..${g.last} are missing (a segment file was lost)`,
    );
  }
  const state: RecoveredState = {
    hardState: g.hardState,
    snapshot,
    entries: g.entries.slice(first, end),
    tornBytes: 0,
    corruption,
    recoverUntil: corruption ? Math.max(g.maxSeen, g.hardState.commit) : 0,
  };
  return { state, seqs: g.seqs.slice(first, end), base: g.base };
}
