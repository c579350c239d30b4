/**
 * Durable storage of one Raft node: a directory with segment files of checksummed records
 * (entries and hard states) and an atomically replaced snapshot file. FORMAT.md beside this file
 * has the byte layout.
 *
 * Contract with the Raft state machine (see {@linkcode Ready}): {@linkcode RaftLogStorage.save}
 * persists a Ready's snapshot, entries (truncating a conflicting stored suffix) and hard state,
 * and fsyncs when the Ready says `mustSync`. Hard states are records in the same stream as the
 * entries, so one fsync covers both and each is atomic by its checksum.
 *
 * Recovery on open: a torn tail (the last record of the last segment cut short or failing its
 * checksum at the end of the file) is cut off; that write was never fsynced, so nothing
 * acknowledged is lost. Any other bad record is corruption: the log is cut there and
 * {@linkcode RecoveredState.corruption} says where; the node must then neither vote nor campaign
 * until its commit index passes {@linkcode RecoveredState.recoverUntil}, i.e. until it has been
 * repaired from the leader (the Raft option `nonVotingUntil`).
 *
 * @module
 */

import { CorruptionError, type FileHandle, type FileSystem } from "../../core/mod.ts";
import type { RaftStoredState } from "../raft.ts";
import { EMPTY_HARD_STATE, type Entry, type HardState, type Snapshot } from "../types.ts";
import {
  appendEntryRecord,
  appendHardStateRecord,
  appendSegmentHeader,
  ByteSink,
  decodeSnapshotFile,
  encodeSnapshotFile,
  FORMAT_VERSION,
  readRecord,
  readU64,
  SEGMENT_HEADER_SIZE,
  SEGMENT_MAGIC,
} from "./record.ts";

/** Options of {@linkcode RaftLogStorage.open}. */
export interface RaftLogStorageOptions {
  fs: FileSystem;
  /** The node's Raft directory (created if missing). */
  dir: string;
  /** Start a new segment file when the current one exceeds this. @default {64 MiB} */
  segmentBytes?: number;
}

/** What was on disk, ready for `new Raft({ stored })`, plus what recovery did. */
export interface RecoveredState extends RaftStoredState {
  /** Bytes cut from a torn tail (0 when the log ended cleanly). */
  tornBytes: number;
  /** Corruption found before the end; the log was cut at it. Null when none. */
  corruption: CorruptionError | null;
  /** With corruption: do not vote until the commit index reaches this (0 otherwise). */
  recoverUntil: number;
}

/** What one Ready asks to persist. */
export interface SaveRequest {
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | null;
  readonly mustSync: boolean;
}

interface Segment {
  readonly firstIndex: number;
  readonly path: string;
  /** File offset of the record of entry firstIndex + i. */
  offsets: number[];
}

const SEGMENT_NAME = /^(\d{20})\.seg$/;

function segmentName(firstIndex: number): string {
  return `${String(firstIndex).padStart(20, "0")}.seg`;
}

/** The durable log of one Raft node. Not safe for concurrent saves: await each. */
export class RaftLogStorage {
  private readonly fs: FileSystem;
  private readonly logDir: string;
  private readonly snapshotPath: string;
  private readonly segmentBytes: number;
  private segments: Segment[] = [];
  private handle: FileHandle | null = null;
  private writePos = 0;
  private hardState: HardState = EMPTY_HARD_STATE;
  private firstIndexHeld = 1;
  private lastIndexHeld = 0;
  private dirDirty = false;
  /** A commit-only hard state change not yet written. */
  private hardStateDirty = false;
  /** Whether the handle's position is `writePos` (false after a truncation). */
  private positioned = false;
  private readonly sink = new ByteSink(1 << 16);

  private constructor(options: RaftLogStorageOptions) {
    this.fs = options.fs;
    this.logDir = `${options.dir}/log`;
    this.snapshotPath = `${options.dir}/snapshot`;
    this.segmentBytes = options.segmentBytes ?? 64 << 20;
  }

