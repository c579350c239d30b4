/**
 * Size retention, pure: which shard groups to drop so that each retention policy, and the
 * database as a whole, holds at most its `max_bytes`. The oldest go first, whole groups; a
 * policy's newest group is never dropped (it takes the writes of now), so a policy may exceed
 * its limit by at most that one group.
 * @module
 */

/** A shard group with the bytes it holds (segments and cold object). */
export interface SizedGroup {
  policy: string;
  startMs: number;
  endMs: number;
  bytes: number;
}

/** The limits: per policy name (absent or 0: none), and for the database (0: none). */
export interface SizeLimits {
  policyMaxBytes: ReadonlyMap<string, number>;
  databaseMaxBytes: number;
}

/**
 * The groups to drop, oldest first: first each policy's oldest until it is within its limit,
 * then the database's oldest (by end, across policies) until it is within its own.
 * @example
 * ```ts
 * planSizeDrops([
 *   { policy: "p", startMs: 0, endMs: 10, bytes: 60 },
 *   { policy: "p", startMs: 10, endMs: 20, bytes: 60 },
 * ], { policyMaxBytes: new Map([["p", 100]]), databaseMaxBytes: 0 });
 * // [the group at 0]
 * ```
 */
export function planSizeDrops<G extends SizedGroup>(
  groups: readonly G[],
  limits: SizeLimits,
): G[] {
  const byPolicy = new Map<string, G[]>();
  for (const g of groups) {
    let list = byPolicy.get(g.policy);
    if (!list) byPolicy.set(g.policy, list = []);
    list.push(g);
  }
  const drops: G[] = [];
  /** Per policy, the groups that may still go (all but the newest), oldest first. */
  const candidates: G[] = [];
  let total = 0;
  for (const [policy, list] of byPolicy) {
    list.sort((a, b) => a.startMs - b.startMs);
    let bytes = list.reduce((n, g) => n + g.bytes, 0);
    const max = limits.policyMaxBytes.get(policy) ?? 0;
    let i = 0;
    for (; max > 0 && bytes > max && i < list.length - 1; i++) {
      drops.push(list[i]);
      bytes -= list[i].bytes;
    }
    candidates.push(...list.slice(i, list.length - 1));
    total += bytes;
  }
  if (limits.databaseMaxBytes > 0 && total > limits.databaseMaxBytes) {
    candidates.sort((a, b) => a.endMs - b.endMs || a.startMs - b.startMs);
    for (const g of candidates) {
      if (total <= limits.databaseMaxBytes) break;
      drops.push(g);
      total -= g.bytes;
    }
  }
  return drops;
}

/**
 * The groups due for the cold store at `nowMs`: ended at least `coldAfterMs` ago (and `needsMove`
 * says they hold data not yet in a cold object), oldest first. A policy's `coldAfterMs` of 0
 * moves nothing.
 */
export function planColdMoves<G extends { endMs: number; startMs: number }>(
  groups: Iterable<G>,
  coldAfterMs: number,
  nowMs: number,
  needsMove: (group: G) => boolean,
): G[] {
  if (coldAfterMs <= 0) return [];
  const cutoff = nowMs - coldAfterMs;
  return [...groups].filter((g) => g.endMs <= cutoff && needsMove(g))
    .sort((a, b) => a.startMs - b.startMs);
}
