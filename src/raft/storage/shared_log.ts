/**
 * The node-wide Raft log: one append-only log of segment files holding the records of every
 * Raft group on the node (the metadata group and each data partition replica), with group
 * commit across groups. SHARED_FORMAT.md beside this file has the byte layout.
 *
 * Why shared: a partition's Raft log is its write-ahead log, and a node hosts many partitions.
 * One log per group would cost one fdatasync per group per round; here saves of every group
 * that arrive while an fdatasync runs are written together and covered by the next one, as the
 * single-node WAL does for writers (src/storage/wal/wal.ts).
 *
 * Each group sees a {@linkcode SharedLogGroup} ({@linkcode RaftStorage}, what `RaftNode`
 * uses), with the semantics of the per-group {@linkcode RaftLogStorage}: entries that overwrite
 * a conflicting suffix are appended and supersede it on recovery, a snapshot install restarts
 * the group's log after it (a reset record), the last hard state wins, snapshots are small
 * files written atomically (one per group). Every segment begins with a checkpoint of every
 * live group's hard state, base and last index, so a segment can be deleted as soon as none of
 * its entries is live (all at or below their group's compaction point, superseded, or of a
 * dropped group), whatever its age.
 *
 * A failed write or fsync makes the log refuse further work (after a failed fsync the kernel
 * may have dropped the dirty pages, so retrying could acknowledge lost data): reopen it to
 * recover from what is on disk.
 *
 * @module
 */

import {
  type CorruptionError,
  type FileHandle,
  type FileSystem,
  type Histogram,
  type Logger,
  silentLogger,
  StorageError,
} from "../../core/mod.ts";
import type { Snapshot } from "../types.ts";
import type { RecoveredState, SaveRequest } from "./raft_storage.ts";
import { ByteSink, encodeSnapshotFile } from "./record.ts";
import {
  type GroupHost,
  type GroupState,
  newGroupState,
  placeEntries,
  SharedLogGroup,
  trimRuns,
} from "./shared_group.ts";
import {
  recoverSharedLog,
  type SegmentFile,
  segmentName,
  snapshotPath,
} from "./shared_recovery.ts";
import { SegmentSyncer, type Waiter } from "./shared_syncer.ts";
import {
  appendSharedCheckpoint,
  appendSharedDrop,
  appendSharedEntry,
  appendSharedHardState,
  appendSharedReset,
  appendSharedSegmentHeader,
} from "./shared_record.ts";

/** Options of {@linkcode SharedRaftLog.open}. */
export interface SharedRaftLogOptions {
  fs: FileSystem;
  /** The node's shared Raft log directory (created if missing). */
  dir: string;
  /** Start a new segment file when the current one exceeds this. @default {64 MiB} */
  segmentBytes?: number;
  /**
   * fdatasyncs that may run at once. 1 gives the fewest fsyncs (one per round of all groups);
   * more carry more bytes per second on a device that serves parallel flushes faster than one
   * stream (bench/raft_shared_log_bench.ts measures both). @default {1}
   */
  syncConcurrency?: number;
  logger?: Logger;
  /**
   * Damage before the log's tail throws at open with the file and offset, leaving every file as
   * it is, instead of cutting the log for the groups' peers to repair (a node holding the only
   * replica of a group cannot be repaired). @default {false}
   */
  failOnCorruption?: boolean;
  /** A monotonic clock in ms: times each fdatasync (`fsyncSeconds`). */
  now?: () => number;
}

/** What {@linkcode SharedRaftLog.open} recovered. */
export interface SharedLogOpened {
  log: SharedRaftLog;
  /** Every live group's state, ready for `RaftNode.start({ recovered })`. */
  groups: Map<number, RecoveredState>;
  /**
   * Groups whose snapshot file is damaged (it is replaced atomically, so this is damage, not a
   * crash): `group(id)` refuses them; drop them and rebuild the replica from its peers.
   */
  failed: Map<number, CorruptionError>;
  /** Bytes cut from a torn tail (0 when the log ended cleanly). */
  tornBytes: number;
  /** Corruption in the middle of the log (every group it may touch reports it too). */
  corruption: CorruptionError | null;
}

/** Figures for metrics. */
export interface SharedLogStats {
  segments: number;
  bytes: number;
  groups: number;
  /** fdatasyncs of segment files since open (writes made durable). */
  fsyncs: number;
  /** Write rounds since open (one write call each, saves of many groups). */
  rounds: number;
  /**
   * Groups whose live entries keep the oldest segment (snapshot them to free it; when it is the
   * current one, a collection then starts the next segment and frees it).
   */
  oldestSegmentHeldBy: number[];
}

