/**
 * A shard: one shard group's data of one retention policy — the active head, the head being
 * flushed (if any), and immutable segment files. Reads merge them in generation order (older
 * segments first, the active head last): at equal timestamps the newer source wins.
 *
 * Deletes remove data from the active head directly; for older sources (segments, the frozen
 * head) they leave tombstones that apply to sources of a generation at or below theirs.
 *
 * Series listings and tag predicates come from the shard's {@linkcode SeriesIndex}, built from
 * the sources on the first query and then kept current: the active head reports the series it
 * creates and the drops it applies, addSegment adds a segment's series, and replacing the
 * segment list (compaction) re-checks the series of the removed segments.
 * @module
 */
import {
  type BlockSummary,
  type FieldPart,
  type FieldType,
  instantFromNanos,
  type Tag,
} from "../core/mod.ts";
import type { ColumnView } from "./column.ts";
import { Head, type HeadSeriesListener } from "./head.ts";
import {
  concatColumns,
  contains,
  cutRanges,
  mergeColumns,
  overlaps,
  type TimeRange,
} from "./merge.ts";
import type { BlockMeta, SegmentReader } from "./segment/mod.ts";
import type { ColdGroupRecord } from "./catalog.ts";
import { StorageError } from "../core/mod.ts";
import { type SeriesFilter, SeriesIndex } from "./series_index.ts";

/** A deletion, resolved to concrete series keys when it was issued. */
export interface Tombstone {
  range: TimeRange;
  /** Applies to sources of this generation and older. */
  gen: number;
  /** DROP SERIES / DROP MEASUREMENT: the series are forgotten, not only emptied. */
  dropSeries: boolean;
  /** Order of application ({@linkcode nextTombstoneSerial}): a view ignores later ones. */
  serial?: number;
}

let tombstonesApplied = 0;

/** The serial of a tombstone being applied now (greater than every earlier one). */
export function nextTombstoneSerial(): number {
  return ++tombstonesApplied;
}

/**
 * The lookup a view taken now uses: tombstones applied later are not seen, so a query that
 * started before a delete reads what it started with (the segments it holds stay readable
 * until it is done, see the engine's retired readers). Only the active head is cut directly.
 */
function tombstonesUpToNow(lookup: TombstoneLookup): TombstoneLookup {
  const upTo = tombstonesApplied;
  return (key) => {
    const list = lookup(key);
    if (!list || !list.some((t) => (t.serial ?? 0) > upTo)) return list;
    return list.filter((t) => (t.serial ?? 0) <= upTo);
  };
}

/** Tombstones of a series key (the database keeps them). */
export type TombstoneLookup = (seriesKey: string) => readonly Tombstone[] | undefined;

/** A segment of a shard with its generation range (from its file name). */
export interface ShardSegment {
  reader: SegmentReader;
  minGen: number;
  maxGen: number;
  level: number;
  /** An object of the cold store (never compacted; its key is the catalog's). */
  cold?: boolean;
}

/** A series as readers see it (matches query's SeriesRef). */
export interface ShardSeries {
  id: number;
  key: string;
  measurement: string;
  tags: readonly Tag[];
}

/** Statistics of a whole block (core's BlockSummary). */
export type ShardBlockSummary = BlockSummary;

/** One part of readFieldSummaries (core's FieldPart). */
export type ShardFieldPart = FieldPart;

/** Tombstone ranges of a series without any. */
const NO_CUTS: readonly TimeRange[] = [];

/** The active head never has tombstones applied: deletes cut it directly. */
const ACTIVE = Number.POSITIVE_INFINITY;

type Source =
  | { kind: "segment"; gen: number; segment: ShardSegment }
  | { kind: "head"; gen: number; head: Head };

/** See `Shard.mergedFieldTypes`. */
interface MergedTypes {
  epoch: number;
  columnsAdded: number;
  /** The sources' ids (not the sources: a stale entry must not keep a flushed head alive). */
  sources: readonly number[];
  types: Map<string, FieldType>;
}

