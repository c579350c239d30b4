/**
 * The parsed statements of recent query texts. Dashboards send the same texts again and again
 * (a panel's query every refresh, `now() - 1h` relative times), and parsing one costs more than
 * planning and running a small query; this LRU answers a repeated text without the parser.
 *
 * Keyed by the text alone: bind parameters stay in the tree as `$name` and are bound after
 * (executor.ts `bindParams` copies what it changes), so one entry serves every parameter set.
 * Entries are frozen deeply: the executor shares them between requests, and a change to one
 * would leak into the next query (in strict code, such an assignment throws at once).
 * Texts that do not parse are not kept: each is parsed again and throws the same ParseError.
 * A text missing here but of a known shape (other string literals: another host, other times)
 * is copied from its shape's tree instead of parsed (statement_templates.ts).
 *
 * @module
 */
import type { Statement } from "./ast.ts";
import { parseQuery } from "./parser.ts";
import { StatementTemplates } from "./statement_templates.ts";

/** Options of {@linkcode StatementCache}. */
export interface StatementCacheOptions {
  /** Texts kept. @default {512} */
  maxEntries?: number;
  /** Longer texts are parsed and not kept (a bulk query is not sent twice). @default {16384} */
  maxTextLength?: number;
}

/** A bounded least-recently-used map from query text to its parsed statements. */
export class StatementCache {
  readonly #entries = new Map<string, readonly Statement[]>();
  readonly #maxEntries: number;
  readonly #maxTextLength: number;
  readonly #templates: StatementTemplates;
  #hits = 0;
  #misses = 0;

  constructor(options: StatementCacheOptions = {}) {
    this.#maxEntries = options.maxEntries ?? 512;
    this.#maxTextLength = options.maxTextLength ?? 16384;
    this.#templates = new StatementTemplates(Math.min(this.#maxEntries, 256));
  }

  /**
   * The statements of `text`: the kept ones (deeply frozen) or a fresh parse, kept.
   * @throws {ParseError} when the text is not valid InfluxQL.
   */
  parse(text: string): readonly Statement[] {
    const kept = this.#entries.get(text);
    if (kept !== undefined) {
      this.#hits++;
      // Most recently used last: Map iterates in insertion order.
      this.#entries.delete(text);
      this.#entries.set(text, kept);
      return kept;
    }
    this.#misses++;
    const statements = deepFreeze(
      text.length <= this.#maxTextLength ? this.#templates.parse(text) : parseQuery(text),
    );
    if (text.length <= this.#maxTextLength && this.#maxEntries > 0) {
      if (this.#entries.size >= this.#maxEntries) {
        this.#entries.delete(this.#entries.keys().next().value!);
      }
      this.#entries.set(text, statements);
    }
    return statements;
  }

  /** Entries kept, lookups answered from them or not, and misses copied from a shape's tree. */
  stats(): { entries: number; hits: number; misses: number; copies: number } {
    const copies = this.#templates.stats().copies;
    return { entries: this.#entries.size, hits: this.#hits, misses: this.#misses, copies };
  }
}

/**
 * Freezes plain objects and arrays all the way down (the AST is plain data), with an explicit
 * stack: a chain of 10,000 ORs is a tree 10,000 deep.
 */
function deepFreeze<T>(root: T): T {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (value === null || typeof value !== "object" || Object.isFrozen(value)) continue;
    Object.freeze(value);
    for (const v of Object.values(value)) stack.push(v);
  }
  return root;
}

/** The process's cache: parsing is a pure function of the text, so every server shares it. */
export const STATEMENTS: StatementCache = new StatementCache();