  /**
   * Opens (creating if needed) the storage in `dir` and recovers its state.
   * @throws {CorruptionError} when the snapshot file is corrupt (it is replaced atomically, so
   *   this is damage, not a crash: restore it or rebuild the node).
   */
  static async open(
    options: RaftLogStorageOptions,
  ): Promise<{ storage: RaftLogStorage; state: RecoveredState }> {
    const s = new RaftLogStorage(options);
    const state = await s.recover(options.dir);
    return { storage: s, state };
  }

  /** The last index stored (0 when empty). */
  get lastIndex(): number {
    return this.lastIndexHeld;
  }

  /** Number of segment files. */
  get segmentCount(): number {
    return this.segments.length;
  }

  private async recover(dir: string): Promise<RecoveredState> {
    await this.fs.mkdir(dir);
    await this.fs.mkdir(this.logDir);
    let snapshot: Snapshot | null = null;
    if (await this.fs.stat(this.snapshotPath)) {
      const decoded = decodeSnapshotFile(await this.fs.readFile(this.snapshotPath));
      if (typeof decoded === "string") throw new CorruptionError(this.snapshotPath, 0, decoded);
      snapshot = decoded;
    }
    const names = (await this.fs.readDir(this.logDir)).filter((n) => SEGMENT_NAME.test(n));
    let entries: Entry[] = [];
    let tornBytes = 0;
    let corruption: CorruptionError | null = null;
    let recoverUntil = 0;
    let hs: HardState = EMPTY_HARD_STATE;

    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      const path = `${this.logDir}/${name}`;
      const firstIndex = Number(SEGMENT_NAME.exec(name)![1]);
      const isLast = i === names.length - 1;
      const data = await this.fs.readFile(path);
      const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
      const seg: Segment = { firstIndex, path, offsets: [] };
      let bad: { offset: number; why: string; torn: boolean } | null = null;
      if (data.length < SEGMENT_HEADER_SIZE) {
        bad = { offset: 0, why: `segment header cut at ${data.length} bytes`, torn: isLast };
      } else if (view.getUint32(0, true) !== SEGMENT_MAGIC || data[4] !== FORMAT_VERSION) {
        bad = { offset: 0, why: `bad segment magic or version ${data[4]}`, torn: false };
      } else if (readU64(view, 8) !== firstIndex) {
        bad = { offset: 8, why: `header first index ${readU64(view, 8)} != name`, torn: false };
      }
      let offset = SEGMENT_HEADER_SIZE;
      while (!bad) {
        const r = readRecord(data, view, offset);
        if (r.status === "end") break;
        if (r.status === "truncated") {
          bad = { offset, why: r.why, torn: isLast };
          break;
        }
        if (r.status === "corrupt") {
          // At the end of the last segment a failed checksum is a torn write too: the length
          // header made it to disk but not all of the payload (or zeros were allocated).
          const length = offset + 8 <= data.length ? view.getUint32(offset, true) : 0;
          const endsAtEof = offset + 8 + length >= data.length;
          bad = { offset, why: r.why, torn: isLast && (endsAtEof || allZero(data, offset)) };
          break;
        }
        if (r.status === "hardState") {
          hs = r.hardState;
        } else {
          const e = r.entry;
          const expected = seg.firstIndex + seg.offsets.length;
          if (e.index !== expected) {
            bad = { offset, why: `entry index ${e.index}, expected ${expected}`, torn: false };
            break;
          }
          if (entries.length > 0 && entries[entries.length - 1].index !== e.index - 1) {
            // A segment that does not continue the previous one: keep the later, contiguous run.
            entries = entries.filter((x) => x.index < e.index);
          }
          seg.offsets.push(offset);
          entries.push(e);
        }
        offset = r.next;
      }
      this.segments.push(seg);
      if (bad) {
        if (bad.torn) {
          tornBytes = data.length - bad.offset;
        } else {
          corruption = new CorruptionError(path, bad.offset, bad.why);
          const later = names.slice(i + 1).map((n) => Number(SEGMENT_NAME.exec(n)![1]) - 1);
          const ahead = scanPast(data, view, bad.offset);
          recoverUntil = Math.max(
            hs.commit,
            seg.firstIndex + seg.offsets.length - 1,
            ahead,
            ...later,
          );
          // Keep the damaged bytes for the operator, then cut the log at the bad record.
          await this.fs.writeFileAtomic(`${path}.corrupt`, data);
          for (const n of names.slice(i + 1)) await this.fs.remove(`${this.logDir}/${n}`);
          this.dirDirty = true;
        }
        if (bad.offset < SEGMENT_HEADER_SIZE) {
          await this.fs.remove(path); // nothing usable in it; a new segment is started below
          this.segments.pop();
        } else {
          await this.truncateFile(path, bad.offset, data.length);
        }
        if (!bad.torn) break;
      }
    }
    this.hardState = hs;

