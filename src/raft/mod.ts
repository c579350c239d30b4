/**
 * Raft consensus: a pure state machine ({@linkcode Raft}), its durable log storage
 * ({@linkcode RaftLogStorage}), the transport interface it needs, and a driver that wires them
 * to a replicated state machine.
 *
 * @module
 */
export * from "./types.ts";
export * from "./errors.ts";
export { applyConfChange, decodeConfState, EMPTY_CONF, encodeConfState } from "./conf.ts";
export {
  type ProposalPosition,
  Raft,
  type RaftOptions,
  type RaftStatus,
  type RaftStoredState,
} from "./raft.ts";
export {
  RaftLogStorage,
  type RaftLogStorageOptions,
  type RecoveredState,
  type SaveRequest,
} from "./storage/log_storage.ts";
export type { Transport, TransportHandler } from "./transport.ts";
export type { ReplicatedStateMachine } from "./state_machine.ts";
export { type ProposalWait, RaftNode, type RaftNodeOptions, type Timers } from "./driver.ts";
