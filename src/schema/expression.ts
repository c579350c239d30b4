/**
 * The expression language of pipeline steps (`derive`, `drop_if`), parsed by the Peggy grammar
 * grammar/expression.peggy and compiled to closures once per schema, so evaluating a point
 * walks no tree.
 *
 * Values are numbers, strings, booleans or null. An identifier names a field (first) or a tag
 * of the point; `time` is the timestamp in milliseconds; `measurement` the measurement (unless
 * a field or tag has that name). A missing key is null; arithmetic on null is null, a
 * comparison with null is false. Integers beyond 2^53 lose precision in arithmetic.
 *
 * Functions: abs ceil floor round(x[, digits]) sqrt pow exp ln log10 min max clamp(x, lo, hi)
 * lower upper trim len concat substr(s, start[, length]) replace(s, from, to) contains
 * starts_with ends_with str num bool coalesce if(test, then, else).
 * @module
 */
import { fieldValueOf, ParseError, type Point } from "../core/mod.ts";
import { parse, SyntaxError as PeggySyntaxError } from "./gen/expression_parser.js";
import * as ast from "./expression_ast.ts";

/** A value of the expression language. */
export type Value = number | string | boolean | null;

/** A compiled expression: evaluates against a point. */
export type Evaluator = (point: Point) => Value;

/** Parses an expression into its AST. @throws {ParseError} with the column and what was expected. */
export function parseExpression(text: string): ast.Expr {
  try {
    return parse(text, { ast }) as ast.Expr;
  } catch (error) {
    if (error instanceof PeggySyntaxError) {
      const found = error.found === null ? "end of expression" : JSON.stringify(error.found);
      const expected = [...new Set((error.expected ?? []).map(describeExpected))].join(", ");
      throw new ParseError(
        `invalid expression ${JSON.stringify(text)}: found ${found}, expected ${expected} ` +
          `at char ${error.location.start.column}`,
        { column: error.location.start.column, line: 1, cause: error },
      );
    }
    throw error;
  }
}

/**
 * Compiles an expression.
 *
 * @example
 * ```ts
 * const f = compileExpression("used / total * 100");
 * f(point); // 42.5
 * ```
 * @throws {ParseError} for a syntax error, an unknown function or a wrong argument count.
 */
export function compileExpression(text: string): Evaluator {
  return compile(parseExpression(text), text);
}

function describeExpected(
  e: { type: string; text?: string; description?: string; parts?: unknown[] },
): string {
  if (e.type === "literal") return JSON.stringify(e.text);
  if (e.type === "class") {
    return (e.parts ?? []).map((p) => (Array.isArray(p) ? `${p[0]}-${p[1]}` : String(p)))
      .map((p) => JSON.stringify(p)).join(", ");
  }
  if (e.type === "end") return "end of expression";
  return e.description ?? e.type;
}

/** JavaScript truthiness, except that NaN and null are false (drop_if conditions). */
export function truthy(value: Value): boolean {
  return value !== null && value !== false && value !== 0 && value !== "" &&
    !(typeof value === "number" && Number.isNaN(value));
}

function lookup(point: Point, name: string): Value {
  const v = fieldValueOf(point, name);
  if (v !== undefined) return typeof v === "bigint" ? Number(v) : v;
  const tags = point.tags;
  for (let i = 0; i < tags.length; i++) if (tags[i].key === name) return tags[i].value;
  if (name === "time") return point.timeMs + point.timeSubMs / 1e6;
  if (name === "measurement") return point.measurement;
  return null;
}

function num(v: Value): number | null {
  if (v === null) return null;
  if (typeof v === "number") return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  const n = Number(v);
  return v.trim() === "" || Number.isNaN(n) ? null : n;
}

function str(v: Value): string | null {
  return v === null ? null : String(v);
}

type Fn = { arity: [number, number]; call: (args: Value[]) => Value };

const math1 = (f: (x: number) => number): Fn => ({
  arity: [1, 1],
  call: ([x]) => {
    const n = num(x);
    return n === null ? null : f(n);
  },
});

