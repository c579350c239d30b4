/**
 * A segment's footer index, kept as its (checksummed) bytes and parsed on demand. Version 2
 * (FORMAT.md) opens by reading a 20-byte header and a small measurement directory; a
 * measurement's series are parsed when first asked for, one series by key through the sorted
 * hash table, and the start-up series count needs no parse at all. Version 1 (one sequential
 * list) is parsed whole on first use.
 * @module
 */
import { FieldType, type FieldValue, type Tag } from "../../core/mod.ts";
import { ByteReader, CodecError } from "../codecs/mod.ts";
import { IndexStrings } from "./_intern.ts";
import { readString } from "./_text.ts";
import { entryArray, readFieldsV3 } from "./block_entry.ts";
import { compareHashes, seriesKeyHash } from "./series_hash.ts";
import { INDEX_V2_HEADER_BYTES } from "./writer.ts";

/** Where a block sits and what it holds (from the footer index). */
export interface BlockMeta {
  /** File offset of the block's CRC. */
  offset: number;
  /** Payload bytes after the CRC. */
  length: number;
  count: number;
  minTimeMs: number;
  minTimeSubMs: number;
  maxTimeMs: number;
  maxTimeSubMs: number;
  first: FieldValue;
  last: FieldValue;
  min?: FieldValue;
  max?: FieldValue;
  sum?: number | bigint;
  /** Numbers only: the earliest times at which the minimum and the maximum occur. */
  minTimeOfMin?: { ms: number; subMs: number };
  minTimeOfMax?: { ms: number; subMs: number };
}

/** One field of one series in a segment. */
export interface SegmentField {
  type: FieldType;
  blocks: BlockMeta[];
}

/** One series in a segment. */
export interface SegmentSeries {
  key: string;
  measurement: string;
  tags: readonly Tag[];
  /** A Map, or a `FieldList` (read from a version 3 index). */
  fields: ReadonlyMap<string, SegmentField>;
}

/** Reads a value written by `writeValue`. */
export function readValue(r: ByteReader, type: FieldType): FieldValue {
  switch (type) {
    case FieldType.Float:
      return r.f64("float");
    case FieldType.Integer:
    case FieldType.Unsigned: {
      const tag = r.u8("integer tag");
      if (tag === 0) return r.f64("integer");
      if (tag !== 1) r.fail(`bad integer tag ${tag}`);
      const text = readString(r);
      if (!/^-?\d+$/.test(text)) r.fail(`bad integer text ${JSON.stringify(text)}`);
      return BigInt(text);
    }
    case FieldType.String:
      return readString(r);
    case FieldType.Boolean:
      return r.u8("boolean") === 1;
    default:
      return r.fail(`unknown field type ${type}`);
  }
}

function readTags(r: ByteReader, strings: IndexStrings): Tag[] {
  const tagCount = r.uvarint("tag count");
  const tags = entryArray<Tag>(tagCount);
  for (let t = 0; t < tagCount; t++) tags[t] = strings.tag(readString(r), readString(r));
  return tags;
}

/** Reads a series' fields in the version 1 and 2 layout (field count, then each field). */
function readFields(r: ByteReader, strings: IndexStrings): Map<string, SegmentField> {
  const fieldCount = r.uvarint("field count");
  const fields = new Map<string, SegmentField>();
  for (let f = 0; f < fieldCount; f++) {
    const name = strings.name(readString(r));
    const type = r.u8("field type") as FieldType;
    if (type < 1 || type > 5) r.fail(`unknown field type ${type}`);
    const blockCount = r.uvarint("block count");
    const blocks: BlockMeta[] = [];
    for (let b = 0; b < blockCount; b++) {
      const meta: BlockMeta = {
        offset: r.uvarint("block offset"),
        length: r.uvarint("block length"),
        count: r.uvarint("block count"),
        minTimeMs: r.f64("min time"),
        minTimeSubMs: r.uvarint("min time sub"),
        maxTimeMs: r.f64("max time"),
        maxTimeSubMs: r.uvarint("max time sub"),
        first: readValue(r, type),
        last: readValue(r, type),
      };
      if (type === FieldType.Float || type === FieldType.Integer || type === FieldType.Unsigned) {
        meta.min = readValue(r, type);
        meta.max = readValue(r, type);
        meta.sum = readValue(r, type === FieldType.Float ? type : FieldType.Integer) as
          | number
          | bigint;
        meta.minTimeOfMin = { ms: r.f64("time of min"), subMs: r.uvarint("time of min sub") };
        meta.minTimeOfMax = { ms: r.f64("time of max"), subMs: r.uvarint("time of max sub") };
      }
      blocks.push(meta);
    }
    fields.set(name, { type, blocks });
  }
  return fields;
}

