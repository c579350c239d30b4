/**
 * The payload of a WAL write record: one database, one retention policy, many points.
 * Binary and little-endian; layout in FORMAT.md beside this file.
 *
 * Three layouts exist. {@linkcode encodeWriteBatch} writes the series layout (record type 3, marked
 * by a leading 0xFFFFFFFF): every distinct string of the batch is stored once in a table, every
 * distinct series (measurement and tags) and field shape (keys and types, in order) once in their
 * tables, and a point is its series and shape indexes, its values and its time: ~100 bytes for a
 * TSBS point of ten tags and ten floats instead of 230. The interned layout (record type 3 without
 * the marker: strings in a table, each point spelling out its tag and field key indexes) and the
 * plain layout (record type 1, every string inline) are what earlier versions wrote; both are still
 * decoded.
 * @module
 */
import {
  CorruptionError,
  type FieldLayout,
  FieldLayouts,
  FieldType,
  type FieldValue,
  PackedPoint,
  packPoint,
  type Point,
  type Tag,
} from "../../core/mod.ts";
import { MAX_POINT_FIELDS, MAX_POINT_TAGS, MAX_RECORD_BYTES } from "./limits.ts";

/** A write as the WAL keeps it. */
export interface WriteBatch {
  database: string;
  retentionPolicy: string;
  points: Point[];
}

/** The layouts of a write batch payload. */
export const WriteBatchLayout = {
  /** Every string inline (record type 1; all WAL version 1 wrote). */
  Plain: 1,
  /** A string table, then u32 indexes (record type 3, WAL version 2). */
  Interned: 2,
} as const;
/** A layout of a write batch payload. */
export type WriteBatchLayout = typeof WriteBatchLayout[keyof typeof WriteBatchLayout];

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

const INITIAL_OUT_BYTES = 64 * 1024;
/** A buffer grown past this by one huge batch is dropped after it, not kept for ever. */
const MAX_KEPT_OUT_BYTES = 4 * 1024 * 1024;

/** A growable little-endian buffer, reused between records (encoding is synchronous). */
class Out {
  bytes = new Uint8Array(INITIAL_OUT_BYTES);
  view = new DataView(this.bytes.buffer);
  pos = 0;
  /** Empties the buffer, letting go of memory a huge record made it take. */
  reset(at: number): void {
    this.pos = at;
    if (this.bytes.length > MAX_KEPT_OUT_BYTES) {
      this.bytes = new Uint8Array(INITIAL_OUT_BYTES);
      this.view = new DataView(this.bytes.buffer);
    }
  }
  ensure(n: number): void {
    if (this.pos + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, this.pos));
    this.bytes = next;
    this.view = new DataView(next.buffer);
  }
  /** Writes a u32 length and the UTF-8 bytes of `s`. */
  str(s: string): void {
    // UTF-8 needs at most 3 bytes per UTF-16 unit; the u32 length is patched after encoding.
    const n = s.length;
    this.ensure(4 + n * 3);
    const bytes = this.bytes;
    const start = this.pos + 4;
    let i = 0;
    // ASCII inline: short names are the rule, and a call into the encoder costs more than them.
    if (n <= 64) {
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        bytes[start + i] = c;
      }
    }
    let written = i;
    if (i < n) written = encoder.encodeInto(s, bytes.subarray(start)).written;
    this.view.setUint32(this.pos, written, true);
    this.pos = start + written;
  }
}

const table = new Out();
const body = new Out();

/**
 * The first u32 of a series-layout payload. An interned-layout payload starts with its string
 * count, which cannot be this: each string takes at least 4 bytes and a record at most 512 MiB.
 */
const SERIES_LAYOUT_MARKER = 0xffffffff;

/** A series of the batch: its table index and the Tag objects it was seen with. */
interface SeriesEntry {
  measurement: string;
  tags: readonly Tag[];
  id: number;
}

/** A field shape of the batch: its keys and types in order, and its table index. */
interface ShapeEntry {
  layout: FieldLayout;
  id: number;
}

