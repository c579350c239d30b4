/**
 * What the engine refuses in a point whatever is stored, checked before the write is logged:
 * what InfluxDB 1.x refuses (a series key plus field key past {@linkcode MAX_KEY_LENGTH} bytes),
 * with InfluxDB's messages, and what a WAL record cannot hold (wal/limits.ts). Every format
 * reaches the engine, so every format gets these rules, also for points a schema pipeline
 * changed after decoding.
 * @module
 */
import { MAX_KEY_LENGTH, type Point, utf8Length } from "../core/mod.ts";
import { walPointProblem } from "./wal/mod.ts";

/** Why `point` (whose series key is `key`) cannot be stored, or undefined. */
export function pointProblem(point: Point, key: string): string | undefined {
  const { fields } = point;
  let longestFieldKey = 0;
  for (let f = 0; f < fields.length; f++) {
    const fieldKey = fields[f].key;
    if (fieldKey.length > longestFieldKey) longestFieldKey = fieldKey.length;
  }
  // A UTF-16 unit is at most 3 UTF-8 bytes: only keys near the limit are measured exactly.
  if (3 * (key.length + longestFieldKey) + 4 > MAX_KEY_LENGTH) {
    const problem = keyLengthProblem(point, key);
    if (problem !== undefined) return problem;
  }
  return walPointProblem(point);
}
/** InfluxDB's key length check, in UTF-8 bytes: the key alone, then with each field key. */
function keyLengthProblem(point: Point, key: string): string | undefined {
  const keyBytes = utf8Length(key);
  if (keyBytes > MAX_KEY_LENGTH) {
    return `max key length exceeded: ${keyBytes} > ${MAX_KEY_LENGTH}`;
  }
  for (const field of point.fields) {
    // InfluxDB counts the series key, its "#!~#" separator and the field key.
    const size = keyBytes + 4 + utf8Length(field.key);
    if (size > MAX_KEY_LENGTH) return `max key length exceeded: ${size} > ${MAX_KEY_LENGTH}`;
  }
  return undefined;
}
