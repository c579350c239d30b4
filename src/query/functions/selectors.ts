/**
 * Selectors: first, last, min, max, percentile. Each returns one input point; the state keeps
 * the point's value and time so partial states from shards merge exactly.
 *
 * Ties follow InfluxDB 1.6 (query/call_iterator.go, tsdb/engine/tsm1/engine.go):
 * - min/max: between equal values the earlier point wins; at equal time too, the first series
 *   in key order (the first point the reducer saw).
 * - first/last with GROUP BY time, or over subqueries: between points at the same time the
 *   greater value wins (FloatFirstReduce / FloatLastReduce; false before true for booleans).
 * - first/last without GROUP BY time: InfluxDB does not reduce at all but reads each shard in
 *   time order with LIMIT 1 (Engine.CreateIterator), so among points at the same time the one
 *   of the series read first wins. influxd reads series in its index order, which follows
 *   internal series ids; EpochNexus reads them in series-key order, so here the first series in
 *   key order wins (the first point the reducer saw).
 *
 * @module
 */
import { ValidationError } from "../../core/errors.ts";
import { FieldType } from "../../core/point.ts";
import type { Call, Expr } from "../ast.ts";
import { printExpr } from "../print.ts";
import type { Value } from "../result.ts";
import type { BlockSummary } from "../store.ts";
import { keyPart } from "../tag_set_key.ts";
import { isNumericType, unsupported } from "./_numeric.ts";
import { goSort } from "./_go_sort.ts";
import { arrivalOrder } from "./aggregates.ts";
import {
  type AggregateFunction,
  checkArity,
  numberArg,
  type Reduced,
  register,
  type TransformContext,
} from "./registry.ts";

/** A selected point. `has` is false until a point was seen. */
interface Pick {
  has: boolean;
  value: Value;
  ms: number;
  subMs: number;
  /** first/last only: points at the same time are decided by value (GROUP BY time). */
  valueTies: boolean;
}

/** Selector parameters: whether same-time ties go by value (first/last with GROUP BY time). */
interface SelectorParams {
  valueTies: boolean;
}

function before(aMs: number, aSub: number, bMs: number, bSub: number): boolean {
  return aMs < bMs || (aMs === bMs && aSub < bSub);
}

// Ordering of values of one type; booleans order false < true.
function greater(a: Value, b: Value): boolean {
  return (a as number) > (b as number);
}

/** True when `cand` replaces `cur`; on full ties the point seen first stays. */
type Better = (cand: Pick, cur: Pick) => boolean;

function selector(
  name: string,
  better: Better,
  types: (t: FieldType) => boolean,
  valueTies: (ctx: TransformContext) => boolean,
  fromSummary: (b: BlockSummary) => { value: Value; ms: number; subMs: number } | undefined,
  /** The run's point that wins when times ascend strictly (first, last). */
  edge?: "first" | "last" | undefined,
  /** min/max over float columns: a monomorphic scan instead of `better` per point. */
  extreme?: (
    s: Pick,
    v: Float64Array,
    tm: Float64Array,
    ts: Float64Array,
    from: number,
    to: number,
  ) => void,
): AggregateFunction<Pick, SelectorParams> {
  const tmp: Pick = { has: true, value: null, ms: 0, subMs: 0, valueTies: false };
  return {
    kind: "aggregate",
    name,
    selector: true,
    emptyValue: null,
    summarizes: isNumericType,
    addSummary(s, b) {
      const c = fromSummary(b);
      if (c === undefined) return;
      tmp.valueTies = s.valueTies;
      tmp.value = c.value;
      tmp.ms = c.ms;
      tmp.subMs = c.subMs;
      if (!s.has || better(tmp, s)) {
        s.has = true;
        s.value = c.value;
        s.ms = c.ms;
        s.subMs = c.subMs;
      }
    },
    parseArgs(call: Call, ctx: TransformContext) {
      checkArity(call, 1);
      return { valueTies: valueTies(ctx) };
    },
    checkType: (t) => (types(t) ? undefined : unsupported(name, t)),
    init: (p) => ({ has: false, value: null, ms: 0, subMs: 0, valueTies: p.valueTies }),
    add(s, col, from, to, ctx) {
      if (edge !== undefined && ctx?.sorted === true && to > from) {
        if (edge === "first") to = from + 1;
        else from = to - 1;
      }
      const v = col.values;
      const tm = col.timesMs;
      const ts = col.timesSubMs;
      if (
        extreme !== undefined && v instanceof Float64Array &&
        (!s.has || typeof s.value === "number")
      ) {
        extreme(s, v, tm, ts, from, to);
        return;
      }
      tmp.valueTies = s.valueTies;
      for (let k = from; k < to; k++) {
        tmp.value = v[k] as Value;
        tmp.ms = tm[k];
        tmp.subMs = ts[k];
        if (!s.has || better(tmp, s)) {
          s.has = true;
          s.value = tmp.value;
          s.ms = tmp.ms;
          s.subMs = tmp.subMs;
        }
      }
    },
    merge(into, other) {
      if (other.has && (!into.has || better(other, into))) Object.assign(into, other);
    },
    result: (s) => (s.has ? { value: s.value, ms: s.ms, subMs: s.subMs } : undefined),
  };
}

