/**
 * The interface between Raft and the application it replicates.
 * @module
 */

import type { Entry } from "./types.ts";

/**
 * A deterministic state machine fed by committed log entries. Every replica applies the same
 * entries in the same order, so every replica reaches the same state.
 *
 * Contract:
 * - `apply` is called once per committed Normal entry, in index order, never concurrently;
 *   the leader's empty entries (`data.length === 0`) and configuration entries are not passed.
 *   What it returns (or resolves to) is handed to the local proposer of the entry, if any.
 * - `snapshot` returns the state after the last applied entry; the driver records it at that
 *   index and compacts the log behind it.
 * - `restore` replaces the whole state with a snapshot (on start, or when the leader sends one
 *   because this replica fell behind the leader's compacted log).
 */
export interface ReplicatedStateMachine {
  apply(entry: Entry): unknown | Promise<unknown>;
  snapshot(): Uint8Array | Promise<Uint8Array>;
  restore(data: Uint8Array): void | Promise<void>;
}