const FUNCTIONS: Record<string, Fn> = {
  abs: math1(Math.abs),
  ceil: math1(Math.ceil),
  floor: math1(Math.floor),
  sqrt: math1(Math.sqrt),
  exp: math1(Math.exp),
  ln: math1(Math.log),
  log10: math1(Math.log10),
  round: {
    arity: [1, 2],
    call: ([x, d]) => {
      const n = num(x);
      if (n === null) return null;
      const f = 10 ** (num(d ?? 0) ?? 0);
      return Math.round(n * f) / f;
    },
  },
  pow: {
    arity: [2, 2],
    call: ([x, y]) => {
      const a = num(x), b = num(y);
      return a === null || b === null ? null : a ** b;
    },
  },
  min: { arity: [1, 64], call: (args) => reduceNumbers(args, Math.min) },
  max: { arity: [1, 64], call: (args) => reduceNumbers(args, Math.max) },
  clamp: {
    arity: [3, 3],
    call: ([x, lo, hi]) => {
      const [a, l, h] = [num(x), num(lo), num(hi)];
      return a === null || l === null || h === null ? null : Math.min(h, Math.max(l, a));
    },
  },
  lower: strFn((s) => s.toLowerCase()),
  upper: strFn((s) => s.toUpperCase()),
  trim: strFn((s) => s.trim()),
  len: { arity: [1, 1], call: ([s]) => (s === null ? null : String(s).length) },
  concat: {
    arity: [1, 64],
    call: (args) => args.map((a) => (a === null ? "" : String(a))).join(""),
  },
  substr: {
    arity: [2, 3],
    call: ([s, start, length]) => {
      const text = str(s), from = num(start);
      if (text === null || from === null) return null;
      const n = length === undefined ? undefined : num(length);
      return n === null ? null : text.substr(from, n);
    },
  },
  replace: {
    arity: [3, 3],
    call: ([s, from, to]) => {
      const text = str(s), a = str(from), b = str(to);
      return text === null || a === null || b === null ? null : text.replaceAll(a, b);
    },
  },
  contains: strPredicate((s, t) => s.includes(t)),
  starts_with: strPredicate((s, t) => s.startsWith(t)),
  ends_with: strPredicate((s, t) => s.endsWith(t)),
  str: { arity: [1, 1], call: ([v]) => str(v) },
  num: { arity: [1, 1], call: ([v]) => num(v) },
  bool: { arity: [1, 1], call: ([v]) => (v === null ? null : truthy(v)) },
  coalesce: {
    arity: [1, 64],
    call: (args) => args.find((a) => a !== null) ?? null,
  },
};

function reduceNumbers(args: Value[], f: (a: number, b: number) => number): Value {
  let out: number | null = null;
  for (const a of args) {
    const n = num(a);
    if (n === null) return null;
    out = out === null ? n : f(out, n);
  }
  return out;
}

function strFn(f: (s: string) => string): Fn {
  return { arity: [1, 1], call: ([s]) => (s === null ? null : f(String(s))) };
}

function strPredicate(f: (s: string, t: string) => boolean): Fn {
  return {
    arity: [2, 2],
    call: ([s, t]) => (s === null || t === null ? null : f(String(s), String(t))),
  };
}

function compare(op: string, a: Value, b: Value): boolean {
  if (a === null || b === null) return op === "!=" ? a !== b : op === "=" ? a === b : false;
  if (typeof a !== typeof b) {
    // Numbers compare with numeric strings and booleans numerically; else by text.
    const x = num(a), y = num(b);
    if (x !== null && y !== null) (a = x), (b = y);
    else (a = String(a)), (b = String(b));
  }
  switch (op) {
    case "=":
      return a === b;
    case "!=":
      return a !== b;
    case "<":
      return a < b;
    case "<=":
      return a <= b;
    case ">":
      return a > b;
    default:
      return a >= b;
  }
}

function arithmetic(op: string, a: Value, b: Value): Value {
  if (op === "+" && (typeof a === "string" || typeof b === "string")) {
    return a === null || b === null ? null : String(a) + String(b);
  }
  const x = num(a), y = num(b);
  if (x === null || y === null) return null;
  switch (op) {
    case "+":
      return x + y;
    case "-":
      return x - y;
    case "*":
      return x * y;
    case "/":
      return y === 0 ? null : x / y;
    default:
      return y === 0 ? null : x % y;
  }
}

function compile(node: ast.Expr, text: string): Evaluator {
  switch (node.kind) {
    case "literal": {
      const v = node.value;
      return () => v;
    }
    case "ref": {
      const name = node.name;
      return (p) => lookup(p, name);
    }
    case "unary": {
      const operand = compile(node.operand, text);
      if (node.op === "not") return (p) => !truthy(operand(p));
      return (p) => {
        const n = num(operand(p));
        return n === null ? null : -n;
      };
    }
    case "binary": {
      const left = compile(node.left, text), right = compile(node.right, text);
      const op = node.op;
      if (op === "and") return (p) => truthy(left(p)) && truthy(right(p));
      if (op === "or") return (p) => truthy(left(p)) || truthy(right(p));
      if (op === "+" || op === "-" || op === "*" || op === "/" || op === "%") {
        return (p) => arithmetic(op, left(p), right(p));
      }
      return (p) => compare(op, left(p), right(p));
    }
    case "call": {
      const name = node.name.toLowerCase();
      const args = node.args.map((a) => compile(a, text));
      if (name === "if") {
        if (args.length !== 3) throw arityError(text, name, "3", args.length);
        const [test, then, otherwise] = args;
        return (p) => (truthy(test(p)) ? then(p) : otherwise(p));
      }
      const fn = FUNCTIONS[name];
      if (!fn) {
        throw new ParseError(
          `invalid expression ${JSON.stringify(text)}: unknown function ${node.name} ` +
            `(known: if, ${Object.keys(FUNCTIONS).join(", ")})`,
        );
      }
      const [lo, hi] = fn.arity;
      if (args.length < lo || args.length > hi) {
        throw arityError(text, name, lo === hi ? String(lo) : `${lo} to ${hi}`, args.length);
      }
      const call = fn.call;
      if (args.length === 1) {
        const a = args[0];
        return (p) => call([a(p)]);
      }
      return (p) => call(args.map((a) => a(p)));
    }
  }
}

function arityError(text: string, name: string, expected: string, got: number): ParseError {
  return new ParseError(
    `invalid expression ${JSON.stringify(text)}: ${name}() takes ${expected} arguments, got ${got}`,
  );
}
