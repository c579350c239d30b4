/**
 * Block statistics: what the query engine needs to answer count, sum, mean, min, max, first
 * and last over a whole block without decoding it, and to skip blocks outside a time range.
 *
 * - Times: the first and last instants (the block is sorted, so they are min and max).
 * - Floats: min and max ignore NaN (NaN only when every value is NaN); the sum is the IEEE sum in
 *   time order, the same a scan of the decoded block computes (NaN and ±Infinity propagate).
 * - Integers and unsigned: min and max exact; the sum is exact: a number while it stays a safe
 *   integer, a bigint beyond (it may leave the int64 / uint64 range: the engine decides what
 *   overflow means, InfluxDB wraps).
 * - Strings and booleans: count, first and last only.
 *
 * @module
 */

import { type FieldType, FieldType as FT, type FieldValue } from "../../core/point.ts";

/** A block's column as the codecs take it (structurally the query store's `FieldColumn`). */
export interface BlockColumn {
  type: FieldType;
  timesMs: Float64Array;
  timesSubMs: Float64Array;
  /** Float64Array for floats; for integers a Float64Array of safe integers also works. */
  values: Float64Array | readonly FieldValue[];
}

/** The summary of one block. `min`, `max` and `sum` are present for numeric types only. */
export interface BlockStats {
  type: FieldType;
  count: number;
  minTimeMs: number;
  minTimeSubMs: number;
  maxTimeMs: number;
  maxTimeSubMs: number;
  first: FieldValue;
  last: FieldValue;
  min?: number | bigint;
  max?: number | bigint;
  sum?: number | bigint;
}

/**
 * Computes the summary of a non-empty, time-sorted block.
 * @throws {Error} `BUG:` on an empty block or columns of different lengths.
 * @example
 * ```ts
 * const s = computeBlockStats({
 *   type: FieldType.Integer,
 *   timesMs: new Float64Array([1, 2]),
 *   timesSubMs: new Float64Array([0, 0]),
 *   values: [9007199254740991, 1],
 * });
 * s.sum; // 9007199254740992n (exact, beyond 2^53 - 1)
 * ```
 */
export function computeBlockStats(column: BlockColumn): BlockStats {
  const { type, timesMs, timesSubMs, values } = column;
  const count = values.length;
  if (count === 0) throw new Error("BUG: computeBlockStats of an empty block");
  if (timesMs.length !== count || timesSubMs.length !== count) {
    throw new Error(
      `BUG: computeBlockStats: ${count} values, ${timesMs.length}/${timesSubMs.length} times`,
    );
  }
  const stats: BlockStats = {
    type,
    count,
    minTimeMs: timesMs[0],
    minTimeSubMs: timesSubMs[0],
    maxTimeMs: timesMs[count - 1],
    maxTimeSubMs: timesSubMs[count - 1],
    first: values[0],
    last: values[count - 1],
  };
  if (type === FT.Float) floatStats(values as ArrayLike<number>, stats);
  else if (type === FT.Integer || type === FT.Unsigned) integerStats(values, stats);
  return stats;
}

function floatStats(values: ArrayLike<number>, stats: BlockStats): void {
  let min = NaN, max = NaN, sum = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    sum += v;
    if (v < min || min !== min) {
      if (v === v) min = v;
    }
    if (v > max || max !== max) {
      if (v === v) max = v;
    }
  }
  stats.min = min;
  stats.max = max;
  stats.sum = sum;
}

function integerStats(values: ArrayLike<FieldValue>, stats: BlockStats): void {
  let min = values[0] as number | bigint, max = min;
  let sum = 0;
  let big: bigint | undefined;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number | bigint;
    if (v < min) min = v;
    if (v > max) max = v;
    if (big !== undefined) {
      big += BigInt(v);
    } else if (typeof v === "number") {
      const s = sum + v;
      if (Number.isSafeInteger(s)) sum = s;
      else big = BigInt(sum) + BigInt(v);
    } else {
      big = BigInt(sum) + v;
    }
  }
  stats.min = min;
  stats.max = max;
  stats.sum = big === undefined
    ? sum
    : big >= -9007199254740991n && big <= 9007199254740991n
    ? Number(big)
    : big;
}
