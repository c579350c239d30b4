/**
 * Calling "the leader of a partition" from any node or from a gateway: start with the best guess
 * (the caller's own replica's view of the leader, the metadata's hint, the preferred replica),
 * follow the leader a refusal names, and retry while the group elects one, up to a deadline.
 * A read at `any` consistency takes the first replica that answers instead.
 * @module
 */
import { EpochError } from "../core/mod.ts";
import { NotLeaderError } from "../raft/mod.ts";
import type { ReadConsistency } from "../query/mod.ts";
import type { ClusterNode } from "./node.ts";

/** Time and patience of {@linkcode callPartitionLeader}. */
export interface CallOptions {
  monotonicMs: () => number;
  sleep: (ms: number) => Promise<void>;
  /** How long to look for a leader. @default {10000} */
  timeoutMs?: number;
}

/** A partition as a caller routes to it: the metadata's view, and the caller's own. */
export interface PartitionRoute {
  /** Node ids of its replicas; the first is the preferred leader. */
  replicas: readonly number[];
  /** The last leader the metadata recorded (0 = unknown). */
  leaderHint: number;
  /** The leader the caller's own replica follows now (0 = unknown or none held). */
  knownLeader?: () => number;
}

/**
 * Runs `call` against the node leading the partition (this node's id when it leads).
 * @throws the last error when no leader answered in time, or any error that is not about
 * availability.
 */
export function callPartitionLeader<T>(
  node: ClusterNode,
  partition: { groupId: number; replicas: readonly number[]; leaderHint: number },
  options: CallOptions,
  call: (target: number) => Promise<T>,
): Promise<T> {
  return callLeader(routeOn(node, partition), options, call);
}

/** The route of a partition as a node sees it (its own replica knows the leader best). */
export function routeOn(
  node: ClusterNode,
  partition: { groupId: number; replicas: readonly number[]; leaderHint: number },
): PartitionRoute {
  return {
    replicas: partition.replicas,
    leaderHint: partition.leaderHint,
    knownLeader: () => node.localReplica(partition.groupId)?.leader() ?? 0,
  };
}

/** {@linkcode callPartitionLeader} for any caller: a node, or a gateway that holds no replica. */
export async function callLeader<T>(
  route: PartitionRoute,
  options: CallOptions,
  call: (target: number) => Promise<T>,
): Promise<T> {
  const deadline = options.monotonicMs() + (options.timeoutMs ?? 10_000);
  let target = leaderGuess(route);
  for (let attempt = 0;; attempt++) {
    try {
      if (target === 0) throw new NotLeaderError(0, 0);
      return await call(target);
    } catch (error) {
      if (!isUnavailable(error) || options.monotonicMs() >= deadline || attempt >= 100) {
        throw error;
      }
      const hint = leaderHintOf(error);
      if (hint > 0 && hint !== target && route.replicas.includes(hint)) {
        target = hint; // a redirect: follow it at once
        continue;
      }
      await options.sleep(Math.min(25 * (attempt + 1), 250));
      target = leaderGuess(route, target);
    }
  }
}

/**
 * A read of a partition: from its leader at `leader` consistency; at `any`, from the first of
 * its replicas that answers (the leader the caller knows of first, then the others in turn).
 */
export async function callReplica<T>(
  route: PartitionRoute,
  consistency: ReadConsistency,
  options: CallOptions,
  call: (target: number) => Promise<T>,
): Promise<T> {
  if (consistency === "leader") return await callLeader(route, options, call);
  const known = route.knownLeader?.() || route.leaderHint;
  const order = [...new Set([known, ...route.replicas])].filter((id) =>
    route.replicas.includes(id)
  );
  let last: unknown = new EpochError("unavailable", "the partition has no replica");
  for (const target of order) {
    try {
      return await call(target);
    } catch (error) {
      if (!isUnavailable(error)) throw error;
      last = error;
    }
  }
  throw last;
}

/** The node most likely to lead a partition, other than `not` when possible. */
function leaderGuess(route: PartitionRoute, not?: number): number {
  const leader = route.knownLeader?.() ?? 0;
  if (leader !== 0 && leader !== not) return leader;
  if (route.leaderHint !== 0 && route.leaderHint !== not) return route.leaderHint;
  const others = route.replicas.filter((r) => r !== not);
  return others.length > 0 ? others[0] : route.replicas[0];
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

/**
 * A partition read that failed, named (a query never answers without one of its parts).
 * `index` is the partition's position in its database.
 */
export function cannotAnswer(
  partition: { index: number; groupId: number; replicas: readonly number[] },
  error: unknown,
): unknown {
  if (!(error instanceof EpochError)) return error;
  return new EpochError(
    error.code,
    `partition ${partition.index} (group ${partition.groupId}, replicas on nodes ` +
      `${partition.replicas.join(", ")}) cannot answer: ${error.message}`,
    { cause: error, retryAfterSeconds: 1, details: { groupId: partition.groupId } },
  );
}
