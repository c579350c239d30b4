/**
 * Parsed statements for texts that differ from an earlier one only in their string literals.
 * Dashboards and TSBS-style clients send one query shape with other host names and times each
 * time (`... where hostname = 'host_7' and time >= '2023-01-01T00:00:00Z' ...`): the exact-text
 * cache misses every time, and the generated parser costs more than running a small query.
 *
 * A text's *shape* is the text with each single-quoted string literal cut out. When a shape comes
 * back, it is parsed once more with a sentinel in place of each literal; the tree tells where each
 * literal's value lands (a string exactly equal to its sentinel). A later text of the shape gets
 * a copy of that tree with its own values put there. A shape is only trusted after the copies
 * made for its first {@linkcode VERIFY_TEXTS} texts equal the parser's own trees, so a literal
 * the grammar reads into something else (a zone name, a password hashed, a position) makes the
 * shape unusable instead of wrong; those texts go to the parser as before.
 *
 * Texts with a backslash inside a string, a regex or comment that could hide a quote (`/`, `--`)
 * or a control character are not cut into shapes at all.
 * @module
 */
import { isDeepStrictEqual } from "node:util";
import type { Statement } from "./ast.ts";
import { parseQuery } from "./parser.ts";

/** Texts of a shape checked against the parser before its copies are trusted. */
export const VERIFY_TEXTS = 2;

/** A text cut into its shape and its literals' values. */
interface Cut {
  shape: string;
  values: string[];
}

/** Where a shape's literals land in its tree, and how far it is trusted. */
interface Template {
  /** Undefined: the shape cannot be served by copies (see the module note). */
  tree: readonly Statement[] | undefined;
  /** Per literal: the paths (keys from the root) of the strings equal to its sentinel. */
  paths: (string | number)[][][];
  verified: number;
}

const MARK = "\u0000";

/** A shape seen once, not learnt yet. */
const SEEN_ONCE: Template = Object.freeze({ tree: undefined, paths: [], verified: 0 });

/**
 * The text's shape and literal values, or undefined when the text has no string literal or
 * anything the simple scan below cannot read for sure.
 */
export function cutLiterals(text: string): Cut | undefined {
  const values: string[] = [];
  let shape = "";
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return undefined;
    if (c === 0x2f /* / */) return undefined;
    if (c === 0x2d /* - */ && text.charCodeAt(i + 1) === 0x2d) return undefined;
    if (c === 0x22 /* " */) {
      const end = text.indexOf('"', i + 1);
      // Only the name's own span is looked at: a scan back from `end` would reach the text's
      // start for every quoted name, quadratic in a text of many.
      if (end < 0 || text.slice(i + 1, end).includes("\\")) return undefined;
      i = end;
    } else if (c === 0x27 /* ' */) {
      const end = text.indexOf("'", i + 1);
      if (end < 0) return undefined;
      const value = text.slice(i + 1, end);
      if (value.includes("\\") || value.includes("\n")) return undefined;
      for (let k = 0; k < value.length; k++) if (value.charCodeAt(k) < 0x20) return undefined;
      values.push(value);
      shape += text.slice(from, i) + MARK;
      from = end + 1;
      i = end;
    }
  }
  if (values.length === 0) return undefined;
  return { shape: shape + text.slice(from), values };
}

const sentinel = (i: number) => `\u0001${i}\u0002`;

/** A bounded LRU of shapes and the trees their texts are copied from. */
export class StatementTemplates {
  readonly #templates = new Map<string, Template>();
  readonly #maxEntries: number;
  #copies = 0;

  constructor(maxEntries = 256) {
    this.#maxEntries = maxEntries;
  }

