/**
 * Bytes of each partition's data (one voting replica's segments on disk), measured in the
 * background every `refreshMs` by the metadata leader alone (the only node that uses them: its
 * rebalancer spreads them, `meta/rebalance.ts`): each partition on its leader, one call per node
 * for all the partitions it leads. Other nodes show the leader's figures, asked for when their
 * status is requested. Replicas of a partition hold the same data (they compact on their own, so
 * their sizes differ a little): one figure per partition. A learner still being streamed, or a
 * replica installing a snapshot, holds part of the data: its size is never the partition's.
 * @module
 */
import type { StorageEngine } from "../storage/mod.ts";

/** The last measured bytes of each partition, and the passes that measure them. */
export class PartitionBytes {
  #bytes = new Map<number, number>();
  #due = -Infinity;
  #running: Promise<void> | undefined;

  constructor(readonly refreshMs: number) {}

  /** The partition's last figure; undefined until it was measured once. */
  get(groupId: number): number | undefined {
    return this.#bytes.get(groupId);
  }

  /** Every figure, [group id, bytes]. */
  entries(): [number, number][] {
    return [...this.#bytes];
  }

  /** Takes another node's figures (the metadata leader's) as this node's. */
  replace(figures: readonly [number, number][]): void {
    this.#bytes = new Map(figures);
  }

  /**
   * Starts a pass when one is due (`now`, monotonic ms) and none runs. `measure` answers the
   * bytes of the partitions it could measure; one it could not keeps its last figure (its
   * leader may be changing, or a node down): the rebalancer works with the last known, not 0.
   */
  refresh(
    now: number,
    groupIds: readonly number[],
    measure: () => Promise<Map<number, number>>,
  ): void {
    if (this.#running || now < this.#due) return;
    this.#due = now + this.refreshMs;
    this.#running = this.#pass(groupIds, measure).finally(() => this.#running = undefined);
  }

  async #pass(groupIds: readonly number[], measure: () => Promise<Map<number, number>>) {
    const measured = await measure().catch(() => new Map<number, number>());
    const current = new Set(groupIds);
    for (const id of [...this.#bytes.keys()]) if (!current.has(id)) this.#bytes.delete(id);
    for (const [id, bytes] of measured) if (current.has(id)) this.#bytes.set(id, bytes);
  }

  /** Waits for the pass under way, if any (before the node closes). */
  settled(): Promise<void> {
    return this.#running ?? Promise.resolve();
  }
}

/** A partition to measure, and where its leader is (0: unknown). */
export interface PartitionToMeasure {
  groupId: number;
  leader: number;
}

/**
 * Measures partitions on their leaders: this node's own (`local`, when it leads) in-process,
 * every other leader with one call for all the partitions it leads (`ask`, in parallel). A
 * partition without a known leader, whose leader's call failed, or whose leader answered null
 * (no voting replica with whole data there) is left out.
 */
export async function measureOnLeaders(
  partitions: readonly PartitionToMeasure[],
  selfId: number,
  local: (groupId: number) => number | null,
  ask: (node: number, groupIds: number[]) => Promise<(number | null)[]>,
): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  const byLeader = new Map<number, number[]>();
  for (const p of partitions) {
    if (p.leader === 0) continue;
    if (p.leader === selfId) {
      const bytes = local(p.groupId);
      if (bytes !== null) out.set(p.groupId, bytes);
      continue;
    }
    const ids = byLeader.get(p.leader);
    if (ids) ids.push(p.groupId);
    else byLeader.set(p.leader, [p.groupId]);
  }
  await Promise.all([...byLeader].map(async ([node, groupIds]) => {
    const answer = await ask(node, groupIds).catch(() => []);
    groupIds.forEach((id, i) => {
      const bytes = answer[i];
      if (typeof bytes === "number") out.set(id, bytes);
    });
  }));
  return out;
}

/** Bytes of a database's segments on local disk in one replica's engine (cold objects aside). */
export function localBytes(engine: StorageEngine, database: string): number {
  if (!engine.hasDatabase(database)) return 0;
  let bytes = 0;
  for (const rp of engine.retentionPolicies(database)) bytes += rp.bytes;
  return bytes;
}
