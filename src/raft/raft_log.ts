/**
 * The in-memory view of one node's log: the entries since the last compaction, the commit and
 * apply points, which entries still need persisting, and the latest snapshot.
 *
 * The state machine keeps every entry after the compaction point in memory; the application
 * bounds that by compacting (see `Raft.compact`). Durable storage is the caller's job, driven by
 * {@linkcode Ready}; on restart the caller hands the stored state back in.
 *
 * Invariants: `prevIndex = offset - 1` is the compaction boundary with known term `prevTerm`;
 * `applied <= committed <= lastIndex()`; `offset <= unstableFrom <= lastIndex() + 1`.
 *
 * @module
 */

import type { Entry, Snapshot } from "./types.ts";
import { entrySize } from "./types.ts";

/** The in-memory log of one node. */
export class RaftLog {
  private entries: Entry[];
  /** Index of `entries[0]`. */
  private offset: number;
  /** Term of the entry at `offset - 1` (the compaction boundary). */
  private prevTerm: number;
  /** Highest index known to be committed (Raft §5.3). */
  committed: number;
  /** Highest index handed to the application in committedEntries. */
  applied: number;
  /** Highest index handed out in a Ready (not yet necessarily acknowledged by advance). */
  appliedHandedOut: number;
  /** First index not yet persisted: `entries` from here on go out in the next Ready. */
  unstableFrom: number;
  /** The latest snapshot this node has (taken locally or installed from the leader). */
  snapshot: Snapshot | null;
  /** A snapshot received from the leader that is not yet persisted and restored. */
  pendingSnapshot: Snapshot | null = null;

  /**
   * A log restored from storage: the snapshot (if any) and the entries stored after it. Entries
   * at or before the snapshot's index (kept for slow followers) are dropped.
   */
  constructor(snapshot: Snapshot | null, entries: readonly Entry[], committed: number) {
    const prevIndex = snapshot ? snapshot.metadata.index : 0;
    this.snapshot = snapshot;
    this.offset = prevIndex + 1;
    this.prevTerm = snapshot ? snapshot.metadata.term : 0;
    this.entries = entries.filter((e) => e.index > prevIndex);
    for (let i = 0; i < this.entries.length; i++) {
      if (this.entries[i].index !== this.offset + i) {
        throw new Error(
          `BUG: stored entries are not contiguous after index ${prevIndex}: index ${
            this.entries[i].index
          } at position ${i}`,
        );
      }
    }
    this.committed = Math.min(Math.max(committed, prevIndex), this.lastIndex());
    this.applied = prevIndex;
    this.appliedHandedOut = prevIndex;
    this.unstableFrom = this.lastIndex() + 1;
  }

  /** The first index still held (after the compaction boundary). */
  firstIndex(): number {
    return this.offset;
  }

  lastIndex(): number {
    return this.offset + this.entries.length - 1;
  }

  lastTerm(): number {
    const n = this.entries.length;
    return n > 0 ? this.entries[n - 1].term : this.prevTerm;
  }

