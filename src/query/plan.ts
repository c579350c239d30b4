/**
 * The planner: a pure function from a SELECT statement plus what the catalog knows (fields and
 * tag keys per measurement) to a {@linkcode SelectPlan} that shards execute and the coordinator
 * finishes. It expands wildcards, names columns as InfluxDB does, resolves which names are
 * fields and which tags, splits the WHERE clause, and rejects invalid queries with InfluxDB's
 * texts (`mixing aggregate and non-aggregate queries is not supported`, `undefined function
 * foo()` ...).
 *
 * @module
 */
import { ValidationError } from "../core/errors.ts";
import type { FieldType } from "../core/point.ts";
import type { Call, Dimension, Expr, Field, Fill, SelectStatement, VarRef } from "./ast.ts";
import { splitCondition } from "./condition.ts";
import { findExpr, mapChain, someExpr, walkExpr } from "./expr_walk.ts";
import { compileRegex } from "./eval.ts";
import {
  type AggregateFunction,
  countDistinct,
  lookupFunction,
  type TransformFunction,
} from "./functions/mod.ts";

/** What the planner needs to know about one measurement (union over shards). */
export interface MeasurementSchema {
  fields: Map<string, FieldType>;
  /** Sorted. */
  tagKeys: string[];
}

/** One aggregate or selector call to reduce per group and bucket. */
export interface Slot {
  fn: AggregateFunction;
  field: string;
  params: unknown;
  /** `mean(x::integer)`: the values are cast before they are reduced. */
  cast?: "integer" | "float";
}

/** One output column. */
export interface PlannedColumn {
  name: string;
  /**
   * The value per row: over fields/tags for raw plans; over slot references (`VarRef` named
   * `\u0000<slot>`) for aggregate plans. For a transformation column, its argument.
   */
  expr: Expr;
  transform?: { fn: TransformFunction; params: unknown };
  /**
   * An expression applied to each value the transformation produces (`abs(derivative(...))`),
   * the value standing as the variable {@linkcode POST_INPUT}.
   */
  post?: Expr;
  /**
   * An auxiliary field or tag beside a lone selector (`SELECT max(v), host`): its value at the
   * selected point, index into {@linkcode SelectPlan.aux}.
   */
  aux?: number;
}

/** GROUP BY time(interval, offset), resolved. */
export interface Interval {
  /** The bucket width in ns. */
  ns: bigint;
  /** The grid offset in ns, normalised into [0, ns). */
  offsetNs: bigint;
  /** tz(): buckets follow this zone's wall clock (see grid.ts ZonedGrid). */
  zone?: string;
  /** Calendar buckets (EpochNexus extension): months per bucket (see grid.ts CalendarGrid). */
  months?: number;
}

/** A planned SELECT. */
export interface SelectPlan {
  aggregate: boolean;
  columns: PlannedColumn[];
  slots: Slot[];
  /** Fields to read for raw plans (selected and in the condition), sorted. */
  rawFields: string[];
  /** Fields referenced by the condition. */
  conditionFields: string[];
  minNs: bigint;
  maxNs: bigint;
  hasMin: boolean;
  hasMax: boolean;
  condition?: Expr;
  /** Group-by tag keys, sorted (GROUP BY * is every tag key of the sources). */
  groupBy: string[];
  interval?: Interval;
  fill: Fill;
  /** One selector alone: rows carry the selected point's time (without GROUP BY time). */
  selectorTime: boolean;
  /** Fields and tags read at the selected point of the lone selector. */
  aux: { name: string; type?: string }[];
  /**
   * Every source is a subquery: InfluxDB reduces each of its points (no shard read with LIMIT
   * 1), so first() and last() break same-time ties by value even without GROUP BY time.
   */
  overSubqueries: boolean;
  /**
   * The slot of a function answering several points per bucket (distinct, top, bottom,
   * sample), alone in its query: the coordinator emits one row per point.
   */
  multi?: number;
  descending: boolean;
  limit: number;
  offset: number;
  slimit: number;
  soffset: number;
  /** The tags SLIMIT's tag sets are keyed by (SelectStatement.slimitBy); else groupBy. */
  slimitTags?: string[];
  /** Field name -> type, union over the measurements. */
  fieldTypes: Map<string, FieldType>;
  /** tz(): times are shown in this zone. */
  timezone?: string;
  /**
   * The range the answer covers when it differs from [minNs, maxNs]: transformations that
   * InfluxDB feeds one bucket beyond the range (before it, after it with ORDER BY time DESC) read
   * that bucket too, and the coordinator drops its row once they have used it.
   */
  outputRange?: { minNs: bigint; maxNs: bigint };
  /**
   * Raw plans: InfluxDB's auxiliary fields, the names selected in name order, as its merge of
   * series compares rows of equal time by them while they are strings: each the planned column
   * that holds the name's value (-1 when none holds it alone) and whether it is a tag.
   */
  rawTies?: { column: number; tag: boolean }[];
}

