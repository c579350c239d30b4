/**
 * Keys made of several strings (a measurement, tag keys, tag values) that no other list of
 * strings gives. Tag values and names may hold any character, NUL and the other control
 * characters included (line protocol and JSON accept them), so joining them with a separator let
 * `a="x\0b\1y"` stand for `a="x",b="y"`: two tag sets in one GROUP BY group. Each part is written
 * as its length, `:`, then itself, which reads back one way only.
 *
 * @example
 * ```ts
 * keyPart("x") + keyPart("y"); // "1:x1:y"
 * ```
 * @module
 */

/** One part of a key: its length, `:`, itself. Concatenate parts to make the key. */
export function keyPart(part: string): string {
  return part.length + ":" + part;
}
