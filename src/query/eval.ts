/**
 * Expression evaluation over row values: InfluxQL arithmetic (integer stays integer except for
 * division), comparisons, regex matching through re2js (Go RE2 syntax, linear time), and the
 * three-valued logic used to decide per series whether a WHERE clause can hold.
 *
 * @module
 */
import { RE2JS } from "re2js";
import { ValidationError } from "../core/errors.ts";
import type { BinaryExpr, BinaryOp, Expr } from "./ast.ts";
import { foldChain, someExpr } from "./expr_walk.ts";
import { lookupFunction } from "./functions/mod.ts";
import type { Value } from "./result.ts";

/** Looks a name up in the current row: a field value, a tag value, or undefined (absent). */
export type Lookup = (name: string, type?: string) => Value | undefined;

const regexCache = new Map<string, RE2JS>();

/**
 * Compiles a Go RE2 pattern once and reuses it.
 * @throws {ValidationError} for an invalid pattern, naming it.
 */
export function compileRegex(pattern: string): RE2JS {
  let re = regexCache.get(pattern);
  if (re === undefined) {
    try {
      re = RE2JS.compile(pattern);
    } catch (e) {
      throw new ValidationError(
        `invalid regular expression /${pattern}/: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
    if (regexCache.size > 1000) regexCache.clear();
    regexCache.set(pattern, re);
  }
  return re;
}

/**
 * A `::type` cast as InfluxDB applies it to a value read: numbers convert between integer
 * (toward zero) and float; a string or boolean read as a number (or the reverse) is null;
 * `::field` and `::tag` only choose where the name is looked up.
 */
export function castValue(v: Value, type: string): Value {
  switch (type) {
    case "integer":
    case "unsigned":
      if (typeof v === "bigint") return v;
      return typeof v === "number" ? Math.trunc(v) : null;
    case "float":
      return typeof v === "number" || typeof v === "bigint" ? Number(v) : null;
    case "string":
      return typeof v === "string" ? v : null;
    case "boolean":
      return typeof v === "boolean" ? v : null;
    default:
      return v;
  }
}

/** Evaluates an expression in a row; `null` for absent or incompatible operands. */
export function evalExpr(e: Expr, row: Lookup): Value {
  switch (e.kind) {
    case "var": {
      const v = row(e.name, e.type);
      if (v === undefined) return null;
      return e.type === undefined ? v : castValue(v, e.type);
    }
    case "paren":
      return evalExpr(e.expr, row);
    case "integer":
    case "number":
    case "string":
    case "boolean":
      return e.value;
    case "binary":
      // A long left-deep chain (`a OR b OR ...`) is folded in a loop, not one frame per node.
      if (isLongChain(e)) {
        return foldChain<Value>(e, (x) => evalExpr(x, row), (l, n) => combine(n.op, l, n.rhs, row));
      }
      return combine(e.op, evalExpr(e.lhs, row), e.rhs, row);
    case "call": {
      const fn = lookupFunction(e.name);
      if (fn?.kind !== "math") return null;
      return fn.apply(e.args.map((a) => evalExpr(a, row)));
    }
    default:
      return null;
  }
}

/** Chains longer than this are folded in a loop (shorter ones recurse: no allocation per row). */
const SHORT_CHAIN = 16;

function isLongChain(e: BinaryExpr): boolean {
  let x: Expr = e.lhs;
  for (let n = 0; n < SHORT_CHAIN; n++) {
    if (x.kind !== "binary") return false;
    x = x.lhs;
  }
  return true;
}

/** `l op rhs` with the left operand already evaluated (AND and OR skip rhs when they can). */
function combine(op: BinaryOp, l: Value, rhsE: Expr, row: Lookup): Value {
  if (op === "AND") return l === true && evalExpr(rhsE, row) === true;
  if (op === "OR") return l === true || evalExpr(rhsE, row) === true;
  if (op === "=~" || op === "!~") {
    if (typeof l !== "string" || rhsE.kind !== "regex") return false;
    const hit = compileRegex(rhsE.pattern).test(l);
    return op === "=~" ? hit : !hit;
  }
  return applyBinary(op, l, evalExpr(rhsE, row));
}

/** Applies a non-logical binary operator to two values. */
export function applyBinary(op: BinaryOp, l: Value, r: Value): Value {
  switch (op) {
    case "=":
    case "!=":
    case "<>":
    case "<":
    case "<=":
    case ">":
    case ">=":
      return compareValues(op, l, r);
    default:
      return arithmetic(op, l, r);
  }
}

function isNumeric(v: Value): v is number | bigint {
  return typeof v === "number" || typeof v === "bigint";
}

function compareValues(op: BinaryOp, l: Value, r: Value): boolean {
  if (l === null || r === null) return false;
  let c: number;
  if (isNumeric(l) && isNumeric(r)) {
    // Mixed number/bigint comparisons are exact in JS.
    c = l < r ? -1 : l > r ? 1 : 0;
  } else if (typeof l === "string" && typeof r === "string") {
    c = l < r ? -1 : l > r ? 1 : 0;
  } else if (typeof l === "boolean" && typeof r === "boolean") {
    if (op !== "=" && op !== "!=" && op !== "<>") return false;
    c = l === r ? 0 : 1;
  } else {
    return false;
  }
  switch (op) {
    case "=":
      return c === 0;
    case "!=":
    case "<>":
      return c !== 0;
    case "<":
      return c < 0;
    case "<=":
      return c <= 0;
    case ">":
      return c > 0;
    default:
      return c >= 0;
  }
}

function arithmetic(op: BinaryOp, l: Value, r: Value): Value {
  if (!isNumeric(l) || !isNumeric(r)) {
    if (typeof l === "boolean" && typeof r === "boolean") {
      if (op === "&") return l && r;
      if (op === "|") return l || r;
      if (op === "^") return l !== r;
    }
    return null;
  }
  if (typeof l === "number" && typeof r === "number") {
    switch (op) {
      case "+":
        return l + r;
      case "-":
        return l - r;
      case "*":
        return l * r;
      case "/":
        return r === 0 ? 0 : l / r;
      case "%":
        return r === 0 ? 0 : l % r;
      case "&":
        return Number(BigInt.asIntN(64, BigInt(l) & BigInt(r)));
      case "|":
        return Number(BigInt.asIntN(64, BigInt(l) | BigInt(r)));
      case "^":
        return Number(BigInt.asIntN(64, BigInt(l) ^ BigInt(r)));
      default:
        return null;
    }
  }
  // A bigint is involved: exact int64 arithmetic when both sides are integers.
  if (!isWhole(l) || !isWhole(r) || op === "/") {
    const a = Number(l), b = Number(r);
    return arithmetic(op, a, b);
  }
  const a = BigInt(l), b = BigInt(r);
  let out: bigint;
  switch (op) {
    case "+":
      out = a + b;
      break;
    case "-":
      out = a - b;
      break;
    case "*":
      out = a * b;
      break;
    case "%":
      out = b === 0n ? 0n : a % b;
      break;
    case "&":
      out = a & b;
      break;
    case "|":
      out = a | b;
      break;
    case "^":
      out = a ^ b;
      break;
    default:
      return null;
  }
  return compact(BigInt.asIntN(64, out));
}

function isWhole(v: number | bigint): boolean {
  return typeof v === "bigint" || Number.isInteger(v);
}

function compact(v: bigint): number | bigint {
  return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
}

/** Three-valued truth: true, false, or unknown (depends on field values not yet read). */
export type Tri = true | false | undefined;

/**
 * Evaluates a WHERE condition knowing only a series' tags. Names in `fields` are unknown, so
 * the answer may be undefined: then the condition must be checked row by row.
 */
export function evalTagCondition(
  e: Expr,
  tag: (name: string) => string,
  isField: (name: string, type?: string) => boolean,
): Tri {
  switch (e.kind) {
    case "paren":
      return evalTagCondition(e.expr, tag, isField);
    case "boolean":
      return e.value;
    case "binary": {
      if (e.op !== "AND" && e.op !== "OR") {
        if (referencesField(e, isField)) return undefined;
        return evalExpr(e, (name) => tag(name)) === true;
      }
      // A chain of ANDs and ORs (10,000 terms parse into a left-deep tree): folded in a loop.
      return foldChain<Tri>(
        e,
        (x) => evalTagCondition(x, tag, isField),
        (l, node) => {
          if (node.op === "AND") {
            if (l === false) return false;
            const r = evalTagCondition(node.rhs, tag, isField);
            if (r === false) return false;
            return l === true && r === true ? true : undefined;
          }
          if (l === true) return true;
          const r = evalTagCondition(node.rhs, tag, isField);
          if (r === true) return true;
          return l === false && r === false ? false : undefined;
        },
        isLogical,
      );
    }
    default:
      return undefined;
  }
}

function isLogical(b: BinaryExpr): boolean {
  return b.op === "AND" || b.op === "OR";
}

/** True when the expression reads a field (as opposed to only tags and literals). */
export function referencesField(
  e: Expr,
  isField: (name: string, type?: string) => boolean,
): boolean {
  return someExpr(e, (x) => x.kind === "var" && isField(x.name, x.type));
}
