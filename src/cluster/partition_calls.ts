/**
 * Calling "the leader of a partition" from any node: start with the best guess (this node's own
 * replica's view of the leader, the metadata's hint, the preferred replica), follow the leader a
 * refusal names, and retry while the group elects one, up to a deadline.
 * @module
 */
import { EpochError } from "../core/mod.ts";
import { NotLeaderError } from "../raft/mod.ts";
import type { PartitionInfo } from "./meta/meta_state.ts";
import type { ClusterNode } from "./node.ts";

/** Time and patience of {@linkcode callPartitionLeader}. */
export interface CallOptions {
  monotonicMs: () => number;
  sleep: (ms: number) => Promise<void>;
  /** How long to look for a leader. @default {10000} */
  timeoutMs?: number;
}

/**
 * Runs `call` against the node leading the partition (this node's id when it leads).
 * @throws the last error when no leader answered in time, or any error that is not about
 * availability.
 */
export async function callPartitionLeader<T>(
  node: ClusterNode,
  partition: PartitionInfo,
  options: CallOptions,
  call: (target: number) => Promise<T>,
): Promise<T> {
  const deadline = options.monotonicMs() + (options.timeoutMs ?? 10_000);
  let target = leaderGuess(node, partition);
  for (let attempt = 0;; attempt++) {
    try {
      if (target === 0) throw new NotLeaderError(node.nodeId, 0);
      return await call(target);
    } catch (error) {
      if (!isUnavailable(error) || options.monotonicMs() >= deadline || attempt >= 100) {
        throw error;
      }
      const hint = leaderHintOf(error);
      if (hint > 0 && hint !== target && partition.replicas.includes(hint)) {
        target = hint; // a redirect: follow it at once
        continue;
      }
      await options.sleep(Math.min(25 * (attempt + 1), 250));
      target = leaderGuess(node, partition, target);
    }
  }
}

/** The node most likely to lead a partition, other than `not` when possible. */
function leaderGuess(node: ClusterNode, partition: PartitionInfo, not?: number): number {
  const local = node.localReplica(partition.groupId);
  if (local !== undefined) {
    const leader = local.leader();
    if (leader !== 0 && leader !== not) return leader;
  }
  if (partition.leaderHint !== 0 && partition.leaderHint !== not) return partition.leaderHint;
  const others = partition.replicas.filter((r) => r !== not);
  return others.length > 0 ? others[0] : partition.replicas[0];
}

function leaderHintOf(error: unknown): number {
  if (!(error instanceof EpochError)) return 0;
  return Number((error.details as { leaderId?: number } | undefined)?.leaderId ?? 0);
}

/** True for the failures a retry elsewhere or later may cure. */
export function isUnavailable(error: unknown): boolean {
  return error instanceof EpochError &&
    (error.code === "unavailable" || error.code === "deadline_exceeded" ||
      error.code === "aborted");
}
