/**
 * A bounded least-recently-used cache of decoded blocks, sized in values and in bytes (a block
 * of 1000 floats holds 8 KB of values and up to 16 KB of times; the blocks of one series' fields
 * share their decoded times, counted once). Shared by every segment of an engine, or of every
 * engine of a cluster node (its partition replicas), so the bound is the process's.
 *
 * Once full, a block is admitted only when it was asked for more often (by 2) than the block it
 * would evict (TinyLFU's admission, counts halved every so many lookups so that old favourites fade).
 * Plain LRU keeps nothing of a scan repeated over more blocks than it holds: each block is
 * evicted just before it is asked for again, and every query decodes everything.
 * @module
 */
import type { ColumnView } from "../column.ts";

/** LRU cache of decoded blocks keyed by `path@offset`, with frequency-based admission. */
export class BlockCache {
  #entries = new Map<string, ColumnView>();
  #values = 0;
  #bytes = 0;
  /** Cached columns per decoded times array (columns of one series' fields share theirs). */
  #timesHolders = new Map<Float64Array, number>();
  /** Lookups per key (cached or not) since the counts were last halved. */
  #counts = new Map<string, number>();
  #lookups = 0;
  hits = 0;
  misses = 0;

  /**
   * @param maxValues the most decoded values held @default 4_000_000
   * @param maxBytes the most bytes of decoded arrays held @default Infinity
   */
  constructor(readonly maxValues = 4_000_000, readonly maxBytes = Infinity) {}

  /** The block, marked as recently used; undefined when absent. */
  get(key: string): ColumnView | undefined {
    this.#count(key);
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

  /**
   * Adds a block, evicting the least recently used ones beyond the bound; when that would evict,
   * only if the block was asked for at least twice more often than the first it would evict.
   */
  set(key: string, column: ColumnView): void {
    if (this.maxValues === 0 || column.length > this.maxValues) return;
    if (valueBytes(column) > this.maxBytes) return;
    const old = this.#entries.get(key);
    if (old) {
      this.#forget(key, old);
    } else if (
      this.#values + column.length > this.maxValues ||
      this.#bytes + valueBytes(column) + this.#newTimesBytes(column) > this.maxBytes
    ) {
      const victim = this.#entries.keys().next().value;
      // By 2: a halving in the middle of a repeated scan leaves the blocks after it one count
      // ahead of those before; by 1 they would push out what the scan holds, a few each pass.
      if (victim !== undefined && this.#frequency(key) <= this.#frequency(victim) + 1) return;
    }
    this.#entries.set(key, column);
    this.#values += column.length;
    this.#bytes += valueBytes(column) + this.#newTimesBytes(column);
    if (column.timesMs) {
      this.#timesHolders.set(column.timesMs, (this.#timesHolders.get(column.timesMs) ?? 0) + 1);
    }
    for (const [k, c] of this.#entries) {
      if (this.#values <= this.maxValues && this.#bytes <= this.maxBytes) break;
      this.#forget(k, c);
    }
  }

  /** Forgets every block of a file (after compaction removed it). */
  dropFile(path: string): void {
    const prefix = `${path}@`;
    for (const [k, c] of this.#entries) {
      if (k.startsWith(prefix)) this.#forget(k, c);
    }
  }

  /** Decoded values held. */
  get size(): number {
    return this.#values;
  }

  /** Bytes of decoded arrays held (values, and each distinct times array once). */
  get bytes(): number {
    return this.#bytes;
  }

  #forget(key: string, column: ColumnView): void {
    this.#entries.delete(key);
    this.#values -= column.length;
    this.#bytes -= valueBytes(column);
    if (!column.timesMs) return;
    const holders = (this.#timesHolders.get(column.timesMs) ?? 1) - 1;
    if (holders > 0) this.#timesHolders.set(column.timesMs, holders);
    else {
      this.#timesHolders.delete(column.timesMs);
      this.#bytes -= timesBytes(column);
    }
  }

  /** The bytes of the column's times unless a cached column holds the same arrays already. */
  #newTimesBytes(column: ColumnView): number {
    return column.timesMs && this.#timesHolders.has(column.timesMs) ? 0 : timesBytes(column);
  }

  /** Keys whose lookups are counted (bounded by the halving, whatever was scanned). */
  get countedKeys(): number {
    return this.#counts.size;
  }

  #frequency(key: string): number {
    return this.#counts.get(key) ?? 0;
  }

  #count(key: string): void {
    this.#counts.set(key, this.#frequency(key) + 1);
    // Halved after 2 lookups per cached block (at least 1024): the counts follow what is asked
    // for now (a query type's blocks outweigh the last type's within a few runs; a scan repeated
    // over more blocks than are held still ties and keeps what is held), and the map holds
    // about that many keys.
    if (++this.#lookups < Math.max(1024, 2 * this.#entries.size)) return;
    this.#lookups = 0;
    for (const [k, n] of this.#counts) {
      if (n <= 1) this.#counts.delete(k);
      else this.#counts.set(k, n >> 1);
    }
  }
}

/** Bytes of a column's values: typed arrays exactly, other values about 16 bytes each. */
function valueBytes(column: ColumnView): number {
  const values = column.values;
  if (values === undefined) return 0;
  if (values instanceof Float64Array) return values.byteLength;
  let bytes = 16 * values.length;
  for (const v of values) if (typeof v === "string") bytes += 2 * v.length;
  return bytes;
}

function timesBytes(column: ColumnView): number {
  return (column.timesMs?.byteLength ?? 0) + (column.timesSubMs?.byteLength ?? 0);
}
