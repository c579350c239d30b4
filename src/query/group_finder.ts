/**
 * Finds the group of a series among a shard's groups by the series' own tag values. With one
 * GROUP BY key the group is found by the tag-value string the series already holds: the strings
 * of the series index keep their hash, so finding a group builds nothing (looking groups up by
 * their concatenated key, shard_exec.ts `groupKeyOf`, built and hashed a fresh string per
 * series, 5% of a GROUP BY over 100k series). With several keys (GROUP BY * is every tag key)
 * the group is found by the values joined as a tag_set_key.ts key: a tree of one Map level per
 * key made a Map per distinct prefix, a Map per series when a key before the last is distinct
 * per series, and the collector was 38% of a GROUP BY * over 50k series of 6 tag keys.
 *
 * @module
 */
import type { SelectPlan } from "./plan.ts";
import type { GroupPartial } from "./shard_exec.ts";
import type { SeriesRef } from "./store.ts";
import { keyPart } from "./tag_set_key.ts";

export class GroupFinder {
  readonly #keys: readonly string[];
  /** Measurement to (the series' group key, see {@linkcode GroupFinder.#keyOf}) to group. */
  readonly #root = new Map<string, Map<string, GroupPartial>>();

  /** `groupBy`: the plan's GROUP BY tag keys (GROUP BY * lists every tag key). */
  constructor(groupBy: SelectPlan["groupBy"]) {
    this.#keys = groupBy;
  }

  /** The group `series` of `measurement` falls in, or undefined before one is set. */
  get(measurement: string, series: SeriesRef): GroupPartial | undefined {
    return this.#root.get(measurement)?.get(this.#keyOf(series));
  }

  /** Files `group` as the group of `series` (and of every series with its tag values). */
  set(measurement: string, series: SeriesRef, group: GroupPartial): void {
    let groups = this.#root.get(measurement);
    if (groups === undefined) this.#root.set(measurement, groups = new Map());
    groups.set(this.#keyOf(series), group);
  }

  /** The series' values of the GROUP BY keys, in one string that no other values give. */
  #keyOf(series: SeriesRef): string {
    const keys = this.#keys;
    if (keys.length === 0) return "";
    if (keys.length === 1) return valueOf(series, keys[0]);
    let key = "";
    for (const k of keys) key += keyPart(valueOf(series, k));
    return key;
  }
}

/** A tag's value in a series; "" when it has none (InfluxDB groups those together). */
function valueOf(series: SeriesRef, key: string): string {
  for (const t of series.tags) if (t.key === key) return t.value;
  return "";
}