  /** The term of the entry at `index`, or undefined when it is compacted or beyond the end. */
  term(index: number): number | undefined {
    if (index === this.offset - 1) return this.prevTerm;
    if (index < this.offset || index > this.lastIndex()) return undefined;
    return this.entries[index - this.offset].term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** The entry at `index` (which must be held). */
  entry(index: number): Entry {
    const e = this.entries[index - this.offset];
    if (e === undefined) throw new Error(`BUG: entry ${index} is not held (first ${this.offset})`);
    return e;
  }

  /** Raft §5.4.1: is a log ending at (lastIndex, lastTerm) at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Entries in [lo, hi) totalling at most `maxBytes` (at least one entry when any exist).
   * `lo` must be held.
   */
  slice(lo: number, hi: number, maxBytes = Infinity): Entry[] {
    if (lo < this.offset) {
      throw new Error(`BUG: slice from ${lo} but first index is ${this.offset}`);
    }
    hi = Math.min(hi, this.lastIndex() + 1);
    if (lo >= hi) return [];
    if (maxBytes === Infinity) return this.entries.slice(lo - this.offset, hi - this.offset);
    const out: Entry[] = [];
    let size = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.entries[i - this.offset];
      size += entrySize(e);
      if (out.length > 0 && size > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /**
   * The first index in `ents` whose term conflicts with ours, or whose index we do not have;
   * 0 when all of `ents` are already in the log.
   */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      const t = this.term(e.index);
      if (t === undefined) {
        if (e.index <= this.offset - 1) continue; // compacted: committed, so it matches
        return e.index;
      }
      if (t !== e.term) return e.index;
    }
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term` (or the compaction boundary): the
   * fast log backtracking of etcd (thesis §5.3 optimisation).
   */
  findConflictByTerm(index: number, term: number): number {
    index = Math.min(index, this.lastIndex());
    while (index >= this.offset) {
      const t = this.entries[index - this.offset].term;
      if (t <= term) return index;
      index--;
    }
    return index;
  }

  /**
   * Appends `ents`, which must follow a held index; a conflicting suffix is truncated first.
   * Returns the index the truncation started at (or -1 when nothing was truncated).
   */
  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return -1;
    const first = ents[0].index;
    if (first <= this.committed) {
      throw new Error(`BUG: append at ${first} would overwrite committed index ${this.committed}`);
    }
    if (first > this.lastIndex() + 1 || first < this.offset) {
      throw new Error(
        `BUG: append at ${first} leaves a gap: log holds [${this.offset}, ${this.lastIndex()}]`,
      );
    }
    let truncatedAt = -1;
    if (first <= this.lastIndex()) {
      truncatedAt = first;
      this.entries.length = first - this.offset;
    }
    for (const e of ents) this.entries.push(e);
    if (first < this.unstableFrom) this.unstableFrom = first;
    return truncatedAt;
  }

  /** Advances the commit index (never backwards). */
  commitTo(index: number): void {
    if (index <= this.committed) return;
    if (index > this.lastIndex()) {
      throw new Error(`BUG: commit to ${index} beyond last index ${this.lastIndex()}`);
    }
    this.committed = index;
  }

  /** Entries not yet handed out for persistence. */
  unstableEntries(): Entry[] {
    if (this.unstableFrom > this.lastIndex()) return [];
    return this.entries.slice(this.unstableFrom - this.offset);
  }

  /** Marks entries up to (index, term) persisted, unless they were replaced meanwhile. */
  stableTo(index: number, term: number): void {
    if (this.term(index) === term && index >= this.unstableFrom) this.unstableFrom = index + 1;
  }

  /** Committed entries not yet handed to the application (at most `maxBytes`). */
  nextCommitted(maxBytes: number): Entry[] {
    const lo = Math.max(this.appliedHandedOut + 1, this.offset);
    const hi = this.committed + 1;
    if (lo >= hi) return [];
    return this.slice(lo, hi, maxBytes);
  }

  hasNextCommitted(): boolean {
    return this.committed > this.appliedHandedOut && this.pendingSnapshot === null;
  }

  /** Replaces the whole log with a snapshot from the leader (not yet persisted). */
  restore(snapshot: Snapshot): void {
    const { index, term } = snapshot.metadata;
    this.entries = [];
    this.offset = index + 1;
    this.prevTerm = term;
    this.committed = index;
    this.unstableFrom = index + 1;
    this.pendingSnapshot = snapshot;
    this.snapshot = snapshot;
  }

  /** Drops entries up to and including `index` (which must be applied). */
  compactTo(index: number): void {
    if (index < this.offset) return;
    if (index > this.applied) {
      throw new Error(`BUG: compact to ${index} beyond applied index ${this.applied}`);
    }
    this.prevTerm = this.term(index)!;
    this.entries = this.entries.slice(index + 1 - this.offset);
    this.offset = index + 1;
  }

  /** Bytes held by entries (for metrics and compaction policies). */
  entryCount(): number {
    return this.entries.length;
  }
}
