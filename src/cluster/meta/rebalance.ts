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
 *    more than one (a node that joined receives replicas this way); among equally loaded nodes
 *    the one holding the most bytes gives, and it gives the replica whose size evens the two
 *    nodes' bytes best;
 * 3. once counts are within one of even, moves bytes: while the heaviest and lightest nodes'
 *    bytes differ by more than `byteSkew` of the mean (and `minByteGap`), it moves a replica from
 *    a node with one more replica to one with one less, or swaps two replicas between nodes of
 *    equal counts, whichever evens the pair's bytes best;
 * 4. spreads preferred leaders (the first of each target) the same way as 2, by reordering
 *    targets: a change of leader, no data moves;
 * 5. spreads the bytes leaders lead (a leader takes the partition's writes and leader reads):
 *    while two nodes' led bytes differ by more than `byteSkew` of the mean (and `minByteGap`),
 *    the node leading more hands one of its leads to the other when it leads one partition more
 *    than it, or the two swap a lead each, whichever evens the pair best
 *    (always between a partition's own replicas).
 *
 * Moves (1 to 3) are bounded: at most `maxMoves` partitions may be moving at once, counting
 * those already under way, so a join does not copy everything at the same time.
 *
 * No oscillation: every move of 2 and 3 lowers (sum over nodes of replica count², sum over nodes
 * of bytes²) in that order, strictly. A move of 2 lowers the first (counts differ by two or
 * more); a move of 3 keeps the counts' multiset and moves d bytes from a node to one lighter by
 * g, with 0 < d < g, which lowers the second by 2d(g - d). With sizes fixed, plans therefore end.
 * Leadership changes alone (4 and 5) lower (sum of leads², sum of led bytes²) the same way: 4
 * moves a lead to a node leading two fewer; 5 keeps the leads' multiset and moves 0 < d < g led
 * bytes. That, and the thresholds (a gap under them is left, a change must narrow the pair by
 * `minByteGap`), are the hysteresis: leaders never go back and forth over sizes that barely move.
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
  /**
   * Bytes of one replica's data, as last measured; absent: not measured yet (counts as 0 for
   * replica counts' tie-breaks; while any partition's is absent, nothing moves for bytes).
   */
  bytes?: number;
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
  /**
   * Bytes move when the heaviest and lightest nodes differ by more than this share of the mean
   * node's bytes.
   * @default {0.2}
   */
  byteSkew?: number;
  /**
   * ... and by more than this many bytes: a smaller gap is not worth a move's membership changes.
   * @default {0}
   */
  minByteGap?: number;
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

  const sizeOf = new Map(partitions.map((p) => [p.groupId, Math.max(0, p.bytes ?? 0)]));
  const load = new Map<number, number>();
  const bytes = new Map<number, number>();
  for (const id of usable) load.set(id, 0), bytes.set(id, 0);
  for (const [groupId, target] of targets) {
    for (const n of target) {
      if (!load.has(n)) continue;
      load.set(n, load.get(n)! + 1);
      bytes.set(n, bytes.get(n)! + sizeOf.get(groupId)!);
    }
  }
  const byLoad = (a: number, b: number) =>
    load.get(a)! - load.get(b)! || bytes.get(a)! - bytes.get(b)! || a - b;
  const replace = (groupId: number, from: number, to: number) => {
    const target = targets.get(groupId)!;
    target[target.indexOf(from)] = to;
    const size = sizeOf.get(groupId)!;
    if (load.has(from)) {
      load.set(from, load.get(from)! - 1), bytes.set(from, bytes.get(from)! - size);
    }
    load.set(to, load.get(to)! + 1);
    bytes.set(to, bytes.get(to)! + size);
    changed.add(groupId);
  };
  /** Settled partitions this plan has not changed with a replica on `on` and none on `off`. */
  const movable = (on: number, off: number) =>
    partitions.filter((p) => {
      const target = targets.get(p.groupId)!;
      return !isMoving(p) && !changed.has(p.groupId) && target.includes(on) &&
        !target.includes(off);
    });

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

  // 2. Replica counts: one move at a time from the most to the least loaded node, the replica
  //    whose size brings the two nodes' bytes closest (the first such in order on a tie).
  while (moving < options.maxMoves) {
    const order = [...usable].sort(byLoad);
    if (order.length < 2) break;
    const least = order[0];
    const most = order[order.length - 1];
    if (load.get(most)! - load.get(least)! <= 1) break;
    const gap = bytes.get(most)! - bytes.get(least)!;
    let best: PartitionView | undefined;
    for (const p of movable(most, least)) {
      const miss = Math.abs(gap - 2 * sizeOf.get(p.groupId)!);
      if (!best || miss < Math.abs(gap - 2 * sizeOf.get(best.groupId)!)) best = p;
    }
    if (!best) break;
    replace(best.groupId, most, least);
    moving++;
  }

  // 3. Bytes, once counts are even, and only when every partition's size is known: a new
  //    metadata leader, or one whose pass could not reach a leader, would otherwise weigh the
  //    partitions it has no figure for as empty and move gigabytes toward their nodes.
  const sizesKnown = partitions.every((p) => p.bytes !== undefined);
  while (sizesKnown && moving < options.maxMoves) {
    const move = planByteMove(
      [...usable],
      load,
      bytes,
      sizeOf,
      movable,
      options.maxMoves - moving,
      options,
    );
    if (!move) break;
    replace(move.out, move.from, move.to);
    moving++;
    if (move.back !== undefined) {
      replace(move.back, move.to, move.from);
      moving++;
    }
  }

  // 4. Preferred leaders: a partition led by a node with two leads more than another of its
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

  // 5. Led bytes: between a partition's own replicas, on partitions no data move touched.
  const reordered = new Set([...changed].filter((id) => {
    const p = partitions.find((q) => q.groupId === id)!;
    return !isMoving(p) && sameMembers(p.target, targets.get(id)!);
  }));
  const settledLeads = partitions.filter((p) =>
    !isMoving(p) && (!changed.has(p.groupId) || reordered.has(p.groupId))
  );
  for (let round = 0; sizesKnown && round < partitions.length; round++) {
    const change = planLeadMove([...usable], leads, targets, sizeOf, settledLeads, options);
    if (!change) break;
    for (const [groupId, heir] of change) {
      const target = targets.get(groupId)!;
      const before = target[0];
      target.splice(target.indexOf(heir), 1);
      target.unshift(heir);
      leads.set(before, leads.get(before)! - 1);
      leads.set(heir, leads.get(heir)! + 1);
      changed.add(groupId);
    }
  }

  return partitions
    .filter((p) => changed.has(p.groupId))
    .map((p) => ({ groupId: p.groupId, target: targets.get(p.groupId)! }))
    .filter((c, i, all) => all.indexOf(c) === i);
}

/** A move of bytes: `out` goes from `from` to `to`, and `back` (a swap) from `to` to `from`. */
interface ByteMove {
  from: number;
  to: number;
  out: number;
  back?: number;
}

/**
 * The byte move of step 3, or undefined: over pairs of nodes from the most apart, the first pair
 * past the threshold that has a move, and its move that leaves the pair's bytes closest. Only
 * when every node's count is within one of the others'.
 */
function planByteMove(
  nodes: number[],
  load: ReadonlyMap<number, number>,
  bytes: ReadonlyMap<number, number>,
  sizeOf: ReadonlyMap<number, number>,
  movable: (on: number, off: number) => PartitionView[],
  slots: number,
  options: RebalanceOptions,
): ByteMove | undefined {
  if (nodes.length < 2) return undefined;
  const counts = nodes.map((n) => load.get(n)!);
  if (Math.max(...counts) - Math.min(...counts) > 1) return undefined;
  let total = 0;
  for (const n of nodes) total += bytes.get(n)!;
  const threshold = Math.max(
    (options.byteSkew ?? 0.2) * total / nodes.length,
    options.minByteGap ?? 0,
  );
  const heavy = [...nodes].sort((a, b) => bytes.get(b)! - bytes.get(a)! || a - b);
  for (const from of heavy) {
    for (const to of [...heavy].reverse()) {
      const gap = bytes.get(from)! - bytes.get(to)!;
      if (gap <= threshold) break; // lighter `from`s only narrow the gap
      let best: ByteMove | undefined;
      let bestMiss = Infinity;
      const consider = (d: number, move: ByteMove) => {
        // 0 < d < gap: the pair ends closer than it was (the measure of the module doc falls);
        // and by at least `minByteGap` (2 min(d, gap - d)): a swap that copies tens of GiB to
        // turn a skew into its mirror image gains nothing worth the copy.
        if (d <= 0 || d >= gap) return;
        if (2 * Math.min(d, gap - d) < (options.minByteGap ?? 0)) return;
        const miss = Math.abs(gap - 2 * d);
        if (miss < bestMiss) best = move, bestMiss = miss;
      };
      const outs = movable(from, to);
      if (load.get(from)! > load.get(to)!) {
        for (const p of outs) consider(sizeOf.get(p.groupId)!, { from, to, out: p.groupId });
      }
      if (slots >= 2) { // a swap keeps both counts
        const backs = movable(to, from);
        for (const p of outs) {
          for (const q of backs) {
            const d = sizeOf.get(p.groupId)! - sizeOf.get(q.groupId)!;
            consider(d, { from, to, out: p.groupId, back: q.groupId });
          }
        }
      }
      if (best) return best;
    }
  }
  return undefined;
}

function sameMembers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((n) => b.includes(n));
}