/** The prefix of slot references inside planned expressions. */
export const SLOT_PREFIX = "\u0000";

/**
 * Plans a SELECT over measurements whose schemas are given.
 * @throws {ValidationError} with InfluxDB's message for invalid statements.
 */
export function planSelect(
  stmt: SelectStatement,
  schemas: readonly MeasurementSchema[],
  nowNs: bigint,
): SelectPlan {
  const fieldTypes = new Map<string, FieldType>();
  const tagKeys = new Set<string>();
  for (const s of schemas) {
    for (const [k, t] of s.fields) if (!fieldTypes.has(k)) fieldTypes.set(k, t);
    for (const k of s.tagKeys) tagKeys.add(k);
  }
  const isField = (name: string, type?: string) =>
    type === "tag" ? false : type === "field" ? true : fieldTypes.has(name);

  // InfluxDB checks the dimensions in order and names the first it refuses.
  let timeDims = 0;
  for (const d of stmt.dimensions) {
    if (d.kind === "invalid") throw new ValidationError(d.message);
    if (d.kind === "time" && ++timeDims > 1) {
      throw new ValidationError("multiple time dimensions not allowed");
    }
  }
  let interval: Interval | undefined;
  const td = stmt.dimensions.find((d) => d.kind === "time");
  // time(0s) or a negative interval groups by no time at all, as in InfluxDB.
  if (td?.kind === "time" && td.intervalNs > 0n) {
    let off = 0n;
    if (td.offset?.kind === "duration") off = td.offset.ns;
    else if (td.offset?.kind === "call") off = nowNs;
    off %= td.intervalNs;
    if (off < 0n) off += td.intervalNs;
    interval = { ns: td.intervalNs, offsetNs: off };
    if (stmt.timezone !== undefined && stmt.timezone !== "UTC") interval.zone = stmt.timezone;
    if (td.months !== undefined) {
      if (td.offset !== undefined) {
        throw new ValidationError("calendar intervals (mo, y) take no offset");
      }
      interval.months = td.months;
      interval.offsetNs = 0n;
    }
  }
  // GROUP BY * is every tag key of the sources, as InfluxDB rewrites it: a series without one of
  // them (FROM cpu, mem: mem has no region) is in the group of "" for it, and says so.
  const grouped = dimensionTags(stmt.dimensions, tagKeys);

  // Expand wildcards.
  const fields = expandFields(stmt.fields, fieldTypes, tagKeys, grouped);
  const hasCall = fields.some((f) => containsCall(f.expr));
  const aggregate = fields.some((f) => containsAggregate(f.expr));

  for (const f of fields) {
    if (!containsVar(f.expr) && !containsCall(f.expr)) {
      throw new ValidationError("field must contain at least one variable");
    }
    checkMathCalls(f.expr);
  }
  checkSelectorRules(fields);

  const split = splitCondition(stmt.condition, nowNs);
  const conditionFields = new Set<string>();
  if (split.condition) collectFields(split.condition, isField, conditionFields);

  const plan: SelectPlan = {
    aggregate,
    columns: [],
    slots: [],
    rawFields: [],
    conditionFields: [...conditionFields].sort(),
    minNs: split.minNs,
    // GROUP BY time without an upper bound ends at now(), as InfluxDB.
    maxNs: interval && !split.hasMax ? nowNs : split.maxNs,
    hasMin: split.hasMin,
    hasMax: split.hasMax,
    condition: split.condition,
    groupBy: grouped,
    interval,
    fill: stmt.fill ?? { mode: "null" },
    selectorTime: false,
    aux: [],
    overSubqueries: stmt.sources.length > 0 && stmt.sources.every((s) => s.kind === "subquery"),
    descending: stmt.descending,
    limit: stmt.limit ?? 0,
    offset: stmt.offset ?? 0,
    slimit: stmt.slimit ?? 0,
    soffset: stmt.soffset ?? 0,
    fieldTypes,
  };
  if (stmt.timezone !== undefined) plan.timezone = stmt.timezone;
  if (stmt.slimitBy !== undefined) plan.slimitTags = dimensionTags(stmt.slimitBy, tagKeys);
  const names = columnNames(fields);

  if (interval && !aggregate) {
    throw new ValidationError("GROUP BY requires at least one aggregate function");
  }
  if (aggregate) {
    // A lone selector may carry fields and tags read at its point: SELECT max(v), host.
    const calls = fields.filter((f) => f.expr.kind === "call");
    const vars = fields.filter((f) => f.expr.kind === "var");
    const lone = calls.length === 1 && calls.length + vars.length === fields.length &&
      isSelectorCall(calls[0].expr);
    // top(f, tag..., N) and bottom(): the tag arguments are columns right after the call.
    const topTags: { name: string; type?: string }[] = [];
    for (const c of calls) {
      const call = c.expr as Call;
      if ((call.name === "top" || call.name === "bottom") && call.args.length > 2) {
        for (const a of call.args.slice(1, -1)) {
          if (a.kind === "var") topTags.push({ name: a.name, type: "tag" });
        }
      }
    }
    for (const [i, f] of fields.entries()) {
      if (lone && f.expr.kind === "var") {
        plan.aux.push({ name: f.expr.name, type: f.expr.type });
        plan.columns.push({ name: names[i], expr: f.expr, aux: plan.aux.length - 1 });
        continue;
      }
      plan.columns.push(planAggregateColumn(names[i], f.expr, plan, isField));
      if (f.expr.kind === "call" && topTags.length > 0) {
        const taken = new Set([...names, ...plan.columns.map((c) => c.name)]);
        for (const t of topTags) {
          plan.aux.push(t);
          let name = t.name;
          for (let k = 1; taken.has(name) && name !== t.name; k++) name = `${t.name}_${k}`;
          plan.columns.push({
            name,
            expr: { kind: "var", name: t.name },
            aux: plan.aux.length - 1,
          });
        }
      }
    }
    const multi = plan.slots.findIndex((sl) => sl.fn.results !== undefined);
    if (multi >= 0) plan.multi = multi;
    const alone = fields.length === 1 && calls.length === 1 && !plan.columns[0].transform;
    plan.selectorTime = !interval && plan.slots.length === 1 && plan.slots[0].fn.selector &&
      (alone || lone);
  } else {
    if (hasCall) {
      for (const [i, f] of fields.entries()) {
        plan.columns.push(planRawColumn(names[i], f.expr, isField));
      }
    } else {
      for (const [i, f] of fields.entries()) plan.columns.push({ name: names[i], expr: f.expr });
    }
    const read = new Set<string>(conditionFields);
    for (const c of plan.columns) collectFields(c.expr, isField, read);
    plan.rawFields = [...read].sort();
    plan.rawTies = rawTies(
      plan,
      fields,
      isField,
      (ref) => influxTypeCode(ref, fieldTypes, tagKeys),
    );
  }
  extendForTransforms(plan);
  return plan;
}

