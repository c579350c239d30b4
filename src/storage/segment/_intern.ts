/**
 * One object for each tag (key and value) and field name that repeats across the series of a
 * segment index. Each entry decodes its own copies: at 100k series of 10 tags and 10 fields that
 * is 1M tag objects and 2-3M strings held for as long as the parsed index lives, nearly all
 * equal to a few dozen.
 * @module
 */
import type { Tag } from "../../core/mod.ts";

/** Distinct tag keys and field names kept (a segment holds few; past this, no new ones kept). */
const MAX_NAMES = 4096;
/**
 * Distinct values kept per tag key. Past this (a host name, an id) new values are not kept:
 * they rarely repeat within a segment, and a table of them would cost more than it saves.
 */
const MAX_VALUES_PER_KEY = 1024;
/** Block times kept for sharing (a direct-mapped table: a miss costs one object, as before). */
const TIME_SLOTS = 64;

/** The interning tables of one segment index (not shared: an index lives and dies with its file). */
export class IndexStrings {
  readonly #names = new Map<string, string>();
  /** By tag key: its kept copy and the kept tags by value. */
  readonly #tags = new Map<string, { key: string; values: Map<string, Tag> }>();
  /** Lists of field names by their names joined with NUL. */
  readonly #nameLists = new Map<string, readonly string[]>();
  /** Names and tags read and replaced by one already kept (tests, benches). */
  reused = 0;
  /** Block times handed out by {@linkcode time}, by ms modulo TIME_SLOTS (the last in each). */
  readonly #times = new Array<Readonly<{ ms: number; subMs: number }> | undefined>(TIME_SLOTS);

  /**
   * A frozen `{ ms, subMs }`, the one handed out before when it is still in its slot. Series
   * written together have their blocks' minima and maxima at the same few times (aligned
   * scrapes; at 100k series of one point each, all at one), and each block kept objects of
   * its own (about 50 bytes each with the boxed ms).
   */
  time(ms: number, subMs: number): Readonly<{ ms: number; subMs: number }> {
    const slot = (((ms % TIME_SLOTS) + TIME_SLOTS) % TIME_SLOTS) | 0;
    const kept = this.#times[slot];
    if (kept !== undefined && kept.ms === ms && kept.subMs === subMs) return kept;
    return this.#times[slot] = Object.freeze({ ms, subMs });
  }

  /** The kept copy of a tag key or field name equal to `s` (kept now when there is room). */
  name(s: string): string {
    const kept = this.#names.get(s);
    if (kept !== undefined) {
      this.reused++;
      return kept;
    }
    if (this.#names.size < MAX_NAMES) this.#names.set(s, s);
    return s;
  }

  /** The kept tag of this key and value (frozen: shared by every series that has it). */
  tag(key: string, value: string): Tag {
    let kept = this.#tags.get(key);
    if (kept === undefined) {
      key = this.name(key);
      if (this.#tags.size >= MAX_NAMES) return Object.freeze({ key, value });
      this.#tags.set(key, kept = { key, values: new Map() });
    }
    const tag = kept.values.get(value);
    if (tag !== undefined) {
      this.reused++;
      return tag;
    }
    const fresh = Object.freeze({ key: kept.key, value });
    if (kept.values.size < MAX_VALUES_PER_KEY) kept.values.set(value, fresh);
    return fresh;
  }

  /**
   * The kept (frozen) list equal to `names` (kept names), or `names` frozen: the series of a
   * measurement mostly have the same fields.
   */
  names(names: string[]): readonly string[] {
    const key = names.join("\0");
    const kept = this.#nameLists.get(key);
    // A name may itself hold NUL (line protocol allows it): ["a\0b"] and ["a", "b"] share a key.
    if (kept !== undefined && sameNames(kept, names)) {
      this.reused++;
      return kept;
    }
    Object.freeze(names);
    if (kept === undefined && this.#nameLists.size < MAX_NAMES) this.#nameLists.set(key, names);
    return names;
  }

  /** Distinct names and tags kept. */
  get size(): number {
    let n = this.#names.size;
    for (const { values } of this.#tags.values()) n += values.size;
    return n;
  }
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