/**
 * The leadership change of step 5, or undefined: [group, new leader] pairs (one, or two for a
 * swap). Over pairs of nodes from the most apart in led bytes, the first past the threshold with
 * a change that keeps the leads' multiset, and its change that leaves the pair closest.
 */
function planLeadMove(
  nodes: number[],
  leads: ReadonlyMap<number, number>,
  targets: ReadonlyMap<number, number[]>,
  sizeOf: ReadonlyMap<number, number>,
  eligible: readonly PartitionView[],
  options: RebalanceOptions,
): [number, number][] | undefined {
  if (nodes.length < 2) return undefined;
  const led = new Map(nodes.map((n) => [n, 0]));
  for (const [groupId, target] of targets) {
    if (led.has(target[0])) led.set(target[0], led.get(target[0])! + sizeOf.get(groupId)!);
  }
  let total = 0;
  for (const n of nodes) total += led.get(n)!;
  const minGap = options.minByteGap ?? 0;
  const threshold = Math.max((options.byteSkew ?? 0.2) * total / nodes.length, minGap);
  /** Eligible partitions led by `by` with a replica on `on`. */
  const ledBy = (by: number, on: number) =>
    eligible.filter((p) => {
      const target = targets.get(p.groupId)!;
      return target[0] === by && target.includes(on);
    });
  const heavy = [...nodes].sort((a, b) => led.get(b)! - led.get(a)! || a - b);
  for (const from of heavy) {
    for (const to of [...heavy].reverse()) {
      const gap = led.get(from)! - led.get(to)!;
      if (gap <= threshold) break;
      let best: [number, number][] | undefined;
      let bestMiss = Infinity;
      const consider = (d: number, change: [number, number][]) => {
        // As for data (planByteMove): the pair ends closer, by at least `minByteGap`.
        if (d <= 0 || d >= gap || 2 * Math.min(d, gap - d) < minGap) return;
        const miss = Math.abs(gap - 2 * d);
        if (miss < bestMiss) best = change, bestMiss = miss;
      };
      const outs = ledBy(from, to);
      // A lead is handed over only by a node leading one more (the two counts swap); a swap of
      // two leads keeps both counts.
      if (leads.get(from)! - leads.get(to)! === 1) {
        for (const p of outs) consider(sizeOf.get(p.groupId)!, [[p.groupId, to]]);
      }
      for (const q of ledBy(to, from)) {
        for (const p of outs) {
          const d = sizeOf.get(p.groupId)! - sizeOf.get(q.groupId)!;
          consider(d, [[p.groupId, to], [q.groupId, from]]);
        }
      }
      if (best) return best;
    }
  }
  return undefined;
}
