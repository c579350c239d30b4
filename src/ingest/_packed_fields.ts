/**
 * The fields of one record as a decoder finds them, turned into a {@linkcode PackedPoint}: keys
 * and types go to scratch arrays that a {@linkcode FieldLayouts} cache turns into the shared
 * layout, and only the values become the point's own (an exact-size array). The JSON, NDJSON,
 * CSV and protobuf decoders collect fields here instead of building an object per field that the
 * engine would pack afterwards.
 * @module
 */
import {
  type FieldLayouts,
  type FieldType,
  type FieldValue,
  type Instant,
  PackedPoint,
  type Tag,
} from "../core/mod.ts";

/**
 * Scratch for the fields of the record being decoded; reused record after record (synchronous
 * use only: begin, add, then point or abandon).
 */
export class FieldCollector {
  readonly #keys: string[] = [];
  readonly #types: FieldType[] = [];
  readonly #values: FieldValue[] = [];
  #n = 0;

  /** Fields collected since {@linkcode begin}. */
  get length(): number {
    return this.#n;
  }

  /** Starts a record. */
  begin(): void {
    this.#n = 0;
  }

  /** Adds a field (the caller checks keys are unique: see {@linkcode indexOf}). */
  add(key: string, type: FieldType, value: FieldValue): void {
    const n = this.#n++;
    this.#keys[n] = key;
    this.#types[n] = type;
    this.#values[n] = value;
  }

  /** The position of `key` among the fields collected, or -1. */
  indexOf(key: string): number {
    const keys = this.#keys;
    for (let i = 0; i < this.#n; i++) if (keys[i] === key) return i;
    return -1;
  }

  /** The key of the field at `i`. */
  keyAt(i: number): string {
    return this.#keys[i];
  }

  /**
   * The record as a packed point: its layout from `layouts` (shared by the points of the same
   * keys, types and order), its values copied to an array of their own. The copy is made fresh
   * so that its element kind follows its own values (floats alone stay unboxed doubles), not
   * whatever earlier records left in the scratch.
   */
  point(
    layouts: FieldLayouts,
    measurement: string,
    tags: readonly Tag[],
    time: Instant,
  ): PackedPoint {
    const n = this.#n, scratch = this.#values;
    const values: FieldValue[] = new Array(n);
    for (let i = 0; i < n; i++) values[i] = scratch[i];
    const layout = layouts.find(this.#keys, this.#types, n);
    return new PackedPoint(measurement, tags, layout, values, time);
  }
}
