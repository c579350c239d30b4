/**
 * The catalog side of applying a write batch read back from a log (a WAL replay, or a replica
 * applying its leader's entries): which points apply, their series keys, and the series and
 * field types they register.
 * @module
 */
import { type Point, seriesKey } from "../core/mod.ts";
import type { DatabaseState } from "./catalog.ts";
import type { PointIndexes } from "./wal/mod.ts";

/** The points of a batch that apply, and their series keys, index for index. */
export interface IndexedPoints {
  points: Point[];
  keys: string[];
}

/**
 * Keeps the points at or after `cutoffMs` (older ones expired), works out their series keys and
 * registers their series and field types in `db`. With the batch's point `indexes` (its series
 * layout), a series key and its registration are worked out once per series and the field types
 * checked once per measurement and shape: a replica applies every batch its leader writes, and
 * most points of a batch repeat a series and a shape. Checking a shape again would change
 * nothing: a check registers only fields the catalog lacks, and a conflict registers none.
 */
export function indexReplayedPoints(
  db: DatabaseState,
  all: readonly Point[],
  indexes: PointIndexes | null,
  cutoffMs: number,
): IndexedPoints {
  const points: Point[] = [];
  const keys: string[] = [];
  const seriesKeys: (string | undefined)[] = new Array(indexes?.seriesCount ?? 0);
  const checkedShapes: (Set<string> | undefined)[] = new Array(indexes?.shapeCount ?? 0);
  for (let i = 0; i < all.length; i++) {
    const p = all[i];
    if (p.timeMs < cutoffMs) continue;
    points.push(p);
    if (indexes === null) {
      db.checkFieldTypes(p);
      const key = seriesKey(p.measurement, p.tags);
      db.indexSeries(key, p.measurement, p.tags);
      keys.push(key);
      continue;
    }
    const shape = indexes.shapes[i];
    const checked = checkedShapes[shape] ??= new Set();
    if (!checked.has(p.measurement)) {
      checked.add(p.measurement);
      db.checkFieldTypes(p);
    }
    const series = indexes.series[i];
    let key = seriesKeys[series];
    if (key === undefined) {
      key = seriesKeys[series] = seriesKey(p.measurement, p.tags);
      db.indexSeries(key, p.measurement, p.tags);
    }
    keys.push(key);
  }
  return { points, keys };
}
