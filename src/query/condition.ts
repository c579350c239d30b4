/**
 * Splits a WHERE clause into its time range and the rest. Time comparisons joined by AND give
 * `[minNs, maxNs]` (inclusive); everything else stays as the residual condition for tags and
 * fields. Time literals take every form InfluxQL accepts: RFC3339 strings, integer epochs in
 * nanoseconds, duration literals (`1678886400s`), `now()` and arithmetic on them. The tag
 * comparisons of the residual condition also give a {@linkcode TagFilter} for series indexes.
 *
 * @module
 */
import { ValidationError } from "../core/errors.ts";
import { MAX_TIME_NS, MIN_TIME_NS, parseRFC3339Nanos } from "../core/time.ts";
import type { Expr } from "./ast.ts";
import { compileRegex } from "./eval.ts";
import type { TagFilter } from "./store.ts";

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

/**
 * The tag predicates `cond` implies, for a series index to narrow the series a statement reads:
 * its AND terms (and ORs whose every side is one) that compare a tag with a string (`=`, `!=`,
 * `<>`, either side) or a regex (`=~`, `!~`). Terms on fields (as `isField` tells) and anything
 * else are left out, so every series the condition can select satisfies the filter: callers
 * still evaluate the whole condition on the series the index returns. Undefined when nothing
 * narrows.
 *
 * @example
 * ```ts
 * // WHERE host = 'a' AND usage > 5  ->  { op: "=", key: "host", value: "a" }
 * ```
 * @throws {ValidationError} for an invalid regex.
 */
export function tagFilterOf(
  cond: Expr | undefined,
  isField: (name: string, type?: string) => boolean,
): TagFilter | undefined {
  return cond === undefined ? undefined : filterOf(cond, isField);
}

function filterOf(
  e: Expr,
  isField: (name: string, type?: string) => boolean,
): TagFilter | undefined {
  if (e.kind === "paren") return filterOf(e.expr, isField);
  if (e.kind !== "binary") return undefined;
  if (e.op === "AND" || e.op === "OR") {
    const l = filterOf(e.lhs, isField);
    const r = filterOf(e.rhs, isField);
    // AND narrows with either side; OR only when both sides narrow.
    if (l === undefined || r === undefined) return e.op === "AND" ? l ?? r : undefined;
    const terms: TagFilter[] = [];
    for (const t of [l, r]) {
      if ("terms" in t && t.op === e.op) terms.push(...t.terms);
      else terms.push(t);
    }
    return { op: e.op, terms };
  }
  const tagName = (x: Expr) =>
    x.kind === "var" && (x.type === undefined || x.type === "tag") && !isField(x.name, x.type) &&
      !isTime(x)
      ? x.name
      : undefined;
  if (e.op === "=~" || e.op === "!~") {
    // Only `tag =~ /re/`: the evaluator reads the regex from the right-hand side.
    const key = tagName(e.lhs);
    if (key === undefined || e.rhs.kind !== "regex") return undefined;
    const re = compileRegex(e.rhs.pattern);
    return { op: e.op, key, test: (v) => re.test(v) };
  }
  if (e.op === "=" || e.op === "!=" || e.op === "<>") {
    let key = tagName(e.lhs), literal = e.rhs;
    if (key === undefined) [key, literal] = [tagName(e.rhs), e.lhs];
    if (key === undefined || literal.kind !== "string") return undefined;
    return { op: e.op === "=" ? "=" : "!=", key, value: literal.value };
  }
  return undefined;
}