/** Parses a version 1 footer index (already checksummed), whole. */
export function parseIndex(
  bytes: Uint8Array,
  strings = new IndexStrings(),
): Map<string, SegmentSeries> {
  const r = new ByteReader(bytes);
  const out = new Map<string, SegmentSeries>();
  const seriesCount = r.uvarint("series count");
  for (let s = 0; s < seriesCount; s++) {
    const key = readString(r);
    const measurement = readString(r);
    const tags = readTags(r, strings);
    out.set(key, { key, measurement, tags, fields: readFields(r, strings) });
  }
  r.expectEnd("segment index");
  return out;
}

/**
 * What a reader needs of an index, whichever its version. Every parse error is a `CodecError`
 * whose offset is within the index bytes (the reader maps it to the file).
 */
export interface SegmentIndex {
  /** Series stored. */
  readonly seriesCount: number;
  /** Values stored (sum of block counts). */
  readonly valueCount: number;
  /** Measurement names, in stored order. */
  measurements(): string[];
  /** The series of a measurement (parsed once, then kept). */
  seriesOf(measurement: string): SegmentSeries[];
  /** Every series by key (parses what is left). */
  all(): Map<string, SegmentSeries>;
  /** One series by key, or undefined. */
  lookup(key: string): SegmentSeries | undefined;
  /** True when the series is stored (version 2: compares only the key, parses nothing else). */
  has(key: string): boolean;
  /**
   * Parses up to `max` more series of a measurement, their fields too (what {@linkcode seriesOf}
   * and the field reads would parse at once): a background warm-up in steps. True once the
   * measurement is parsed whole.
   */
  parseSome(measurement: string, max: number): boolean;
  /** Calls `fn` with the key and tags of each series of a measurement; field data is skipped. */
  forEachTags(measurement: string, fn: (key: string, tags: readonly Tag[]) => void): void;
  /** The 64-bit hashes of every series key as (lo, hi) pairs (do not modify). */
  hashes(): Uint32Array;
}

/**
 * Opens an index of a known version (1, 2 or 3). `corrupt` turns a parse error found later (a
 * series' fields, parsed on first access) into the error to throw.
 * @throws {Error} `BUG:` for another version (the reader checks it first).
 */
export function openIndex(
  version: number,
  bytes: Uint8Array,
  corrupt: (error: CodecError) => Error = (error) => error,
): SegmentIndex {
  if (version === 1) return new IndexV1(bytes);
  if (version === 2) return new IndexV2(bytes, readFields, corrupt);
  if (version === 3) return new IndexV2(bytes, readFieldsV3, corrupt);
  throw new Error(`BUG: openIndex: unknown segment version ${version}`);
}

/** Reads the fields of one entry (they differ between versions 2 and 3). */
type FieldsReader = (r: ByteReader, strings: IndexStrings) => ReadonlyMap<string, SegmentField>;

/** Parses the fields of an entry: what a {@linkcode LazySeries} shares with its index. */
interface EntryFields {
  readEntryFields(key: string, at: number, length: number): ReadonlyMap<string, SegmentField>;
}

/**
 * A version 2 or 3 series whose fields (most of an entry: every block's statistics) are parsed on
 * first access, so listing series reads only keys and tags. What every entry of an index has in
 * common (its bytes, field reader, strings, error) stays in the index: kept per series, those
 * four were 32 of its 104 bytes.
 */
