/**
 * The data model, as InfluxDB 1.x has it: a point is a measurement, a tag set
 * (string -> string), one or more typed fields, and an int64 nanosecond timestamp.
 * The series key is the measurement plus the tag set sorted by key, escaped as line protocol
 * escapes it (`cpu,host=a,region=us-east`).
 *
 * @module
 */

import type { FieldLayouts } from "./field_layout.ts";

/** The five field types. The numbers are stable: they are written to disk (WAL, segments). */
export const FieldType = {
  Float: 1,
  Integer: 2,
  Unsigned: 3,
  String: 4,
  Boolean: 5,
} as const;

/** One of {@linkcode FieldType}'s values. */
export type FieldType = typeof FieldType[keyof typeof FieldType];

/** InfluxQL's names for the field types (SHOW FIELD KEYS), indexed by {@linkcode FieldType}. */
export const FIELD_TYPE_NAMES: Readonly<Record<FieldType, string>> = {
  1: "float",
  2: "integer",
  3: "unsigned",
  4: "string",
  5: "boolean",
};

/**
 * A field value. Integers and unsigned integers are `number` while they are safe integers
 * (|v| <= 2^53 - 1) and `bigint` beyond, so the common case stays fast and every int64 and
 * uint64 is still exact.
 */
export type FieldValue = number | bigint | string | boolean;

/** One field of a point. */
export interface Field {
  key: string;
  type: FieldType;
  value: FieldValue;
}

/** One tag; a point's tags are kept sorted by key, with unique keys. */
export interface Tag {
  key: string;
  value: string;
}

/**
 * The keys and types of a point's fields, in order (keys unique). Frozen, and shared by every
 * point written with the same fields (decoders cache it per series, see `field_layout.ts`), so
 * a point holds one reference and its values instead of an object per field.
 */
export interface FieldLayout {
  readonly keys: readonly string[];
  readonly types: readonly FieldType[];
}

/**
 * A point as decoders produce it and the write path consumes it. Time is the
 * `(timeMs, timeSubMs)` pair described in `time.ts`. Decoders hand out {@linkcode PackedPoint}s;
 * a plain object literal is a Point too (tests, jobs, schema steps).
 */
export interface Point {
  measurement: string;
  /**
   * Sorted by key, keys unique, values non-empty (an empty tag value means "no tag").
   * Read-only: decoders may hand every point of a series the same array (line protocol's is
   * frozen, and so are its Tags), so a caller that wants other tags builds a new array
   * (`[...point.tags, tag]`) instead of changing it.
   */
  tags: readonly Tag[];
  /**
   * At least one field; keys unique. Read-only: on a {@linkcode PackedPoint} each read builds a
   * fresh frozen array (read it once per point, outside loops); a caller that wants other fields
   * builds a new point ({@linkcode withFields}).
   */
  readonly fields: readonly Field[];
  timeMs: number;
  timeSubMs: number;
}

/**
 * A point whose fields are a shared {@linkcode FieldLayout} plus its own values, `values[i]`
 * the value of `layout.keys[i]`: about a third of the heap of an object per field (a decoded
 * line of ten float fields held ~860 bytes that way). The write path reads `layout` and
 * `values`; `fields` is there for everything else.
 *
 * The layout and values are private, so a spread (`{ ...point, tags }`) copies neither and
 * gives an object without `fields`, which fails loudly at the first read rather than carrying
 * values that no longer match their keys: change points with {@linkcode withTags} and
 * {@linkcode withFields}.
 */
export class PackedPoint implements Point {
  measurement: string;
  readonly tags: readonly Tag[];
  timeMs: number;
  timeSubMs: number;
  readonly #layout: FieldLayout;
  readonly #values: readonly FieldValue[];

  /** `values` must be as long as `layout.keys`, each of its field's type (not checked). */
  constructor(
    measurement: string,
    tags: readonly Tag[],
    layout: FieldLayout,
    values: readonly FieldValue[],
    time: { ms: number; subMs: number },
  ) {
    this.measurement = measurement;
    this.tags = tags;
    this.timeMs = time.ms;
    this.timeSubMs = time.subMs;
    this.#layout = layout;
    this.#values = values;
  }

