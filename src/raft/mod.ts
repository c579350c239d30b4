/**
 * Raft consensus: a pure state machine ({@linkcode Raft}), its durable log storage (one
 * directory per group, {@linkcode RaftLogStorage}, or one log shared by every group of a node,
 * {@linkcode SharedRaftLog}), the transport interface it needs, and a driver that wires them
 * to a replicated state machine.
 *
 * @module
 */
export * from "./types.ts";
export * from "./errors.ts";
export { applyConfChange, decodeConfState, EMPTY_CONF, encodeConfState } from "./conf.ts";
export {
  CLOCK_DRIFT_BOUND,
  isLeaseRoundContext,
  leaseDurationMs,
  type LeaseOptions,
  type ProposalPosition,
  Raft,
  type RaftOptions,
  type RaftStatus,
  type RaftStoredState,
} from "./raft.ts";
export type { RaftStorage, RecoveredState, SaveRequest } from "./storage/raft_storage.ts";
export { RaftLogStorage, type RaftLogStorageOptions } from "./storage/log_storage.ts";
export {
  type SharedLogOpened,
  type SharedLogStats,
  SharedRaftLog,
  type SharedRaftLogOptions,
} from "./storage/shared_log.ts";
export { SharedLogGroup } from "./storage/shared_group.ts";
export type { Transport, TransportHandler } from "./transport.ts";
export type { ReplicatedStateMachine } from "./state_machine.ts";
export { type ProposalWait, RaftNode, type RaftNodeOptions } from "./driver.ts";
export { globalTimers, SharedTicker, type TimerId, type Timers } from "./timers.ts";
