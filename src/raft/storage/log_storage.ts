/**
 * Durable storage of one Raft node: a directory with segment files of checksummed records
 * (entries and hard states) and an atomically replaced snapshot file. FORMAT.md beside this file
 * has the byte layout.
 *
 * Contract with the Raft state machine (see {@linkcode Ready}): {@linkcode RaftLogStorage.save}
 * persists a Ready's snapshot, entries and hard state, and fsyncs when the Ready says
 * `mustSync`. Hard states are records in the same stream as the entries, so one fsync covers
 * both and each is atomic by its checksum. Segments are append-only: an entry that overwrites a
 * conflicting suffix is appended and supersedes it on recovery, so no durable byte is ever cut
 * (a crash in the middle of an overwrite cannot lose the hard state).
 *
 * Recovery on open: a torn tail (the end of the last segment cut short, or failing its checksum
 * with no valid record after it) is cut off; that write was never fsynced, so nothing
 * acknowledged is lost. Any other bad record is corruption: the log is cut there and
 * {@linkcode RecoveredState.corruption} says where; the node must then neither vote nor campaign
 * until its commit index passes {@linkcode RecoveredState.recoverUntil}, i.e. until it has been
 * repaired from the leader (the Raft option `nonVotingUntil`).
 *
 * @module
 */

import {
  CorruptionError,
  type FileHandle,
  type FileSystem,
  hasUnwrittenSector,
} from "../../core/mod.ts";
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
  RECORD_HEADER_SIZE,
  SEGMENT_HEADER_SIZE,
  SEGMENT_MAGIC,
} from "./record.ts";
import type { RaftStorage, RecoveredState, SaveRequest } from "./raft_storage.ts";

export type { RecoveredState, SaveRequest } from "./raft_storage.ts";

/** Options of {@linkcode RaftLogStorage.open}. */
export interface RaftLogStorageOptions {
  fs: FileSystem;
  /** The node's Raft directory (created if missing). */
  dir: string;
  /** Start a new segment file when the current one exceeds this. @default {64 MiB} */
  segmentBytes?: number;
  /**
   * Damage before the log's tail throws at open, leaving every file as it is, instead of being
   * cut for the leader to repair: for a group with no other replica to repair it. @default {false}
   */
  failOnCorruption?: boolean;
}

interface Segment {
  /** Creation order: recovery reads segments by sequence. */
  readonly seq: number;
  /** Entries at or after this index in older segments are superseded by this segment. */
  readonly firstIndex: number;
  readonly path: string;
}

const SEGMENT_NAME = /^(\d{16})\.seg$/;

function segmentName(seq: number): string {
  return `${String(seq).padStart(16, "0")}.seg`;
}

/** The durable log of one Raft node. Not safe for concurrent saves: await each. */
export class RaftLogStorage implements RaftStorage {
  private readonly fs: FileSystem;
  private readonly logDir: string;
  private readonly snapshotPath: string;
  private readonly segmentBytes: number;
  private readonly failOnCorruption: boolean;
  private segments: Segment[] = [];
  private handle: FileHandle | null = null;
  private writePos = 0;
  private seq = 0;
  private hardState: HardState = EMPTY_HARD_STATE;
  private lastIndexHeld = 0;
  private dirDirty = false;
  /** A commit-only hard state change not yet written. */
  private hardStateDirty = false;
  private readonly sink = new ByteSink(1 << 16);