// max() and min() over float columns, the same decisions as `better` (a greater/smaller value
// wins; an equal one only when earlier; NaN never wins and, when first, is never displaced):
// one tight loop on the typed arrays rather than a shared closure called per point, which the
// profile of cpu-max-all-8 showed as the query's top cost. min compares negated values: negation
// keeps NaN unordered and -0 === 0, so the rules hold for both directions.
function extremeFloat(direction: 1 | -1) {
  return (
    s: Pick,
    v: Float64Array,
    tm: Float64Array,
    ts: Float64Array,
    from: number,
    to: number,
  ): void => {
    let k = from;
    if (!s.has) {
      if (k >= to) return;
      s.has = true;
      s.value = v[k];
      s.ms = tm[k];
      s.subMs = ts[k];
      k++;
    }
    let best = direction * (s.value as number);
    let at = -1;
    let bMs = s.ms, bSub = s.subMs;
    for (; k < to; k++) {
      const x = direction * v[k];
      if (x > best || (x === best && before(tm[k], ts[k], bMs, bSub))) {
        best = x;
        at = k;
        bMs = tm[k];
        bSub = ts[k];
      }
    }
    if (at >= 0) {
      s.value = v[at];
      s.ms = bMs;
      s.subMs = bSub;
    }
  };
}

const maxFloat = extremeFloat(1);
const minFloat = extremeFloat(-1);

const any = () => true;
const numeric = (t: FieldType) => isNumericType(t) || t === FieldType.Boolean;
const withInterval = (ctx: TransformContext) => ctx.intervalNs > 0 || ctx.overSubqueries === true;
const never = () => false;

const first = selector(
  "first",
  (c, s) =>
    before(c.ms, c.subMs, s.ms, s.subMs) ||
    (s.valueTies && c.ms === s.ms && c.subMs === s.subMs && greater(c.value, s.value)),
  any,
  withInterval,
  (b) => ({ value: b.first as Value, ms: b.minTimeMs, subMs: b.minTimeSubMs }),
  "first",
);
const last = selector(
  "last",
  (c, s) =>
    before(s.ms, s.subMs, c.ms, c.subMs) ||
    (s.valueTies && c.ms === s.ms && c.subMs === s.subMs && greater(c.value, s.value)),
  any,
  withInterval,
  (b) => ({ value: b.last as Value, ms: b.maxTimeMs, subMs: b.maxTimeSubMs }),
  "last",
);
const min = selector(
  "min",
  (c, s) =>
    (c.value as number) < (s.value as number) ||
    (c.value === s.value && before(c.ms, c.subMs, s.ms, s.subMs)),
  numeric,
  never,
  (b) =>
    b.min === undefined || b.minTimeOfMin === undefined
      ? undefined
      : { value: b.min as Value, ms: b.minTimeOfMin.ms, subMs: b.minTimeOfMin.subMs },
  undefined,
  minFloat,
);
const max = selector(
  "max",
  (c, s) =>
    (c.value as number) > (s.value as number) ||
    (c.value === s.value && before(c.ms, c.subMs, s.ms, s.subMs)),
  numeric,
  never,
  (b) =>
    b.max === undefined || b.minTimeOfMax === undefined
      ? undefined
      : { value: b.max as Value, ms: b.minTimeOfMax.ms, subMs: b.minTimeOfMax.subMs },
  undefined,
  maxFloat,
);