/** A queued piece of work: a save, or a barrier (a drop, a collection) that ends a round. */
type Item =
  | SaveItem
  | (Waiter & ({ kind: "drop"; group: GroupState } | { kind: "collect"; force: boolean }));

/** A queued save. */
type SaveItem = Waiter & { kind: "save"; group: GroupState; req: SaveRequest };

/** The shared, group-committed Raft log of one node. */
export class SharedRaftLog {
  private readonly fs: FileSystem;
  private readonly logDir: string;
  private readonly snapDir: string;
  private readonly segmentBytes: number;
  private readonly logger: Logger;
  private readonly failOnCorruption: boolean;
  private readonly groups = new Map<number, GroupState>();
  /** Drops in progress, by group id. */
  private readonly dropping = new Map<number, Promise<void>>();
  private segments: SegmentFile[] = [];
  /** The current segment, for writes. */
  private handle: FileHandle | null = null;
  /** fdatasyncs of the current segment, beside the writes. */
  private readonly syncer: SegmentSyncer;
  private readonly syncConcurrency: number;
  private seq = 0;
  private writePos = 0;
  /** Deletions of dead segments under way. */
  private removing: Promise<void> = Promise.resolve();
  /** Something may have freed a segment: look at the next durable point. */
  private collectNeeded = false;
  private queue: Item[] = [];
  private flushing = false;
  private idle: Promise<void> = Promise.resolve();
  private failed: Error | null = null;
  private closed = false;
  /** fdatasyncs of new segments' heads (the syncer counts the others). */
  private headSyncs = 0;
  private rounds = 0;
  /** Two buffers: one round is encoded into one while the other's is being written. */
  private readonly sinks = [new ByteSink(1 << 16), new ByteSink(1 << 16)];
  /** The write of the last round, while it runs. */
  private writing: Promise<void> = Promise.resolve();
  private readonly host: GroupHost = {
    enqueueSave: (group, req) => {
      group.queued++;
      return this.enqueue((resolve, reject) => ({ kind: "save", group, req, resolve, reject }));
    },
    writeSnapshot: (g, snapshot) => this.writeSnapshot(g, snapshot),
    checkUsable: () => this.checkUsable(),
    collect: () =>
      this.enqueue((resolve, reject) => ({ kind: "collect", force: true, resolve, reject })),
  };

  private constructor(options: SharedRaftLogOptions) {
    this.fs = options.fs;
    this.logDir = `${options.dir}/log`;
    this.snapDir = `${options.dir}/snapshots`;
    this.segmentBytes = options.segmentBytes ?? 64 << 20;
    this.logger = options.logger ?? silentLogger;
    this.failOnCorruption = options.failOnCorruption ?? false;
    this.syncConcurrency = options.syncConcurrency ?? 1;
    if (!Number.isInteger(this.syncConcurrency) || this.syncConcurrency < 1) {
      throw new RangeError(
        `syncConcurrency must be a positive integer, got ${this.syncConcurrency}`,
      );
    }
    this.syncer = new SegmentSyncer(
      () => this.collectWhenDurable(),
      (e) => this.fail(e, []),
      options.now,
    );
  }

  /**
   * Opens (creating if needed) the shared log in `dir` and recovers every group in one pass
   * over the segments. A torn tail is cut; corruption in the middle cuts the log there (the
   * damaged file is kept as `.corrupt`), and every group reports it with its own
   * `recoverUntil` (a group must not vote until its commit index reaches it).
   */
  static async open(options: SharedRaftLogOptions): Promise<SharedLogOpened> {
    await options.fs.mkdir(options.dir);
    const log = new SharedRaftLog(options);
    return await log.recover();
  }

  /**
   * The storage of group `id` (a non-negative safe integer), created on first use: hand it to
   * the group's `RaftNode`. The same facade is returned until it is closed.
   * @throws {CorruptionError} when the group's snapshot file is damaged (drop the group).
   * @throws {StorageError} when the log is closed or the group is being dropped.
   */
  group(id: number): SharedLogGroup {
    if (!Number.isSafeInteger(id) || id < 0) {
      throw new RangeError(`raft group id must be a non-negative safe integer, got ${id}`);
    }
    if (this.closed) throw new StorageError("shared raft log is closed");
    if (this.dropping.has(id)) {
      throw new StorageError(`raft group ${id} is being dropped; await dropGroup() first`);
    }
    let g = this.groups.get(id);
    if (!g) {
      g = newGroupState(id);
      this.groups.set(id, g);
    }
    if (g.failed) throw g.failed;
    g.facade ??= new SharedLogGroup(this.host, g);
    return g.facade;
  }