const series = new Out();
const shapes = new Out();
/**
 * The encoder's shared layouts: those of points that come unpacked (decoders hand out packed
 * points), and the one object per shape that equal layouts from other caches are mapped to.
 */
const walLayouts = new FieldLayouts();

/**
 * Encodes a batch into record payload bytes, series layout (record type 3): strings, series and
 * field shapes in tables, points as indexes into them plus values and time.
 */
export function encodeWriteBatch(batch: WriteBatch): Uint8Array {
  table.reset(0);
  body.reset(0);
  series.reset(4);
  shapes.reset(4);
  const index = new Map<string, number>();
  const intern = (s: string): number => {
    let i = index.get(s);
    if (i === undefined) {
      i = index.size;
      index.set(s, i);
      table.str(s);
    }
    return i;
  };
  const database = intern(batch.database), retentionPolicy = intern(batch.retentionPolicy);
  // Decoders hand every point of a series the same Tag objects: series are found by their first
  // Tag (or, untagged, by measurement) and told apart by object identity, which within this
  // synchronous call means equal strings. Shapes are found by their layout object (decoders
  // share one between the points of the same fields), else by the encoder's own layout of the
  // same keys and types (a trie walk: a list compared key by key was quadratic in the shapes of
  // a batch); most points have the shape of the point before.
  const byFirstTag = new Map<Tag, SeriesEntry[]>();
  const untagged = new Map<string, SeriesEntry>();
  const byLayout = new Map<FieldLayout, ShapeEntry>();
  let seriesCount = 0, shapeCount = 0;
  let lastShape: ShapeEntry | undefined;
  const findSeries = (measurement: string, tags: readonly Tag[]): number => {
    let entry: SeriesEntry | undefined;
    if (tags.length === 0) entry = untagged.get(measurement);
    else {
      const list = byFirstTag.get(tags[0]);
      if (list !== undefined) {
        for (const e of list) {
          if (e.measurement !== measurement || e.tags.length !== tags.length) continue;
          let t = 1;
          while (t < tags.length && e.tags[t] === tags[t]) t++;
          if (t === tags.length) {
            entry = e;
            break;
          }
        }
      }
    }
    if (entry !== undefined) return entry.id;
    if (tags.length > MAX_POINT_TAGS) {
      // The engine refuses such points (walPointProblem): a u16 would wrap and the record
      // would read back as damage.
      throw new Error(`BUG: a point with ${tags.length} tags reached the WAL encoder`);
    }
    entry = { measurement, tags: tags.slice(), id: seriesCount++ };
    if (tags.length === 0) untagged.set(measurement, entry);
    else {
      const list = byFirstTag.get(tags[0]);
      if (list === undefined) byFirstTag.set(tags[0], [entry]);
      else list.push(entry);
    }
    series.ensure(6 + tags.length * 8);
    const view = series.view;
    let pos = series.pos;
    view.setUint32(pos, intern(measurement), true);
    view.setUint16(pos + 4, tags.length, true);
    pos += 6;
    for (const tag of tags) {
      view.setUint32(pos, intern(tag.key), true);
      view.setUint32(pos + 4, intern(tag.value), true);
      pos += 8;
    }
    series.pos = pos;
    return entry.id;
  };
  const findShape = (layout: FieldLayout): ShapeEntry => {
    if (lastShape !== undefined && lastShape.layout === layout) return lastShape;
    let entry = byLayout.get(layout);
    if (entry !== undefined) return lastShape = entry;
    const { keys, types } = layout, n = keys.length;
    if (n > MAX_POINT_FIELDS) {
      throw new Error(`BUG: a point with ${n} fields reached the WAL encoder`);
    }
    const canonical = walLayouts.find(keys, types, n);
    entry = byLayout.get(canonical);
    if (entry === undefined) {
      entry = { layout: canonical, id: shapeCount++ };
      byLayout.set(canonical, entry);
      shapes.ensure(2 + n * 5);
      const view = shapes.view;
      let pos = shapes.pos;
      view.setUint16(pos, n, true);
      pos += 2;
      for (let f = 0; f < n; f++) {
        view.setUint32(pos, intern(keys[f]), true);
        view.setUint8(pos + 4, types[f]);
        pos += 5;
      }
      shapes.pos = pos;
    }
    byLayout.set(layout, entry);
    return lastShape = entry;
  };

  const { points } = batch;
  body.ensure(4);
  body.view.setUint32(0, points.length, true);
  body.pos = 4;
  for (let p = 0; p < points.length; p++) {
    const point = packPoint(points[p], walLayouts);
    const { measurement, tags, layout, values, timeMs, timeSubMs } = point;
    const seriesId = findSeries(measurement, tags);
    const shapeId = findShape(layout).id;
    const types = layout.types, n = types.length;
    // The fixed-size part of the point at once; string values ensure their own room.
    body.ensure(8 + n * 9 + 12);
    let view = body.view;
    let pos = body.pos;
    view.setUint32(pos, seriesId, true);
    view.setUint32(pos + 4, shapeId, true);
    pos += 8;
    for (let f = 0; f < n; f++) {
      const type = types[f], value = values[f];
      if (type === FieldType.Float) {
        view.setFloat64(pos, value as number, true);
        pos += 8;
      } else if (type === FieldType.String) {
        body.pos = pos;
        body.str(value as string);
        // The string may have grown the buffer: room again for the fixed part still to come.
        body.ensure((n - f - 1) * 9 + 12);
        view = body.view;
        pos = body.pos;
      } else {
        pos = writeScalar(view, pos, type, value);
      }
    }
    view.setFloat64(pos, timeMs, true);
    view.setUint32(pos + 8, timeSubMs, true);
    body.pos = pos + 12;
  }
  series.view.setUint32(0, seriesCount, true);
  shapes.view.setUint32(0, shapeCount, true);
  const out = new Uint8Array(8 + table.pos + 8 + series.pos + shapes.pos + body.pos);
  const view = new DataView(out.buffer);
  view.setUint32(0, SERIES_LAYOUT_MARKER, true);
  view.setUint32(4, index.size, true);
  let at = 8;
  out.set(table.bytes.subarray(0, table.pos), at);
  at += table.pos;
  view.setUint32(at, database, true);
  view.setUint32(at + 4, retentionPolicy, true);
  at += 8;
  for (const part of [series, shapes, body]) {
    out.set(part.bytes.subarray(0, part.pos), at);
    at += part.pos;
  }
  return out;
}

