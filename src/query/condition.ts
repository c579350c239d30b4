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
import { foldChain, someExpr } from "./expr_walk.ts";
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
  const kept = cond === undefined ? undefined : SPLITS.get(cond);
  if (kept !== undefined && (!kept.readsNow || kept.nowNs === nowNs)) return { ...kept.split };
  const out: SplitCondition = {
    minNs: MIN_TIME_NS,
    maxNs: MAX_TIME_NS,
    hasMin: false,
    hasMax: false,
  };
  if (cond !== undefined) out.condition = extract(cond, out, nowNs);
  if (cond !== undefined && Object.isFrozen(cond)) {
    const readsNow = kept?.readsNow ?? someExpr(cond, (e) => e.kind === "call");
    SPLITS.set(cond, { split: { ...out }, nowNs, readsNow });
  }
  return out;
}

/**
 * Splits of frozen (cached) conditions: a query splits its condition several times (sources,
 * shards, plan), each parsing its time literals again. One with a call (now()) holds for its nowNs only.
 */
const SPLITS = new WeakMap<Expr, { split: SplitCondition; nowNs: bigint; readsNow: boolean }>();

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
    // A chain of ANDs (left-deep, any length): folded in a loop, time terms taken out.
    return foldChain<Expr | undefined>(e, (x) => extract(x, out, nowNs), (l, node) => {
      const r = extract(node.rhs, out, nowNs);
      if (l === undefined) return r;
      if (r === undefined) return l;
      return l === node.lhs && r === node.rhs
        ? node
        : { kind: "binary", op: "AND", lhs: l, rhs: r };
    }, (b) => b.op === "AND");
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
  return someExpr(e, isTime, () => false);
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
      if (e.op === "+" || e.op === "-") {
        return foldChain(
          e,
          (x) => timeValue(x, nowNs),
          (l, node) =>
            node.op === "+" ? l + timeValue(node.rhs, nowNs) : l - timeValue(node.rhs, nowNs),
          (b) => b.op === "+" || b.op === "-",
        );
      }
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
    // A chain of ANDs and ORs (left-deep, any length): folded in a loop, the terms of one
    // operator gathered into one list (appended to, not copied at each step).
    const owned = new Set<TagFilter>();
    return foldChain<TagFilter | undefined>(e, (x) => filterOf(x, isField), (l, node) => {
      const r = filterOf(node.rhs, isField);
      const op = node.op as "AND" | "OR";
      // AND narrows with either side; OR only when both sides narrow.
      if (l === undefined || r === undefined) return op === "AND" ? l ?? r : undefined;
      let joined: { op: "AND" | "OR"; terms: TagFilter[] };
      if ("terms" in l && l.op === op && owned.has(l)) joined = l as typeof joined;
      else {
        joined = { op, terms: "terms" in l && l.op === op ? [...l.terms] : [l] };
        owned.add(joined);
      }
      if ("terms" in r && r.op === op) { for (const t of r.terms) joined.terms.push(t); }
      else joined.terms.push(r);
      return joined;
    }, (b) => b.op === "AND" || b.op === "OR");
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
