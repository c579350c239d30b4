/**
 * The limits of the WAL record format (FORMAT.md beside this file), one per length field, shared
 * by the writer and the reader. A write is checked against them before it is acknowledged: what
 * a record cannot hold is refused then, point by point, and never written in a form the reader
 * would take for damage on the next start.
 *
 * | field                                   | width | limit                               |
 * | --------------------------------------- | ----- | ----------------------------------- |
 * | record `length`                         | u32   | {@linkcode MAX_RECORD_BYTES}        |
 * | tag count of a series                   | u16   | {@linkcode MAX_POINT_TAGS}          |
 * | field count of a shape                  | u16   | {@linkcode MAX_POINT_FIELDS}        |
 * | `str` byte length                       | u32   | the record's: one string fits in it |
 * | string, series, shape and point counts  | u32   | the record's: each entry takes bytes |
 *
 * @module
 */
import { fieldLayoutOf, type Point } from "../../core/mod.ts";

/**
 * The largest record payload, in bytes. The writer refuses bigger records (a batch is split,
 * a point that alone is bigger is rejected); the reader takes a bigger length for damage.
 */
export const MAX_RECORD_BYTES = 512 * 1024 * 1024;

/** The most tags a point may have: a series stores its tag count as a u16. */
export const MAX_POINT_TAGS = 0xffff;

/** The most fields a point may have: a field shape stores its field count as a u16. */
export const MAX_POINT_FIELDS = 0xffff;

/**
 * Why a WAL record cannot hold `point` (its tag or field count is past the u16 of the format),
 * or undefined. The record size is checked when the batch is encoded (`encodeWriteRecords`).
 */
export function walPointProblem(point: Point): string | undefined {
  if (point.tags.length > MAX_POINT_TAGS) {
    return `too many tags: ${point.tags.length} > ${MAX_POINT_TAGS} (the most a point may have)`;
  }
  const fieldCount = fieldLayoutOf(point).keys.length;
  if (fieldCount > MAX_POINT_FIELDS) {
    return `too many fields: ${fieldCount} > ${MAX_POINT_FIELDS} ` +
      `(the most a point may have)`;
  }
  return undefined;
}
