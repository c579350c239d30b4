/**
 * The in-memory part of a shard: every series written since the last flush, its rows and field
 * columns in a {@linkcode SeriesColumns}. Implements the query room's ShardReader.
 * @module
 */
import {
  FieldLayouts,
  FieldType,
  instantFromNanos,
  type PackedPoint,
  packPoint,
  type Point,
  type Tag,
} from "../core/mod.ts";
import { type ColumnView, type FieldColumnBuffer, SeriesColumns, sliceView } from "./column.ts";
import type { TimeRange } from "./merge.ts";

/** A series in the head. */
export interface HeadSeries {
  id: number;
  key: string;
  measurement: string;
  tags: readonly Tag[];
  /** Field name -> column: a new Map on each read (`columns.fields`). */
  readonly fields: Map<string, FieldColumnBuffer>;
  /** The series' rows (one per point, times stored once) and its columns. */
  columns: SeriesColumns;
}

/** A {@linkcode HeadSeries}: a class, so `fields` is a getter on the prototype. */
class SeriesEntry implements HeadSeries {
  constructor(
    readonly id: number,
    readonly key: string,
    readonly measurement: string,
    readonly tags: readonly Tag[],
    readonly columns: SeriesColumns,
  ) {}

  get fields(): Map<string, FieldColumnBuffer> {
    return this.columns.fields;
  }
}

/** Told when the head creates or drops series (the shard keeps its series index current). */
export interface HeadSeriesListener {
  seriesCreated(series: HeadSeries): void;
  /** DROP SERIES / DROP MEASUREMENT of these keys (resolved over the whole database). */
  seriesDropped(keys: ReadonlySet<string>): void;
}

/** One shard's in-memory series and values. */
export class Head {
  /** Set by the shard that owns the head. */
  listener: HeadSeriesListener | undefined = undefined;
  #series = new Map<string, HeadSeries>();
  #byMeasurement = new Map<string, HeadSeries[]>();
  #fieldTypes = new Map<string, Map<string, FieldType>>();
  #nextId = 1;
  #values = 0;
  #columnsAdded = 0;
  /** For points that come unpacked (tests, old WAL records): the write path packs its own. */
  #layouts = new FieldLayouts();

  /**
   * Counts field columns ever added to a series here: a cache of field types read through this
   * head holds while it is unchanged (a series gaining a field another series already has also
   * counts, since after a drop the head's own map may be wider than its series).
   */
  get columnsAdded(): number {
    return this.#columnsAdded;
  }

  /** Number of values held. */
  get valueCount(): number {
    return this.#values;
  }

  /** Number of series held. */
  get seriesCount(): number {
    return this.#series.size;
  }

  /** An estimate of the memory held, for flush thresholds. */
  get estimatedBytes(): number {
    let bytes = this.#series.size * 256;
    for (const s of this.#series.values()) bytes += s.columns.estimatedBytes;
    return bytes;
  }

  /** Every series, in no particular order. */
  allSeries(): IterableIterator<HeadSeries> {
    return this.#series.values();
  }

  /** A series by key. */
  seriesByKey(key: string): HeadSeries | undefined {
    return this.#series.get(key);
  }

  /** The sorted, deduplicated column of a field; undefined when absent or empty. */
  column(key: string, field: string): ColumnView | undefined {
    const column = this.#series.get(key)?.columns.column(field);
    if (!column || column.length === 0) return undefined;
    return column.view();
  }

  /**
   * Removes the values of the given series inside the range (DELETE); with `dropSeries` the
   * series themselves are forgotten (DROP SERIES, DROP MEASUREMENT).
   */
  deleteRange(keys: ReadonlySet<string>, range: TimeRange, dropSeries: boolean): void {
    if (dropSeries) this.listener?.seriesDropped(keys);
    for (const key of keys) {
      const series = this.#series.get(key);
      if (!series) continue;
      if (dropSeries) {
        for (const c of series.fields.values()) this.#values -= c.view().length;
        this.#series.delete(key);
        const list = this.#byMeasurement.get(series.measurement) ?? [];
        const at = list.indexOf(series);
        if (at >= 0) list.splice(at, 1);
        if (list.length === 0) this.#byMeasurement.delete(series.measurement);
        continue;
      }
      this.#values -= series.columns.deleteRange(range);
    }
  }

  /**
   * Adds `points[from, to)`, whose field types were already checked against the catalog;
   * `keys[i]` is the series key of `points[i]` (core's `seriesKey`).
   */
  apply(
    points: readonly Point[],
    keys: readonly string[],
    from = 0,
    to: number = points.length,
  ): void {
    let count = 0;
    for (let i = from; i < to; i++) {
      const p = packPoint(points[i], this.#layouts);
      const key = keys[i];
      const series = this.#series.get(key) ?? this.#createSeries(key, p);
      const columns = series.columns;
      const row = columns.addRow(p.timeMs, p.timeSubMs);
      const { keys: fieldKeys, types } = p.layout, values = p.values;
      for (let j = 0; j < fieldKeys.length; j++) {
        let c = columns.fieldIndex(fieldKeys[j], j);
        if (c < 0) c = this.#createColumn(columns, p.measurement, fieldKeys[j], types[j]);
        columns.setValue(c, row, values[j]);
      }
      count += fieldKeys.length;
    }
    this.#values += count;
  }

  #createColumn(
    columns: SeriesColumns,
    measurement: string,
    field: string,
    type: FieldType,
  ): number {
    const c = columns.addField(field, type);
    this.#columnsAdded++;
    let types = this.#fieldTypes.get(measurement);
    if (!types) this.#fieldTypes.set(measurement, types = new Map());
    types.set(field, type);
    return c;
  }

  #createSeries(key: string, p: PackedPoint): HeadSeries {
    let floats = 0;
    for (const type of p.layout.types) if (type === FieldType.Float) floats++;
    // The Tag objects are shared (decoders share them between the points of a series; nothing
    // changes a Tag), the array is not (callers may change a point's list).
    const series = new SeriesEntry(
      this.#nextId++,
      key,
      p.measurement,
      p.tags.slice(),
      new SeriesColumns(floats),
    );
    this.#series.set(key, series);
    let list = this.#byMeasurement.get(p.measurement);
    if (!list) this.#byMeasurement.set(p.measurement, list = []);
    list.push(series);
    this.listener?.seriesCreated(series);
    return series;
  }

  /** Measurement names, sorted. */
  measurements(): string[] {
    return [...this.#byMeasurement.keys()].sort();
  }

  /** The series of a measurement. */
  series(measurement: string): HeadSeries[] {
    return this.#byMeasurement.get(measurement) ?? [];
  }

  /** Field name -> type of a measurement. */
  fieldTypes(measurement: string): Map<string, FieldType> {
    return new Map(this.#fieldTypes.get(measurement) ?? []);
  }

  /** A field's values in [minNs, maxNs], sorted and deduplicated; undefined when none. */
  readField(
    series: { key: string },
    field: string,
    minNs: bigint,
    maxNs: bigint,
  ): Promise<ColumnView | undefined> {
    const column = this.#series.get(series.key)?.columns.column(field);
    if (!column || column.length === 0) return Promise.resolve(undefined);
    const min = instantFromNanos(minNs), max = instantFromNanos(maxNs);
    const view = sliceView(column.view(), min.ms, min.subMs, max.ms, max.subMs);
    return Promise.resolve(view.length === 0 ? undefined : view);
  }
}
