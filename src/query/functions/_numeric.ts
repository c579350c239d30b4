/**
 * Helpers shared by the function families: reading a column's value at an index as a number,
 * and exact integer sums that switch to bigint only when a running sum leaves the safe range.
 *
 * @module
 */
import { FieldType } from "../../core/point.ts";
import type { FieldColumn } from "../store.ts";

const SAFE = 9007199254740991;

/** InfluxDB's "unsupported X iterator type" text for a field type. */
export function unsupported(fn: string, type: FieldType): string {
  const t = type === FieldType.String
    ? "string"
    : type === FieldType.Boolean
    ? "boolean"
    : type === FieldType.Unsigned
    ? "unsigned"
    : type === FieldType.Integer
    ? "integer"
    : "float";
  return `unsupported ${fn} iterator type: *query.${t}InterruptIterator`;
}

/** True for float, integer and unsigned fields. */
export function isNumericType(type: FieldType): boolean {
  return type === FieldType.Float || type === FieldType.Integer || type === FieldType.Unsigned;
}

/** The value at `i` as a JS number (bigints rounded). */
export function numberAt(col: FieldColumn, i: number): number {
  const v = col.values[i];
  return typeof v === "number" ? v : Number(v);
}

/** An exact running integer sum: a number while safe, a bigint beyond. */
export interface IntSum {
  n: number;
  big: bigint | null;
}

/** Adds `v` to an exact integer sum in place. */
export function addInt(s: IntSum, v: number | bigint): void {
  if (s.big !== null) {
    s.big += BigInt(v);
    return;
  }
  if (typeof v === "number") {
    const next = s.n + v;
    if (next <= SAFE && next >= -SAFE) {
      s.n = next;
      return;
    }
  }
  s.big = BigInt(s.n) + BigInt(v);
}

/** Merges two exact sums. */
export function mergeInt(into: IntSum, other: IntSum): void {
  addInt(into, other.big ?? other.n);
}

/** The sum's value, wrapped to int64 as InfluxDB's integer arithmetic does. */
export function intSumValue(s: IntSum): number | bigint {
  if (s.big === null) return s.n;
  const w = BigInt.asIntN(64, s.big);
  return w >= -9007199254740991n && w <= 9007199254740991n ? Number(w) : w;
}
