/**
 * Per-measurement time retention from schemas (`retention: 30d` in a measurement's schema):
 * points of that measurement older than it are deleted in every database and retention policy,
 * whatever the policy keeps. A delete is a tombstone through every partition's log, so it is
 * issued only once data older than the cutoff by a slack (1/20 of the retention) exists: about
 * twenty tombstones per retention period, and never one for nothing.
 * @module
 */
import type { DeleteRequest, ShardReader } from "../query/mod.ts";

/** What the enforcement needs of the store (a ClusterStore is one). */
export interface RetentionStore {
  databases(): string[];
  retentionPolicies(db: string): { name: string }[];
  shards(db: string, rp: string, minNs: bigint, maxNs: bigint): ShardReader[];
  deleteSeries?(db: string, request: DeleteRequest): Promise<void>;
}

const MIN_NS = -(2n ** 63n);
const UNIT_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** A schema's `retention` (`90m`, `36h`, `30d`, `2w`) in ms. */
export function retentionMs(text: string): number {
  const m = /^(\d+)(s|m|h|d|w)$/.exec(text);
  if (!m) throw new Error(`BUG: unvalidated retention ${JSON.stringify(text)}`);
  return Number(m[1]) * UNIT_MS[m[2]];
}

/** True when a shard reader holds a point of `measurement` at or before `maxNs`. */
async function holdsBefore(shard: ShardReader, measurement: string, maxNs: bigint) {
  const fields = [...shard.fieldTypes(measurement).keys()];
  for (const series of shard.series(measurement)) {
    for (const field of fields) {
      const column = await shard.readField(series, field, MIN_NS, maxNs);
      if (column && column.length > 0) return true;
    }
  }
  return false;
}

/**
 * One pass: for each measurement with a retention, in each database, deletes its points older
 * than `nowMs - retention` when some are older than that by the slack. Returns the deletes made.
 */
export async function enforceMeasurementRetention(
  store: RetentionStore,
  retentions: ReadonlyMap<string, number>,
  nowMs: number,
): Promise<number> {
  if (!store.deleteSeries) return 0;
  let deletes = 0;
  for (const [measurement, keepMs] of retentions) {
    const cutoffNs = BigInt(nowMs - keepMs) * 1_000_000n;
    const slackNs = BigInt(Math.floor(keepMs / 20)) * 1_000_000n;
    for (const db of store.databases()) {
      let due = false;
      for (const rp of store.retentionPolicies(db)) {
        for (const shard of store.shards(db, rp.name, MIN_NS, cutoffNs - slackNs)) {
          if (await holdsBefore(shard, measurement, cutoffNs - slackNs)) due = true;
          if (due) break;
        }
        if (due) break;
      }
      if (!due) continue;
      await store.deleteSeries(db, {
        measurements: [measurement],
        minNs: MIN_NS,
        maxNs: cutoffNs,
        dropSeries: false,
      });
      deletes++;
    }
  }
  return deletes;
}
