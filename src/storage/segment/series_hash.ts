/**
 * The 64-bit hash of a series key that segment indexes (version 2) store beside each series, and
 * a compact set of such hashes: 8 bytes a series in two typed arrays instead of a JS Set of
 * strings, so that a node with a million series starts without materialising a million keys.
 * A hash names a series with a tiny chance of error (n²/2^65: 3e-8 at a million series); callers
 * that must be exact confirm a hit against the keys themselves.
 * @module
 */

/**
 * Hashes a series key's UTF-8 bytes (lone surrogates as U+FFFD, as TextEncoder writes them) into
 * two 32-bit lanes, `out[0]` (lo) and `out[1]` (hi). Two multiplicative lanes over each byte,
 * then a cross-mixing finaliser (cyrb53's, kept at 64 bits). The function is part of the segment
 * format: changing it needs a new segment version.
 * @example
 * ```ts
 * const h = new Uint32Array(2);
 * seriesKeyHash("cpu,host=a", h); // h[0], h[1]
 * ```
 */
export function seriesKeyHash(key: string, out: Uint32Array): void {
  let h1 = 0xdeadbeef, h2 = 0x41c6ce57;
  const n = key.length;
  for (let i = 0; i < n; i++) {
    let c = key.charCodeAt(i);
    if (c < 0x80) {
      h1 = Math.imul(h1 ^ c, 2654435761);
      h2 = Math.imul(h2 ^ c, 1597334677);
      continue;
    }
    if (c >= 0xd800 && c < 0xe000) {
      const next = i + 1 < n ? key.charCodeAt(i + 1) : 0;
      if (c < 0xdc00 && next >= 0xdc00 && next < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
      } else c = 0xfffd;
    }
    // UTF-8: 2, 3 or 4 bytes, mixed one by one.
    let bytes: number, lead: number;
    if (c < 0x800) (bytes = 2, lead = 0xc0 | (c >> 6));
    else if (c < 0x10000) (bytes = 3, lead = 0xe0 | (c >> 12));
    else (bytes = 4, lead = 0xf0 | (c >> 18));
    h1 = Math.imul(h1 ^ lead, 2654435761);
    h2 = Math.imul(h2 ^ lead, 1597334677);
    for (let k = bytes - 2; k >= 0; k--) {
      const b = 0x80 | ((c >> (6 * k)) & 0x3f);
      h1 = Math.imul(h1 ^ b, 2654435761);
      h2 = Math.imul(h2 ^ b, 1597334677);
    }
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  out[0] = h1 >>> 0;
  out[1] = h2 >>> 0;
}

/** Unsigned (hi, lo) order of two hashes. */
export function compareHashes(aLo: number, aHi: number, bLo: number, bHi: number): number {
  return aHi !== bHi ? (aHi < bHi ? -1 : 1) : aLo === bLo ? 0 : aLo < bLo ? -1 : 1;
}

/**
 * A set of 64-bit hashes: open addressing with linear probing over one Uint32Array of (lo, hi)
 * pairs, deletion by backward shift (no tombstones). (0, 0) marks an empty slot, so the hash
 * (0, 0) is stored as (1, 0).
 */
export class HashSet64 {
  #slots: Uint32Array;
  #mask: number;
  #size = 0;

  /** @param capacity expected entries (the table grows past half full). */
  constructor(capacity = 1024) {
    let slots = 16;
    while (slots < capacity * 2) slots *= 2;
    this.#slots = new Uint32Array(slots * 2);
    this.#mask = slots - 1;
  }

  /** Hashes held. */
  get size(): number {
    return this.#size;
  }

  /** Bytes held by the table. */
  get byteLength(): number {
    return this.#slots.byteLength;
  }

  #find(lo: number, hi: number): number {
    if (lo === 0 && hi === 0) lo = 1;
    const s = this.#slots, mask = this.#mask;
    let i = lo & mask;
    for (;;) {
      const l = s[2 * i], h = s[2 * i + 1];
      if (l === 0 && h === 0) return -1 - i; // free slot i
      if (l === lo && h === hi) return i;
      i = (i + 1) & mask;
    }
  }

  /** True when the hash is in the set. */
  has(lo: number, hi: number): boolean {
    return this.#find(lo, hi) >= 0;
  }

  /** Adds a hash; returns false when it was there already. */
  add(lo: number, hi: number): boolean {
    if (lo === 0 && hi === 0) lo = 1;
    const at = this.#find(lo, hi);
    if (at >= 0) return false;
    const i = -1 - at;
    this.#slots[2 * i] = lo;
    this.#slots[2 * i + 1] = hi;
    if (++this.#size * 2 > this.#mask + 1) this.#grow();
    return true;
  }

  /** Adds every (lo, hi) pair of `pairs`; returns how many were new. */
  addAll(pairs: Uint32Array): number {
    let added = 0;
    if ((this.#size + pairs.length / 2) * 2 > this.#mask + 1) {
      this.#grow(this.#size + pairs.length / 2);
    }
    for (let i = 0; i < pairs.length; i += 2) if (this.add(pairs[i], pairs[i + 1])) added++;
    return added;
  }

  /** Removes a hash; returns false when it was absent. */
  delete(lo: number, hi: number): boolean {
    if (lo === 0 && hi === 0) lo = 1;
    let i = this.#find(lo, hi);
    if (i < 0) return false;
    const s = this.#slots, mask = this.#mask;
    // Backward shift: pull later entries of the probe run into the hole when their home slot
    // does not lie cyclically in (hole, entry].
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const l = s[2 * j], h = s[2 * j + 1];
      if (l === 0 && h === 0) break;
      const home = l & mask;
      const inRange = i <= j ? home > i && home <= j : home > i || home <= j;
      if (inRange) continue;
      s[2 * i] = l;
      s[2 * i + 1] = h;
      i = j;
    }
    s[2 * i] = 0;
    s[2 * i + 1] = 0;
    this.#size--;
    return true;
  }

  /** Forgets every hash. */
  clear(): void {
    this.#slots.fill(0);
    this.#size = 0;
  }

  #grow(atLeast = this.#size): void {
    let slots = this.#mask + 1;
    while (slots < atLeast * 2 + 2) slots *= 2;
    if (slots === this.#mask + 1) slots *= 2;
    const old = this.#slots;
    this.#slots = new Uint32Array(slots * 2);
    this.#mask = slots - 1;
    this.#size = 0;
    for (let i = 0; i < old.length; i += 2) {
      if (old[i] !== 0 || old[i + 1] !== 0) this.add(old[i], old[i + 1]);
    }
  }
}
