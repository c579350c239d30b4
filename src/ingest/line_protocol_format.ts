/**
 * Points back to InfluxDB 1.x line protocol, the inverse of `line_protocol.ts`: what this
 * writes, {@linkcode parseLineProtocol} reads back to an equal point.
 *
 * Limits, shared with InfluxDB (line protocol has no way to escape a backslash in a name):
 * names containing a backslash may not round-trip, a name cannot contain a newline, and a
 * measurement starting with `#` reads back as a comment.
 *
 * @module
 */

import {
  escapeMeasurement,
  escapeTag,
  FieldType,
  nanosOf,
  nanosString,
  type Point,
  type Precision,
  PRECISION_NS,
  type Tag,
  ValidationError,
} from "../core/mod.ts";

const FIELD_KEY_ESCAPES = /[,= "]/g;
const STRING_ESCAPES = /["\\]/g;
// Tests first (no allocation): almost no key or string needs escaping, and a global replace
// that finds nothing still cost a quarter of an export's formatting time.
const FIELD_KEY_SPECIAL = /[,= "]/;
const STRING_SPECIAL = /["\\]/;

/** Escapes a field key as InfluxDB does (commas, equals signs, spaces, double quotes). */
export function escapeFieldKey(key: string): string {
  return FIELD_KEY_SPECIAL.test(key) ? key.replace(FIELD_KEY_ESCAPES, "\\$&") : key;
}

/** Quotes a string field value, escaping double quotes and backslashes. */
export function quoteStringField(value: string): string {
  return STRING_SPECIAL.test(value) ? `"${value.replace(STRING_ESCAPES, "\\$&")}"` : `"${value}"`;
}

/**
 * Formats one point as a line (without the newline). The timestamp is written in
 * `precision`, truncated toward zero as InfluxDB does.
 *
 * @example
 * ```ts
 * formatLineProtocol({
 *   measurement: "cpu",
 *   tags: [{ key: "host", value: "a" }],
 *   fields: [{ key: "usage", type: FieldType.Float, value: 0.5 }],
 *   timeMs: 1678886400000,
 *   timeSubMs: 0,
 * }); // "cpu,host=a usage=0.5 1678886400000000000"
 * ```
 * @throws {ValidationError} for a float field holding NaN or ±Infinity, which line protocol
 * cannot carry.
 */
export function formatLineProtocol(point: Point, precision: Precision = "ns"): string {
  let line = escapeMeasurement(point.measurement);
  for (const t of point.tags) line += `,${escapeTag(t.key)}=${escapeTag(t.value)}`;
  let sep = " ";
  for (const f of point.fields) {
    line += sep + escapeFieldKey(f.key) + "=" + formatFieldValue(f.key, f.type, f.value);
    sep = ",";
  }
  return `${line} ${formatTime(point.timeMs, point.timeSubMs, precision)}`;
}

/**
 * Formats many points (nanosecond timestamps), each line equal to
 * {@linkcode formatLineProtocol}'s: a point whose measurement and tag array (the same array
 * object, as a series' points share it) are those of the point before reuses that point's
 * escaped series text, and each field key is escaped once. Formatting a line per point escaped
 * the series and every key again and again, most of an export's and a restore's formatting time.
 * Points are immutable: a tag array changed in place after a line was made is not seen.
 */
export class LineProtocolFormatter {
  #measurement: string | undefined;
  #tags: readonly Tag[] | undefined;
  #series = "";
  readonly #keys = new Map<string, string>();

  /** One point's line, without the newline. */
  line(point: Point): string {
    if (point.tags !== this.#tags || point.measurement !== this.#measurement) {
      let series = escapeMeasurement(point.measurement);
      for (const t of point.tags) series += `,${escapeTag(t.key)}=${escapeTag(t.value)}`;
      this.#series = series;
      this.#tags = point.tags;
      this.#measurement = point.measurement;
    }
    let line = this.#series;
    let sep = " ";
    for (const f of point.fields) {
      let key = this.#keys.get(f.key);
      if (key === undefined) {
        if (this.#keys.size >= MAX_CACHED_KEYS) this.#keys.clear();
        key = escapeFieldKey(f.key) + "=";
        this.#keys.set(f.key, key);
      }
      line += sep + key + formatFieldValue(f.key, f.type, f.value);
      sep = ",";
    }
    return `${line} ${nanosString(point.timeMs, point.timeSubMs)}`;
  }
}

/** Field keys a {@linkcode LineProtocolFormatter} keeps escaped (a schema has far fewer). */
const MAX_CACHED_KEYS = 4096;

function formatFieldValue(key: string, type: FieldType, value: unknown): string {
  switch (type) {
    case FieldType.Float: {
      const x = value as number;
      if (!Number.isFinite(x)) {
        throw new ValidationError(`field ${key}: ${x} is an unsupported value for line protocol`);
      }
      return Object.is(x, -0) ? "-0" : String(x);
    }
    case FieldType.Integer:
      return `${value}i`;
    case FieldType.Unsigned:
      return `${value}u`;
    case FieldType.String:
      return quoteStringField(value as string);
    case FieldType.Boolean:
      return value ? "true" : "false";
    default:
      throw new Error(`BUG: field ${key} has unknown type ${type}`);
  }
}

function formatTime(ms: number, subMs: number, precision: Precision): string {
  const unit = PRECISION_NS[precision];
  if (unit === 1n) return nanosString(ms, subMs);
  if (unit === 1_000_000n && (ms >= 0 || subMs === 0)) return String(ms);
  return (nanosOf(ms, subMs) / unit).toString();
}