  private constructor(options: RaftLogStorageOptions) {
    this.fs = options.fs;
    this.logDir = `${options.dir}/log`;
    this.snapshotPath = `${options.dir}/snapshot`;
    this.segmentBytes = options.segmentBytes ?? 64 << 20;
    this.failOnCorruption = options.failOnCorruption ?? false;
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
    const snapIndex = snapshot?.metadata.index ?? 0;
    const names = (await this.fs.readDir(this.logDir)).filter((n) => SEGMENT_NAME.test(n));
    const entries: Entry[] = [];
    let tornBytes = 0;
    let corruption: CorruptionError | null = null;
    let recoverUntil = 0;
    let hs: HardState = EMPTY_HARD_STATE;
    let maxSeen = 0;
    /** Drops entries at or after `index` (an overwrite). */
    const cut = (index: number) => {
      if (entries.length === 0) return;
      const keep = Math.max(0, Math.min(entries.length, index - entries[0].index));
      entries.length = keep;
    };

    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      const path = `${this.logDir}/${name}`;
      const seq = Number(SEGMENT_NAME.exec(name)![1]);
      this.seq = Math.max(this.seq, seq);
      const isLast = i === names.length - 1;
      const data = await this.fs.readFile(path);
      const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
      let bad: { offset: number; why: string; torn: boolean } | null = null;
      let firstIndex = 0;
      if (data.length < SEGMENT_HEADER_SIZE) {
        bad = { offset: 0, why: `segment header cut at ${data.length} bytes`, torn: isLast };
      } else if (view.getUint32(0, true) !== SEGMENT_MAGIC || data[4] !== FORMAT_VERSION) {
        bad = { offset: 0, why: `bad segment magic or version ${data[4]}`, torn: isLast };
      } else if (readRecord(data, view, SEGMENT_HEADER_SIZE).status !== "hardState") {
        // Header and first hard state are written and fsynced together before anything else:
        // without a valid first record the header itself may be torn, so it is not trusted.
        bad = { offset: 0, why: "segment lacks its leading hard state record", torn: isLast };
      } else {
        firstIndex = readU64(view, 8);
        cut(firstIndex); // this segment supersedes anything older at or after its first index
        this.segments.push({ seq, firstIndex, path });
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
          // In the last segment, a bad record that no valid record follows is a torn write:
          // the length header made it to disk but not all of the payload, or the file was
          // extended with zeros. So is one holding a sector the power cut left unwritten, valid
          // records after it or not (the same unsynced write). Otherwise a valid record after it
          // means damage in the middle.
          const torn = !validRecordFollows(data, view, offset) ||
            hasUnwrittenSector(
              data,
              offset,
              offset + RECORD_HEADER_SIZE + view.getUint32(offset, true),
            );
          bad = { offset, why: r.why, torn: isLast && torn };
          break;
        }
        if (r.status === "hardState") {
          hs = r.hardState;
        } else {
          const e = r.entry;
          const last = entries.length > 0 ? entries[entries.length - 1].index : firstIndex - 1;
          if (e.index > last + 1) {
            if (e.index - 1 <= snapIndex) {
              entries.length = 0; // the gap was compacted away behind the snapshot
            } else {
              bad = {
                offset,
                why: `entry index ${e.index} leaves a gap after ${last}`,
                torn: false,
              };
              break;
            }
          }
          if (e.index <= last) cut(e.index); // the leader overwrote a conflicting suffix
          entries.push(e);
          maxSeen = Math.max(maxSeen, e.index);
        }
        offset = r.next;
      }
      if (!bad) continue;
      if (bad.torn) {
        tornBytes = data.length - bad.offset;
      } else {
        corruption = new CorruptionError(path, bad.offset, bad.why);
        if (this.failOnCorruption) throw corruption;
        recoverUntil = Math.max(hs.commit, maxSeen, scanPast(data, view, bad.offset));
        // Keep the damaged bytes for the operator, then cut the log at the bad record.
        await this.fs.writeFileAtomic(`${path}.corrupt`, data);
        for (const n of names.slice(i + 1)) await this.fs.remove(`${this.logDir}/${n}`);
        this.dirDirty = true;
      }
      if (bad.offset < SEGMENT_HEADER_SIZE) {
        await this.fs.remove(path); // nothing usable in it
        if (this.segments.at(-1)?.path === path) this.segments.pop();
        this.dirDirty = true;
      } else {
        await this.truncateFile(path, bad.offset, data.length);
      }
      if (!bad.torn) break;
    }
    this.hardState = hs;

    let live = entries.filter((e) => e.index > snapIndex);
    if (live.length > 0 && live[0].index !== snapIndex + 1) live = [];
    this.lastIndexHeld = live.length > 0 ? live[live.length - 1].index : snapIndex;
    // Always continue in a fresh segment that supersedes anything after what we recovered.
    await this.startSegment(this.lastIndexHeld + 1);
    return {
      hardState: hs,
      snapshot,
      entries: live,
      tornBytes,
      corruption,
      recoverUntil: corruption ? recoverUntil : 0,
    };
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
    if (req.hardState) {
      this.hardState = req.hardState;
      this.hardStateDirty = true;
    }
    if (req.snapshot) {
      await this.fs.writeFileAtomic(this.snapshotPath, encodeSnapshotFile(req.snapshot));
      await this.resetLog(req.snapshot.metadata.index + 1);
      this.hardStateDirty = false; // the new segment starts with it
    }
    const out = this.sink;
    out.reset();
    if (req.entries.length > 0) {
      const first = req.entries[0].index;
      if (first > this.lastIndexHeld + 1) {
        throw new Error(`BUG: storing entry ${first} after last index ${this.lastIndexHeld}`);
      }
      // An entry at or below the last one overwrites the stored suffix from there on (the
      // records stay; recovery honours the later one), so no durable record is ever cut.
      if (this.writePos > this.segmentBytes) await this.startSegment(first);
      for (const e of req.entries) appendEntryRecord(out, e);
      this.lastIndexHeld = req.entries[req.entries.length - 1].index;
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
   * Deletes segment files whose live entries are all at or before `index` (covered by a saved
   * snapshot): a segment's entries are live only below the first index of every later
   * segment. The current segment is kept.
   */
  async compact(index: number): Promise<void> {
    const n = this.segments.length;
    const doomed = new Set<number>();
    let minLater = Infinity;
    for (let i = n - 1; i >= 0; i--) {
      if (i < n - 1 && minLater - 1 <= index) doomed.add(i);
      minLater = Math.min(minLater, this.segments[i].firstIndex);
    }
    if (doomed.size === 0) return;
    for (const i of doomed) await this.fs.remove(this.segments[i].path);
    this.segments = this.segments.filter((_, i) => !doomed.has(i));
    this.dirDirty = true;
  }

  close(): void {
    this.handle?.close();
    this.handle = null;
  }

  private async flush(out: ByteSink): Promise<void> {
    if (out.length === 0) return;
    await this.handle!.write(out.written());
    this.writePos += out.length;
    out.reset();
  }

  /** Starts segment `seq + 1` beginning at `firstIndex`, headed by the current hard state. */
  private async startSegment(firstIndex: number): Promise<void> {
    if (this.handle) {
      // Everything in a segment that is not the last must be durable: recovery treats a bad
      // record anywhere but at the end of the last segment as corruption.
      await this.handle.datasync();
      this.handle.close();
    }
    const seq = ++this.seq;
    const path = `${this.logDir}/${segmentName(seq)}`;
    const h = await this.fs.open(path, { read: true, write: true, create: true, truncate: true });
    const head = new ByteSink(64);
    appendSegmentHeader(head, firstIndex);
    appendHardStateRecord(head, this.hardState);
    await h.write(head.written());
    await h.datasync();
    this.handle = h;
    this.writePos = head.length;
    this.segments.push({ seq, firstIndex, path });
    await this.fs.syncDir(this.logDir);
    this.dirDirty = false;
  }

  /** After installing a snapshot: a new segment supersedes everything, then old ones go. */
  private async resetLog(nextIndex: number): Promise<void> {
    const old = this.segments.slice();
    await this.startSegment(nextIndex);
    for (const seg of old) await this.fs.remove(seg.path);
    this.segments = this.segments.filter((s) => !old.includes(s));
    this.dirDirty = true;
    this.lastIndexHeld = nextIndex - 1;
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

/** Whether a valid record starts where the (bad) record at `offset` says it ends. */
function validRecordFollows(data: Uint8Array, view: DataView, offset: number): boolean {
  if (offset + 8 > data.length) return false;
  const next = offset + 8 + view.getUint32(offset, true);
  if (next >= data.length) return false;
  const r = readRecord(data, view, next);
  return r.status === "entry" || r.status === "hardState";
}