/** Record payloads of a batch, and the points too large for any record. */
export interface EncodedWriteRecords {
  /**
   * Payloads of at most `maxBytes` each, in order; `payload` holds the batch's points
   * `[from, to)`, which are none of `tooLarge`.
   */
  parts: { payload: Uint8Array; from: number; to: number }[];
  /** Indexes (in the batch), ascending, of the points that alone encode to more than `maxBytes`. */
  tooLarge: number[];
}

/**
 * Encodes a batch as record payloads of at most `maxBytes` each: one payload unless the batch
 * is bigger, which only a huge body can make (a 25 MB request encodes to a few tens of MB). A
 * bigger batch is halved until its parts fit, and a point that alone does not fit is left out
 * and listed in `tooLarge`, so no record the reader would refuse is ever written.
 */
export function encodeWriteRecords(
  batch: WriteBatch,
  maxBytes: number = MAX_RECORD_BYTES,
): EncodedWriteRecords {
  const out: EncodedWriteRecords = { parts: [], tooLarge: [] };
  const encodeRange = (from: number, to: number) => {
    const points = from === 0 && to === batch.points.length
      ? batch.points
      : batch.points.slice(from, to);
    const payload = encodeWriteBatch({ ...batch, points });
    if (payload.length <= maxBytes) out.parts.push({ payload, from, to });
    else if (to - from === 1) out.tooLarge.push(from);
    else {
      const middle = from + Math.ceil((to - from) / 2);
      encodeRange(from, middle);
      encodeRange(middle, to);
    }
  };
  if (batch.points.length > 0) encodeRange(0, batch.points.length);
  return out;
}

