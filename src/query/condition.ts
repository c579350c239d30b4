/**
 * Splits a WHERE clause into its time range and the rest. Time comparisons joined by AND give
 * `[minNs, maxNs]` (inclusive); everything else stays as the residual condition for tags and
 * fields. Time literals take every form InfluxQL accepts: RFC3339 strings, integer epochs in
 * nanoseconds, duration literals (`1678886400s`), `now()` and arithmetic on them.
 *
 * @module
 */
import { ValidationError } from "../core/errors.ts";
import { MAX_TIME_NS, MIN_TIME_NS, parseRFC3339Nanos } from "../core/time.ts";
import type { Expr } from "./ast.ts";

/** The time range and the residual condition of a WHERE clause. */
export interface SplitCondition {
  minNs: bigint;
  maxNs: bigint;
  /** True when the WHERE clause bounded time from below / above. */
  hasMin: boolean;
  hasMax: boolean;
  condition?: Expr;
}

/**
 * Splits `cond`.
 * @throws {ValidationError} for time compared with something that is not a time, or time
 *   inside an OR.
 */
export function splitCondition(cond: Expr | undefined, nowNs: bigint): SplitCondition {
  const out: SplitCondition = {
    minNs: MIN_TIME_NS,
    maxNs: MAX_TIME_NS,
    hasMin: false,
    hasMax: false,
  };
  if (cond !== undefined) out.condition = extract(cond, out, nowNs);
  return out;
}

function isTime(e: Expr): boolean {
  return e.kind === "var" && e.name.toLowerCase() === "time";
}

function extract(e: Expr, out: SplitCondition, nowNs: bigint): Expr | undefined {
  if (e.kind === "paren") {
    const inner = extract(e.expr, out, nowNs);
    return inner === undefined ? undefined : inner === e.expr ? e : { kind: "paren", expr: inner };
  }
  if (e.kind !== "binary") return e;
  if (e.op === "AND") {
    const l = extract(e.lhs, out, nowNs);
    const r = extract(e.rhs, out, nowNs);
    if (l === undefined) return r;
    if (r === undefined) return l;
    return l === e.lhs && r === e.rhs ? e : { kind: "binary", op: "AND", lhs: l, rhs: r };
  }
  if (e.op === "OR") {
    if (mentionsTime(e)) {
      throw new ValidationError("invalid condition: time ranges may not be combined with OR");
    }
    return e;
  }
  let op = e.op;
  let other: Expr;
  if (isTime(e.lhs)) other = e.rhs;
  else if (isTime(e.rhs)) {
    other = e.lhs;
    op = op === "<" ? ">" : op === ">" ? "<" : op === "<=" ? ">=" : op === ">=" ? "<=" : op;
  } else return e;
  const ns = timeValue(other, nowNs);
  switch (op) {
    case ">":
      raiseMin(out, ns + 1n);
      break;
    case ">=":
      raiseMin(out, ns);
      break;
    case "<":
      lowerMax(out, ns - 1n);
      break;
    case "<=":
      lowerMax(out, ns);
      break;
    case "=":
      raiseMin(out, ns);
      lowerMax(out, ns);
      break;
    default:
      throw new ValidationError(`invalid time comparison operator: ${op}`);
  }
  return undefined;
}

function raiseMin(out: SplitCondition, ns: bigint): void {
  if (!out.hasMin || ns > out.minNs) out.minNs = ns;
  out.hasMin = true;
}

function lowerMax(out: SplitCondition, ns: bigint): void {
  if (!out.hasMax || ns < out.maxNs) out.maxNs = ns;
  out.hasMax = true;
}

function mentionsTime(e: Expr): boolean {
  if (isTime(e)) return true;
  if (e.kind === "binary") return mentionsTime(e.lhs) || mentionsTime(e.rhs);
  if (e.kind === "paren") return mentionsTime(e.expr);
  return false;
}

const GO_LITERAL: Record<string, string> = {
  string: "*influxql.StringLiteral",
  boolean: "*influxql.BooleanLiteral",
  var: "*influxql.VarRef",
  regex: "*influxql.RegexLiteral",
};

/**
 * The instant a time expression denotes, in ns.
 * @throws {ValidationError} with InfluxDB's text when it is not a time.
 */
export function timeValue(e: Expr, nowNs: bigint): bigint {
  switch (e.kind) {
    case "paren":
      return timeValue(e.expr, nowNs);
    case "time":
      return e.ns;
    case "integer":
      return BigInt(e.value);
    case "number":
      return BigInt(Math.trunc(e.value));
    case "duration":
      return e.ns;
    case "string": {
      const ns = parseRFC3339Nanos(e.value);
      if (ns === undefined) {
        throw new ValidationError(
          "invalid operation: time and *influxql.StringLiteral are not compatible",
        );
      }
      return ns;
    }
    case "call":
      if (e.name === "now" && e.args.length === 0) return nowNs;
      break;
    case "binary":
      if (e.op === "+") return timeValue(e.lhs, nowNs) + timeValue(e.rhs, nowNs);
      if (e.op === "-") return timeValue(e.lhs, nowNs) - timeValue(e.rhs, nowNs);
      break;
  }
  throw new ValidationError(
    `invalid operation: time and ${GO_LITERAL[e.kind] ?? "*influxql." + e.kind} are not compatible`,
  );
}
