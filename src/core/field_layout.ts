/**
 * A bounded cache of {@linkcode FieldLayout}s: the points written with the same field keys and
 * types, in the same order, get the same frozen layout object (see {@linkcode PackedPoint}).
 * Clients write a measurement's fields the same way every time, so a few layouts serve
 * millions of points; the last layout found is tried first.
 * @module
 */
import type { Field, FieldLayout, FieldType } from "./point.ts";

/** Layouts kept before the cache is emptied (a client that varies its fields endlessly). */
const DEFAULT_MAX_LAYOUTS = 10_000;

/** Finds or makes the shared layout of a field list. */
export class FieldLayouts {
  #last: FieldLayout | undefined;
  #byFirstKey = new Map<string, FieldLayout[]>();
  #size = 0;
  readonly #max: number;

  /** `maxLayouts`: past it the cache is emptied and refilled. @default {10000} */
  constructor(maxLayouts = DEFAULT_MAX_LAYOUTS) {
    this.#max = maxLayouts;
  }

  /** The layout of `keys[0, n)` and `types[0, n)` (scratch arrays the caller reuses). */
  find(keys: readonly string[], types: readonly FieldType[], n: number): FieldLayout {
    const last = this.#last;
    if (last !== undefined && sameLayout(last, keys, types, n)) return last;
    const first = n === 0 ? "" : keys[0];
    const list = this.#byFirstKey.get(first);
    if (list !== undefined) {
      for (const layout of list) {
        if (sameLayout(layout, keys, types, n)) return this.#last = layout;
      }
    }
    if (this.#size >= this.#max) {
      this.#byFirstKey.clear();
      this.#size = 0;
    }
    const layout: FieldLayout = Object.freeze({
      keys: Object.freeze(keys.slice(0, n)),
      types: Object.freeze(types.slice(0, n)),
    });
    const kept = this.#byFirstKey.get(first);
    if (kept === undefined) this.#byFirstKey.set(first, [layout]);
    else kept.push(layout);
    this.#size++;
    return this.#last = layout;
  }

  /** The layout of a list of fields. */
  ofFields(fields: readonly Field[]): FieldLayout {
    const n = fields.length;
    const keys: string[] = new Array(n), types: FieldType[] = new Array(n);
    for (let i = 0; i < n; i++) {
      keys[i] = fields[i].key;
      types[i] = fields[i].type;
    }
    return this.find(keys, types, n);
  }
}

/** True when `layout` has exactly the keys and types `keys[0, n)`, `types[0, n)`. */
export function sameLayout(
  layout: FieldLayout,
  keys: readonly string[],
  types: readonly FieldType[],
  n: number,
): boolean {
  const k = layout.keys, t = layout.types;
  if (k.length !== n) return false;
  for (let i = 0; i < n; i++) if (k[i] !== keys[i] || t[i] !== types[i]) return false;
  return true;
}