/** The tag names GROUP BY dimensions stand for over `tagKeys` (`*`, /re/ expanded), sorted. */
function dimensionTags(dimensions: readonly Dimension[], tagKeys: Iterable<string>): string[] {
  const out: string[] = [];
  for (const d of dimensions) {
    if (d.kind === "wildcard") out.push(...tagKeys);
    else if (d.kind === "tag") out.push(d.name);
    else if (d.kind === "regex") {
      const re = compileRegex(d.pattern);
      for (const k of tagKeys) if (re.test(k)) out.push(k);
    }
  }
  return [...new Set(out)].sort();
}

/** The auxiliary fields of a raw plan as InfluxDB orders them (see SelectPlan.rawTies). */
function rawTies(
  plan: SelectPlan,
  fields: readonly Field[],
  isField: (n: string, t?: string) => boolean,
  typeCode: (ref: VarRef) => number,
): { column: number; tag: boolean }[] {
  const refs = new Map<string, VarRef>();
  for (const f of fields) {
    walkExpr(f.expr, (e) => {
      if (e.kind === "var" && e.name !== "time" && !refs.has(e.name + "::" + (e.type ?? ""))) {
        refs.set(e.name + "::" + (e.type ?? ""), e);
      }
    });
  }
  // influxql.VarRefs: by name, then type (`host::tag` before `host::field`).
  const sorted = [...refs.values()].sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : typeCode(a) - typeCode(b)
  );
  return sorted.map((ref) => ({
    column: plan.columns.findIndex((c) =>
      !c.transform && c.expr.kind === "var" && c.expr.name === ref.name &&
      c.expr.type === ref.type
    ),
    tag: !isField(ref.name, ref.type),
  }));
}