class LazySeries implements SegmentSeries {
  #fields: ReadonlyMap<string, SegmentField> | undefined;

  constructor(
    readonly key: string,
    readonly measurement: string,
    readonly tags: readonly Tag[],
    private readonly index: EntryFields,
    private readonly at: number,
    private readonly length: number,
  ) {}

  get fields(): ReadonlyMap<string, SegmentField> {
    return this.#fields ??= this.index.readEntryFields(this.key, this.at, this.length);
  }
}

/** Version 1: one list, parsed whole on first use. */
class IndexV1 implements SegmentIndex {
  readonly #series: Map<string, SegmentSeries>;
  readonly #byMeasurement = new Map<string, SegmentSeries[]>();
  readonly valueCount: number;
  #hashes: Uint32Array | undefined;

  constructor(bytes: Uint8Array) {
    // Parsed at open (as before version 2): its value count is not stored apart.
    this.#series = parseIndex(bytes);
    let values = 0;
    for (const s of this.#series.values()) {
      for (const f of s.fields.values()) for (const b of f.blocks) values += b.count;
      let list = this.#byMeasurement.get(s.measurement);
      if (!list) this.#byMeasurement.set(s.measurement, list = []);
      list.push(s);
    }
    this.valueCount = values;
  }

  get seriesCount(): number {
    return this.#series.size;
  }
  measurements(): string[] {
    return [...this.#byMeasurement.keys()];
  }
  seriesOf(measurement: string): SegmentSeries[] {
    return this.#byMeasurement.get(measurement) ?? [];
  }
  all(): Map<string, SegmentSeries> {
    return this.#series;
  }
  lookup(key: string): SegmentSeries | undefined {
    return this.#series.get(key);
  }
  parseSome(): boolean {
    return true; // parsed whole at open
  }
  has(key: string): boolean {
    return this.#series.has(key);
  }
  forEachTags(measurement: string, fn: (key: string, tags: readonly Tag[]) => void): void {
    for (const s of this.seriesOf(measurement)) fn(s.key, s.tags);
  }
  hashes(): Uint32Array {
    if (this.#hashes) return this.#hashes;
    const out = new Uint32Array(2 * this.#series.size);
    const h = new Uint32Array(2);
    let i = 0;
    for (const key of this.#series.keys()) {
      seriesKeyHash(key, h);
      out[i++] = h[0];
      out[i++] = h[1];
    }
    return this.#hashes = out;
  }
}

interface MeasurementRange {
  name: string;
  count: number;
  /** Offset of its first entry within the entries section. */
  offset: number;
  length: number;
  series?: SegmentSeries[];
  /** Entry offsets of `series`, ascending (a parsed measurement's lookups search it). */
  offsets?: Uint32Array;
  /** A parse in steps ({@linkcode SegmentIndex.parseSome}): its first entries, not yet whole. */
  partial?: { series: SegmentSeries[]; offsets: Uint32Array; at: number };
}

/**
 * Every series of a version 2 index as a read-only Map that copies nothing: `get` and `has` go
 * through the hash table, iteration walks the measurements' parsed arrays (a Map of a million
 * keys would cost about a second and its memory at the first listing).
 */
class SeriesView extends Map<string, SegmentSeries> {
  readonly #index: IndexV2;

  constructor(index: IndexV2) {
    super();
    this.#index = index;
  }

  override get size(): number {
    return this.#index.seriesCount;
  }
  override get(key: string): SegmentSeries | undefined {
    return this.#index.lookup(key);
  }
  override has(key: string): boolean {
    return this.#index.has(key);
  }
  override values(): MapIterator<SegmentSeries> {
    return this.#index.each() as unknown as MapIterator<SegmentSeries>;
  }
  override keys(): MapIterator<string> {
    return Iterator.from(this.#index.each()).map((s) => s.key) as unknown as MapIterator<string>;
  }
  override entries(): MapIterator<[string, SegmentSeries]> {
    return Iterator.from(this.#index.each()).map((s) =>
      [s.key, s] as [string, SegmentSeries]
    ) as unknown as MapIterator<[string, SegmentSeries]>;
  }
  override [Symbol.iterator](): MapIterator<[string, SegmentSeries]> {
    return this.entries();
  }
  override forEach(
    fn: (value: SegmentSeries, key: string, map: Map<string, SegmentSeries>) => void,
    thisArg?: unknown,
  ): void {
    for (const s of this.#index.each()) fn.call(thisArg, s, s.key, this);
  }
  override set(key: string): this {
    throw new Error(`BUG: a segment's series are read-only (set ${JSON.stringify(key)})`);
  }
  override delete(key: string): boolean {
    throw new Error(`BUG: a segment's series are read-only (delete ${JSON.stringify(key)})`);
  }
  override clear(): void {
    throw new Error("BUG: a segment's series are read-only (clear)");
  }
}

/**
 * Versions 2 and 3: header, hash table, entry offsets, measurement directory, entries (whose
 * fields are read by `readFields`, the one part that differs).
 */
class IndexV2 implements SegmentIndex, EntryFields {
  readonly #bytes: Uint8Array;
  readonly seriesCount: number;
  readonly valueCount: number;
  /** (lo, hi) pairs sorted by (hi, lo). */
  readonly #hashes: Uint32Array;
  /** Entry offset of each hash, same order. */
  readonly #offsets: Uint32Array;
  /** Where the entries section starts in the index bytes. */
  readonly #entriesAt: number;
  readonly #ranges: MeasurementRange[] = [];
  readonly #byName = new Map<string, MeasurementRange>();
  #all: Map<string, SegmentSeries> | undefined;
  /** Series looked up by key before their measurement was parsed. */
  readonly #looked = new Map<string, SegmentSeries>();
  readonly #scratch = new Uint32Array(2);
  /**
   * The last key looked up and its series: a query reads a series field after field (and asks
   * for its block statistics first), each asking for the same key; a string compare spares the
   * hash and the key read of each.
   */
  #lastKey: string | undefined;
  #lastSeries: SegmentSeries | undefined;
  /**
   * The parsed measurement and position of the last series found there: a query reads series
   * in key order, which is their order there, so the next lookup is most often the next entry
   * (a key compare instead of a hash and a search: ~7% of a GROUP BY over 100k series).
   */
  #lastRange: MeasurementRange | undefined;
  #lastIndex = 0;
  /** Reads the key of a candidate entry (one reader for every lookup). */
  readonly #keyReader: ByteReader;

  readonly #corrupt: (error: CodecError) => Error;
  readonly #readFields: FieldsReader;
  /** Tag keys, tag values and field names of every entry, one string object each. */
  readonly strings = new IndexStrings();

  constructor(
    bytes: Uint8Array,
    readFields: FieldsReader,
    corrupt: (error: CodecError) => Error,
  ) {
    this.#bytes = bytes;
    this.#readFields = readFields;
    this.#corrupt = corrupt;
    this.#keyReader = new ByteReader(bytes);
    const r = new ByteReader(bytes);
    r.need(INDEX_V2_HEADER_BYTES, "index header");
    const n = this.seriesCount = r.u32("series count");
    const m = r.u32("measurement count");
    this.valueCount = r.f64("value count");
    const directoryLength = r.u32("directory length");
    r.need(12 * n + directoryLength, "hash table and directory");
    // Copies (not views): the index offset in the file is not 4-byte aligned.
    const at = r.offset;
    this.#hashes = new Uint32Array(bytes.slice(at, at + 8 * n).buffer);
    this.#offsets = new Uint32Array(bytes.slice(at + 8 * n, at + 12 * n).buffer);
    r.offset = at + 12 * n;
    const dirEnd = r.offset + directoryLength;
    let next = 0, seen = 0;
    for (let i = 0; i < m; i++) {
      const range: MeasurementRange = {
        name: readString(r),
        count: r.uvarint("measurement series count"),
        offset: r.uvarint("measurement entries offset"),
        length: r.uvarint("measurement entries length"),
      };
      if (range.offset !== next) r.fail(`measurement entries at ${range.offset}, expected ${next}`);
      next += range.length;
      seen += range.count;
      this.#ranges.push(range);
      this.#byName.set(range.name, range);
    }
    if (r.offset !== dirEnd) r.fail(`directory ends at ${r.offset}, expected ${dirEnd}`);
    this.#entriesAt = dirEnd;
    if (dirEnd + next !== bytes.length) {
      r.fail(`entries of ${next} bytes do not end the index of ${bytes.length} bytes`);
    }
    if (seen !== n) r.fail(`directory counts ${seen} series, header ${n}`);
  }

  measurements(): string[] {
    return this.#ranges.map((r) => r.name);
  }

  /**
   * Runs a parse of entries; damage there is `corrupt`'s error (a CorruptionError naming the
   * file), whichever way the entries are reached (the reader's methods or the series Map view).
   */
  #guard<T>(parse: () => T): T {
    try {
      return parse();
    } catch (error) {
      throw error instanceof CodecError ? this.#corrupt(error) : error;
    }
  }

  seriesOf(measurement: string): SegmentSeries[] {
    return this.#guard(() => this.#seriesOf(measurement));
  }

  #seriesOf(measurement: string): SegmentSeries[] {
    const range = this.#byName.get(measurement);
    if (!range) return [];
    this.#parseRange(range, Infinity, false);
    return range.series!;
  }

  parseSome(measurement: string, max: number): boolean {
    const range = this.#byName.get(measurement);
    return range === undefined || this.#guard(() => this.#parseRange(range, max, true));
  }

  /** Parses up to `max` more entries of a range (and their fields); true once it is whole. */
  #parseRange(range: MeasurementRange, max: number, withFields: boolean): boolean {
    if (range.series) return true;
    const p = range.partial ??= {
      series: [],
      offsets: new Uint32Array(range.count),
      at: range.offset,
    };
    const r = new ByteReader(this.#bytes);
    r.offset = this.#entriesAt + p.at;
    const end = Math.min(range.count, p.series.length + max);
    for (let i = p.series.length; i < end; i++) {
      p.offsets[i] = r.offset - this.#entriesAt;
      const entry = this.#readEntry(r, range.name);
      const series = this.#looked.get(entry.key) ?? entry; // one object per series
      if (withFields) series.fields;
      p.series.push(series);
      // Kept entry by entry: a damaged entry that throws leaves the parse where it stopped,
      // so a later call neither repeats the entries before it nor files them at wrong places.
      p.at = r.offset - this.#entriesAt;
    }
    if (p.series.length < range.count) return false;
    if (r.offset !== this.#entriesAt + range.offset + range.length) {
      r.fail(`entries of ${JSON.stringify(range.name)} do not fill their ${range.length} bytes`);
    }
    range.offsets = p.offsets;
    range.series = p.series;
    range.partial = undefined;
    return true;
  }

  all(): Map<string, SegmentSeries> {
    return this.#all ??= new SeriesView(this);
  }

  /** Every series, measurement by measurement (parsing those not parsed yet). */
  *each(): Generator<SegmentSeries, void, undefined> {
    for (const range of this.#ranges) yield* this.seriesOf(range.name);
  }

  lookup(key: string): SegmentSeries | undefined {
    if (key === this.#lastKey) return this.#lastSeries;
    const next = this.#lastRange?.series?.[this.#lastIndex + 1];
    if (next !== undefined && next.key === key) {
      this.#lastIndex++;
      this.#lastKey = key;
      return this.#lastSeries = next;
    }
    this.#lastRange = undefined;
    const found = this.#guard(() => this.#lookup(key));
    this.#lastKey = key;
    this.#lastSeries = found;
    return found;
  }

  #lookup(key: string): SegmentSeries | undefined {
    const known = this.#looked.get(key);
    if (known) return known;
    const at = this.#find(key);
    if (at < 0) return undefined;
    const range = this.#rangeAt(at);
    // A range parsed whole, or in part past this entry (a warm-up's steps).
    const partial = range.partial !== undefined && at < range.partial.at
      ? range.partial
      : undefined;
    const series = range.series ?? partial?.series;
    if (series !== undefined) {
      // Entries are in offset order: a binary search finds the parsed one.
      const offsets = range.offsets ?? partial!.offsets;
      let a = 0, b = series.length - 1;
      while (a < b) {
        const mid = (a + b) >>> 1;
        if (offsets[mid] < at) a = mid + 1;
        else b = mid;
      }
      if (range.series !== undefined) {
        this.#lastRange = range;
        this.#lastIndex = a;
      }
      return series[a];
    }
    const r = new ByteReader(this.#bytes);
    r.offset = this.#entriesAt + at;
    const s = this.#readEntry(r, range.name);
    this.#looked.set(key, s);
    return s;
  }

  has(key: string): boolean {
    return this.#guard(() => this.#find(key) >= 0);
  }

  forEachTags(measurement: string, fn: (key: string, tags: readonly Tag[]) => void): void {
    this.#guard(() => this.#forEachTags(measurement, fn));
  }

  #forEachTags(measurement: string, fn: (key: string, tags: readonly Tag[]) => void): void {
    const range = this.#byName.get(measurement);
    if (!range) return;
    if (range.series) {
      for (const s of range.series) fn(s.key, s.tags);
      return;
    }
    const r = new ByteReader(this.#bytes);
    r.offset = this.#entriesAt + range.offset;
    for (let i = 0; i < range.count; i++) {
      const key = readString(r);
      const tags = readTags(r, this.strings);
      const fieldsLength = r.uvarint("fields length");
      r.need(fieldsLength, "fields");
      r.offset += fieldsLength;
      fn(key, tags);
    }
  }

  hashes(): Uint32Array {
    return this.#hashes;
  }

  /** The entry offset of a key (within the entries section), or -1. */
  #find(key: string): number {
    const h = this.#scratch;
    seriesKeyHash(key, h);
    const lo = h[0], hi = h[1], hashes = this.#hashes;
    let a = 0, b = this.seriesCount;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (compareHashes(hashes[2 * mid], hashes[2 * mid + 1], lo, hi) < 0) a = mid + 1;
      else b = mid;
    }
    const r = this.#keyReader;
    // Equal hashes sit together; compare the keys (a collision is possible, not likely).
    for (let i = a; i < this.seriesCount; i++) {
      if (hashes[2 * i] !== lo || hashes[2 * i + 1] !== hi) break;
      r.offset = this.#entriesAt + this.#offsets[i];
      if (readString(r) === key) return this.#offsets[i];
    }
    return -1;
  }

  /** The measurement whose entries hold an entry offset. */
  #rangeAt(offset: number): MeasurementRange {
    const ranges = this.#ranges;
    let a = 0, b = ranges.length - 1;
    while (a < b) {
      const mid = (a + b + 1) >>> 1;
      if (ranges[mid].offset <= offset) a = mid;
      else b = mid - 1;
    }
    return ranges[a];
  }

  #readEntry(r: ByteReader, measurement: string): SegmentSeries {
    const key = readString(r);
    const tags = readTags(r, this.strings);
    const length = r.uvarint("fields length");
    r.need(length, "fields");
    const at = r.offset;
    r.offset += length;
    return new LazySeries(key, measurement, tags, this, at, length);
  }

  readEntryFields(key: string, at: number, length: number): ReadonlyMap<string, SegmentField> {
    const r = new ByteReader(this.#bytes, at);
    try {
      const fields = this.#readFields(r, this.strings);
      if (r.offset !== at + length) {
        r.fail(`fields of ${JSON.stringify(key)} end at ${r.offset}, not ${at + length}`);
      }
      return fields;
    } catch (error) {
      throw error instanceof CodecError ? this.#corrupt(error) : error;
    }
  }
}
