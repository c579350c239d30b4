/**
 * Finds the group of a series among a shard's groups by the series' own tag values: a tree of
 * Maps, one level per GROUP BY key, keyed by the tag-value strings the series already holds.
 * The strings of the series index keep their hash, so finding a group builds nothing; looking
 * groups up by their concatenated key (shard_exec.ts `groupKeyOf`) built and hashed a fresh
 * string per series, 5% of a GROUP BY over 100k series.
 *
 * @module
 */
import type { SelectPlan } from "./plan.ts";
import type { GroupPartial } from "./shard_exec.ts";
import type { SeriesRef } from "./store.ts";

/** A level of the tree: tag value (or measurement, at the root) to the next level or group. */
type Level = Map<string, Level | GroupPartial>;

export class GroupFinder {
  readonly #keys: readonly string[];
  readonly #root: Level = new Map();

  /** `groupBy`: the plan's GROUP BY tag keys (GROUP BY * lists every tag key). */
  constructor(groupBy: SelectPlan["groupBy"]) {
    this.#keys = groupBy;
  }

  /** The group `series` of `measurement` falls in, or undefined before one is set. */
  get(measurement: string, series: SeriesRef): GroupPartial | undefined {
    const keys = this.#keys;
    const at = this.#root.get(measurement) as Level | undefined;
    if (at === undefined) return undefined;
    if (keys.length === 0) return at.get("") as GroupPartial | undefined;
    let level: Level | GroupPartial | undefined = at;
    for (let k = 0; k < keys.length && level !== undefined; k++) {
      level = (level as Level).get(valueOf(series, keys[k]));
    }
    return level as GroupPartial | undefined;
  }

  /** Files `group` as the group of `series` (and of every series with its tag values). */
  set(measurement: string, series: SeriesRef, group: GroupPartial): void {
    const keys = this.#keys;
    let level = this.#root.get(measurement) as Level | undefined;
    if (level === undefined) this.#root.set(measurement, level = new Map());
    if (keys.length === 0) {
      level.set("", group);
      return;
    }
    for (let k = 0; k < keys.length - 1; k++) {
      const value = valueOf(series, keys[k]);
      let next = level.get(value) as Level | undefined;
      if (next === undefined) level.set(value, next = new Map());
      level = next;
    }
    level.set(valueOf(series, keys[keys.length - 1]), group);
  }
}

/** A tag's value in a series; "" when it has none (InfluxDB groups those together). */
function valueOf(series: SeriesRef, key: string): string {
  for (const t of series.tags) if (t.key === key) return t.value;
  return "";
}
