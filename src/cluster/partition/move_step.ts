/**
 * How a partition's leader walks its Raft group's members toward the target the rebalancer set,
 * one membership change at a time (the group allows no other), so that at every step a quorum of
 * the old members is also a quorum of the new ones:
 *
 * 1. a learner that is no longer wanted (the move was called off) is removed;
 * 2. each target node that is not a member joins as a learner (it copies a snapshot and the log
 *    tail; a learner never counts toward a quorum, so a slow copy stalls no write);
 * 3. a learner that has caught up (within `catchUpSlack` entries of the commit) becomes a voter;
 * 4. once every target node votes, the members outside the target are removed, one at a time;
 *    when the leader itself is to go it first hands leadership to a caught-up target voter.
 *
 * Pure: the leader's status in, the next step out, so every path is tested without a cluster.
 * @module
 */

/** What the leader knows of its group. */
export interface GroupView {
  /** The leader's own id. */
  id: number;
  commit: number;
  conf: { voters: readonly number[]; learners: readonly number[] };
  /** Match index per member. */
  matches: Readonly<Record<number, number>>;
  /** A membership change is not yet committed: nothing else may start. */
  confPending: boolean;
}

/** One step of a move. */
export type MoveStep =
  | { kind: "addLearner"; nodeId: number }
  | { kind: "addVoter"; nodeId: number }
  | { kind: "removeNode"; nodeId: number }
  | { kind: "transferLeadership"; nodeId: number };

/** The next step toward `target`, or undefined when there is none to take now. */
export function nextMoveStep(
  group: GroupView,
  target: readonly number[],
  catchUpSlack: number,
): MoveStep | undefined {
  if (group.confPending) return undefined;
  const { voters, learners } = group.conf;
  const caughtUp = (n: number) => (group.matches[n] ?? 0) + catchUpSlack >= group.commit;

  const unwanted = learners.find((n) => !target.includes(n));
  if (unwanted !== undefined) return { kind: "removeNode", nodeId: unwanted };

  const missing = target.find((n) => !voters.includes(n) && !learners.includes(n));
  if (missing !== undefined) return { kind: "addLearner", nodeId: missing };

  const ready = learners.find(caughtUp);
  if (ready !== undefined) return { kind: "addVoter", nodeId: ready };
  if (learners.length > 0) return undefined; // still copying

  const leaving = voters.filter((n) => !target.includes(n));
  if (leaving.length === 0) return undefined;
  const others = leaving.filter((n) => n !== group.id);
  if (others.length > 0) return { kind: "removeNode", nodeId: others[0] };
  // Only the leader itself is left to go: a caught-up target voter takes over first.
  const heir = target.find((n) => n !== group.id && voters.includes(n) && caughtUp(n));
  return heir === undefined ? undefined : { kind: "transferLeadership", nodeId: heir };
}
