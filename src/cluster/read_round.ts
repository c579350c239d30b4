/**
 * A query's read barriers over many Raft groups in one round trip per node.
 *
 * A coordinator holding every partition (replication factor = nodes) follows most of them: each
 * follower replica's ReadIndex is a Raft message to its leader's node and an answer back, each
 * waiting for the transport's call in flight to that node and for a Ready cycle on both sides.
 * Here the coordinator instead asks each leader's node once, for all the groups it leads (the
 * metadata group too), which read point it confirms now under its lease
 * ({@linkcode PeerClient.readIndexes}); each member then waits until it has applied that far.
 * That is ReadIndex (Raft §6.4) with the question carried by one call: the read point is the
 * commit index of a node that was the group's only leader when it answered, after the read
 * began. A group whose leader cannot answer so (no lease, not the leader any more, the call
 * failed) takes its own Raft barrier, as before.
 * @module
 */
import type { RaftNode } from "../raft/mod.ts";
import type { PeerClient } from "./network.ts";

/** A group member on this node, as a read barrier uses it. */
export interface ReadMember {
  readonly groupId: number;
  /** The leader the member follows (0: none known). */
  leader(): number;
  /** The member's own Raft read barrier (a lease at the leader, else a ReadIndex round). */
  readBarrier(): Promise<void>;
  /** Resolves once the member has applied through `index`. */
  waitApplied(index: number): Promise<void>;
}

/** What a node answers for a group it is asked to confirm a read of and cannot: 0. */
export const NO_READ_INDEX = 0;

/**
 * Starts a read barrier on each member; the promises are in `members` order. Members led on
 * this node, or with no known leader, take their own barrier; the others are asked of their
 * leader's node, one call per node, all at once, each call bounded by `timeoutMs` (the read's
 * own timeout, not the network's default: a query waits no longer for a call than for a barrier).
 */
export function readBarriers(
  nodeId: number,
  members: readonly ReadMember[],
  peers: Pick<PeerClient, "readIndexes">,
  timeoutMs?: number,
): Promise<void>[] {
  const out: Promise<void>[] = new Array(members.length);
  const byLeader = new Map<number, number[]>(); // leader node -> positions in members
  members.forEach((member, i) => {
    const leader = peers.readIndexes === undefined ? 0 : member.leader();
    if (leader === 0 || leader === nodeId) {
      out[i] = member.readBarrier();
      return;
    }
    const list = byLeader.get(leader);
    if (list) list.push(i);
    else byLeader.set(leader, [i]);
  });
  for (const [leader, positions] of byLeader) {
    const asked = peers.readIndexes!(
      leader,
      positions.map((i) => members[i].groupId),
      timeoutMs,
    );
    positions.forEach((i, k) => {
      const member = members[i];
      out[i] = asked.then(
        (indexes) => {
          const index = indexes[k] ?? NO_READ_INDEX;
          return index > NO_READ_INDEX ? member.waitApplied(index) : member.readBarrier();
        },
        () => member.readBarrier(), // unreachable, or a node from before this call: Raft's way
      );
    });
  }
  return out;
}

/**
 * The server side: per group asked, the commit index when this node's member leads it under a
 * valid lease (`Raft.leaseReadIndex`), else {@linkcode NO_READ_INDEX} (not held here,
 * not the leader, no lease, or no commit of its term yet).
 */
export function leaseReadIndexes(
  groupIds: readonly number[],
  memberOf: (groupId: number) => RaftNode | undefined,
): number[] {
  return groupIds.map((id) => memberOf(id)?.raft.leaseReadIndex() ?? NO_READ_INDEX);
}
