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

/** {@linkcode plainPoint} of each. */
export function plainPoints(points: readonly Point[]): Point[] {
  return points.map(plainPoint);
}
