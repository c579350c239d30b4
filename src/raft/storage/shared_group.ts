/**
 * One Raft group's part of the shared log: its in-memory bookkeeping ({@linkcode GroupState}:
 * hard state, last index, which segments still hold its live entries) and the
 * {@linkcode RaftStorage} facade its {@linkcode RaftNode} uses.
 * @module
 */

import { type CorruptionError, StorageError } from "../../core/mod.ts";
import type { HardState, Snapshot } from "../types.ts";
import type { RaftStorage, SaveRequest } from "./raft_storage.ts";

/** Entries `from..to` of a group whose current version is in segment `seq`. */
export interface Run {
  readonly seq: number;
  from: number;
  to: number;
}

/** What the shared log knows of one group between records. */
export interface GroupState {
  readonly id: number;
  hardState: HardState;
  /** A commit-only hard state change not yet written (it rides along with the next write). */
  hardStateDirty: boolean;
  /** The log restarts after this index (the last installed snapshot's). */
  base: number;
  lastIndex: number;
  /** Index of the snapshot file (0: none). */
  snapIndex: number;
  /** Entries at or below this are no longer needed. */
  compactIndex: number;
  /** Where the live entries are, in index order. */
  runs: Run[];
  /** Saves of this group waiting in the log's queue. */
  queued: number;
  /** A snapshot file that could not be read: the group must be dropped and rebuilt. */
  failed: CorruptionError | null;
  facade: SharedLogGroup | null;
}

/** A new group's state. */
export function newGroupState(id: number): GroupState {
  return {
    id,
    hardState: { term: 0, vote: 0, commit: 0 },
    hardStateDirty: false,
    base: 0,
    lastIndex: 0,
    snapIndex: 0,
    compactIndex: 0,
    runs: [],
    queued: 0,
    failed: null,
    facade: null,
  };
}

/** Records that entries `from..to` of `g` now live in segment `seq` (replacing any from `from`). */
export function placeEntries(g: GroupState, seq: number, from: number, to: number): void {
  const runs = g.runs;
  while (runs.length > 0 && runs[runs.length - 1].from >= from) runs.pop();
  const last = runs[runs.length - 1];
  if (last && last.to >= from) last.to = from - 1;
  if (last && last.seq === seq && last.to === from - 1) last.to = to;
  else runs.push({ seq, from, to });
}

/** Forgets where entries at or below `index` are; returns the segments still holding live ones. */
export function trimRuns(g: GroupState, index: number, into: Set<number>): void {
  let drop = 0;
  while (drop < g.runs.length && g.runs[drop].to <= index) drop++;
  if (drop > 0) g.runs.splice(0, drop);
  if (g.runs.length > 0 && g.runs[0].from <= index) g.runs[0].from = index + 1;
  for (const run of g.runs) into.add(run.seq);
}

/** What a group facade asks of the shared log. */
export interface GroupHost {
  /** Queues a save; resolves when written (and fsynced when `mustSync`). */
  enqueueSave(g: GroupState, req: SaveRequest): Promise<void>;
  /** Writes the group's snapshot file atomically and durably. */
  writeSnapshot(g: GroupState, snapshot: Snapshot): Promise<void>;
  /** @throws {StorageError} when the log is closed or failed. */
  checkUsable(): void;
  /** Deletes the segments no group needs any more; resolves when done. */
  collect(): Promise<void>;
}

/**
 * A Raft group's storage inside a {@linkcode SharedRaftLog}: the same contract as
 * {@linkcode RaftLogStorage}, with its records interleaved with every other group's in one
 * log, so that one fsync covers the saves of every group that arrived while the previous one
 * ran. Get it with `SharedRaftLog.group(id)`.
 */
export class SharedLogGroup implements RaftStorage {
  private closedWhy: string | null = null;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly host: GroupHost, private readonly g: GroupState) {}

  /** The group's id in the shared log. */
  get groupId(): number {
    return this.g.id;
  }

  /** The last index stored (0 when empty). */
  get lastIndex(): number {
    return this.g.lastIndex;
  }

  save(req: SaveRequest): Promise<void> {
    return this.track(async () => {
      if (req.snapshot) {
        // The snapshot file first: a reset record must never be durable without it.
        await this.host.writeSnapshot(this.g, req.snapshot);
      }
      const commitOnly = !req.snapshot && req.entries.length === 0 && !req.mustSync;
      if (commitOnly && this.g.queued === 0) {
        this.host.checkUsable();
        // A hard state that only moves the commit index needs no write of its own (it is a
        // restart hint, not a safety fact): it rides along with the group's next record or the
        // next segment's checkpoint, and the Ready need not wait for another group's fsync.
        if (req.hardState) {
          this.g.hardState = req.hardState;
          this.g.hardStateDirty = true;
        }
        return;
      }
      await this.host.enqueueSave(this.g, req);
    });
  }

  saveSnapshot(snapshot: Snapshot): Promise<void> {
    return this.track(() => this.host.writeSnapshot(this.g, snapshot));
  }

  /**
   * Entries at or below `index` are no longer needed; segments that hold nothing else live are
   * deleted before this resolves.
   * @throws {Error} `BUG:` when `index` is beyond the saved snapshot (those entries would be lost).
   */
  compact(index: number): Promise<void> {
    return this.track(async () => {
      if (index > this.g.snapIndex) {
        throw new Error(
          `BUG: compacting group ${this.g.id} to ${index} beyond its snapshot at ${this.g.snapIndex}`,
        );
      }
      if (index <= this.g.compactIndex) return;
      this.g.compactIndex = index;
      await this.host.collect();
    });
  }

  /** Detaches this facade; the group's stored state stays (see `SharedRaftLog.dropGroup`). */
  close(): void {
    this.closedWhy ??= "closed";
    if (this.g.facade === this) this.g.facade = null;
  }

  /** @internal Refuses further calls because the group is being dropped. */
  closeForDrop(): void {
    this.closedWhy = "dropped";
    if (this.g.facade === this) this.g.facade = null;
  }

  /** @internal Resolves when the call in progress (if any) has finished. */
  settled(): Promise<void> {
    return this.tail.then(() => {}, () => {});
  }

  private track(op: () => Promise<void>): Promise<void> {
    if (this.closedWhy) {
      return Promise.reject(
        new StorageError(`raft group ${this.g.id} storage is ${this.closedWhy}`),
      );
    }
    const p = op();
    this.tail = p;
    return p;
  }
}