  /**
   * Forgets group `id` durably: its facade refuses further calls, a tombstone record is
   * fsynced, its snapshot file is deleted, and its records keep no segment alive any more.
   * The id may then be used again for a new, empty group. No-op for an unknown group.
   */
  dropGroup(id: number): Promise<void> {
    const g = this.groups.get(id);
    if (!g) return Promise.resolve();
    let drop = this.dropping.get(id);
    if (!drop) {
      drop = this.drop(g).finally(() => this.dropping.delete(id));
      this.dropping.set(id, drop);
    }
    return drop;
  }

  private async drop(g: GroupState): Promise<void> {
    const facade = g.facade;
    facade?.closeForDrop();
    await facade?.settled();
    await this.enqueue((resolve, reject) => ({ kind: "drop", group: g, resolve, reject }));
  }

  /** Ids of the groups the log holds. */
  groupIds(): number[] {
    return [...this.groups.keys()];
  }

  /** How long each fdatasync of the current segments took, in seconds (with the `now` option). */
  get fsyncSeconds(): Histogram {
    return this.syncer.seconds;
  }

  /** Segments and bytes held, fsyncs and write rounds so far, and who holds the oldest segment. */
  stats(): SharedLogStats {
    let bytes = 0;
    for (const s of this.segments) bytes += s.seq === this.seq ? this.writePos : s.bytes;
    const oldest = this.segments.length > 0 ? this.segments[0].seq : -1;
    const heldBy: number[] = [];
    for (const g of this.groups.values()) {
      if (g.runs.some((r) => r.seq === oldest && r.to > g.compactIndex)) heldBy.push(g.id);
    }
    return {
      segments: this.segments.length,
      bytes,
      groups: this.groups.size,
      fsyncs: this.syncer.count + this.headSyncs,
      rounds: this.rounds,
      oldestSegmentHeldBy: heldBy,
    };
  }

