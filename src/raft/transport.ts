/**
 * The transport a Raft group needs: declared here, implemented by a higher layer (the
 * Connect-RPC transport in src/rpc/raft_transport.ts, or an in-memory one in tests).
 * @module
 */

import type { Message } from "./types.ts";

/** What a transport delivers into and reports to; the driver implements it. */
export interface TransportHandler {
  /**
   * Messages that arrived for this group. The transport has already checked the cluster id
   * and that the sender is a known peer. A Snap message carries the whole snapshot data.
   */
  receive(messages: Message[]): void;
  /** A send to `to` failed: Raft stops optimistic replication to it until it answers. */
  reportUnreachable(to: number): void;
  /** A snapshot to `to` was delivered in full (`ok`) or failed. */
  reportSnapshot(to: number, ok: boolean): void;
}

/**
 * Moves one Raft group's messages between nodes. Best effort: Raft tolerates loss,
 * duplication and reordering, so `send` never blocks on the network and never throws for a
 * network failure (it reports it through the handler). Implementations batch the messages for
 * one destination into one call and stream snapshots in chunks.
 */
export interface Transport {
  /** Registers the receiving side; called once, before any `send`. */
  start(handler: TransportHandler): void;
  /** Queues messages for delivery (each names its destination in `to`). */
  send(messages: readonly Message[]): void;
  /** Stops sending and receiving for this group. */
  stop(): Promise<void>;
}
