/**
 * What every decoder must hand the write path, whatever the input: points that keep core's
 * contract (src/core/point.ts), so a hostile body can be refused but never stored as garbage.
 * @module
 */
import {
  FieldType,
  INT64_MAX,
  INT64_MIN,
  MAX_TIME_NS,
  MIN_TIME_NS,
  type Point,
  UINT64_MAX,
} from "../../src/core/mod.ts";
import { demand, FuzzFailure } from "./_target.ts";

/** True when `s` is a string with no lone surrogate (it has a UTF-8 form). */
export function isWellFormed(s: unknown): s is string {
  return typeof s === "string" && (s as string & { isWellFormed(): boolean }).isWellFormed();
}

const SAFE = 9007199254740991n;

/**
 * Throws a {@linkcode FuzzFailure} naming the first broken rule of `p`: a non-empty measurement,
 * tags sorted by key with unique non-empty keys and values, at least one field with unique keys,
 * each value of its type (floats finite, integers exact and compact: a number when safe, a
 * bigint beyond), every string well-formed, and a time inside InfluxDB's range.
 */
export function checkPoint(p: Point, where: string): void {
  const fail = (why: string) => {
    throw new FuzzFailure(`${where}: ${why} in ${describe(p)}`);
  };
  if (!isWellFormed(p.measurement) || p.measurement === "") fail("bad measurement");
  if (!Array.isArray(p.tags)) fail("tags not an array");
  for (let i = 0; i < p.tags.length; i++) {
    const t = p.tags[i];
    if (!isWellFormed(t.key) || t.key === "") fail(`bad tag key at ${i}`);
    if (!isWellFormed(t.value) || t.value === "") fail(`bad tag value at ${i}`);
    if (i > 0 && !(p.tags[i - 1].key < t.key)) fail(`tags not sorted or repeated at ${i}`);
  }
  if (!Array.isArray(p.fields) || p.fields.length === 0) fail("no field");
  const keys = new Set<string>();
  for (const f of p.fields) {
    if (!isWellFormed(f.key) || f.key === "") fail("bad field key");
    if (keys.has(f.key)) fail(`field ${JSON.stringify(f.key)} twice`);
    keys.add(f.key);
    const v = f.value;
    switch (f.type) {
      case FieldType.Float:
        if (typeof v !== "number" || !Number.isFinite(v)) fail(`float ${String(v)}`);
        break;
      case FieldType.Integer:
      case FieldType.Unsigned: {
        const min = f.type === FieldType.Integer ? INT64_MIN : 0n;
        const max = f.type === FieldType.Integer ? INT64_MAX : UINT64_MAX;
        if (typeof v === "number") {
          if (!Number.isSafeInteger(v) || BigInt(v) < min) fail(`integer ${v}`);
        } else if (typeof v === "bigint") {
          if (v < min || v > max) fail(`integer ${v} out of range`);
          if (v >= -SAFE && v <= SAFE) fail(`safe integer ${v} as a bigint`);
        } else fail(`integer of type ${typeof v}`);
        break;
      }
      case FieldType.String:
        if (!isWellFormed(v)) fail("string value not well-formed");
        break;
      case FieldType.Boolean:
        if (typeof v !== "boolean") fail(`boolean ${String(v)}`);
        break;
      default:
        fail(`field type ${f.type}`);
    }
  }
  if (!Number.isSafeInteger(p.timeMs)) fail(`timeMs ${p.timeMs}`);
  if (!Number.isInteger(p.timeSubMs) || p.timeSubMs < 0 || p.timeSubMs >= 1e6) {
    fail(`timeSubMs ${p.timeSubMs}`);
  }
  const ns = BigInt(p.timeMs) * 1_000_000n + BigInt(p.timeSubMs);
  if (ns < MIN_TIME_NS || ns > MAX_TIME_NS) fail(`time ${ns} out of range`);
}

/** Checks every point of a batch. */
export function checkPoints(points: readonly Point[], where: string): void {
  demand(Array.isArray(points), `${where}: points not an array`);
  for (let i = 0; i < points.length; i++) checkPoint(points[i], `${where} point ${i}`);
}

function describe(p: Point): string {
  try {
    return JSON.stringify(p, (_k, v) => (typeof v === "bigint" ? `${v}n` : v)).slice(0, 300);
  } catch {
    return String(p);
  }
}

/** Points as comparable JSON text (bigints marked), for split-versus-whole comparisons. */
export function pointsText(points: readonly Point[]): string {
  return JSON.stringify(points, (_k, v) => (typeof v === "bigint" ? `${v}n` : v));
}