  /** Waits for queued saves, then closes the segment file; later calls fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.flushing) await this.idle;
    await this.writing;
    await this.syncer.all().catch(() => {}); // a failure was reported to the saves
    await this.syncer.detach();
    await this.removing;
    this.handle?.close();
    this.handle = null;
  }

  // ------------------------------------------------------------------------------ recovery

  private async recover(): Promise<SharedLogOpened> {
    const found = await recoverSharedLog({
      fs: this.fs,
      logDir: this.logDir,
      snapDir: this.snapDir,
      logger: this.logger,
      failOnCorruption: this.failOnCorruption,
    });
    for (const g of found.states) this.groups.set(g.id, g);
    this.segments = found.segments;
    this.seq = found.lastSeq;
    // Always continue in a fresh segment whose checkpoint states what was recovered.
    await this.rotate();
    await this.collectSegments();
    return { log: this, ...found.opened };
  }

  // ------------------------------------------------------------------------------ writing

  private async writeSnapshot(g: GroupState, snapshot: Snapshot): Promise<void> {
    this.checkUsable();
    await this.fs.writeFileAtomic(snapshotPath(this.snapDir, g.id), encodeSnapshotFile(snapshot));
    g.snapIndex = snapshot.metadata.index;
  }

  private checkUsable(): void {
    if (this.failed) {
      throw new StorageError(
        `shared raft log is unusable after a failed write or fsync (${this.failed.message}); ` +
          "reopen it to recover",
        { cause: this.failed },
      );
    }
    if (this.closed) throw new StorageError("shared raft log is closed");
  }

  private enqueue(
    make: (resolve: () => void, reject: (error: unknown) => void) => Item,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const item = make(resolve, reject);
      try {
        this.checkUsable();
      } catch (error) {
        if (item.kind === "save") item.group.queued--;
        reject(error);
        return;
      }
      this.queue.push(item);
      if (!this.flushing) {
        // The loop starts a microtask later, so that saves made in one go (a Ready round over
        // many groups) share one round and one write; started at once, the first save would
        // take a round of its own and the rest a second, which an fdatasync could split.
        this.flushing = true;
        this.idle = Promise.resolve().then(() => this.flushLoop());
      }
    });
  }

  private async flushLoop(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0 && !this.failed) await this.round();
    } finally {
      this.flushing = false;
    }
  }

  /**
   * One round: every queued save up to the next barrier (a drop or a collection) is encoded
   * into one buffer and written with one call; saves that need it then wait for the next
   * fdatasync, which covers everything written before it starts. Three things overlap: while
   * one fdatasync runs, the next round's write goes out, and the round after it is encoded
   * (checksums are the CPU cost) into the other buffer. So one fdatasync covers the saves of
   * every group that arrived while the previous one ran: group commit.
   */
  private async round(): Promise<void> {
    let n = 0;
    while (n < this.queue.length && this.queue[n].kind === "save") n++;
    const items = this.queue.splice(0, Math.min(n + 1, this.queue.length));
    const out = this.sinks[this.rounds % 2]; // the other one may be being written
    out.reset();
    const dropped: GroupState[] = [];
    const written: SaveItem[] = [];
    let barrier: Item | null = null;
    try {
      if (this.writePos >= this.segmentBytes) {
        await this.writing;
        await this.rotate();
      }
      for (const item of items) {
        if (item.kind === "save") {
          item.group.queued--;
          try {
            this.encodeSave(out, item.group, item.req);
          } catch (error) {
            item.reject(error); // a caller's bug: nothing of it was encoded
            continue;
          }
          written.push(item);
        } else {
          if (item.kind === "drop") {
            appendSharedDrop(out, item.group.id);
            this.groups.delete(item.group.id);
            dropped.push(item.group);
          }
          this.collectNeeded = true;
          barrier = item;
        }
      }
      this.rounds++;
      await this.writing; // the previous round's write, which ran while this one was encoded
      if (this.failed) throw this.failed;
      this.writing = this.write(out, written, items);
      if (!barrier) return;
      await this.writing;
      if (barrier.kind === "collect" && !barrier.force && !this.syncer.allDurable) {
        barrier.resolve(); // not worth an fdatasync: the next one will look again
        return;
      }
      await this.syncer.all();
      for (const g of dropped) {
        // Only after the tombstone is durable: a snapshot file must never outlive its records
        // while they still count, nor a dropped group's file survive into its id's next life.
        if (g.snapIndex > 0 || g.failed) {
          await this.fs.remove(snapshotPath(this.snapDir, g.id));
          await this.fs.syncDir(this.snapDir);
        }
      }
      // A current segment all of whose entries are dead would hold its bytes until it fills
      // (past 64 KiB, or 1/64 of a small segment size, it is worth a new segment):
      // start the next one so that it goes too (a node that flushed everything keeps no log).
      if (
        this.collectNeeded && this.writePos >= Math.min(this.segmentBytes / 64, 64 * 1024) &&
        !this.currentSegmentLive()
      ) {
        await this.rotate();
      }
      // The dead segments go while the next rounds are written.
      const removal = this.collectNeeded ? this.collectSegments() : Promise.resolve();
      const done = barrier;
      removal.then(() => done.resolve());
    } catch (error) {
      this.fail(error, items);
    }
  }

  /**
   * Writes one round's bytes; then saves without `mustSync` are done (in order), and the others
   * wait for the fdatasync that covers them.
   */
  private async write(out: ByteSink, saves: SaveItem[], round: Item[]): Promise<void> {
    try {
      if (out.length > 0) {
        await this.handle!.write(out.written());
        this.writePos += out.length;
        this.syncer.wrote(out.length);
      }
    } catch (error) {
      this.fail(error, round);
      return;
    }
    const durable = saves.filter((item) => item.req.mustSync);
    for (const item of saves) if (!item.req.mustSync) item.resolve();
    if (durable.length > 0) this.syncer.after(this.syncer.writtenBytes, ...durable);
  }

  /** After an fdatasync: a rotation or an overwrite may have freed a segment; look now. */
  private collectWhenDurable(): void {
    if (!this.collectNeeded || this.queue.some((i) => i.kind === "collect")) return;
    this.enqueue((resolve, reject) => ({ kind: "collect", force: false, resolve, reject }))
      .catch(() => {}); // a failure is the log's, reported to the saves
  }