  /** The keys and types of the fields (shared with other points: frozen). */
  get layout(): FieldLayout {
    return this.#layout;
  }

  /** The field values, index for index with `layout`. */
  get values(): readonly FieldValue[] {
    return this.#values;
  }

  get fields(): readonly Field[] {
    const { keys, types } = this.#layout, values = this.#values;
    const out: Field[] = new Array(keys.length);
    for (let i = 0; i < keys.length; i++) {
      out[i] = Object.freeze({ key: keys[i], type: types[i], value: values[i] });
    }
    return Object.freeze(out);
  }

  /** The plain shape (`JSON.stringify`, logs, test failures). */
  toJSON(): Point {
    const { measurement, tags, fields, timeMs, timeSubMs } = this;
    return { measurement, tags, fields, timeMs, timeSubMs };
  }
}

/**
 * `point` as a {@linkcode PackedPoint}: itself when it is one, else a new one whose layout
 * comes from `layouts` (so the points of the same fields share it).
 */
export function packPoint(point: Point, layouts: FieldLayouts): PackedPoint {
  if (point instanceof PackedPoint) return point;
  const fields = point.fields;
  const values: FieldValue[] = new Array(fields.length);
  for (let i = 0; i < fields.length; i++) values[i] = fields[i].value;
  return new PackedPoint(point.measurement, point.tags, layouts.ofFields(fields), values, {
    ms: point.timeMs,
    subMs: point.timeSubMs,
  });
}

/**
 * The keys and types of a point's fields without an object per field: a packed point's shared
 * layout as it is, a plain point's built anew (not shared, not frozen: for one use).
 */
export function fieldLayoutOf(point: Point): FieldLayout {
  if (point instanceof PackedPoint) return point.layout;
  const fields = point.fields;
  const keys: string[] = new Array(fields.length), types: FieldType[] = new Array(fields.length);
  for (let i = 0; i < fields.length; i++) {
    keys[i] = fields[i].key;
    types[i] = fields[i].type;
  }
  return { keys, types };
}

/** The value of the field `key` of `point`, or undefined (a packed point builds no fields). */
export function fieldValueOf(point: Point, key: string): FieldValue | undefined {
  if (point instanceof PackedPoint) {
    const i = point.layout.keys.indexOf(key);
    return i < 0 ? undefined : point.values[i];
  }
  const fields = point.fields;
  for (let i = 0; i < fields.length; i++) if (fields[i].key === key) return fields[i].value;
  return undefined;
}

/** A copy of `point` with other tags (sorted, as {@linkcode Point.tags} must be). */
export function withTags(point: Point, tags: readonly Tag[]): Point {
  if (point instanceof PackedPoint) {
    return new PackedPoint(point.measurement, tags, point.layout, point.values, {
      ms: point.timeMs,
      subMs: point.timeSubMs,
    });
  }
  return { ...point, tags };
}

/** A copy of `point` with other fields (a plain point: its fields are its own). */
export function withFields(point: Point, fields: readonly Field[]): Point {
  const { measurement, tags, timeMs, timeSubMs } = point;
  return { measurement, tags, fields, timeMs, timeSubMs };
}

/**
 * The longest series key (measurement and tags, escaped) plus `#!~#` plus field key, in UTF-8
 * bytes, that InfluxDB 1.x accepts (`max key length exceeded: N > 65535`).
 */
export const MAX_KEY_LENGTH = 65535;

/** The reserved name no tag or field may take: InfluxQL's `time` column. */
export const TIME_KEY = "time";

/** The UTF-8 byte length of a string (a lone surrogate counts 3, as TextEncoder writes U+FFFD). */
export function utf8Length(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 2; // 4 bytes for two units
        i++;
      } else n += 2;
    } else n += 2;
  }
  return n;
}

