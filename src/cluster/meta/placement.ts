/**
 * Where the replicas of a new database's partitions go: pure, so every node computes the same
 * placement from the same metadata.
 * @module
 */

/** Options of {@linkcode placeReplicas}. */
export interface PlacementOptions {
  partitions: number;
  /** At most the number of nodes. */
  replicationFactor: number;
}

/**
 * Replica lists for `partitions` new partitions, given how many replicas each node holds now.
 * Each partition takes the `replicationFactor` least loaded nodes (ties by id) and counts them
 * before the next is placed, so replicas spread evenly; the first of each list (the preferred
 * leader) is the least loaded of its nodes by leaders placed so far, so leaders spread too.
 *
 * @example
 * ```ts
 * placeReplicas(new Map([[1, 0], [2, 0], [3, 0]]), { partitions: 3, replicationFactor: 2 });
 * // [[1, 2], [3, 1], [2, 3]]
 * ```
 */
export function placeReplicas(
  replicasPerNode: ReadonlyMap<number, number>,
  options: PlacementOptions,
): number[][] {
  const load = new Map(replicasPerNode);
  const leaders = new Map<number, number>();
  for (const id of load.keys()) leaders.set(id, 0);
  const rf = Math.min(options.replicationFactor, load.size);
  const out: number[][] = [];
  for (let p = 0; p < options.partitions; p++) {
    const chosen = [...load.keys()]
      .sort((a, b) => load.get(a)! - load.get(b)! || a - b)
      .slice(0, rf);
    chosen.sort((a, b) =>
      leaders.get(a)! - leaders.get(b)! || load.get(a)! - load.get(b)! || a - b
    );
    for (const id of chosen) load.set(id, load.get(id)! + 1);
    leaders.set(chosen[0], leaders.get(chosen[0])! + 1);
    out.push(chosen);
  }
  return out;
}