  /**
   * Encodes one save of `g` into `out` and updates `g`. Checks first, so that a bad request
   * leaves nothing behind.
   */
  private encodeSave(out: ByteSink, g: GroupState, req: SaveRequest): void {
    const base = req.snapshot ? req.snapshot.metadata.index : g.base;
    const last = req.snapshot ? base : g.lastIndex;
    if (req.entries.length > 0) {
      const first = req.entries[0].index;
      if (first > last + 1 || first <= base) {
        throw new Error(
          `BUG: storing entry ${first} of group ${g.id} whose log holds ${base + 1}..${last}`,
        );
      }
    }
    if (req.hardState) {
      g.hardState = req.hardState;
      g.hardStateDirty = true;
    }
    const before = out.length;
    if (req.snapshot) {
      appendSharedReset(out, g.id, base, g.hardState);
      g.hardStateDirty = false;
      g.base = base;
      g.lastIndex = base;
      g.runs = [];
      this.collectNeeded = true;
    }
    if (req.entries.length > 0) {
      for (const e of req.entries) appendSharedEntry(out, g.id, e);
      const first = req.entries[0].index;
      const lastNew = req.entries[req.entries.length - 1].index;
      if (first <= g.lastIndex) this.collectNeeded = true; // an overwrite may free a segment
      placeEntries(g, this.seq, first, lastNew);
      g.lastIndex = lastNew;
    }
    if (g.hardStateDirty && (out.length > before || req.mustSync)) {
      appendSharedHardState(out, g.id, g.hardState);
      g.hardStateDirty = false;
    }
  }

  /**
   * Starts the next segment: the previous one is made wholly durable first (recovery treats a
   * bad record anywhere but at the end of the last segment as corruption), then the header and
   * a checkpoint of every group are written, fsynced, and the directory entry fsynced, before
   * any record goes in.
   */
  private async rotate(): Promise<void> {
    if (this.handle) {
      await this.syncer.all();
      await this.syncer.detach();
      this.handle.close();
      this.handle = null;
    }
    const seq = ++this.seq;
    const path = `${this.logDir}/${segmentName(seq)}`;
    const h = await this.fs.open(path, { read: true, write: true, create: true, truncate: true });
    const head = new ByteSink(64 + 48 * this.groups.size);
    appendSharedSegmentHeader(head, seq);
    appendSharedCheckpoint(
      head,
      [...this.groups.values()].map((g) => ({
        group: g.id,
        hardState: g.hardState,
        base: g.base,
        last: g.lastIndex,
      })),
    );
    const syncHandles: FileHandle[] = [];
    try {
      await h.write(head.written());
      await h.datasync();
      await this.fs.syncDir(this.logDir);
      for (let i = 0; i < this.syncConcurrency; i++) {
        syncHandles.push(await this.fs.open(path, { read: true, write: true }));
      }
    } catch (error) {
      h.close();
      for (const sh of syncHandles) sh.close();
      throw error;
    }
    this.headSyncs++;
    this.syncer.attach(syncHandles);
    for (const g of this.groups.values()) g.hardStateDirty = false;
    if (this.segments.length > 0) this.segments[this.segments.length - 1].bytes = this.writePos;
    this.segments.push({ seq, path, bytes: head.length });
    this.handle = h;
    this.writePos = head.length;
    // Older segments' hard states are superseded by this checkpoint: some may hold nothing live.
    this.collectNeeded = true;
  }

  /** True while some group still needs an entry of the current segment. */
  private currentSegmentLive(): boolean {
    const live = new Set<number>();
    for (const g of this.groups.values()) trimRuns(g, g.compactIndex, live);
    return live.has(this.seq);
  }

  /**
   * Deletes every segment but the current one that holds no live entry. Called only when all
   * written records are durable, so that what superseded a deleted record cannot be lost.
   * The deletions need no directory fsync: a deleted segment that comes back after a crash
   * holds only records that later ones supersede, and recovery reads it in its place.
   */
  private collectSegments(): Promise<void> {
    this.collectNeeded = false;
    const live = new Set<number>([this.seq]);
    for (const g of this.groups.values()) trimRuns(g, g.compactIndex, live);
    const doomed = this.segments.filter((s) => !live.has(s.seq));
    if (doomed.length === 0) return Promise.resolve();
    this.segments = this.segments.filter((s) => live.has(s.seq));
    const removal = (async () => {
      for (const s of doomed) {
        try {
          await this.fs.remove(s.path);
        } catch (error) {
          // Only disk space is at stake: the next open deletes it again.
          this.logger.warn("could not delete a shared raft log segment", {
            file: s.path,
            error: String(error),
          });
        }
      }
    })();
    this.removing = this.removing.then(() => removal);
    return removal;
  }

  private fail(error: unknown, items: Waiter[]): void {
    this.failed ??= error instanceof Error ? error : new Error(String(error));
    this.logger.error("shared raft log failed; refusing writes until reopened", {
      error: this.failed.message,
    });
    for (const w of [...items, ...this.queue.splice(0)]) w.reject(this.failed);
    this.syncer.fail(this.failed);
  }
}
