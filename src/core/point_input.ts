/**
 * The point shape a JS program writes (the library's `db.write` and `PointWriter.write`): fields
 * as a plain object whose value types pick the field type, the time as bigint nanoseconds or a
 * Date. {@linkcode pointFromInput} turns it into the engine's {@linkcode Point}, with an error
 * naming the point and the field when a value cannot be stored.
 * @module
 */
import { ValidationError } from "./errors.ts";
import {
  compactInteger,
  type Field,
  FieldType,
  INT64_MAX,
  INT64_MIN,
  PackedPoint,
  type Point,
  sortTags,
} from "./point.ts";
import { checkTimeRange, instantFromNanos } from "./time.ts";

/** A point as a JS program writes it. */
export interface PointInput {
  measurement: string;
  tags?: Record<string, string>;
  /** number → float, bigint → integer (int64), string, boolean. */
  fields: Record<string, number | bigint | string | boolean>;
  /** Nanoseconds since the epoch (bigint) or a Date; the current time when absent. */
  time?: bigint | Date;
}

/** True for the engine's point shape (fields as an array), false for a {@linkcode PointInput}. */
export function isEnginePoint(point: Point | PointInput): point is Point {
  return point instanceof PackedPoint || Array.isArray(point.fields);
}

/**
 * The engine's point of `input` (the `index`-th of its batch, for errors); `nowNs` is the time of
 * a point without one.
 * @throws {ValidationError} naming the point and field: no measurement, no fields, a number that
 * is not finite, a bigint outside int64, a time outside InfluxDB's range.
 */
export function pointFromInput(input: PointInput, index: number, nowNs: bigint): Point {
  if (!input.measurement) throw new ValidationError(`point ${index}: missing measurement`);
  const fields: Field[] = Object.entries(input.fields ?? {}).map(([key, value]) => {
    switch (typeof value) {
      case "number":
        if (!Number.isFinite(value)) {
          throw new ValidationError(
            `point ${index}: field ${key} is ${value}, not a finite number`,
          );
        }
        return { key, type: FieldType.Float, value };
      case "bigint":
        if (value < INT64_MIN || value > INT64_MAX) {
          throw new ValidationError(`point ${index}: field ${key} = ${value} is outside int64`);
        }
        return { key, type: FieldType.Integer, value: compactInteger(value) };
      case "string":
        return { key, type: FieldType.String, value };
      case "boolean":
        return { key, type: FieldType.Boolean, value };
      default:
        throw new ValidationError(
          `point ${index}: field ${key} has unsupported type ${typeof value}`,
        );
    }
  });
  if (fields.length === 0) throw new ValidationError(`point ${index}: no fields`);
  const ns = input.time === undefined
    ? nowNs
    : input.time instanceof Date
    ? BigInt(input.time.getTime()) * 1_000_000n
    : input.time;
  checkTimeRange(ns, `point ${index}: time`);
  const { ms, subMs } = instantFromNanos(ns);
  return {
    measurement: input.measurement,
    tags: sortTags(
      Object.entries(input.tags ?? {}).filter(([, v]) => v !== "").map(([key, value]) => ({
        key,
        value,
      })),
    ),
    fields,
    timeMs: ms,
    timeSubMs: subMs,
  };
}