interface Points {
  values: (number | bigint)[];
  ms: number[];
  subMs: number[];
  keys: string[];
  aux?: Value[][];
}

const percentile: AggregateFunction<Points, number> = {
  kind: "aggregate",
  name: "percentile",
  keepsPoints: true,
  selector: true,
  emptyValue: null,
  parseArgs(call) {
    checkArity(call, 2);
    // Out of [0, 100] InfluxDB answers no point rather than an error.
    return numberArg(call, 1, "float");
  },
  checkType: (t) => (isNumericType(t) ? undefined : unsupported("percentile", t)),
  keepsAux: true,
  init: () => ({ values: [], ms: [], subMs: [], keys: [] }),
  add(s, col, from, to, ctx) {
    const v = col.values;
    const key = ctx?.series.key ?? "";
    for (let k = from; k < to; k++) {
      s.keys.push(key);
      s.values.push(v[k] as number | bigint);
      s.ms.push(col.timesMs[k]);
      s.subMs.push(col.timesSubMs[k]);
      if (ctx?.aux) (s.aux ??= []).push(ctx.aux(k));
    }
  },
  merge(into, other) {
    for (let k = 0; k < other.values.length; k++) {
      into.values.push(other.values[k]);
      into.ms.push(other.ms[k]);
      into.subMs.push(other.subMs[k]);
      into.keys.push(other.keys[k]);
      if (other.aux) (into.aux ??= []).push(other.aux[k]);
    }
  },
  result(s, p) {
    const n = s.values.length;
    if (n === 0) return undefined;
    // The points in arrival order, sorted by value with Go's unstable sort, as InfluxDB: among
    // equal values, which point (hence which time) is picked depends on its swaps.
    // InfluxDB: i = int(floor(n * p / 100 + 0.5)) - 1, nothing when out of range.
    const i = Math.floor(n * p / 100 + 0.5) - 1;
    if (i < 0 || i >= n) return undefined;
    // Fast path: the i-th smallest value by a typed-array sort; when it occurs once, its point
    // is the one Go's sort would pick too.
    if (s.values.every((v) => typeof v === "number")) {
      const sorted = Float64Array.from(s.values as number[]).sort();
      const v = sorted[i];
      if ((i === 0 || sorted[i - 1] !== v) && (i === n - 1 || sorted[i + 1] !== v)) {
        const k = s.values.indexOf(v);
        return { value: s.values[k], ms: s.ms[k], subMs: s.subMs[k], aux: s.aux?.[k] };
      }
    }
    const order = arrivalOrder(s);
    goSort(order, (a, b) => s.values[a] < s.values[b]);
    const k = order[i];
    return { value: s.values[k], ms: s.ms[k], subMs: s.subMs[k], aux: s.aux?.[k] };
  },
};

/** A candidate point of a multi-point selector. */
interface Candidate {
  value: number | bigint;
  ms: number;
  subMs: number;
  /** The series key: orders points of equal value and time. */
  key: string;
  /** top/bottom with tag arguments: the tag values the point is distinct by. */
  group: string;
  /** sample: the point's pseudo-random priority. */
  rank: number;
  aux?: Value[];
}

/** top/bottom parameters: how many points, and the tags they must be distinct by. */
export interface TopParams {
  n: number;
  tags: string[];
}

interface CandidateState {
  points: Candidate[];
  /** sample: how many points to keep. */
  n?: number;
  /** top/bottom: the parameters (pruning needs them while adding). */
  p?: TopParams;
  /** top/bottom without tags: after a pruning, points strictly worse than this cannot enter. */
  bar?: number | bigint;
}

