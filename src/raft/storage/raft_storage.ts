/**
 * What a {@linkcode RaftNode} needs from its durable storage, whatever keeps it: one directory
 * per group ({@linkcode RaftLogStorage}) or one log shared by every group of a node
 * ({@linkcode SharedRaftLog}'s group facade).
 * @module
 */

import type { CorruptionError } from "../../core/mod.ts";
import type { RaftStoredState } from "../raft.ts";
import type { Entry, HardState, Snapshot } from "../types.ts";

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

/**
 * The durable state of one Raft group member. Calls of one group are issued one at a time (the
 * driver awaits each), in Ready order.
 */
export interface RaftStorage {
  /**
   * Persists one Ready: installs `snapshot` (the log restarts after it), stores `entries` (an
   * entry at or below the last stored index replaces the stored suffix from there on) and
   * `hardState`. Resolves once durable when `mustSync`; otherwise once ordered after every
   * earlier save (a later synced save makes it durable too). A hard state that only moves the
   * commit index may be held back until the next write.
   */
  save(req: SaveRequest): Promise<void>;
  /** Stores a snapshot taken locally, durably; pair with {@linkcode compact}. */
  saveSnapshot(snapshot: Snapshot): Promise<void>;
  /** Entries at or below `index` (covered by a saved snapshot) are no longer needed. */
  compact(index: number): Promise<void>;
  /** Releases the storage; later calls fail. */
  close(): void;
}