/** The largest int64, and the smallest. */
export const INT64_MAX = 9223372036854775807n;
export const INT64_MIN = -9223372036854775808n;
/** The largest uint64. */
export const UINT64_MAX = 18446744073709551615n;

/** Normalises an integer to the {@linkcode FieldValue} convention: number when safe. */
export function compactInteger(value: bigint): number | bigint {
  return value >= -9007199254740991n && value <= 9007199254740991n ? Number(value) : value;
}

/** Sorts tags by key in place (byte order, as InfluxDB does) and returns them. */
export function sortTags(tags: Tag[]): Tag[] {
  if (tags.length > 1) tags.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return tags;
}

const MEASUREMENT_ESCAPES = /[, ]/g;
const TAG_ESCAPES = /[,= ]/g;

// Most names need no escaping: a char-code scan is several times cheaper than a regex replace
// on the per-point path (series keys are built for every point written).
function needsEscape(text: string, equalsToo: boolean): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 44 || c === 32 || (equalsToo && c === 61)) return true;
  }
  return false;
}

/** Escapes a measurement name as line protocol does (commas and spaces). */
export function escapeMeasurement(name: string): string {
  return needsEscape(name, false) ? name.replace(MEASUREMENT_ESCAPES, "\\$&") : name;
}

/** Escapes a tag key or value as line protocol does (commas, equals signs, spaces). */
export function escapeTag(text: string): string {
  return needsEscape(text, true) ? text.replace(TAG_ESCAPES, "\\$&") : text;
}

/** A series key built before, with what it was built from. */
interface KeyMemo {
  measurement: string;
  tags: readonly Tag[];
  keys: string[];
  values: string[];
  key: string;
}

// Series keys are built for every point written, but the line-protocol parser hands out the
// same Tag objects for every point of a series: remembering the key by the first Tag object
// (weakly) skips the escape scans and concatenations, and returns a string already hashed by the
// maps it is looked up in. A hit needs the same measurement, the same Tag objects and the same
// key and value strings in them (a Tag changed in place misses), so the key is always exact.
const memo = new WeakMap<Tag, KeyMemo>();

// A frozen array of frozen Tags cannot change at all: the line-protocol parser hands one to every
// point of a series, so its key is remembered by the array itself and a hit is one lookup (no
// walk over the tags, which the per-point checks and routing otherwise repeat several times).
const frozenMemo = new WeakMap<readonly Tag[], { measurement: string; key: string }>();

function allFrozen(tags: readonly Tag[]): boolean {
  if (!Object.isFrozen(tags)) return false;
  for (let i = 0; i < tags.length; i++) if (!Object.isFrozen(tags[i])) return false;
  return true;
}

/**
 * The series key of a measurement and its sorted tags: `cpu,host=a,region=b`.
 * Two points are in the same series exactly when their keys are equal.
 */
export function seriesKey(measurement: string, sortedTags: readonly Tag[]): string {
  const n = sortedTags.length;
  if (n === 0) return escapeMeasurement(measurement);
  const whole = frozenMemo.get(sortedTags);
  if (whole !== undefined && whole.measurement === measurement) return whole.key;
  const first = sortedTags[0];
  const known = memo.get(first);
  if (known !== undefined && known.measurement === measurement && known.tags.length === n) {
    let i = 0;
    for (; i < n; i++) {
      const t = sortedTags[i];
      if (t !== known.tags[i] || t.key !== known.keys[i] || t.value !== known.values[i]) break;
    }
    if (i === n) return known.key;
  }
  let key = escapeMeasurement(measurement);
  const keys: string[] = new Array(n), values: string[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const t = sortedTags[i];
    keys[i] = t.key;
    values[i] = t.value;
    key += `,${escapeTag(t.key)}=${escapeTag(t.value)}`;
  }
  if (allFrozen(sortedTags)) frozenMemo.set(sortedTags, { measurement, key });
  else memo.set(first, { measurement, tags: sortedTags.slice(), keys, values, key });
  return key;
}
