/**
 * The expected failures of a Raft group, as {@linkcode EpochError}s so that the RPC and HTTP
 * layers map them to statuses unchanged.
 * @module
 */

import { EpochError, type EpochErrorOptions } from "../core/mod.ts";

/** A proposal or read reached a node that is not the leader; `leaderId` is a hint (0: none). */
export class NotLeaderError extends EpochError {
  readonly leaderId: number;
  constructor(nodeId: number, leaderId: number, options: EpochErrorOptions = {}) {
    super(
      "unavailable",
      `raft node ${nodeId} is not the leader` +
        (leaderId ? `; the leader is node ${leaderId}` : "; no leader is known"),
      { retryAfterSeconds: 1, ...options, details: { ...options.details, leaderId } },
    );
    this.name = "NotLeaderError";
    this.leaderId = leaderId;
  }
}

/**
 * A proposal was not appended (leadership transfer in progress, a config change pending, the
 * node was removed) or was appended and later overwritten by another leader's entry.
 */
export class ProposalDroppedError extends EpochError {
  constructor(message: string, options: EpochErrorOptions = {}) {
    super("aborted", `proposal dropped: ${message}`, options);
    this.name = "ProposalDroppedError";
  }
}

/** A message from another cluster or a node that is not a member. */
export class ForeignMessageError extends EpochError {
  constructor(message: string, options: EpochErrorOptions = {}) {
    super("permission_denied", message, options);
    this.name = "ForeignMessageError";
  }
}

/**
 * A proposal or read did not complete in time. For a proposal the outcome is unknown: it may
 * still be applied later.
 */
export class RaftTimeoutError extends EpochError {
  constructor(message: string, options: EpochErrorOptions = {}) {
    super("deadline_exceeded", message, options);
    this.name = "RaftTimeoutError";
  }
}

/** The node was stopped (or its storage failed) while a request was pending. */
export class RaftStoppedError extends EpochError {
  constructor(message: string, options: EpochErrorOptions = {}) {
    super("unavailable", message, options);
    this.name = "RaftStoppedError";
  }
}