/** influxql.DataType's number for a field's type (Float 1 ... Boolean 4, Unsigned 9). */
const INFLUX_TYPE_CODES: Readonly<Record<FieldType, number>> = { 1: 1, 2: 2, 3: 9, 4: 3, 5: 4 };
const INFLUX_CAST_CODES: Readonly<Record<string, number>> = {
  float: 1,
  integer: 2,
  string: 3,
  boolean: 4,
  tag: 7,
  unsigned: 9,
};

/**
 * The influxql.DataType InfluxDB 1.6 gives a reference once it has typed the fields
 * (influxql RewriteFields): a cast keeps its type; otherwise the field's type, else Tag (7) for
 * a tag key, else Unknown (0); `name::field` naming a tag stays AnyField (8).
 */
function influxTypeCode(
  ref: VarRef,
  fieldTypes: ReadonlyMap<string, FieldType>,
  tagKeys: ReadonlySet<string>,
): number {
  if (ref.type !== undefined && ref.type !== "field") return INFLUX_CAST_CODES[ref.type];
  const field = fieldTypes.get(ref.name);
  if (field !== undefined) return INFLUX_TYPE_CODES[field];
  if (!tagKeys.has(ref.name)) return 0;
  return ref.type === "field" ? 8 : 7;
}

/**
 * InfluxDB feeds derivative(), difference(), moving_average() and the like one GROUP BY bucket
 * beyond the range, on the side the query starts from (before it ascending, after it with
 * ORDER BY time DESC), so the range's first row has a value; the plan reads that bucket too and
 * remembers the range to answer (SelectPlan.outputRange).
 */
/**
 * How far beyond the WHERE range a SELECT reads (see extendForTransforms), so the shards of
 * that bucket are read too: the GROUP BY interval before the range, or after it with ORDER BY
 * time DESC, when a transformation asks for it; 0 otherwise.
 */
export function readPadding(stmt: SelectStatement): { before: bigint; after: bigint } {
  const none = { before: 0n, after: 0n };
  const time = stmt.dimensions.find((d) => d.kind === "time");
  if (time?.kind !== "time" || time.months !== undefined || time.intervalNs <= 0n) return none;
  const wants = stmt.fields.some((f) =>
    someExpr(f.expr, (e) => {
      if (e.kind !== "call") return false;
      const fn = lookupFunction(e.name);
      return fn?.kind === "transform" && fn.extraBucket === true;
    }, () => false)
  );
  if (!wants) return none;
  return stmt.descending ? { before: 0n, after: time.intervalNs } : {
    before: time.intervalNs,
    after: 0n,
  };
}

function extendForTransforms(plan: SelectPlan): void {
  const interval = plan.interval;
  if (interval === undefined || interval.months !== undefined || !plan.aggregate) return;
  if (!plan.columns.some((c) => c.transform?.fn.extraBucket)) return;
  if (!plan.descending && !plan.hasMin) return;
  plan.outputRange = { minNs: plan.minNs, maxNs: plan.maxNs };
  if (plan.descending) plan.maxNs += interval.ns;
  else plan.minNs -= interval.ns;
}

