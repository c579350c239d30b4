/**
 * Points as plain objects, for tests that compare decoded points with literals
 * (`assert.deepEqual` tells a {@linkcode PackedPoint} from an object literal by its prototype).
 * @module
 */
import { PackedPoint, type Point } from "../point.ts";

/** `point` as a plain object literal (its fields built from its layout and values). */
export function plainPoint(point: Point): Point {
  return point instanceof PackedPoint ? point.toJSON() : point;
}

/**
 * `value` as its plain shape when it is a packed point, else itself: the `see` of a structural
 * comparison (`sameData`) over batches where both sides may be packed, whose fields are private
 * and so invisible to it (a WAL codec that wrote every float +1 compared equal), and where a
 * plain point of the same data is the same data (the WAL's interned layout decodes plain points).
 */
export function plainIfPacked(value: unknown): unknown {
  return value instanceof PackedPoint ? value.toJSON() : value;
}

/** {@linkcode plainPoint} of each. */
export function plainPoints(points: readonly Point[]): Point[] {
  return points.map(plainPoint);
}