/** One shard of one shard group. */
export class Shard {
  /** Heads cut from the WAL and not yet durable as segments (more than one after a failed flush). */
  frozen: { head: Head; gen: number }[] = [];
  /** Set when the shard was dropped (database, policy, retention): flushes skip it. */
  dropped = false;
  /** True while a compaction (or a move to the cold store) of this shard runs. */
  compacting = false;
  /** Set by a size limit's delete: the next compaction pass rewrites every local segment. */
  purgeDue = false;
  /**
   * Set by a size limit's delete reaching a group in the cold store: its leader's next tiering
   * pass writes the group's object again without the deleted data (a new object, switched to
   * through the log like a move).
   */
  coldPurgeDue = false;
  /**
   * Writes and deletes applied to the group, in log order (so equal on every replica of a
   * log): a move to the cold store applies only if none came after its object was encoded.
   */
  mutations = 0;
  /**
   * The group's cold object as the catalog has it, and the generation it reads as: every
   * source older than `gen` is covered by it (dropped once the object is open).
   */
  cold: (ColdGroupRecord & { gen: number }) | undefined;
  /** Why the cold object cannot be opened, while no local copy of its data is left. */
  coldError: Error | undefined;
  readonly #ids = new Map<string, number>();
  #head!: Head;
  #segments: ShardSegment[] = [];
  /** Built on the first query (startup does not pay for it), then kept current. */
  #index: SeriesIndex | undefined;
  /** Counts drops: field types cached per immutable source hold while it is unchanged. */
  #dropEpoch = 0;
  /** Drops so far: field types worked out under an older count are not kept. */
  get dropEpoch(): number {
    return this.#dropEpoch;
  }
  /** Active heads a drop removed series from (their own field-type map may be too wide). */
  readonly #headsWithDrops = new WeakSet<Head>();
  /**
   * Heads no drop touched, with the drop epoch when they were frozen: while it holds, a frozen
   * head's own field-type map is exact, and so is it for the segment flushed from it.
   */
  readonly #frozenAt = new WeakMap<Head, number>();
  readonly #typeCache = new WeakMap<
    object,
    { epoch: number; byMeasurement: Map<string, Map<string, FieldType>> }
  >();
  /**
   * A measurement's field types over a whole source list (what a query asks first, for every
   * shard it reads), kept while the list, the drop epoch and the active head's columns are the
   * same: otherwise every query merged each source's map again.
   */
  readonly #mergedTypes = new Map<string, MergedTypes>();
  readonly #sourceIds = new WeakMap<SegmentReader | Head, number>();
  #nextSourceId = 1;
  readonly #listener: HeadSeriesListener = {
    seriesCreated: (s) => {
      this.#index?.add({
        id: this.idOf(s.key),
        key: s.key,
        measurement: s.measurement,
        tags: s.tags,
      });
    },
    seriesDropped: (keys) => {
      this.#dropEpoch++;
      this.#headsWithDrops.add(this.#head);
      if (this.#index === undefined) return;
      // A drop's tombstone covers every source but the active head, which the head cuts itself.
      const ids: number[] = [];
      for (const key of keys) {
        const id = this.#ids.get(key);
        if (id !== undefined) ids.push(id);
      }
      this.#index.remove(ids);
    },
  };

  constructor(
    /** The folder of its segment files. */
    readonly dir: string,
    readonly startMs: number,
    readonly endMs: number,
    private readonly tombstones: TombstoneLookup,
  ) {
    this.head = new Head();
  }

  /** The active head (the engine swaps in a new one when it flushes). */
  get head(): Head {
    return this.#head;
  }

  set head(head: Head) {
    const old = this.#head;
    if (old !== undefined) {
      old.listener = undefined;
      if (!this.#headsWithDrops.has(old)) this.#frozenAt.set(old, this.#dropEpoch);
    }
    head.listener = this.#listener;
    this.#head = head;
    if (this.#index !== undefined) {
      for (const s of head.allSeries()) this.#listener.seriesCreated(s);
    }
  }

  /** Sorted by maxGen, oldest first. Replacing the list (compaction) updates the index. */
  get segments(): ShardSegment[] {
    return this.#segments;
  }

  set segments(list: ShardSegment[]) {
    const removed = this.#segments.filter((s) => !list.includes(s));
    this.#segments = list;
    if (removed.length > 0) this.#inheritTypes(removed, list);
    if (this.#index === undefined || removed.length === 0) return;
    // A series of a removed segment stays when another source still holds it (compaction's
    // output holds every series that kept data).
    const gone: number[] = [];
    const index = this.#index;
    for (const seg of removed) {
      forEachSeriesTags(seg.reader, (key) => {
        const id = this.#ids.get(key);
        if (id !== undefined && index.has(id) && !this.#holds(key)) gone.push(id);
      });
    }
    index.remove(gone);
  }

  /** Series id, stable for the shard's life. */
  idOf(key: string): number {
    let id = this.#ids.get(key);
    if (id === undefined) this.#ids.set(key, id = this.#ids.size + 1);
    return id;
  }

  /** Adds a segment, keeping generation order. */
  addSegment(segment: ShardSegment): void {
    this.#segments.push(segment);
    this.#segments.sort((a, b) => a.maxGen - b.maxGen || a.level - b.level);
    // A flush's segment holds exactly its frozen head's series: it inherits the head's field
    // types instead of parsing every series' entry on the next query (O(series) per flush).
    const from = segment.minGen === segment.maxGen
      ? this.frozen.find((f) => f.gen === segment.maxGen)
      : undefined;
    if (from !== undefined && this.#frozenAt.get(from.head) === this.#dropEpoch) {
      const byMeasurement = new Map<string, Map<string, FieldType>>();
      for (const m of from.head.measurements()) {
        byMeasurement.set(m, new Map(from.head.fieldTypes(m)));
      }
      this.#typeCache.set(segment.reader, { epoch: this.#dropEpoch, byMeasurement });
    }
    const index = this.#index;
    if (index === undefined) return;
    forEachParsedSeries(segment.reader, (key, measurement, tags) => {
      if (!this.#droppedIn(key, segment.maxGen)) {
        index.add({ id: this.idOf(key), key, measurement, tags });
      }
    });
  }

  /**
   * A compaction's output (the segment spanning the removed inputs' generations) inherits the
   * union of the inputs' cached field types, per measurement every input has cached: its series
   * are the inputs' minus drops, which a cache at the current drop epoch already left out.
   */
  #inheritTypes(removed: readonly ShardSegment[], list: readonly ShardSegment[]): void {
    const minGen = Math.min(...removed.map((s) => s.minGen));
    const maxGen = Math.max(...removed.map((s) => s.maxGen));
    const out = list.find((s) =>
      s.minGen <= minGen && s.maxGen >= maxGen && !this.#typeCache.has(s.reader)
    );
    if (out === undefined) return;
    const caches = removed.map((s) => this.#typeCache.get(s.reader));
    const first = caches[0];
    if (first === undefined || caches.some((c) => c?.epoch !== this.#dropEpoch)) return;
    const byMeasurement = new Map<string, Map<string, FieldType>>();
    for (const m of first.byMeasurement.keys()) {
      const union = new Map<string, FieldType>();
      let complete = true;
      for (const c of caches) {
        const types = c!.byMeasurement.get(m);
        if (types === undefined) {
          complete = false;
          break;
        }
        for (const [name, type] of types) if (!union.has(name)) union.set(name, type);
      }
      if (complete) byMeasurement.set(m, union);
    }
    this.#typeCache.set(out.reader, { epoch: this.#dropEpoch, byMeasurement });
  }

  /** Values held in memory (active and frozen heads). */
  get headValues(): number {
    return this.head.valueCount + this.frozen.reduce((n, f) => n + f.head.valueCount, 0);
  }

  /** Values in the segments. */
  get segmentValues(): number {
    return this.segments.reduce((n, s) => n + s.reader.valueCount, 0);
  }

  /** The series index, built from the sources on first use. */
  index(): SeriesIndex {
    if (this.#index !== undefined) return this.#index;
    const index = new SeriesIndex();
    const add = (key: string, measurement: string, tags: readonly Tag[]) => {
      const id = this.idOf(key);
      if (!index.has(id)) index.add({ id, key, measurement, tags });
    };
    for (const seg of this.#segments) {
      forEachParsedSeries(seg.reader, (key, measurement, tags) => {
        if (!this.#droppedIn(key, seg.maxGen)) add(key, measurement, tags);
      });
    }
    for (const f of this.frozen) {
      for (const s of f.head.allSeries()) {
        if (!this.#droppedIn(s.key, f.gen)) add(s.key, s.measurement, s.tags);
      }
    }
    for (const s of this.#head.allSeries()) add(s.key, s.measurement, s.tags);
    return this.#index = index;
  }

  /**
   * Field types of a measurement in one source, computed once per immutable source (segment,
   * frozen head) and drop; the active head keeps its own map unless a drop narrowed it.
   */
  fieldTypesIn(
    source: SegmentReader | Head,
    active: boolean,
    measurement: string,
    scan: () => Map<string, FieldType>,
    viewEpoch: number,
  ): ReadonlyMap<string, FieldType> {
    if (active) {
      return source instanceof Head && !this.#headsWithDrops.has(source)
        ? source.fieldTypes(measurement)
        : scan();
    }
    if (source instanceof Head && this.#frozenAt.get(source) === this.#dropEpoch) {
      return source.fieldTypes(measurement);
    }
    // A view made before a drop scans with the tombstones it was made with: what it finds must
    // not be kept under the drop's epoch (a dropped series' fields would stay listed).
    if (viewEpoch !== this.#dropEpoch) return scan();
    let cached = this.#typeCache.get(source);
    if (cached === undefined || cached.epoch !== this.#dropEpoch) {
      this.#typeCache.set(source, cached = { epoch: this.#dropEpoch, byMeasurement: new Map() });
    }
    let types = cached.byMeasurement.get(measurement);
    if (types === undefined) cached.byMeasurement.set(measurement, types = scan());
    return types;
  }

  /** The cached field types of `measurement` over `sources`, or undefined when stale. */
  mergedFieldTypes(
    measurement: string,
    sources: readonly Source[],
  ): Map<string, FieldType> | undefined {
    const hit = this.#mergedTypes.get(measurement);
    if (
      hit === undefined || hit.epoch !== this.#dropEpoch || hit.sources.length !== sources.length
    ) return undefined;
    for (let i = 0; i < sources.length; i++) {
      if (hit.sources[i] !== this.#sourceId(sources[i])) return undefined;
    }
    const active = sources.at(-1);
    if (active?.kind === "head" && active.head.columnsAdded !== hit.columnsAdded) return undefined;
    return hit.types;
  }

  /** Keeps `types` as the field types of `measurement` over `sources` (see mergedFieldTypes). */
  keepMergedFieldTypes(
    measurement: string,
    sources: readonly Source[],
    types: Map<string, FieldType>,
    viewEpoch: number,
  ): void {
    if (viewEpoch !== this.#dropEpoch) return; // worked out before a drop (see fieldTypesIn)
    const active = sources.at(-1);
    this.#mergedTypes.set(measurement, {
      epoch: this.#dropEpoch,
      columnsAdded: active?.kind === "head" ? active.head.columnsAdded : 0,
      sources: sources.map((src) => this.#sourceId(src)),
      types,
    });
  }

  #sourceId(src: Source): number {
    const key = src.kind === "segment" ? src.segment.reader : src.head;
    let id = this.#sourceIds.get(key);
    if (id === undefined) this.#sourceIds.set(key, id = this.#nextSourceId++);
    return id;
  }

  /** True when a source holds the series and no drop hides it there. */
  #holds(key: string): boolean {
    if (this.#head.seriesByKey(key) !== undefined) return true;
    for (const f of this.frozen) {
      if (f.head.seriesByKey(key) !== undefined && !this.#droppedIn(key, f.gen)) return true;
    }
    for (const seg of this.#segments) {
      if (seg.reader.series.has(key) && !this.#droppedIn(key, seg.maxGen)) return true;
    }
    return false;
  }

  #droppedIn(key: string, gen: number): boolean {
    return isDropped(this.tombstones(key), gen);
  }

  /** True when the cold object is not open yet and no local source of its data is left. */
  coldMissing(): boolean {
    const cold = this.cold;
    if (cold === undefined) return false;
    if (this.#segments.some((s) => s.cold && s.maxGen === cold.gen)) return false;
    return !this.#segments.some((s) => s.maxGen < cold.gen) &&
      !this.frozen.some((f) => f.gen < cold.gen);
  }

  /**
   * A reader over the shard's current sources (later flushes and merges do not affect it).
   * @throws {StorageError} when its data is in a cold object that cannot be read now.
   */
  reader(): ShardView {
    if (this.coldMissing()) {
      throw new StorageError(
        `shard group ${this.dir} is in the cold store (${this.cold!.key}), which cannot be ` +
          `read now: ${this.coldError?.message ?? "not opened yet"}`,
        { cause: this.coldError },
      );
    }
    const sources: Source[] = this.segments.map((segment) => ({
      kind: "segment" as const,
      gen: segment.maxGen,
      segment,
    }));
    for (const f of this.frozen) sources.push({ kind: "head", gen: f.gen, head: f.head });
    sources.push({ kind: "head", gen: ACTIVE, head: this.head });
    return new ShardView(this, sources, tombstonesUpToNow(this.tombstones), true);
  }

  /** A reader over some segments only (compaction's input). */
  segmentsReader(segments: readonly ShardSegment[]): ShardView {
    return new ShardView(
      this,
      segments.map((segment) => ({ kind: "segment" as const, gen: segment.maxGen, segment })),
      this.tombstones,
      false,
    );
  }
}

/**
 * Every series of a segment by key, measurement and tags, its fields left unparsed: a lazily
 * parsed index (segment v2+) would otherwise materialize every series' block statistics, which
 * made the first index build after a restart ~6x slower (1M series).
 */
function forEachSeriesTags(
  reader: SegmentReader,
  fn: (key: string, measurement: string, tags: readonly Tag[]) => void,
): void {
  for (const m of reader.measurements()) {
    reader.forEachSeriesTags(m, (key, tags) => fn(key, m, tags));
  }
}

/**
 * Calls `fn` with each series of a segment as its parsed entry holds it (fields left unparsed):
 * the index then shares the entry's key and tags, which a query parses anyway, instead of
 * keeping copies of its own (a tags array, a tag object per unique value and a key string per
 * series: ~130 B at 100k series).
 */
function forEachParsedSeries(
  reader: SegmentReader,
  fn: (key: string, measurement: string, tags: readonly Tag[]) => void,
): void {
  for (const m of reader.measurements()) {
    for (const s of reader.seriesOf(m)) fn(s.key, m, s.tags);
  }
}

/** True when a drop tombstone hides the series in a source of generation `gen`. */
function isDropped(list: readonly Tombstone[] | undefined, gen: number): boolean {
  if (!list || gen === ACTIVE) return false;
  for (const t of list) if (t.gen >= gen && t.dropSeries) return true;
  return false;
}

function rangeOf(minNs: bigint, maxNs: bigint): TimeRange {
  const min = instantFromNanos(minNs), max = instantFromNanos(maxNs);
  return { minMs: min.ms, minSub: min.subMs, maxMs: max.ms, maxSub: max.subMs };
}

function slice(column: ColumnView, range: TimeRange): ColumnView {
  const n = column.length;
  const tm = column.timesMs, ts = column.timesSubMs;
  // Times ascend: binary searches for both ends (a block cut by the range was two linear scans
  // of up to a block's length each, a top cost of time-bucketed aggregates).
  let lo = 0, hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (tm[mid] < range.minMs || (tm[mid] === range.minMs && ts[mid] < range.minSub)) lo = mid + 1;
    else hi = mid;
  }
  const from = lo;
  hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (tm[mid] > range.maxMs || (tm[mid] === range.maxMs && ts[mid] > range.maxSub)) hi = mid;
    else lo = mid + 1;
  }
  const to = lo;
  if (from === 0 && to === n) return column;
  return {
    type: column.type,
    length: to - from,
    timesMs: tm.subarray(from, to),
    timesSubMs: ts.subarray(from, to),
    values: column.values instanceof Float64Array
      ? column.values.subarray(from, to)
      : column.values.slice(from, to),
  };
}

/**
 * Segment series parsed per warm-up step: a few tens of ms, so writes and queries wait little
 * for a step to end.
 */
const WARM_UP_STEP_SERIES = 10_000;

/**
 * What the warm-up steps of one shard finished ({@linkcode ShardView.warmUpStep}). Segments are
 * keyed weakly: the progress keeps no retired segment's reader alive.
 */
export interface WarmUpProgress {
  /**
   * Per segment reader, how many of its measurements (in stored order) have their series and
   * field types built; -1 once all have.
   */
  readonly segments: WeakMap<SegmentReader, number>;
  /** The shard's series index is built. */
  indexed: boolean;
}

/** A warm-up that has done nothing yet. */
export function newWarmUpProgress(): WarmUpProgress {
  return { segments: new WeakMap(), indexed: false };
}

/** {@linkcode WarmUpProgress.segments} of a segment warmed whole. */
const DONE = -1;

/** A consistent read view of a shard: implements the query room's ShardReader. */
export class ShardView {
  /** Columns come sorted and deduplicated (heads' views, blocks, merges). */
  readonly sortedColumns = true;

  constructor(
    private readonly shard: Shard,
    private readonly sources: readonly Source[],
    private readonly tombstones: TombstoneLookup,
    /** Series come from the shard's index (a view over all its sources), else from a scan. */
    private readonly indexed: boolean,
  ) {
    this.dropEpoch = shard.dropEpoch;
  }

  /** The shard's drop count when this view took its tombstones (what its caches may keep). */
  readonly dropEpoch: number;

  /** The shard group's first instant (ms since the epoch). */
  get startMs(): number {
    return this.shard.startMs;
  }

  /** Keeps this view's segment files open (retired ones too) until the release is called. */
  hold(): () => void {
    const releases = this.sources.flatMap((src) =>
      src.kind === "segment" ? [src.segment.reader.hold()] : []
    );
    return () => {
      for (const release of releases) release();
    };
  }

  /** The shard group's end (exclusive, ms since the epoch). */
  get endMs(): number {
    return this.shard.endMs;
  }

  /** Tombstone ranges that apply to a source of generation `gen` for a series. */
  #cuts(key: string, gen: number): readonly TimeRange[] {
    if (gen === ACTIVE) return NO_CUTS;
    const list = this.tombstones(key);
    if (!list) return NO_CUTS;
    const out: TimeRange[] = [];
    for (const t of list) if (t.gen >= gen) out.push(t.range);
    return out;
  }

  #dropped(key: string, gen: number): boolean {
    return isDropped(this.tombstones(key), gen);
  }

  /** Measurement names, sorted. */
  measurements(): string[] {
    if (this.indexed) return this.shard.index().measurements().slice();
    return [...this.#seriesByMeasurement().keys()].sort();
  }

  /** The index of the view's series: the shard's, or one built from this view's sources. */
  #index(measurement: string): SeriesIndex {
    if (this.indexed) return this.shard.index();
    const index = new SeriesIndex();
    for (const s of this.series(measurement)) index.add(s);
    return index;
  }

  #seriesByMeasurement(measurement?: string): Map<string, Map<string, ShardSeries>> {
    const out = new Map<string, Map<string, ShardSeries>>();
    const add = (key: string, m: string, tags: readonly Tag[]) => {
      let map = out.get(m);
      if (!map) out.set(m, map = new Map());
      if (!map.has(key)) {
        map.set(key, { id: this.shard.idOf(key), key, measurement: m, tags });
      }
    };
    for (const src of this.sources) {
      if (src.kind === "segment") {
        const list = measurement === undefined
          ? src.segment.reader.series.values()
          : src.segment.reader.seriesOf(measurement);
        for (const s of list) {
          if (!this.#dropped(s.key, src.gen)) add(s.key, s.measurement, s.tags);
        }
      } else {
        const list = measurement === undefined
          ? src.head.allSeries()
          : src.head.series(measurement);
        for (const s of list) {
          if (!this.#dropped(s.key, src.gen)) add(s.key, s.measurement, s.tags);
        }
      }
    }
    return out;
  }

  /** Every series of a measurement in this shard, in key order (do not change the array). */
  series(measurement: string): readonly ShardSeries[] {
    if (this.indexed) return this.shard.index().series(measurement);
    return [...(this.#seriesByMeasurement(measurement).get(measurement)?.values() ?? [])]
      .sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  }

  /**
   * The series of a measurement whose tags satisfy `filter` (a missing tag reads as ""), in
   * key order, from the inverted index.
   */
  seriesWhere(measurement: string, filter: SeriesFilter): ShardSeries[] {
    return this.#index(measurement).select(measurement, filter);
  }

  /** The tag keys of a measurement, sorted. */
  tagKeys(measurement: string): string[] {
    return this.#index(measurement).tagKeys(measurement);
  }

  /** The values of a tag key in a measurement, sorted. */
  tagValues(measurement: string, key: string): string[] {
    return this.#index(measurement).tagValues(measurement, key);
  }

  /**
   * Field name -> type of a measurement (series hidden by drops do not count). The map may be
   * shared with other queries: do not change it.
   */
  fieldTypes(measurement: string): Map<string, FieldType> {
    if (!this.indexed) return this.#fieldTypes(measurement);
    const cached = this.shard.mergedFieldTypes(measurement, this.sources);
    if (cached !== undefined) return cached;
    const types = this.#fieldTypes(measurement);
    this.shard.keepMergedFieldTypes(measurement, this.sources, types, this.dropEpoch);
    return types;
  }

  #fieldTypes(measurement: string): Map<string, FieldType> {
    const out = new Map<string, FieldType>();
    for (const src of this.sources) {
      for (const [name, type] of this.#sourceTypes(src, measurement)) {
        if (!out.has(name)) out.set(name, type);
      }
    }
    return out;
  }

  /** Field types of a measurement in one source (cached per immutable source when indexed). */
  #sourceTypes(src: Source, measurement: string): ReadonlyMap<string, FieldType> {
    let scan: () => Map<string, FieldType>;
    if (src.kind === "segment") {
      scan = () => {
        const types = new Map<string, FieldType>();
        for (const s of src.segment.reader.seriesOf(measurement)) {
          if (this.#dropped(s.key, src.gen)) continue;
          for (const [name, f] of s.fields) if (!types.has(name)) types.set(name, f.type);
        }
        return types;
      };
    } else {
      scan = () => {
        const types = new Map<string, FieldType>();
        for (const s of src.head.series(measurement)) {
          if (this.#dropped(s.key, src.gen)) continue;
          for (const [name, c] of s.fields) if (!types.has(name)) types.set(name, c.type);
        }
        return types;
      };
    }
    return this.indexed
      ? this.shard.fieldTypesIn(
        src.kind === "segment" ? src.segment.reader : src.head,
        src.gen === ACTIVE,
        measurement,
        scan,
        this.dropEpoch,
      )
      : scan();
  }

  /**
   * One step of building what the first query over the shard would otherwise build: a part of a
   * segment measurement's parsed series (every entry and its block statistics), with its field
   * types when the part ends it; once every segment of the view is done, the shard's series
   * index. These are the lazy caches a query fills itself, so a query during the warm-up answers
   * as without one (it builds what is not built yet). Returns a measurement's series count when
   * the step ends it (else 0); undefined when nothing is left.
   *
   * The engine's background warm-up takes a fresh view for each step, on a turn of its own: it
   * holds no view between steps, so a segment a compaction retires meanwhile is not parsed
   * further and its reader (file, parsed index) goes when nothing else reads it, and the
   * compaction's output is warmed in its place. The index is one step (not divided: a few
   * hundred ms per 250k series of a shard).
   */
  warmUpStep(progress: WarmUpProgress, stepSeries = WARM_UP_STEP_SERIES): number | undefined {
    if (!this.indexed) throw new Error("BUG: warmUpStep on a view that is not the shard's");
    for (const src of this.sources) {
      if (src.kind !== "segment") continue;
      const reader = src.segment.reader;
      const at = progress.segments.get(reader) ?? 0;
      if (at === DONE) continue;
      const measurements = reader.measurements();
      if (at === measurements.length) {
        progress.segments.set(reader, DONE);
        continue;
      }
      const m = measurements[at];
      if (!reader.parseSome(m, stepSeries)) return 0;
      this.#sourceTypes(src, m);
      progress.segments.set(reader, at + 1);
      return reader.seriesOf(m).length;
    }
    if (progress.indexed) return undefined;
    this.shard.index();
    progress.indexed = true;
    return 0;
  }

  async #sourceColumn(
    src: Source,
    key: string,
    field: string,
    range: TimeRange,
  ): Promise<ColumnView | undefined> {
    const cuts = this.#cuts(key, src.gen);
    let column: ColumnView | undefined;
    if (src.kind === "head") {
      column = src.head.column(key, field);
      if (column) column = slice(column, range);
    } else {
      const f = src.segment.reader.series.get(key)?.fields.get(field);
      if (!f) return undefined;
      const parts: ColumnView[] = [];
      for (const b of f.blocks) {
        if (!overlaps(b.minTimeMs, b.minTimeSubMs, b.maxTimeMs, b.maxTimeSubMs, range)) continue;
        const block = await src.segment.reader.readBlock(f.type, b);
        parts.push(slice(block, range));
      }
      if (parts.length === 0) return undefined;
      column = concatColumns(parts);
    }
    if (!column) return undefined;
    column = cutRanges(column, cuts);
    return column.length === 0 ? undefined : column;
  }

  /** A field's values in [minNs, maxNs], merged across sources; undefined when none. */
  async readField(
    series: { key: string },
    field: string,
    minNs: bigint,
    maxNs: bigint,
  ): Promise<ColumnView | undefined> {
    return await this.#read(series.key, field, this.#rangeOf(minNs, maxNs));
  }

  #range: { minNs: bigint; maxNs: bigint; range: TimeRange } | undefined;

  /** The (ms, subMs) range of [minNs, maxNs], converted once per query rather than per series. */
  #rangeOf(minNs: bigint, maxNs: bigint): TimeRange {
    const r = this.#range;
    if (r !== undefined && r.minNs === minNs && r.maxNs === maxNs) return r.range;
    const range = rangeOf(minNs, maxNs);
    this.#range = { minNs, maxNs, range };
    return range;
  }

  async #read(key: string, field: string, range: TimeRange): Promise<ColumnView | undefined> {
    let only: ColumnView | undefined;
    let columns: ColumnView[] | undefined;
    for (const src of this.sources) {
      // Heads answer synchronously: no promise per series, field and source.
      const c = src.kind === "head"
        ? this.#headColumn(src.head, src.gen, key, field, range)
        : await this.#sourceColumn(src, key, field, range);
      if (c === undefined) continue;
      if (only === undefined) only = c;
      else (columns ??= [only]).push(c);
    }
    return columns === undefined ? only : mergeColumns(columns);
  }

  #headColumn(
    head: Head,
    gen: number,
    key: string,
    field: string,
    range: TimeRange,
  ): ColumnView | undefined {
    const column = head.column(key, field);
    if (column === undefined) return undefined;
    const cut = cutRanges(slice(column, range), this.#cuts(key, gen));
    return cut.length === 0 ? undefined : cut;
  }

  /**
   * The field's data in [minNs, maxNs] as time-ordered parts: whole blocks inside the range (and
   * untouched by tombstones, and accepted by `options.summarize`) as their statistics, the rest
   * as decoded columns (views, not copies). When sources overlap in time the answer is one merged
   * column, so duplicates are never counted twice.
   */
  async readFieldSummaries(
    series: { key: string },
    field: string,
    minNs: bigint,
    maxNs: bigint,
    options?: {
      summarize?: (minMs: number, minSubMs: number, maxMs: number, maxSubMs: number) => boolean;
    },
  ): Promise<ShardFieldPart[]> {
    const key = series.key;
    const summarize = options?.summarize;
    const range = this.#rangeOf(minNs, maxNs);
    // Most series live in one source: its parts are the answer, with nothing else allocated.
    let only: ShardFieldPart[] | undefined;
    let perSource: {
      parts: ShardFieldPart[];
      first: [number, number];
      last: [number, number];
    }[] | undefined;
    for (const src of this.sources) {
      let parts: ShardFieldPart[];
      if (src.kind === "head") {
        const c = this.#headColumn(src.head, src.gen, key, field, range);
        if (c === undefined) continue;
        parts = [{ kind: "column", column: c }];
      } else {
        parts = [];
        const f = src.segment.reader.series.get(key)?.fields.get(field);
        if (!f) continue;
        const cuts = this.#cuts(key, src.gen);
        for (const b of f.blocks) {
          if (!overlaps(b.minTimeMs, b.minTimeSubMs, b.maxTimeMs, b.maxTimeSubMs, range)) continue;
          const whole = contains(range, b.minTimeMs, b.minTimeSubMs, b.maxTimeMs, b.maxTimeSubMs) &&
            !cuts.some((r) =>
              overlaps(b.minTimeMs, b.minTimeSubMs, b.maxTimeMs, b.maxTimeSubMs, r)
            ) &&
            (summarize === undefined ||
              summarize(b.minTimeMs, b.minTimeSubMs, b.maxTimeMs, b.maxTimeSubMs));
          if (whole) {
            parts.push(summaryOf(f.type, b));
          } else {
            const block = await src.segment.reader.readBlock(f.type, b);
            const c = cutRanges(slice(block, range), cuts);
            if (c.length > 0) parts.push({ kind: "column", column: c });
          }
        }
      }
      if (parts.length === 0) continue;
      if (only === undefined && perSource === undefined) {
        only = parts;
        continue;
      }
      if (perSource === undefined) {
        perSource = [{ parts: only!, first: partStart(only![0]), last: partEnd(only!.at(-1)!) }];
      }
      perSource.push({ parts, first: partStart(parts[0]), last: partEnd(parts[parts.length - 1]) });
    }
    if (perSource === undefined) return only ?? [];
    perSource.sort((a, b) => a.first[0] - b.first[0] || a.first[1] - b.first[1]);
    for (let i = 1; i < perSource.length; i++) {
      const prev = perSource[i - 1].last, next = perSource[i].first;
      if (prev[0] > next[0] || (prev[0] === next[0] && prev[1] >= next[1])) {
        const merged = await this.#read(key, field, range);
        return merged ? [{ kind: "column", column: merged }] : [];
      }
    }
    return perSource.flatMap((s) => s.parts);
  }
}

function summaryOf(type: FieldType, b: BlockMeta): ShardBlockSummary {
  const s: ShardBlockSummary = {
    kind: "summary",
    type,
    count: b.count,
    minTimeMs: b.minTimeMs,
    minTimeSubMs: b.minTimeSubMs,
    maxTimeMs: b.maxTimeMs,
    maxTimeSubMs: b.maxTimeSubMs,
    first: b.first,
    last: b.last,
  };
  if (b.sum !== undefined) {
    s.sum = b.sum;
    s.min = b.min;
    s.max = b.max;
    s.minTimeOfMin = b.minTimeOfMin;
    s.minTimeOfMax = b.minTimeOfMax;
  }
  return s;
}

function partStart(p: ShardFieldPart): [number, number] {
  return p.kind === "summary"
    ? [p.minTimeMs, p.minTimeSubMs]
    : [p.column.timesMs[0], p.column.timesSubMs[0]];
}

function partEnd(p: ShardFieldPart): [number, number] {
  if (p.kind === "summary") return [p.maxTimeMs, p.maxTimeSubMs];
  const n = p.column.length - 1;
  return [p.column.timesMs[n], p.column.timesSubMs[n]];
}