    const snapIndex = snapshot?.metadata.index ?? 0;
    entries = entries.filter((e) => e.index > snapIndex);
    if (entries.length > 0 && entries[0].index !== snapIndex + 1) entries = [];
    this.firstIndexHeld = entries.length > 0 ? entries[0].index : snapIndex + 1;
    this.lastIndexHeld = entries.length > 0 ? entries[entries.length - 1].index : snapIndex;
    if (this.segments.length === 0 || this.lastSegmentEnd() !== this.lastIndexHeld) {
      // Nothing stored, or stored entries that do not follow the snapshot: start afresh.
      await this.resetLog(this.lastIndexHeld + 1);
    } else {
      const seg = this.segments[this.segments.length - 1];
      this.handle = await this.fs.open(seg.path, { read: true, write: true });
      this.writePos = await this.handle.seek(0, "end");
      this.positioned = true;
    }
    return {
      hardState: hs,
      snapshot,
      entries,
      tornBytes,
      corruption,
      recoverUntil: corruption ? recoverUntil : 0,
    };
  }

  private lastSegmentEnd(): number {
    const seg = this.segments[this.segments.length - 1];
    return seg.firstIndex + seg.offsets.length - 1;
  }

  private async truncateFile(path: string, at: number, size: number): Promise<void> {
    if (at >= size) return;
    const h = await this.fs.open(path, { read: true, write: true });
    try {
      await h.truncate(at);
      await h.datasync();
    } finally {
      h.close();
    }
  }

  /** Persists one Ready's snapshot, entries and hard state; fsyncs when `mustSync`. */
  async save(req: SaveRequest): Promise<void> {
    if (req.snapshot) {
      await this.fs.writeFileAtomic(this.snapshotPath, encodeSnapshotFile(req.snapshot));
      await this.resetLog(req.snapshot.metadata.index + 1);
    }
    const out = this.sink;
    out.reset();
    if (req.entries.length > 0) {
      const first = req.entries[0].index;
      if (first <= this.lastIndexHeld) {
        await this.truncateFrom(first);
        appendHardStateRecord(out, this.hardState); // the latest one may have been cut away
      } else if (first !== this.lastIndexHeld + 1) {
        throw new Error(`BUG: storing entry ${first} after last index ${this.lastIndexHeld}`);
      }
      if (this.writePos + out.length > this.segmentBytes) {
        await this.flush(out);
        await this.startSegment(first);
      }
      const seg = this.segments[this.segments.length - 1];
      for (const e of req.entries) {
        const at = appendEntryRecord(out, e);
        seg.offsets.push(this.writePos + at);
      }
      this.lastIndexHeld = req.entries[req.entries.length - 1].index;
    }
    if (req.hardState) {
      this.hardState = req.hardState;
      this.hardStateDirty = true;
    }
    // A hard state that only moves the commit index needs no write of its own (the commit index
    // is a hint for a faster restart, not a safety fact): it rides along with the next write.
    if (this.hardStateDirty && (out.length > 0 || req.mustSync)) {
      appendHardStateRecord(out, this.hardState);
      this.hardStateDirty = false;
    }
    await this.flush(out);
    if (req.mustSync) await this.sync();
  }

  /** fsyncs the current segment (and the directory after file creations or removals). */
  async sync(): Promise<void> {
    await this.handle!.datasync();
    if (this.dirDirty) {
      await this.fs.syncDir(this.logDir);
      this.dirDirty = false;
    }
  }

  /** Writes a snapshot taken locally (atomically); pair with {@linkcode compact}. */
  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    await this.fs.writeFileAtomic(this.snapshotPath, encodeSnapshotFile(snapshot));
  }

  /**
   * Deletes segment files whose entries are all at or before `index` (covered by a saved
   * snapshot). The current segment is kept.
   */
  async compact(index: number): Promise<void> {
    while (this.segments.length > 1) {
      const next = this.segments[1];
      if (next.firstIndex - 1 > index) break;
      await this.fs.remove(this.segments[0].path);
      this.segments.shift();
      this.dirDirty = true;
    }
    this.firstIndexHeld = Math.max(this.firstIndexHeld, this.segments[0].firstIndex);
  }

  close(): void {
    this.handle?.close();
    this.handle = null;
  }

  private async flush(out: ByteSink): Promise<void> {
    if (out.length === 0) return;
    const h = this.handle!;
    if (!this.positioned) {
      await h.seek(this.writePos, "start");
      this.positioned = true;
    }
    await h.write(out.written());
    this.writePos += out.length;
    out.reset();
  }

  private async startSegment(firstIndex: number): Promise<void> {
    this.handle?.close();
    const path = `${this.logDir}/${segmentName(firstIndex)}`;
    const h = await this.fs.open(path, { read: true, write: true, create: true, truncate: true });
    const head = new ByteSink(64);
    appendSegmentHeader(head, firstIndex);
    appendHardStateRecord(head, this.hardState);
    await h.write(head.written());
    await h.datasync();
    this.handle = h;
    this.writePos = head.length;
    this.positioned = true;
    this.segments.push({ firstIndex, path, offsets: [] });
    this.dirDirty = true;
    await this.fs.syncDir(this.logDir);
    this.dirDirty = false;
  }

  private async resetLog(nextIndex: number): Promise<void> {
    this.handle?.close();
    this.handle = null;
    for (const seg of this.segments) await this.fs.remove(seg.path);
    this.segments = [];
    this.firstIndexHeld = nextIndex;
    this.lastIndexHeld = nextIndex - 1;
    await this.startSegment(nextIndex);
  }

  private async truncateFrom(index: number): Promise<void> {
    let k = this.segments.length - 1;
    while (k > 0 && this.segments[k].firstIndex > index) k--;
    const seg = this.segments[k];
    const pos = index - seg.firstIndex;
    if (pos < 0 || pos >= seg.offsets.length) {
      throw new Error(`BUG: truncate at ${index}: not in segment starting ${seg.firstIndex}`);
    }
    if (k < this.segments.length - 1) {
      this.handle?.close();
      for (const later of this.segments.slice(k + 1)) await this.fs.remove(later.path);
      this.segments.length = k + 1;
      this.dirDirty = true;
      this.handle = await this.fs.open(seg.path, { read: true, write: true });
    }
    const at = seg.offsets[pos];
    await this.handle!.truncate(at);
    this.positioned = false;
    seg.offsets.length = pos;
    this.writePos = at;
    this.lastIndexHeld = index - 1;
  }
}

/**
 * The highest entry index or commit index readable after a corrupt record, skipping it by its
 * length field when that looks sane: what the node can prove it had before the damage.
 */
function scanPast(data: Uint8Array, view: DataView, offset: number): number {
  let best = 0;
  if (offset + 8 > data.length) return best;
  let pos = offset + 8 + view.getUint32(offset, true);
  while (pos < data.length) {
    const r = readRecord(data, view, pos);
    if (r.status === "entry") best = Math.max(best, r.entry.index);
    else if (r.status === "hardState") best = Math.max(best, r.hardState.commit);
    else break;
    pos = r.next;
  }
  return best;
}

function allZero(data: Uint8Array, from: number): boolean {
  for (let i = from; i < data.length; i++) if (data[i] !== 0) return false;
  return true;
}