/** Writes a non-string, non-float value (at most 9 bytes); returns the next position. */
function writeScalar(view: DataView, pos: number, type: FieldType, value: FieldValue): number {
  switch (type) {
    case FieldType.Integer:
    case FieldType.Unsigned:
      // 0: a safe integer as f64; 1: the full 64 bits (two's complement for int64).
      if (typeof value === "number") {
        view.setUint8(pos, 0);
        view.setFloat64(pos + 1, value, true);
      } else {
        view.setUint8(pos, 1);
        view.setBigInt64(pos + 1, BigInt.asIntN(64, value as bigint), true);
      }
      return pos + 9;
    case FieldType.Boolean:
      view.setUint8(pos, value ? 1 : 0);
      return pos + 1;
    default:
      throw new Error(`BUG: unknown field type ${type}`);
  }
}

/**
 * Decodes record payload bytes of the given layout (by record type: 1 plain, 3 interned or series,
 * told apart by the series layout's marker). `file` and `offset` locate the record for the error
 * raised when the payload does not parse (which its checksum should have made impossible).
 * Points of one series share their Tag objects (each point has its own array), as decoders'
 * points do.
 * @throws {CorruptionError} when the payload is malformed.
 */
export function decodeWriteBatch(
  bytes: Uint8Array,
  file: string,
  offset: number,
  layout: WriteBatchLayout = WriteBatchLayout.Interned,
): WriteBatch {
  return decodeIndexedWriteBatch(bytes, file, offset, layout).batch;
}

/**
 * Which series and field shape of its batch each point has, as the series layout stores them:
 * points with equal indexes have equal measurement and tags (or field keys and types, in order).
 * A replica applying a batch works out series keys and checks field types once per series or
 * shape with them, not once per point.
 */
export interface PointIndexes {
  /** Per point, its series' index in `[0, seriesCount)`. */
  series: Uint32Array;
  seriesCount: number;
  /** Per point, its field shape's index in `[0, shapeCount)`. */
  shapes: Uint32Array;
  shapeCount: number;
}

/**
 * {@linkcode decodeWriteBatch}, with each point's series and shape indexes when the payload has
 * the series layout (null for the older layouts, which have no such tables).
 * @throws {CorruptionError} when the payload is malformed.
 */
