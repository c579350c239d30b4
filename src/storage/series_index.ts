/**
 * The inverted series index of one shard: measurement -> tag key -> tag value -> series ids
 * (sorted `Uint32Array` postings), plus each measurement's series in key order. Tag predicates
 * (`=`, `!=`, `=~`, `!~`, AND, OR) are answered with set operations on postings; regexes are
 * matched against the distinct values of a key, never against every series.
 *
 * A missing tag reads as the empty string, as in InfluxDB: `host != 'a'` and `host !~ /a/`
 * match series without `host`, and so does `host = ''`.
 *
 * The index knows only which series exist; the shard keeps it current (series created in the
 * head, segments added and removed, series dropped). Ids are the shard's (small, dense).
 * @module
 */
import type { Tag } from "../core/mod.ts";

/** A series as the index holds it (structurally the query room's SeriesRef). */
export interface IndexedSeries {
  readonly id: number;
  readonly key: string;
  readonly measurement: string;
  readonly tags: readonly Tag[];
}

/**
 * A predicate on the tags of a series (the query room's TagFilter). `test` is the compiled
 * regex of `=~` / `!~`; `!~` matches where `test` is false.
 */
export type SeriesFilter =
  | { op: "=" | "!="; key: string; value: string }
  | { op: "=~" | "!~"; key: string; test: (value: string) => boolean }
  | { op: "AND" | "OR"; terms: readonly SeriesFilter[] };

const EMPTY = new Uint32Array(0);

// --- sorted id sets -----------------------------------------------------------------------

