/**
 * What the engine refuses in a point whatever is stored, checked before the write is logged:
 * what InfluxDB 1.x refuses (a series key plus field key past {@linkcode MAX_KEY_LENGTH} bytes,
 * a tag or field named `time`), with InfluxDB's messages, and what a WAL record cannot hold
 * (wal/limits.ts). Every format reaches the engine, so every format gets these rules, also for
 * points a schema pipeline changed after decoding.
 * @module
 */
import { fieldLayoutOf, MAX_KEY_LENGTH, type Point, TIME_KEY, utf8Length } from "../core/mod.ts";
import { walPointProblem } from "./wal/mod.ts";

/**
 * Why `point` (whose series key is `key`) cannot be stored, or undefined.
 *
 * InfluxDB 1.6.7 drops a `time` field silently when the point has other fields; here the point
 * is refused, so no value is lost without a word.
 */
export function pointProblem(point: Point, key: string): string | undefined {
  const tags = point.tags, fieldKeys = fieldLayoutOf(point).keys;
  let longestFieldKey = 0;
  let timeField = false;
  for (let f = 0; f < fieldKeys.length; f++) {
    const fieldKey = fieldKeys[f];
    if (fieldKey.length > longestFieldKey) longestFieldKey = fieldKey.length;
    if (fieldKey === TIME_KEY) timeField = true;
  }
  // A UTF-16 unit is at most 3 UTF-8 bytes: only keys near the limit are measured exactly.
  if (3 * (key.length + longestFieldKey) + 4 > MAX_KEY_LENGTH) {
    const problem = keyLengthProblem(fieldKeys, key);
    if (problem !== undefined) return problem;
  }
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
