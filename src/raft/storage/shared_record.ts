/**
 * The record codec of the shared Raft log (SHARED_FORMAT.md beside this file): the records of
 * every Raft group of a node in one stream, each naming its group. Framing (length, CRC-32C)
 * and the byte buffer are those of the per-group log (record.ts). Encoders append to a
 * caller's {@linkcode ByteSink}; the decoder never throws on bad bytes: it reports what it
 * found so that recovery can tell a torn tail from corruption.
 * @module
 */

import type { Entry, EntryType, HardState } from "../types.ts";
import { beginRecord, type ByteSink, endRecord, readFrame, readU64 } from "./record.ts";

/** Magic bytes at the start of every shared log segment: "ENSL" (EpochNexus Shared Log). */
export const SHARED_SEGMENT_MAGIC = 0x4c534e45; // "ENSL" little-endian
/** The format version written in shared segment headers. */
export const SHARED_FORMAT_VERSION = 1;
/** Segment header: magic u32, version u8, 3 reserved bytes, sequence u64. */
export const SHARED_SEGMENT_HEADER_SIZE = 16;

/** Record kinds (first payload byte). */
export const SharedRecordKind = {
  Entry: 1,
  HardState: 2,
  Reset: 3,
  Drop: 4,
  Checkpoint: 5,
} as const;

const ENTRY_HEADER = 26; // kind, entry type, group, index, term
const HARD_STATE_SIZE = 33; // kind, group, term, vote, commit
const RESET_SIZE = 41; // kind, group, snapshot index, term, vote, commit
const DROP_SIZE = 9; // kind, group
const CHECKPOINT_HEADER = 5; // kind, count
const CHECKPOINT_ITEM = 48; // group, term, vote, commit, base, last

/** One group's line in a segment's checkpoint: its state when the segment began. */
export interface CheckpointItem {
  readonly group: number;
  readonly hardState: HardState;
  /** The log restarts after this index (the last installed snapshot's), 0 if never reset. */
  readonly base: number;
  /** The group's last log index. */
  readonly last: number;
}

/** Appends a shared segment header. */
export function appendSharedSegmentHeader(out: ByteSink, seq: number): void {
  out.u32(SHARED_SEGMENT_MAGIC);
  out.u8(SHARED_FORMAT_VERSION);
  out.u8(0);
  out.u8(0);
  out.u8(0);
  out.u64(seq);
}

function hardStateFields(out: ByteSink, hs: HardState): void {
  out.u64(hs.term);
  out.u64(hs.vote);
  out.u64(hs.commit);
}

/** Appends an entry record of `group`. */
export function appendSharedEntry(out: ByteSink, group: number, e: Entry): void {
  const start = beginRecord(out);
  out.u8(SharedRecordKind.Entry);
  out.u8(e.type);
  out.u64(group);
  out.u64(e.index);
  out.u64(e.term);
  out.raw(e.data);
  endRecord(out, start);
}

/** Appends a hard state record of `group`. */
export function appendSharedHardState(out: ByteSink, group: number, hs: HardState): void {
  const start = beginRecord(out);
  out.u8(SharedRecordKind.HardState);
  out.u64(group);
  hardStateFields(out, hs);
  endRecord(out, start);
}

/** Appends a reset record: `group` installed a snapshot at `index`; its log restarts after it. */
export function appendSharedReset(
  out: ByteSink,
  group: number,
  index: number,
  hs: HardState,
): void {
  const start = beginRecord(out);
  out.u8(SharedRecordKind.Reset);
  out.u64(group);
  out.u64(index);
  hardStateFields(out, hs);
  endRecord(out, start);
}

/** Appends a tombstone: `group` is gone, with everything it stored before. */
export function appendSharedDrop(out: ByteSink, group: number): void {
  const start = beginRecord(out);
  out.u8(SharedRecordKind.Drop);
  out.u64(group);
  endRecord(out, start);
}

/** Appends a checkpoint record listing every live group. */
export function appendSharedCheckpoint(out: ByteSink, items: readonly CheckpointItem[]): void {
  const start = beginRecord(out);
  out.u8(SharedRecordKind.Checkpoint);
  out.u32(items.length);
  for (const item of items) {
    out.u64(item.group);
    hardStateFields(out, item.hardState);
    out.u64(item.base);
    out.u64(item.last);
  }
  endRecord(out, start);
}

/** What {@linkcode readSharedRecord} found at an offset. */
export type SharedRecordRead =
  | { status: "entry"; group: number; entry: Entry; next: number }
  | { status: "hardState"; group: number; hardState: HardState; next: number }
  | { status: "reset"; group: number; index: number; hardState: HardState; next: number }
  | { status: "drop"; group: number; next: number }
  | { status: "checkpoint"; items: CheckpointItem[]; next: number }
  | { status: "end" }
  | { status: "truncated"; why: string }
  | { status: "corrupt"; why: string };

function readHardState(view: DataView, at: number): HardState {
  return { term: readU64(view, at), vote: readU64(view, at + 8), commit: readU64(view, at + 16) };
}

/**
 * Reads the record at `offset`. "truncated" means the bytes end inside the record (a torn
 * tail candidate); "corrupt" means the bytes are all there but wrong (a record whose checksum
 * holds but whose kind or size is unknown is corrupt too).
 */
export function readSharedRecord(
  data: Uint8Array,
  view: DataView,
  offset: number,
): SharedRecordRead {
  const frame = readFrame(data, view, offset);
  if (frame.status !== "ok") return frame;
  const { start, end } = frame;
  const length = end - start;
  const kind = data[start];
  const group = length >= 9 ? readU64(view, start + 1) : 0;
  switch (kind) {
    case SharedRecordKind.Entry:
      if (length < ENTRY_HEADER) break;
      return {
        status: "entry",
        group: readU64(view, start + 2),
        entry: {
          type: data[start + 1] as EntryType,
          index: readU64(view, start + 10),
          term: readU64(view, start + 18),
          // A copy, so that the segment's buffer can be released.
          data: data.slice(start + ENTRY_HEADER, end),
        },
        next: end,
      };
    case SharedRecordKind.HardState:
      if (length !== HARD_STATE_SIZE) break;
      return { status: "hardState", group, hardState: readHardState(view, start + 9), next: end };
    case SharedRecordKind.Reset:
      if (length !== RESET_SIZE) break;
      return {
        status: "reset",
        group,
        index: readU64(view, start + 9),
        hardState: readHardState(view, start + 17),
        next: end,
      };
    case SharedRecordKind.Drop:
      if (length !== DROP_SIZE) break;
      return { status: "drop", group, next: end };
    case SharedRecordKind.Checkpoint: {
      if (length < CHECKPOINT_HEADER) break;
      const count = view.getUint32(start + 1, true);
      if (length !== CHECKPOINT_HEADER + count * CHECKPOINT_ITEM) break;
      const items: CheckpointItem[] = [];
      for (let i = 0, at = start + CHECKPOINT_HEADER; i < count; i++, at += CHECKPOINT_ITEM) {
        items.push({
          group: readU64(view, at),
          hardState: readHardState(view, at + 8),
          base: readU64(view, at + 32),
          last: readU64(view, at + 40),
        });
      }
      return { status: "checkpoint", items, next: end };
    }
  }
  return { status: "corrupt", why: `unknown record kind ${kind} of ${length} bytes` };
}