/** The first index in `a[from, to)` whose value is >= `id` (binary search). */
function lowerBound(a: Uint32Array, id: number, from: number, to: number): number {
  let lo = from, hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Ids in both sorted sets. When one side is much smaller its ids are searched in the other
 * (galloping), so `host = 'a' AND region = 'x'` costs the small side, not the large one.
 */
export function intersectIds(a: Uint32Array, b: Uint32Array): Uint32Array {
  if (a.length > b.length) [a, b] = [b, a];
  if (a.length === 0) return EMPTY;
  const out = new Uint32Array(a.length);
  let n = 0;
  if (a.length * 16 < b.length) {
    let j = 0;
    for (let i = 0; i < a.length && j < b.length; i++) {
      j = lowerBound(b, a[i], j, b.length);
      if (j < b.length && b[j] === a[i]) out[n++] = a[i];
    }
  } else {
    let i = 0, j = 0;
    while (i < a.length && j < b.length) {
      const x = a[i], y = b[j];
      if (x === y) {
        out[n++] = x;
        i++;
        j++;
      } else if (x < y) i++;
      else j++;
    }
  }
  return out.subarray(0, n);
}

/** Ids in either sorted set. */
export function unionIds(a: Uint32Array, b: Uint32Array): Uint32Array {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out = new Uint32Array(a.length + b.length);
  let i = 0, j = 0, n = 0;
  while (i < a.length && j < b.length) {
    const x = a[i], y = b[j];
    if (x === y) {
      out[n++] = x;
      i++;
      j++;
    } else if (x < y) {
      out[n++] = x;
      i++;
    } else {
      out[n++] = y;
      j++;
    }
  }
  while (i < a.length) out[n++] = a[i++];
  while (j < b.length) out[n++] = b[j++];
  return out.subarray(0, n);
}

/** Ids of `a` not in `b` (both sorted). */
export function differenceIds(a: Uint32Array, b: Uint32Array): Uint32Array {
  if (a.length === 0 || b.length === 0) return a;
  const out = new Uint32Array(a.length);
  let n = 0;
  if (b.length * 16 < a.length) {
    // Few to remove: copy the runs between them.
    let i = 0;
    for (let k = 0; k < b.length && i < a.length; k++) {
      const at = lowerBound(a, b[k], i, a.length);
      out.set(a.subarray(i, at), n);
      n += at - i;
      i = at < a.length && a[at] === b[k] ? at + 1 : at;
    }
    out.set(a.subarray(i), n);
    n += a.length - i;
  } else {
    let i = 0, j = 0;
    while (i < a.length) {
      const x = a[i];
      while (j < b.length && b[j] < x) j++;
      if (j >= b.length || b[j] !== x) out[n++] = x;
      i++;
    }
  }
  return out.subarray(0, n);
}

/** The union of disjoint sorted sets (the postings of different values of one key). */
function unionDisjoint(sets: readonly Uint32Array[]): Uint32Array {
  if (sets.length === 0) return EMPTY;
  if (sets.length === 1) return sets[0];
  let total = 0;
  for (const s of sets) total += s.length;
  const out = new Uint32Array(total);
  let n = 0;
  for (const s of sets) {
    out.set(s, n);
    n += s.length;
  }
  return out.sort();
}

/**
 * A growable sorted set of ids. Appends are O(1) (new series get increasing ids); an id out
 * of order marks the set unsorted and the next read sorts it once, so a bulk build is
 * O(n log n) rather than O(n^2). A set of one id (a unique tag value such as a host name, the
 * common case at high cardinality) holds it inline, without a typed array.
 */
export class Postings {
  #ids: Uint32Array | undefined;
  /** The id while the set holds exactly one and no array. */
  #single = 0;
  #n = 0;
  #sorted = true;

  /** Number of ids. */
  get size(): number {
    return this.#n;
  }

  /** Adds an id the set does not hold (the caller knows; no duplicate check). */
  add(id: number): void {
    if (this.#ids === undefined) {
      if (this.#n === 0) {
        this.#single = id;
        this.#n = 1;
        return;
      }
      this.#ids = new Uint32Array(4);
      this.#ids[0] = this.#single;
    } else if (this.#n === this.#ids.length) {
      const next = new Uint32Array(this.#n * 2);
      next.set(this.#ids);
      this.#ids = next;
    }
    if (this.#ids[this.#n - 1] > id) this.#sorted = false;
    this.#ids[this.#n++] = id;
  }

  /** Removes every id of a sorted set in one pass. */
  removeAll(sorted: Uint32Array): void {
    if (this.#ids === undefined) {
      if (
        this.#n === 1 && sorted[lowerBound(sorted, this.#single, 0, sorted.length)] === this.#single
      ) {
        this.#n = 0;
      }
      return;
    }
    const kept = differenceIds(this.view(), sorted);
    this.#ids.set(kept);
    this.#n = kept.length;
  }

  /** The ids, sorted. A view: valid until the set changes. */
  view(): Uint32Array {
    if (this.#ids === undefined) return this.#n === 0 ? EMPTY : Uint32Array.of(this.#single);
    if (!this.#sorted) {
      this.#ids.subarray(0, this.#n).sort();
      this.#sorted = true;
    }
    return this.#ids.subarray(0, this.#n);
  }
}

// --- the index ------------------------------------------------------------------------------

/** An entry: the series and its position in its measurement's key order. */
interface Entry extends IndexedSeries {
  rank: number;
}

/**
 * The series of one value: the id itself while it is one series (a unique value such as a host
 * name, the common case at high cardinality: no object per value), else a Postings.
 */
type ValueIds = number | Postings;

function idsOf(v: ValueIds | undefined): Uint32Array {
  return v === undefined ? EMPTY : typeof v === "number" ? Uint32Array.of(v) : v.view();
}

function countOf(v: ValueIds): number {
  return typeof v === "number" ? 1 : v.size;
}

/** The series of one tag key: all that have it, and by value. */
interface KeyIndex {
  all: Postings;
  values: Map<string, ValueIds>;
}

class MeasurementIndex {
  constructor(readonly name: string) {}
  readonly all = new Postings();
  /** Tag key -> every series that has the key, and value -> series. */
  readonly keys = new Map<string, KeyIndex>();
  /** Series in key order; `pending` were added since, `stale` says some were removed. */
  sorted: Entry[] = [];
  pending: Entry[] = [];
  stale = false;
}

/** The outcome of a filter: `ids`, or every series except `ids` when `negated`. */
interface IdSet {
  ids: Uint32Array;
  negated: boolean;
}

function byKey(a: IndexedSeries, b: IndexedSeries): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** The inverted index of one shard's series. */
export class SeriesIndex {
  /** Id -> entry (ids are small and dense). */
  readonly #entries: (Entry | undefined)[] = [];
  readonly #measurements = new Map<string, MeasurementIndex>();
  #names: string[] | undefined;
  #size = 0;

  /** Number of series. */
  get size(): number {
    return this.#size;
  }

  /** True when the series of this id is indexed. */
  has(id: number): boolean {
    return this.#entries[id] !== undefined;
  }

  /** Adds a series; false when its id is already indexed. */
  add(series: IndexedSeries): boolean {
    if (!Number.isInteger(series.id) || series.id < 0 || series.id > 0xffffffff) {
      throw new RangeError(`BUG: series id must be a uint32, got ${series.id} (${series.key})`);
    }
    if (this.#entries[series.id] !== undefined) return false;
    const entry: Entry = {
      id: series.id,
      key: series.key,
      measurement: series.measurement,
      tags: series.tags,
      rank: -1,
    };
    this.#entries[series.id] = entry;
    this.#size++;
    let m = this.#measurements.get(entry.measurement);
    if (m === undefined) {
      this.#measurements.set(entry.measurement, m = new MeasurementIndex(entry.measurement));
      this.#names = undefined;
    }
    m.all.add(entry.id);
    for (const t of entry.tags) {
      let k = m.keys.get(t.key);
      if (k === undefined) m.keys.set(t.key, k = { all: new Postings(), values: new Map() });
      k.all.add(entry.id);
      const v = k.values.get(t.value);
      if (v === undefined) k.values.set(t.value, entry.id);
      else if (typeof v !== "number") v.add(entry.id);
      else {
        const p = new Postings();
        p.add(v);
        p.add(entry.id);
        k.values.set(t.value, p);
      }
    }
    m.pending.push(entry);
    return true;
  }

  /**
   * Removes series by id (ids not indexed are skipped). Only the postings of the removed
   * series' own tags are touched, so dropping a few series of a large measurement is cheap.
   */
  remove(ids: Iterable<number>): void {
    const touched = new Map<Postings, number[]>();
    const touch = (p: Postings, id: number) => {
      const list = touched.get(p);
      if (list === undefined) touched.set(p, [id]);
      else list.push(id);
    };
    // What may empty: the value postings, the keys, the measurements.
    const values: { k: KeyIndex; value: string }[] = [];
    const keys: { m: MeasurementIndex; key: string }[] = [];
    const measurements = new Set<MeasurementIndex>();
    for (const id of ids) {
      const e = this.#entries[id];
      if (e === undefined) continue;
      this.#entries[id] = undefined;
      this.#size--;
      const m = this.#measurements.get(e.measurement)!;
      m.stale = true;
      measurements.add(m);
      touch(m.all, id);
      for (const t of e.tags) {
        const k = m.keys.get(t.key)!;
        touch(k.all, id);
        const v = k.values.get(t.value)!;
        if (typeof v !== "number") touch(v, id);
        else if (v === id) k.values.delete(t.value);
        keys.push({ m, key: t.key });
        values.push({ k, value: t.value });
      }
    }
    for (const [p, list] of touched) p.removeAll(Uint32Array.from(list).sort());
    for (const { k, value } of values) {
      const v = k.values.get(value);
      if (v !== undefined && countOf(v) === 0) k.values.delete(value);
    }
    for (const { m, key } of keys) if (m.keys.get(key)?.all.size === 0) m.keys.delete(key);
    for (const m of measurements) {
      if (m.all.size === 0) {
        this.#measurements.delete(m.name);
        this.#names = undefined;
      }
    }
  }

  /** Measurement names, sorted. */
  measurements(): string[] {
    return this.#names ??= [...this.#measurements.keys()].sort();
  }

  /** The series of a measurement in key order (a shared array: do not change it). */
  series(measurement: string): readonly IndexedSeries[] {
    const m = this.#measurements.get(measurement);
    return m === undefined ? [] : this.#ordered(m);
  }

  /** Tag keys of a measurement, sorted. */
  tagKeys(measurement: string): string[] {
    return [...(this.#measurements.get(measurement)?.keys.keys() ?? [])].sort();
  }

  /** The values of a tag key in a measurement, sorted. */
  tagValues(measurement: string, key: string): string[] {
    return [...(this.#measurements.get(measurement)?.keys.get(key)?.values.keys() ?? [])]
      .sort();
  }

  /** The series of `measurement` where `filter` holds, in key order. */
  select(measurement: string, filter: SeriesFilter): IndexedSeries[] {
    const m = this.#measurements.get(measurement);
    if (m === undefined) return [];
    const found = evaluate(m, filter);
    const ids = found.negated ? differenceIds(m.all.view(), found.ids) : found.ids;
    const ordered = this.#ordered(m);
    if (ids.length === ordered.length) return ordered.slice();
    // Order the few by rank (numeric sort); the many by walking the key order.
    if (ids.length * 8 < ordered.length) {
      const ranks = new Uint32Array(ids.length);
      for (let i = 0; i < ids.length; i++) ranks[i] = this.#entries[ids[i]]!.rank;
      ranks.sort();
      const out = new Array<IndexedSeries>(ranks.length);
      for (let i = 0; i < ranks.length; i++) out[i] = ordered[ranks[i]];
      return out;
    }
    const member = new Uint8Array(ordered.length);
    for (let i = 0; i < ids.length; i++) member[this.#entries[ids[i]]!.rank] = 1;
    const out: IndexedSeries[] = [];
    for (let r = 0; r < ordered.length; r++) if (member[r] === 1) out.push(ordered[r]);
    return out;
  }

  /** Brings a measurement's key order up to date: sorts what was added, drops what was removed. */
  #ordered(m: MeasurementIndex): Entry[] {
    if (m.pending.length === 0 && !m.stale) return m.sorted;
    let old = m.sorted;
    if (m.stale) old = old.filter((e) => this.#entries[e.id] === e);
    let added = m.pending;
    if (m.stale) added = added.filter((e) => this.#entries[e.id] === e);
    added.sort(byKey);
    let out: Entry[];
    if (old.length === 0) out = added;
    else if (added.length === 0) out = old;
    else {
      out = new Array<Entry>(old.length + added.length);
      let i = 0, j = 0, n = 0;
      while (i < old.length && j < added.length) {
        out[n++] = old[i].key <= added[j].key ? old[i++] : added[j++];
      }
      while (i < old.length) out[n++] = old[i++];
      while (j < added.length) out[n++] = added[j++];
    }
    for (let r = 0; r < out.length; r++) out[r].rank = r;
    m.sorted = out;
    m.pending = [];
    m.stale = false;
    return out;
  }
}

/** Evaluates a filter over one measurement's postings. */
function evaluate(m: MeasurementIndex, f: SeriesFilter): IdSet {
  switch (f.op) {
    case "AND": {
      // Intersect the positive terms, subtract the union of the negated ones.
      let pos: Uint32Array | undefined;
      let neg: Uint32Array = EMPTY;
      for (const t of f.terms) {
        const r = evaluate(m, t);
        if (r.negated) neg = unionIds(neg, r.ids);
        else pos = pos === undefined ? r.ids : intersectIds(pos, r.ids);
        if (pos !== undefined && pos.length === 0) return { ids: EMPTY, negated: false };
      }
      if (pos === undefined) return { ids: neg, negated: true };
      return { ids: differenceIds(pos, neg), negated: false };
    }
    case "OR": {
      // not(a) or not(b) = not(a and b): intersect the negated, union the positive.
      let pos: Uint32Array = EMPTY;
      let neg: Uint32Array | undefined;
      for (const t of f.terms) {
        const r = evaluate(m, t);
        if (r.negated) neg = neg === undefined ? r.ids : intersectIds(neg, r.ids);
        else pos = unionIds(pos, r.ids);
      }
      if (neg === undefined) return { ids: pos, negated: false };
      return { ids: differenceIds(neg, pos), negated: true };
    }
    default:
      return evaluateTag(m, f);
  }
}

function evaluateTag(
  m: MeasurementIndex,
  f: Exclude<SeriesFilter, { op: "AND" | "OR" }>,
): IdSet {
  const k = m.keys.get(f.key);
  if ("value" in f) {
    const hit = idsOf(k?.values.get(f.value));
    // `= ''` also matches the series lacking the key: all but those with another value.
    const ids = f.value === "" ? differenceIds(k?.all.view() ?? EMPTY, hit) : hit;
    const negated = (f.op === "!=") !== (f.value === "");
    return { ids, negated };
  }
  const want = f.op === "=~", test = f.test;
  const pass = (v: string) => test(v) === want;
  const passEmpty = pass("");
  if (k === undefined) return { ids: EMPTY, negated: passEmpty };
  const passing: Uint32Array[] = [], failing: Uint32Array[] = [];
  let passingN = 0, failingN = 0;
  for (const [value, v] of k.values) {
    if (pass(value)) {
      passing.push(idsOf(v));
      passingN += countOf(v);
    } else {
      failing.push(idsOf(v));
      failingN += countOf(v);
    }
  }
  // Series lacking the key read "": with a passing "", they match unless their value fails.
  if (passEmpty) return { ids: unionDisjoint(failing), negated: true };
  if (passingN <= failingN) return { ids: unionDisjoint(passing), negated: false };
  return { ids: differenceIds(k.all.view(), unionDisjoint(failing)), negated: false };
}