function tagOf(tags: readonly { key: string; value: string }[], key: string): string {
  for (const t of tags) if (t.key === key) return t.value;
  return "";
}

/** True when `a` ranks before `b` in top (greater value, then earlier, then series order). */
function topBefore(a: Candidate, b: Candidate, desc: boolean): boolean {
  if (a.value !== b.value) return desc ? a.value > b.value : a.value < b.value;
  if (a.ms !== b.ms) return a.ms < b.ms;
  if (a.subMs !== b.subMs) return a.subMs < b.subMs;
  return a.key < b.key;
}

function compareTop(desc: boolean) {
  return (
    a: Candidate,
    b: Candidate,
  ) => (topBefore(a, b, desc) ? -1 : topBefore(b, a, desc) ? 1 : 0);
}

/** Keeps the best point per tag group, then at most `n` groups' points. */
function pruneTop(points: Candidate[], p: TopParams, desc: boolean): Candidate[] {
  let out = points;
  if (p.tags.length > 0) {
    const best = new Map<string, Candidate>();
    for (const c of points) {
      const cur = best.get(c.group);
      if (cur === undefined || topBefore(c, cur, desc)) best.set(c.group, c);
    }
    out = [...best.values()];
    // Every group must survive until the end: a group's best point may still improve.
    return out;
  }
  out.sort(compareTop(desc));
  return out.length > p.n ? out.slice(0, p.n) : out;
}

function topFunction(name: "top" | "bottom"): AggregateFunction<CandidateState, TopParams> {
  const desc = name === "top";
  return {
    kind: "aggregate",
    name,
    selector: true,
    emptyValue: null,
    pointTimes: true,
    keepsAux: true,
    parseArgs(call, ctx) {
      checkArity(call, 2, Infinity);
      const last = call.args[call.args.length - 1];
      if (last.kind !== "integer") {
        throw new ValidationError(
          `expected integer as last argument in ${name}(), found ${describe(last)}`,
        );
      }
      const n = Number(last.value);
      if (n < 1) throw new ValidationError(`limit (${n}) in ${name} function must be at least 1`);
      const limit = ctx.limit ?? 0;
      if (limit > 0 && n > limit) {
        throw new ValidationError(
          `limit (${n}) in ${name} function can not be larger than the LIMIT (${limit}) in the ` +
            "select statement",
        );
      }
      const tags: string[] = [];
      for (const a of call.args.slice(1, -1)) {
        if (a.kind !== "var") {
          throw new ValidationError(
            `only fields or tags are allowed in ${name}(), found ${describe(a)}`,
          );
        }
        tags.push(a.name);
      }
      return { n, tags };
    },
    checkType: (t) => (isNumericType(t) ? undefined : unsupported(name, t)),
    init: (p) => ({ points: [], p }),
    add(s, col, from, to, ctx) {
      const tags = ctx?.series.tags ?? [];
      const key = ctx?.series.key ?? "";
      const p = s.p;
      const groupTags = p?.tags ?? [];
      let group = "";
      for (const t of groupTags) group += keyPart(tagOf(tags, t));
      for (let k = from; k < to; k++) {
        const value = col.values[k] as number | bigint;
        const bar = s.bar;
        if (bar !== undefined && (desc ? value < bar : value > bar)) continue;
        const c: Candidate = {
          value,
          ms: col.timesMs[k],
          subMs: col.timesSubMs[k],
          key,
          group,
          rank: 0,
        };
        if (ctx?.aux) c.aux = ctx.aux(k);
        s.points.push(c);
        if (p !== undefined && p.tags.length === 0 && s.points.length > 4 * p.n + 64) {
          s.points = pruneTop(s.points, p, desc);
          s.bar = s.points[s.points.length - 1].value;
        }
      }
      if (p !== undefined && p.tags.length > 0 && s.points.length > 1024) {
        s.points = pruneTop(s.points, p, desc);
      }
    },
    merge(into, other) {
      for (const c of other.points) into.points.push(c);
    },
    result(s, p) {
      const r = topResults(s, p);
      return r.length === 0 ? undefined : r[0];
    },
    results: topResults,
  };
  function topResults(s: CandidateState, p: TopParams): Reduced[] {
    let pts = pruneTop(s.points.slice(), p, desc);
    if (p.tags.length > 0) pts = pts.sort(compareTop(desc)).slice(0, p.n);
    // Output in time order; points of equal time keep their rank order.
    pts.sort((a, b) => a.ms - b.ms || a.subMs - b.subMs || compareTop(desc)(a, b));
    return pts.map((c) => ({ value: c.value, ms: c.ms, subMs: c.subMs, aux: c.aux }));
  }
}