function expandFields(
  fields: Field[],
  fieldTypes: Map<string, FieldType>,
  tagKeys: Set<string>,
  groupBy: string[],
): Field[] {
  const out: Field[] = [];
  const fieldNames = [...fieldTypes.keys()].sort();
  // `*` and a regex field stand for the fields and the tags not grouped by, sorted together.
  const columns = (type: "field" | "tag" | undefined, match?: (name: string) => boolean) => {
    const cols: { name: string; tag: boolean }[] = [];
    if (type !== "tag") { for (const k of fieldNames) cols.push({ name: k, tag: false }); }
    if (type !== "field") {
      for (const k of tagKeys) {
        if (groupBy.includes(k)) continue;
        if (fieldTypes.has(k)) continue;
        cols.push({ name: k, tag: true });
      }
    }
    cols.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const c of cols) {
      if (match !== undefined && !match(c.name)) continue;
      out.push({ expr: { kind: "var", name: c.name, ...(c.tag ? { type: "tag" } : {}) } });
    }
  };
  for (const f of fields) {
    if (f.expr.kind === "wildcard") {
      columns(f.expr.type);
      continue;
    }
    if (f.expr.kind === "regex") {
      const re = compileRegex(f.expr.pattern);
      columns(undefined, (name) => re.test(name));
      continue;
    }
    if (
      f.expr.kind === "call" && f.expr.args.length > 0 &&
      (f.expr.args[0].kind === "wildcard" || f.expr.args[0].kind === "regex")
    ) {
      const call = f.expr;
      const fn = lookupFunction(call.name);
      const arg = call.args[0];
      const re = arg.kind === "regex" ? compileRegex(arg.pattern) : undefined;
      for (const k of fieldNames) {
        if (re && !re.test(k)) continue;
        const t = fieldTypes.get(k)!;
        if (fn?.kind === "aggregate" && fn.checkType(t) !== undefined) continue;
        if (fn?.kind === "math" && t !== 1 && t !== 2 && t !== 3) continue;
        out.push({
          expr: {
            kind: "call",
            name: call.name,
            args: [{ kind: "var", name: k }, ...call.args.slice(1)],
          },
          alias: f.alias ? `${f.alias}_${k}` : `${call.name}_${k}`,
        });
      }
      continue;
    }
    out.push(f);
  }
  return out;
}

/** InfluxDB's column naming: aliases first, then generated names with `_N` for duplicates. */
export function columnNames(fields: readonly Field[]): string[] {
  const out = new Array<string>(fields.length).fill("");
  const seen = new Map<string, number>();
  fields.forEach((f, i) => {
    if (f.alias !== undefined) {
      out[i] = f.alias;
      seen.set(f.alias, 1);
    }
  });
  fields.forEach((f, i) => {
    if (out[i] !== "") return;
    let name = exprName(f.expr);
    const count = seen.get(name);
    if (count !== undefined) {
      let n = count;
      for (;;) {
        const resolved = `${name}_${n}`;
        if (!seen.has(resolved)) {
          seen.set(name, n + 1);
          name = resolved;
          break;
        }
        n++;
      }
    }
    seen.set(name, (seen.get(name) ?? 0) + 1);
    out[i] = name;
  });
  return out;
}

function exprName(e: Expr): string {
  switch (e.kind) {
    case "call":
      return e.name;
    case "var":
      return e.name;
    case "paren":
      return exprName(e.expr);
    case "binary": {
      const parts: string[] = [];
      walkExpr(e, (x) => {
        if (x.kind === "var" || x.kind === "call") parts.push(x.name);
        return x.kind !== "call";
      });
      return parts.join("_");
    }
    default:
      return "";
  }
}

function isSelectorCall(e: Expr): boolean {
  if (e.kind !== "call") return false;
  const fn = lookupFunction(e.name);
  return fn?.kind === "aggregate" && fn.selector;
}

