/**
 * The rebalancer's decisions: where partitions' replicas should go. Pure, so that it can be
 * tested on any layout; the metadata leader runs it and proposes its answers (`set_target`), so
 * every node sees one decision, through the log.
 *
 * In priority order, a plan
 * 1. replaces replicas on nodes that are lost (down past `dead_node_timeout`) or draining
 *    (`cluster remove`) with replicas on the least loaded live nodes, as long as such a node
 *    exists (a partition never targets fewer nodes than it has);
 * 2. moves replicas from the most to the least loaded live node while their counts differ by
 *    more than one (a node that joined receives replicas this way);
 * 3. spreads preferred leaders (the first of each target) the same way, by reordering targets:
 *    a change of leader, no data moves.
 *
 * Moves (1 and 2) are bounded: at most `maxMoves` partitions may be moving at once, counting
 * those already under way, so a join does not copy everything at the same time.
 * @module
 */

/** A node as the rebalancer sees it. */
export interface NodeView {
  id: number;
  /** Answering (not lost). */
  live: boolean;
  /** Leaving: its replicas move away. */
  draining: boolean;
  /**
   * Follows the metadata (heard from, caught up): only such a node receives new replicas. A
   * node just admitted and still starting keeps what it has but gets nothing yet.
   * @default {true}
   */
  ready?: boolean;
}

/** A partition as the rebalancer sees it. */
export interface PartitionView {
  groupId: number;
  /** Current voters. */
  replicas: readonly number[];
  /** Where they should be; a move is under way when it differs from `replicas`. */
  target: readonly number[];
}

/** A decision: the partition's new target. */
export interface TargetChange {
  groupId: number;
  target: number[];
}

/** Options of {@linkcode planRebalance}. */
export interface RebalanceOptions {
  /** Partitions that may be moving at once. */
  maxMoves: number;
}

/** Whether a partition's move is under way (its voters are not yet its target). */
export function isMoving(p: PartitionView): boolean {
  return p.replicas.length !== p.target.length || p.target.some((n) => !p.replicas.includes(n));
}

/** New targets for some partitions, as the module doc describes; [] when all is in place. */
export function planRebalance(
  nodes: readonly NodeView[],
  partitions: readonly PartitionView[],
  options: RebalanceOptions,
): TargetChange[] {
  // Replicas stay on `kept` nodes; new ones go to `usable` nodes only.
  const kept = new Set(nodes.filter((n) => n.live && !n.draining).map((n) => n.id));
  const usable = new Set(
    nodes.filter((n) => n.live && !n.draining && n.ready !== false).map((n) => n.id),
  );
  const targets = new Map(partitions.map((p) => [p.groupId, [...p.target]]));
  const changed = new Set<number>();
  let moving = partitions.filter(isMoving).length;

  const load = new Map<number, number>();
  for (const id of usable) load.set(id, 0);
  for (const target of targets.values()) {
    for (const n of target) if (load.has(n)) load.set(n, load.get(n)! + 1);
  }
  const byLoad = (a: number, b: number) => load.get(a)! - load.get(b)! || a - b;
  const replace = (groupId: number, from: number, to: number) => {
    const target = targets.get(groupId)!;
    target[target.indexOf(from)] = to;
    if (load.has(from)) load.set(from, load.get(from)! - 1);
    load.set(to, load.get(to)! + 1);
    changed.add(groupId);
  };

  // 1. Replicas on lost or draining nodes. A partition already moving may change again (its
  //    new node may be the one that was lost), so these count against the bound only once.
  for (const p of partitions) {
    const target = targets.get(p.groupId)!;
    for (const n of [...target]) {
      if (kept.has(n)) continue;
      const spare = [...usable].filter((id) => !target.includes(id)).sort(byLoad)[0];
      if (spare === undefined) break;
      if (!isMoving(p) && !changed.has(p.groupId)) {
        if (moving >= options.maxMoves) break;
        moving++;
      }
      replace(p.groupId, n, spare);
    }
  }

  // 2. Replica counts: one move at a time from the most to the least loaded node.
  while (moving < options.maxMoves) {
    const order = [...usable].sort(byLoad);
    if (order.length < 2) break;
    const least = order[0];
    const most = order[order.length - 1];
    if (load.get(most)! - load.get(least)! <= 1) break;
    const candidate = partitions.find((p) => {
      const target = targets.get(p.groupId)!;
      return !isMoving(p) && !changed.has(p.groupId) && target.includes(most) &&
        !target.includes(least);
    });
    if (!candidate) break;
    replace(candidate.groupId, most, least);
    moving++;
  }

  // 3. Preferred leaders: a partition led by a node with two leads more than another of its
  //    replicas' nodes puts that replica first. Leads only move between a partition's own
  //    replicas, so the spread is as even as the replicas' placement allows.
  const leads = new Map<number, number>();
  for (const id of usable) leads.set(id, 0);
  for (const target of targets.values()) {
    if (leads.has(target[0])) leads.set(target[0], leads.get(target[0])! + 1);
  }
  for (let round = 0; round < partitions.length * 2; round++) {
    let moved = false;
    const busiest = [...usable].sort((a, b) => leads.get(b)! - leads.get(a)! || a - b);
    for (const most of busiest) {
      for (const p of partitions) {
        const target = targets.get(p.groupId)!;
        if (target[0] !== most) continue;
        const heir = target.filter((n) => leads.has(n) && leads.get(n)! <= leads.get(most)! - 2)
          .sort((a, b) => leads.get(a)! - leads.get(b)! || a - b)[0];
        if (heir === undefined) continue;
        target.splice(target.indexOf(heir), 1);
        target.unshift(heir);
        leads.set(most, leads.get(most)! - 1);
        leads.set(heir, leads.get(heir)! + 1);
        changed.add(p.groupId);
        moved = true;
        break;
      }
      if (moved) break;
    }
    if (!moved) break;
  }

  return partitions
    .filter((p) => changed.has(p.groupId))
    .map((p) => ({ groupId: p.groupId, target: targets.get(p.groupId)! }))
    .filter((c, i, all) => all.indexOf(c) === i);
}
