/**
 * One shard reader over the shards of one shard group held by several partitions on this node.
 * A series lives in exactly one partition, so the union is a merge by series key: the query
 * engine then folds series in the same order as over one shard, and a node answers exactly as
 * if its partitions were one.
 * @module
 */
import type { FieldType } from "../core/mod.ts";
import type {
  FieldColumn,
  FieldPart,
  FieldPartsOptions,
  SeriesRef,
  ShardReader,
  TagFilter,
} from "../query/mod.ts";

interface Owned {
  part: ShardReader;
  ref: SeriesRef;
}

/** The shards of one time range across partitions, read as one. */
export class UnionShardReader implements ShardReader {
  readonly sortedColumns: boolean;
  readonly #parts: readonly ShardReader[];
  readonly #owners = new WeakMap<SeriesRef, Owned>();
  readonly #wrapped = new WeakMap<SeriesRef, SeriesRef>();
  readonly #types = new Map<string, Map<string, FieldType>>();
  #nextId = 1;

  /** `parts` must cover one time range with disjoint series, and all be indexed readers. */
  constructor(parts: readonly ShardReader[]) {
    this.#parts = parts;
    this.sortedColumns = parts.every((p) => p.sortedColumns === true);
  }

  /** A reader over `parts`: the part itself when there is one. */
  static of(parts: readonly ShardReader[]): ShardReader {
    return parts.length === 1 ? parts[0] : new UnionShardReader(parts);
  }

  measurements(): string[] {
    return sortedUnion(this.#parts.map((p) => p.measurements()));
  }

  series(measurement: string): readonly SeriesRef[] {
    return this.#merge((p) => p.series(measurement));
  }

  seriesWhere(measurement: string, filter: TagFilter): readonly SeriesRef[] {
    return this.#merge((p) =>
      p.seriesWhere !== undefined ? p.seriesWhere(measurement, filter) : p.series(measurement)
    );
  }

  tagKeys(measurement: string): string[] {
    return sortedUnion(this.#parts.map((p) => tagKeysOf(p, measurement)));
  }

  tagValues(measurement: string, key: string): string[] {
    return sortedUnion(this.#parts.map((p) => tagValuesOf(p, measurement, key)));
  }

  hold(): () => void {
    const releases = this.#parts.flatMap((p) => p.hold !== undefined ? [p.hold()] : []);
    return () => {
      for (const release of releases) release();
    };
  }

  /**
   * A query asks each of its readers for a measurement's field types several times (sources,
   * plan, each shard's setup): the union is made once per reader (one reader serves one query).
   */
  fieldTypes(measurement: string): Map<string, FieldType> {
    const known = this.#types.get(measurement);
    if (known !== undefined) return known;
    const out = new Map<string, FieldType>();
    for (const p of this.#parts) {
      for (const [k, t] of p.fieldTypes(measurement)) if (!out.has(k)) out.set(k, t);
    }
    this.#types.set(measurement, out);
    return out;
  }

  readField(
    series: SeriesRef,
    field: string,
    minNs: bigint,
    maxNs: bigint,
  ): Promise<FieldColumn | undefined> {
    const owned = this.#owner(series);
    return owned.part.readField(owned.ref, field, minNs, maxNs);
  }

  readFieldSummaries(
    series: SeriesRef,
    field: string,
    minNs: bigint,
    maxNs: bigint,
    options?: FieldPartsOptions,
  ): Promise<FieldPart[]> {
    const owned = this.#owner(series);
    if (owned.part.readFieldSummaries !== undefined) {
      return owned.part.readFieldSummaries(owned.ref, field, minNs, maxNs, options);
    }
    return owned.part.readField(owned.ref, field, minNs, maxNs).then((c) =>
      c === undefined ? [] : [{ kind: "column", column: c } as FieldPart]
    );
  }

  #owner(series: SeriesRef): Owned {
    const owned = this.#owners.get(series);
    if (owned === undefined) {
      throw new Error(`BUG: series ${series.key} was not listed by this union reader`);
    }
    return owned;
  }

  /** The parts' lists (each in key order) merged by key, as refs with union-wide ids. */
  #merge(list: (part: ShardReader) => readonly SeriesRef[]): SeriesRef[] {
    const lists = this.#parts.map((p) => ({ part: p, refs: inKeyOrder(list(p)), at: 0 }));
    const out: SeriesRef[] = [];
    for (;;) {
      let best: (typeof lists)[number] | undefined;
      for (const l of lists) {
        if (
          l.at < l.refs.length && (best === undefined || l.refs[l.at].key < best.refs[best.at].key)
        ) {
          best = l;
        }
      }
      if (best === undefined) return out;
      out.push(this.#wrap(best.part, best.refs[best.at++]));
    }
  }

  #wrap(part: ShardReader, ref: SeriesRef): SeriesRef {
    let wrapped = this.#wrapped.get(ref);
    if (wrapped === undefined) {
      wrapped = { id: this.#nextId++, key: ref.key, measurement: ref.measurement, tags: ref.tags };
      this.#wrapped.set(ref, wrapped);
      this.#owners.set(wrapped, { part, ref });
    }
    return wrapped;
  }
}

function inKeyOrder(refs: readonly SeriesRef[]): readonly SeriesRef[] {
  for (let i = 1; i < refs.length; i++) {
    if (refs[i - 1].key > refs[i].key) return [...refs].sort((a, b) => (a.key < b.key ? -1 : 1));
  }
  return refs;
}

function tagKeysOf(p: ShardReader, measurement: string): string[] {
  if (p.tagKeys !== undefined) return p.tagKeys(measurement);
  const keys = new Set<string>();
  for (const s of p.series(measurement)) for (const t of s.tags) keys.add(t.key);
  return [...keys].sort();
}

function tagValuesOf(p: ShardReader, measurement: string, key: string): string[] {
  if (p.tagValues !== undefined) return p.tagValues(measurement, key);
  const values = new Set<string>();
  for (const s of p.series(measurement)) {
    for (const t of s.tags) if (t.key === key) values.add(t.value);
  }
  return [...values].sort();
}

/** The sorted union of sorted lists. */
function sortedUnion(lists: string[][]): string[] {
  if (lists.length === 1) return lists[0];
  return [...new Set(lists.flat())].sort();
}