/** Math functions take a fixed number of arguments (InfluxDB's arity error otherwise). */
function checkMathCalls(e: Expr): void {
  walkExpr(e, (x) => {
    if (x.kind !== "call") return;
    const fn = lookupFunction(x.name);
    if (fn?.kind === "math" && x.args.length !== fn.arity) {
      throw new ValidationError(
        `invalid number of arguments for ${x.name}, expected ${fn.arity}, got ${x.args.length}`,
      );
    }
  });
}

/** InfluxDB's rules for functions that answer several points or carry their point's fields. */
function checkSelectorRules(fields: readonly Field[]): void {
  const calls: Call[] = [];
  for (const f of fields) {
    walkExpr(f.expr, (e) => {
      if (e.kind !== "call") return;
      const fn = lookupFunction(e.name);
      if (fn?.kind !== "aggregate") return;
      calls.push(e);
      const top = e === f.expr;
      if (!top && fn.results !== undefined && e.name !== "distinct") {
        throw new ValidationError(
          `selector function ${e.name}() cannot be combined with other functions`,
        );
      }
      return false;
    });
  }
  const others = fields.length - calls.length;
  for (const c of calls) {
    if (c.name === "distinct" && (calls.length > 1 || others > 0)) {
      throw new ValidationError(
        "aggregate function distinct() cannot be combined with other functions or fields",
      );
    }
    if ((c.name === "top" || c.name === "bottom" || c.name === "sample") && calls.length > 1) {
      throw new ValidationError(
        `selector function ${c.name}() cannot be combined with other functions`,
      );
    }
  }
  const vars = fields.filter((f) => f.expr.kind === "var").length;
  if (
    vars > 0 && calls.length > 1 && calls.some((c) => lookupFunction(c.name)?.kind === "aggregate")
  ) {
    const allSelectors = calls.every((c) => isSelectorCall(c));
    if (allSelectors) {
      throw new ValidationError(
        "mixing multiple selector functions with tags or fields is not supported",
      );
    }
  }
}

function containsCall(e: Expr): boolean {
  return someExpr(e, (x) => x.kind === "call");
}

function containsVar(e: Expr): boolean {
  return someExpr(e, (x) => x.kind === "var");
}

/** True when the expression reduces points (an aggregate or selector call, at any depth). */
function containsAggregate(e: Expr): boolean {
  return someExpr(e, (x) => {
    if (x.kind !== "call") return false;
    const fn = lookupFunction(x.name);
    if (fn === undefined) throw new ValidationError(`undefined function ${x.name}()`);
    return fn.kind === "aggregate";
  });
}

function collectFields(
  e: Expr,
  isField: (n: string, t?: string) => boolean,
  into: Set<string>,
): void {
  walkExpr(e, (x) => {
    if (x.kind === "var" && isField(x.name, x.type) && x.name !== "time") into.add(x.name);
  });
}

function planAggregateColumn(
  name: string,
  expr: Expr,
  plan: SelectPlan,
  isField: (n: string, t?: string) => boolean,
): PlannedColumn {
  // A math function or arithmetic over a transformation (`abs(derivative(mean(x)))`): the
  // transformation runs first, then the expression around it, per produced row.
  const inner = expr.kind === "call" && lookupFunction(expr.name)?.kind === "transform"
    ? undefined
    : findTransform(expr);
  if (inner !== undefined) {
    const column = planAggregateColumn(name, inner, plan, isField);
    return { ...column, post: replaceExpr(expr, inner, { kind: "var", name: POST_INPUT }) };
  }
  if (expr.kind === "call") {
    const fn = lookupFunction(expr.name)!;
    if (fn.kind === "transform") {
      if (!plan.interval) {
        throw new ValidationError(`${expr.name} aggregate requires a GROUP BY interval`);
      }
      const inner = expr.args[0];
      if (inner === undefined || inner.kind !== "call") {
        throw new ValidationError(`aggregate function required inside the call to ${expr.name}`);
      }
      const params = fn.parseArgs(expr, { intervalNs: Number(plan.interval.ns) });
      return {
        name,
        expr: compileAggregateExpr(inner, plan, isField),
        transform: { fn, params },
      };
    }
  }
  return { name, expr: compileAggregateExpr(expr, plan, isField) };
}