export function decodeIndexedWriteBatch(
  bytes: Uint8Array,
  file: string,
  offset: number,
  layout: WriteBatchLayout = WriteBatchLayout.Interned,
): { batch: WriteBatch; indexes: PointIndexes | null } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  const corrupt = (what: string) => new CorruptionError(file, offset, what);
  const need = (n: number) => {
    if (pos + n > bytes.length) throw corrupt(`write record payload truncated at byte ${pos}`);
  };
  const u8 = () => (need(1), bytes[pos++]);
  const u16 = () => (need(2), pos += 2, view.getUint16(pos - 2, true));
  const u32 = () => (need(4), pos += 4, view.getUint32(pos - 4, true));
  const f64 = () => (need(8), pos += 8, view.getFloat64(pos - 8, true));
  const i64 = () => (need(8), pos += 8, view.getBigInt64(pos - 8, true));
  const inline = () => {
    const n = u32();
    need(n);
    pos += n;
    try {
      return decoder.decode(bytes.subarray(pos - n, pos));
    } catch {
      // The strict decoder's TypeError would escape as a crash, not as damage to report.
      throw corrupt(`the string of ${n} bytes at byte ${pos - n} is not valid UTF-8`);
    }
  };
  const value = (type: FieldType): FieldValue => {
    switch (type) {
      case FieldType.Float:
        return f64();
      case FieldType.Integer:
      case FieldType.Unsigned: {
        if (u8() === 0) return f64();
        const v = i64();
        return type === FieldType.Unsigned ? BigInt.asUintN(64, v) : v;
      }
      case FieldType.String:
        return inline();
      case FieldType.Boolean:
        return u8() === 1;
      default:
        throw corrupt(`unknown field type ${type} in write record`);
    }
  };
  /** A u32 index into a table of `count` entries. */
  const indexInto = (count: number, what: string, plural: string) => {
    const at = pos;
    const i = u32();
    if (i >= count) {
      throw corrupt(`${what} index ${i} at byte ${at} is past the table of ${count} ${plural}`);
    }
    return i;
  };
  let str = inline;
  let seriesLayout = false;
  if (layout === WriteBatchLayout.Interned) {
    seriesLayout = bytes.length >= 4 && view.getUint32(0, true) === SERIES_LAYOUT_MARKER;
    if (seriesLayout) pos = 4;
    const count = u32();
    // Each entry takes at least its 4-byte length: a bigger count is damage, not an allocation.
    need(count * 4);
    const strings: string[] = new Array(count);
    for (let i = 0; i < count; i++) strings[i] = inline();
    str = () => strings[indexInto(count, "string", "strings")];
  } else if (layout !== WriteBatchLayout.Plain) {
    throw new Error(`BUG: unknown write batch layout ${layout}`);
  }
  const database = str();
  const retentionPolicy = str();
  if (seriesLayout) {
    const { points, indexes } = decodeSeriesPoints();
    return { batch: { database, retentionPolicy, points }, indexes };
  }
  const count = u32();
  // Each point takes at least 20 bytes (a measurement, two counts, its time): a bigger count is
  // damage, not an allocation (new Array(30e6) takes 240 MB up front).
  need(count * 20);
  const points: Point[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const measurement = str();
    const tags: Tag[] = new Array(u16());
    for (let t = 0; t < tags.length; t++) tags[t] = { key: str(), value: str() };
    const fields = new Array(u16());
    for (let f = 0; f < fields.length; f++) {
      const key = str();
      const type = u8() as FieldType;
      fields[f] = { key, type, value: value(type) };
    }
    points[i] = { measurement, tags, fields, timeMs: f64(), timeSubMs: u32() };
  }
  return { batch: { database, retentionPolicy, points }, indexes: null };

  function decodeSeriesPoints(): { points: Point[]; indexes: PointIndexes } {
    const seriesCount = u32();
    need(seriesCount * 6); // each series takes at least 6 bytes
    // The points of a series share its frozen tag array, and those of a shape its frozen
    // layout, as the line-protocol decoder's do (Point.tags is read-only, layouts shared).
    const table: { measurement: string; tags: readonly Tag[] }[] = new Array(seriesCount);
    for (let i = 0; i < seriesCount; i++) {
      const measurement = str();
      const tags: Tag[] = new Array(u16());
      for (let t = 0; t < tags.length; t++) tags[t] = Object.freeze({ key: str(), value: str() });
      table[i] = { measurement, tags: Object.freeze(tags) };
    }
    const shapeCount = u32();
    need(shapeCount * 2);
    const shapes: FieldLayout[] = new Array(shapeCount);
    for (let i = 0; i < shapeCount; i++) {
      const n = u16();
      const keys: string[] = new Array(n), types: FieldType[] = new Array(n);
      for (let f = 0; f < n; f++) {
        keys[f] = str();
        types[f] = u8() as FieldType;
      }
      shapes[i] = Object.freeze({ keys: Object.freeze(keys), types: Object.freeze(types) });
    }
    const count = u32();
    need(count * 20); // series, shape and time at least
    const points: Point[] = new Array(count);
    const pointSeries = new Uint32Array(count), pointShapes = new Uint32Array(count);
    for (let i = 0; i < count; i++) {
      const seriesIndex = pointSeries[i] = indexInto(seriesCount, "series", "series");
      const shapeIndex = pointShapes[i] = indexInto(shapeCount, "shape", "shapes");
      const { measurement, tags } = table[seriesIndex];
      const layout = shapes[shapeIndex], types = layout.types;
      const values: FieldValue[] = new Array(types.length);
      for (let f = 0; f < types.length; f++) values[f] = value(types[f]);
      const ms = f64();
      points[i] = new PackedPoint(measurement, tags, layout, values, { ms, subMs: u32() });
    }
    return {
      points,
      indexes: { series: pointSeries, seriesCount, shapes: pointShapes, shapeCount },
    };
  }
}