  /**
   * The statements of `text` (not frozen: the caller freezes what it keeps), from its shape's
   * tree when trusted, else from the parser.
   * @throws {ParseError} when the text is not valid InfluxQL.
   */
  parse(text: string): Statement[] {
    const cut = cutLiterals(text);
    if (cut === undefined) return parseQuery(text);
    let template = this.#templates.get(cut.shape);
    if (template === undefined || template === SEEN_ONCE) {
      // A text that does not parse throws here, before its shape is noted or learnt.
      const parsed = parseQuery(text);
      if (template === undefined) {
        // A shape is learnt when it comes back: a one-off text costs one parse, not two.
        this.#keep(cut.shape, SEEN_ONCE);
        return parsed;
      }
      template = learn(cut);
      if (template.tree !== undefined) check(template, cut, parsed);
      this.#templates.delete(cut.shape);
      this.#templates.set(cut.shape, template);
      return parsed;
    }
    this.#templates.delete(cut.shape);
    this.#templates.set(cut.shape, template);
    if (template.tree === undefined) return parseQuery(text);
    if (template.verified < VERIFY_TEXTS) {
      const parsed = parseQuery(text);
      check(template, cut, parsed);
      return parsed;
    }
    this.#copies++;
    return bind(template, cut.values);
  }

  /** Shapes kept, and texts answered by a copy. */
  stats(): { shapes: number; copies: number } {
    return { shapes: this.#templates.size, copies: this.#copies };
  }

  #keep(shape: string, template: Template): void {
    if (this.#maxEntries <= 0) return;
    if (this.#templates.size >= this.#maxEntries) {
      this.#templates.delete(this.#templates.keys().next().value!);
    }
    this.#templates.set(shape, template);
  }
}

/** Parses the shape with sentinels and finds where each lands; unusable when anything is off. */
function learn(cut: Cut): Template {
  const unusable: Template = { tree: undefined, paths: [], verified: 0 };
  let i = 0;
  const text = cut.shape.replaceAll(MARK, () => `'${sentinel(i++)}'`);
  let tree: Statement[];
  try {
    tree = parseQuery(text);
  } catch {
    return unusable;
  }
  const paths: (string | number)[][][] = cut.values.map(() => []);
  let stray = false;
  const visit = (value: unknown, path: (string | number)[]) => {
    if (typeof value === "string") {
      if (!value.includes("\u0001")) return;
      // A sentinel whole, else a literal's value landed inside another string.
      const i = value.startsWith("\u0001") && value.endsWith("\u0002")
        ? Number(value.slice(1, -1))
        : NaN;
      if (!(i >= 0 && i < paths.length) || value !== sentinel(i)) stray = true;
      else paths[i].push(path);
      return;
    }
    if (value === null || typeof value !== "object") return;
    if (Array.isArray(value)) value.forEach((v, k) => visit(v, [...path, k]));
    else if (Object.getPrototypeOf(value) !== Object.prototype) stray = true;
    else for (const [k, v] of Object.entries(value)) visit(v, [...path, k]);
  };
  visit(tree, []);
  if (stray || paths.some((p) => p.length === 0)) return unusable;
  return { tree, paths, verified: 0 };
}

/** The shape's copy for `cut` must equal the parser's tree, or the shape is given up. */
function check(template: Template, cut: Cut, parsed: Statement[]): void {
  if (isDeepStrictEqual(bind(template, cut.values), parsed)) template.verified++;
  else template.tree = undefined;
}

/** A copy of the template's tree with `values` at their paths; untouched subtrees are shared. */
function bind(template: Template, values: string[]): Statement[] {
  // deno-lint-ignore no-explicit-any
  const root: any = [...template.tree!];
  const copied = new Set<object>([root]);
  template.paths.forEach((paths, i) => {
    for (const path of paths) {
      let node = root;
      for (let d = 0; d < path.length - 1; d++) {
        const child = node[path[d]];
        if (!copied.has(child)) {
          const copy = Array.isArray(child) ? [...child] : { ...child };
          copied.add(copy);
          node[path[d]] = copy;
          node = copy;
        } else node = child;
      }
      node[path[path.length - 1]] = values[i];
    }
  });
  return root;
}