function compileAggregateExpr(
  e: Expr,
  plan: SelectPlan,
  isField: (n: string, t?: string) => boolean,
): Expr {
  switch (e.kind) {
    case "call": {
      const fn = lookupFunction(e.name)!;
      if (fn.kind === "math") {
        return {
          kind: "call",
          name: e.name,
          args: e.args.map((a) => compileAggregateExpr(a, plan, isField)),
        };
      }
      if (fn.kind !== "aggregate") {
        throw new ValidationError(`${e.name}() may only be used as the outermost function`);
      }
      const params = fn.parseArgs(e, {
        intervalNs: plan.interval ? Number(plan.interval.ns) : 0,
        limit: plan.limit,
        overSubqueries: plan.overSubqueries,
      });
      const arg = e.args[0];
      if (arg?.kind === "call" && arg.name === "distinct" && e.name === "count") {
        const inner = arg.args[0];
        if (arg.args.length !== 1 || inner?.kind !== "var") {
          throw new ValidationError("distinct function requires at least one argument");
        }
        plan.slots.push({ fn: countDistinct, field: inner.name, params: undefined });
        return slotRef(plan.slots.length - 1);
      }
      if (arg?.kind !== "var") throw new ValidationError(`expected field argument in ${e.name}()`);
      const type = plan.fieldTypes.get(arg.name);
      if (type !== undefined) {
        const bad = fn.checkType(type);
        if (bad !== undefined) throw new ValidationError(bad);
      }
      const slot: Slot = { fn, field: arg.name, params };
      if (arg.type === "integer" || arg.type === "float") slot.cast = arg.type;
      plan.slots.push(slot);
      return slotRef(plan.slots.length - 1);
    }
    case "binary":
      return mapChain(e, (x) => compileAggregateExpr(x, plan, isField));
    case "paren":
      return { kind: "paren", expr: compileAggregateExpr(e.expr, plan, isField) };
    case "var":
      throw new ValidationError("mixing aggregate and non-aggregate queries is not supported");
    default:
      return e;
  }
}

/** The name that stands for a transformation's output inside a `post` expression. */
export const POST_INPUT = "\u0001";

/** The (first) transformation call inside an expression, if any. */
function findTransform(e: Expr): Call | undefined {
  return findExpr(e, (x) => x.kind === "call" && lookupFunction(x.name)?.kind === "transform") as
    | Call
    | undefined;
}

function replaceExpr(e: Expr, target: Expr, by: Expr): Expr {
  if (e === target) return by;
  if (e.kind === "call") return { ...e, args: e.args.map((a) => replaceExpr(a, target, by)) };
  if (e.kind === "binary") return mapChain(e, (x) => replaceExpr(x, target, by));
  if (e.kind === "paren") return { ...e, expr: replaceExpr(e.expr, target, by) };
  return e;
}

function slotRef(i: number): VarRef {
  return { kind: "var", name: SLOT_PREFIX + i };
}

function planRawColumn(
  name: string,
  expr: Expr,
  isField: (n: string, t?: string) => boolean,
): PlannedColumn {
  if (expr.kind === "call") {
    const fn = lookupFunction(expr.name);
    if (fn?.kind === "transform") {
      const inner = expr.args[0];
      if (fn.newTimes) {
        throw new ValidationError(`must use aggregate function with ${expr.name}`);
      }
      if (inner?.kind === "call") {
        throw new ValidationError(`${expr.name} aggregate requires a GROUP BY interval`);
      }
      if (inner === undefined || inner.kind !== "var" || !isField(inner.name, inner.type)) {
        throw new ValidationError(`expected field argument in ${expr.name}()`);
      }
      const params = fn.parseArgs(expr as Call, { intervalNs: 0 });
      return { name, expr: inner, transform: { fn, params } };
    }
  }
  if (containsNonMathCall(expr)) {
    throw new ValidationError("mixing aggregate and non-aggregate queries is not supported");
  }
  return { name, expr };
}

function containsNonMathCall(e: Expr): boolean {
  return someExpr(e, (x) => x.kind === "call" && lookupFunction(x.name)?.kind !== "math");
}
