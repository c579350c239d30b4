/**
 * A bounded least-recently-used cache of decoded blocks, sized in values (a block of 1000
 * floats holds about 24 KB decoded). Shared by every segment of an engine, or of every engine
 * of a cluster node (its partition replicas), so the bound is the process's.
 * @module
 */
import type { ColumnView } from "../column.ts";

/** LRU cache of decoded blocks keyed by `path@offset`. */
export class BlockCache {
  #entries = new Map<string, ColumnView>();
  #values = 0;
  hits = 0;
  misses = 0;

  /** @param maxValues the most decoded values held @default 4_000_000 */
  constructor(readonly maxValues = 4_000_000) {}

  /** The block, marked as recently used; undefined when absent. */
  get(key: string): ColumnView | undefined {
    const column = this.#entries.get(key);
    if (!column) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.#entries.delete(key);
    this.#entries.set(key, column);
    return column;
  }

  /** Adds a block, evicting the least recently used ones beyond the bound. */
  set(key: string, column: ColumnView): void {
    if (this.maxValues === 0 || column.length > this.maxValues) return;
    const old = this.#entries.get(key);
    if (old) {
      this.#values -= old.length;
      this.#entries.delete(key);
    }
    this.#entries.set(key, column);
    this.#values += column.length;
    for (const [k, c] of this.#entries) {
      if (this.#values <= this.maxValues) break;
      this.#entries.delete(k);
      this.#values -= c.length;
    }
  }

  /** Forgets every block of a file (after compaction removed it). */
  dropFile(path: string): void {
    const prefix = `${path}@`;
    for (const [k, c] of this.#entries) {
      if (k.startsWith(prefix)) {
        this.#entries.delete(k);
        this.#values -= c.length;
      }
    }
  }

  /** Decoded values held. */
  get size(): number {
    return this.#values;
  }
}
