/**
 * Bytes of each partition's data (one replica's segments on disk), measured in the background
 * every `refreshMs`: the metadata leader's rebalancer spreads them (`meta/rebalance.ts`), and the
 * cluster status shows them per partition and per node. Replicas of a partition hold the same
 * data (they compact on their own, so their sizes differ a little): one figure per partition.
 * @module
 */
import type { StorageEngine } from "../storage/mod.ts";

/** The last measured bytes of each partition, and the passes that measure them. */
export class PartitionBytes {
  readonly #bytes = new Map<number, number>();
  #due = -Infinity;
  #running: Promise<void> | undefined;

  constructor(readonly refreshMs: number) {}

  /** The partition's last figure; undefined until it was measured once. */
  get(groupId: number): number | undefined {
    return this.#bytes.get(groupId);
  }

  /**
   * Starts a pass when one is due (`now`, monotonic ms) and none runs. `measure` answers one
   * partition's bytes; one that fails keeps the partition's last figure (its leader may be
   * changing, or a node down): the rebalancer works with the last known, not with 0.
   */
  refresh(
    now: number,
    groupIds: readonly number[],
    measure: (groupId: number) => Promise<number>,
  ): void {
    if (this.#running || now < this.#due) return;
    this.#due = now + this.refreshMs;
    this.#running = this.#pass(groupIds, measure).finally(() => this.#running = undefined);
  }

  async #pass(
    groupIds: readonly number[],
    measure: (groupId: number) => Promise<number>,
  ): Promise<void> {
    const current = new Set(groupIds);
    for (const id of [...this.#bytes.keys()]) if (!current.has(id)) this.#bytes.delete(id);
    await Promise.all(groupIds.map(async (groupId) => {
      try {
        this.#bytes.set(groupId, await measure(groupId));
      } catch {
        // Keeps the last figure; the next pass asks again.
      }
    }));
  }

  /** Waits for the pass under way, if any (before the node closes). */
  settled(): Promise<void> {
    return this.#running ?? Promise.resolve();
  }
}

/** Bytes of a database's segments on local disk in one replica's engine (cold objects aside). */
export function localBytes(engine: StorageEngine, database: string): number {
  if (!engine.hasDatabase(database)) return 0;
  let bytes = 0;
  for (const rp of engine.retentionPolicies(database)) bytes += rp.bytes;
  return bytes;
}
