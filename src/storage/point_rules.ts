/**
 * What the engine refuses in a point whatever is stored, checked before the write is logged:
 * what InfluxDB 1.x refuses (a series key plus field key past {@linkcode MAX_KEY_LENGTH} bytes,
 * a tag or field named `time`), with InfluxDB's messages, and what a WAL record cannot hold
 * (wal/limits.ts). Every format reaches the engine, so every format gets these rules, also for
 * points a schema pipeline changed after decoding.
 * @module
 */
import {
  type FieldLayout,
  fieldLayoutOf,
  MAX_KEY_LENGTH,
  type Point,
  TIME_KEY,
  utf8Length,
} from "../core/mod.ts";
import { walPointProblem } from "./wal/mod.ts";

/**
 * Why `point` (whose series key is `key`) cannot be stored, or undefined.
 *
 * InfluxDB 1.6.7 drops a `time` field silently when the point has other fields; here the point
 * is refused, so no value is lost without a word.
 */
export function pointProblem(point: Point, key: string): string | undefined {
  const fieldKeys = fieldLayoutOf(point).keys;
  return problemOf(point, key, fieldKeys, longestKeyOf(fieldKeys), fieldKeys.includes(TIME_KEY));
}

/**
 * {@linkcode pointProblem} over the points of one batch, measuring each field layout once: a
 * batch's points share a few frozen layouts (TSBS: one), so the field half of the rules (the
 * longest field key, a field named `time`) is worked out when the layout differs from the last
 * point's, and only the series key and tags are checked per point.
 */
export class PointRules {
  #layout: FieldLayout | undefined = undefined;
  #longestFieldKey = 0;
  #timeField = false;

  /** Why `point` (whose series key is `key`) cannot be stored, or undefined. */
  problem(point: Point, key: string): string | undefined {
    const layout = fieldLayoutOf(point);
    if (layout !== this.#layout) {
      this.#layout = layout;
      this.#longestFieldKey = longestKeyOf(layout.keys);
      this.#timeField = layout.keys.includes(TIME_KEY);
    }
    return problemOf(point, key, layout.keys, this.#longestFieldKey, this.#timeField);
  }
}

function longestKeyOf(fieldKeys: readonly string[]): number {
  let longest = 0;
  for (let f = 0; f < fieldKeys.length; f++) {
    if (fieldKeys[f].length > longest) longest = fieldKeys[f].length;
  }
  return longest;
}

function problemOf(
  point: Point,
  key: string,
  fieldKeys: readonly string[],
  longestFieldKey: number,
  timeField: boolean,
): string | undefined {
  // A UTF-16 unit is at most 3 UTF-8 bytes: only keys near the limit are measured exactly.
  if (3 * (key.length + longestFieldKey) + 4 > MAX_KEY_LENGTH) {
    const problem = keyLengthProblem(fieldKeys, key);
    if (problem !== undefined) return problem;
  }
  const tags = point.tags;
  for (let t = 0; t < tags.length; t++) {
    if (tags[t].key === TIME_KEY) {
      return `invalid tag key: input tag "${TIME_KEY}" on measurement "${point.measurement}" ` +
        `is invalid`;
    }
  }
  if (timeField) {
    return `invalid field name: input field "${TIME_KEY}" on measurement ` +
      `"${point.measurement}" is invalid`;
  }
  return walPointProblem(point);
}

/** Default most fields per measurement (`max_fields_per_measurement`). */
export const MAX_FIELDS_PER_MEASUREMENT = 10_000;

/**
 * Why a point whose measurement has `known` fields already would take it past `max` fields
 * (0 = no limit) with its `newFields`, or undefined. Each new field costs every node a type
 * entry (replicated metadata) and every series a column, so a body of tens of thousands of
 * distinct field names is refused per point, as InfluxDB refuses series past its limits.
 */
export function fieldLimitProblem(
  measurement: string,
  newFields: readonly string[],
  known: number,
  max: number,
): string | undefined {
  if (max <= 0 || newFields.length === 0 || known + newFields.length <= max) return undefined;
  const over = newFields[Math.max(0, max - known)];
  return `max-fields-per-measurement limit exceeded (${known}/${max}): ` +
    `measurement=${JSON.stringify(measurement)} field=${JSON.stringify(over)}` +
    (newFields.length > 1 ? ` (the point names ${newFields.length} new fields)` : "");
}

/** InfluxDB's key length check, in UTF-8 bytes: the key alone, then with each field key. */
function keyLengthProblem(fieldKeys: readonly string[], key: string): string | undefined {
  const keyBytes = utf8Length(key);
  if (keyBytes > MAX_KEY_LENGTH) {
    return `max key length exceeded: ${keyBytes} > ${MAX_KEY_LENGTH}`;
  }
  for (const fieldKey of fieldKeys) {
    // InfluxDB counts the series key, its "#!~#" separator and the field key.
    const size = keyBytes + 4 + utf8Length(fieldKey);
    if (size > MAX_KEY_LENGTH) return `max key length exceeded: ${size} > ${MAX_KEY_LENGTH}`;
  }
  return undefined;
}

/**
 * The field layout and measurement of the last point whose field types passed, in a loop over
 * one batch: the types checked against only grow while the loop runs (a passing point's new
 * fields join them), so a later point of that measurement and layout passes too and its check,
 * a map lookup per field, is skipped. For one synchronous loop only: nothing may drop a field
 * type between two of its points.
 */
export class PassedFieldTypes {
  #layout: FieldLayout | undefined = undefined;
  #measurement = "";

  /** True when `point`'s fields are known to pass. */
  has(point: Point): boolean {
    return fieldLayoutOf(point) === this.#layout && point.measurement === this.#measurement;
  }

  /** `point`'s fields passed the check. */
  add(point: Point): void {
    this.#layout = fieldLayoutOf(point);
    this.#measurement = point.measurement;
  }
}