/** An argument as InfluxQL's String() prints it in error texts (`host`, `2.500`, `'x'`). */
function describe(e: Expr): string {
  if (e.kind === "number") return e.value.toFixed(3);
  return printExpr(e);
}

/** FNV-1a of a string (a series key, hashed once per series). */
function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** A deterministic pseudo-random priority of a point: a 32-bit mix of its time and series. */
function rankOf(ms: number, subMs: number, keyHash: number): number {
  let h = keyHash ^ Math.imul((ms % 4294967296) >>> 0, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) ^ Math.floor(ms / 4294967296);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) ^ subMs;
  return (h ^ (h >>> 16)) >>> 0;
}

function byRank(a: Candidate, b: Candidate): number {
  return a.rank - b.rank || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/**
 * sample(f, N): N points of the bucket chosen at random. InfluxDB draws from a random source;
 * EpochNexus gives each point a deterministic pseudo-random priority and keeps the N smallest
 * (a bottom-k sample), so partial samples merge exactly and answers are reproducible. When the
 * bucket has N points or fewer, every point is returned, as InfluxDB does.
 */
const sample: AggregateFunction<CandidateState, number> = {
  kind: "aggregate",
  name: "sample",
  selector: true,
  emptyValue: null,
  pointTimes: true,
  keepsAux: true,
  parseArgs(call) {
    checkArity(call, 2);
    const a = call.args[1];
    if (a.kind !== "integer") {
      throw new ValidationError(`expected integer argument in sample()`);
    }
    const n = Number(a.value);
    if (n < 1) throw new ValidationError(`sample window must be greater than 1, got ${n}`);
    return n;
  },
  checkType: () => undefined,
  init: (n) => ({ points: [], n }),
  add(s, col, from, to, ctx) {
    const key = ctx?.series.key ?? "";
    const keyHash = hashString(key);
    const n = s.n ?? 1;
    for (let k = from; k < to; k++) {
      const ms = col.timesMs[k], subMs = col.timesSubMs[k];
      const rank = rankOf(ms, subMs, keyHash);
      // Only the n smallest ranks can be kept: skip the rest once a bar is known.
      if (s.bar !== undefined && rank > (s.bar as number)) continue;
      const c: Candidate = {
        value: col.values[k] as number | bigint,
        ms,
        subMs,
        key,
        group: "",
        rank,
      };
      if (ctx?.aux) c.aux = ctx.aux(k);
      s.points.push(c);
      if (s.points.length > 4 * n + 64) {
        s.points.sort(byRank);
        s.points.length = n;
        s.bar = s.points[n - 1].rank;
      }
    }
  },
  merge(into, other) {
    for (const c of other.points) into.points.push(c);
  },
  result(s, n) {
    const r = sampleResults(s, n);
    return r.length === 0 ? undefined : r[0];
  },
  results: (s, n) => sampleResults(s, n),
};

function sampleResults(s: CandidateState, n: number): Reduced[] {
  const pts = s.points.slice().sort(byRank).slice(0, n);
  pts.sort((a, b) => a.ms - b.ms || a.subMs - b.subMs || (a.key < b.key ? -1 : 1));
  return pts.map((c) => ({ value: c.value, ms: c.ms, subMs: c.subMs, aux: c.aux }));
}

register(first, last, min, max, percentile, topFunction("top"), topFunction("bottom"), sample);
