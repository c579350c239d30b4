/**
 * A series' fields as read from a segment index, without a `Map`: the names (one array shared by
 * every series of the index with the same names, see `IndexStrings.names`) and the fields in
 * parallel. A Map and its table cost about 600 bytes for 10 fields, held per series and segment;
 * this costs the fields array. Lookups scan the names: a series has few fields (the readers keep
 * a Map past `FIELD_LIST_MAX`). A series of one field (most of them at high cardinality) holds
 * a {@linkcode OneField}: the name and the field, without the array (56 of 96 bytes a series).
 * @module
 */
import type { SegmentField } from "./series_index.ts";

/** Fields beyond which a series keeps a Map (a scan per lookup would cost more). */
export const FIELD_LIST_MAX = 16;

/** A read-only map of field name to field, in stored order. */
export class FieldList implements ReadonlyMap<string, SegmentField> {
  constructor(
    readonly names: readonly string[],
    readonly fields: readonly SegmentField[],
  ) {}

  get size(): number {
    return this.names.length;
  }

  get(name: string): SegmentField | undefined {
    const names = this.names;
    for (let i = 0; i < names.length; i++) if (names[i] === name) return this.fields[i];
    return undefined;
  }

  has(name: string): boolean {
    return this.names.includes(name);
  }

  forEach(
    fn: (field: SegmentField, name: string, map: ReadonlyMap<string, SegmentField>) => void,
    thisArg?: unknown,
  ): void {
    for (let i = 0; i < this.names.length; i++) {
      fn.call(thisArg, this.fields[i], this.names[i], this);
    }
  }

  *entries(): MapIterator<[string, SegmentField]> {
    for (let i = 0; i < this.names.length; i++) yield [this.names[i], this.fields[i]];
  }

  keys(): MapIterator<string> {
    return this.names.values();
  }

  values(): MapIterator<SegmentField> {
    return this.fields.values();
  }

  [Symbol.iterator](): MapIterator<[string, SegmentField]> {
    return this.entries();
  }
}

/** A read-only map of one field: what {@linkcode FieldList} holds, without its arrays. */
export class OneField implements ReadonlyMap<string, SegmentField> {
  constructor(readonly name: string, readonly field: SegmentField) {}

  get size(): number {
    return 1;
  }

  get(name: string): SegmentField | undefined {
    return name === this.name ? this.field : undefined;
  }

  has(name: string): boolean {
    return name === this.name;
  }

  forEach(
    fn: (field: SegmentField, name: string, map: ReadonlyMap<string, SegmentField>) => void,
    thisArg?: unknown,
  ): void {
    fn.call(thisArg, this.field, this.name, this);
  }

  entries(): MapIterator<[string, SegmentField]> {
    return [[this.name, this.field] as [string, SegmentField]].values();
  }

  keys(): MapIterator<string> {
    return [this.name].values();
  }

  values(): MapIterator<SegmentField> {
    return [this.field].values();
  }

  [Symbol.iterator](): MapIterator<[string, SegmentField]> {
    return this.entries();
  }
}
