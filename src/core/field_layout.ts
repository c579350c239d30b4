/**
 * A bounded cache of {@linkcode FieldLayout}s: the points written with the same field keys and
 * types, in the same order, get the same frozen layout object (see {@linkcode PackedPoint}).
 * Clients write a measurement's fields the same way every time, so a few layouts serve
 * millions of points; the last layout found is tried first.
 *
 * Layouts are found through a trie of (key, type) steps, so a lookup costs one map read per
 * field however many layouts are kept: a list per first key made a client whose points share
 * their first field and vary the others (sparse fields, a field per id) compare each new point
 * with every kept layout, ~0.4 ms a point at 10,000 layouts.
 * @module
 */
import type { Field, FieldLayout, FieldType } from "./point.ts";

/** Layouts kept before the cache is emptied (a client that varies its fields endlessly). */
const DEFAULT_MAX_LAYOUTS = 10_000;
/** Trie nodes kept before the cache is emptied (long layouts that share no prefix). */
const NODES_PER_LAYOUT = 16;
/**
 * Longer field lists are not kept in the trie (three objects per field would cost more than
 * the sharing saves on points this wide); the same list twice in a row still shares.
 */
const MAX_SHARED_FIELDS = 1024;

/** The layouts that start with the same (key, type) steps. */
interface TrieNode {
  /** The layout that ends here. */
  layout: FieldLayout | undefined;
  /** The next step: by key, then by type. */
  next: Map<string, (TrieNode | undefined)[]> | undefined;
}

function emptyNode(): TrieNode {
  return { layout: undefined, next: undefined };
}

/** Finds or makes the shared layout of a field list. */
export class FieldLayouts {
  #last: FieldLayout | undefined;
  #root = emptyNode();
  #size = 0;
  #nodes = 0;
  readonly #max: number;
  readonly #maxNodes: number;

  /** `maxLayouts`: past it the cache is emptied and refilled. @default {10000} */
  constructor(maxLayouts = DEFAULT_MAX_LAYOUTS) {
    this.#max = maxLayouts;
    this.#maxNodes = maxLayouts * NODES_PER_LAYOUT;
  }

  /** Trie nodes held: about one per field of each layout kept. */
  get nodes(): number {
    return this.#nodes;
  }

  /** The layout of `keys[0, n)` and `types[0, n)` (scratch arrays the caller reuses). */
  find(keys: readonly string[], types: readonly FieldType[], n: number): FieldLayout {
    const last = this.#last;
    if (last !== undefined && sameLayout(last, keys, types, n)) return last;
    if (n > MAX_SHARED_FIELDS) return this.#last = frozenLayout(keys, types, n);
    let node = this.#walk(keys, types, n, false);
    if (node?.layout !== undefined) return this.#last = node.layout;
    if (this.#size >= this.#max || this.#nodes + n > this.#maxNodes) {
      this.#root = emptyNode();
      this.#size = this.#nodes = 0;
    }
    node = this.#walk(keys, types, n, true)!;
    const layout = node.layout = frozenLayout(keys, types, n);
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

  /** The node of `keys[0, n)`, `types[0, n)`: made on the way when `make`, else maybe none. */
  #walk(
    keys: readonly string[],
    types: readonly FieldType[],
    n: number,
    make: boolean,
  ): TrieNode | undefined {
    let node = this.#root;
    for (let i = 0; i < n; i++) {
      let byType = node.next?.get(keys[i]);
      let child = byType?.[types[i]];
      if (child === undefined) {
        if (!make) return undefined;
        if (byType === undefined) (node.next ??= new Map()).set(keys[i], byType = []);
        byType[types[i]] = child = emptyNode();
        this.#nodes++;
      }
      node = child;
    }
    return node;
  }
}

function frozenLayout(
  keys: readonly string[],
  types: readonly FieldType[],
  n: number,
): FieldLayout {
  return Object.freeze({
    keys: Object.freeze(keys.slice(0, n)),
    types: Object.freeze(types.slice(0, n)),
  });
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
