/**
 * Selectors: first, last, min, max, percentile. Each returns one input point; the state keeps
 * the point's value and time so partial states from shards merge exactly.
 *
 * Ties follow InfluxDB 1.6 (query/call_iterator.go, tsdb/engine/tsm1/engine.go):
 * - min/max: between equal values the earlier point wins; at equal time too, the first series
 *   in key order (the first point the reducer saw).
 * - first/last with GROUP BY time: between points at the same time the greater value wins
 *   (FloatFirstReduce / FloatLastReduce; false before true for booleans).
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
import type { Call } from "../ast.ts";
import type { Value } from "../result.ts";
import { isNumericType, unsupported } from "./_numeric.ts";
import {
  type AggregateFunction,
  checkArity,
  numberArg,
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
): AggregateFunction<Pick, SelectorParams> {
  const tmp: Pick = { has: true, value: null, ms: 0, subMs: 0, valueTies: false };
  return {
    kind: "aggregate",
    name,
    selector: true,
    emptyValue: null,
    parseArgs(call: Call, ctx: TransformContext) {
      checkArity(call, 1);
      return { valueTies: valueTies(ctx) };
    },
    checkType: (t) => (types(t) ? undefined : unsupported(name, t)),
    init: (p) => ({ has: false, value: null, ms: 0, subMs: 0, valueTies: p.valueTies }),
    add(s, col, from, to) {
      const v = col.values;
      const tm = col.timesMs;
      const ts = col.timesSubMs;
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

const any = () => true;
const numeric = (t: FieldType) => isNumericType(t) || t === FieldType.Boolean;
const withInterval = (ctx: TransformContext) => ctx.intervalNs > 0;
const never = () => false;

const first = selector(
  "first",
  (c, s) =>
    before(c.ms, c.subMs, s.ms, s.subMs) ||
    (s.valueTies && c.ms === s.ms && c.subMs === s.subMs && greater(c.value, s.value)),
  any,
  withInterval,
);
const last = selector(
  "last",
  (c, s) =>
    before(s.ms, s.subMs, c.ms, c.subMs) ||
    (s.valueTies && c.ms === s.ms && c.subMs === s.subMs && greater(c.value, s.value)),
  any,
  withInterval,
);
const min = selector(
  "min",
  (c, s) =>
    (c.value as number) < (s.value as number) ||
    (c.value === s.value && before(c.ms, c.subMs, s.ms, s.subMs)),
  numeric,
  never,
);
const max = selector(
  "max",
  (c, s) =>
    (c.value as number) > (s.value as number) ||
    (c.value === s.value && before(c.ms, c.subMs, s.ms, s.subMs)),
  numeric,
  never,
);

interface Points {
  values: (number | bigint)[];
  ms: number[];
  subMs: number[];
}

const percentile: AggregateFunction<Points, number> = {
  kind: "aggregate",
  name: "percentile",
  selector: true,
  emptyValue: null,
  parseArgs(call) {
    checkArity(call, 2);
    const p = numberArg(call, 1, "float");
    if (p < 0 || p > 100) {
      throw new ValidationError(`invalid percentile, must be between 0 and 100: ${p}`);
    }
    return p;
  },
  checkType: (t) => (isNumericType(t) ? undefined : unsupported("percentile", t)),
  init: () => ({ values: [], ms: [], subMs: [] }),
  add(s, col, from, to) {
    const v = col.values;
    for (let k = from; k < to; k++) {
      s.values.push(v[k] as number | bigint);
      s.ms.push(col.timesMs[k]);
      s.subMs.push(col.timesSubMs[k]);
    }
  },
  merge(into, other) {
    for (let k = 0; k < other.values.length; k++) {
      into.values.push(other.values[k]);
      into.ms.push(other.ms[k]);
      into.subMs.push(other.subMs[k]);
    }
  },
  result(s, p) {
    const n = s.values.length;
    if (n === 0) return undefined;
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => {
      const x = s.values[a], y = s.values[b];
      if (x < y) return -1;
      if (x > y) return 1;
      return s.ms[a] - s.ms[b] || s.subMs[a] - s.subMs[b];
    });
    // InfluxDB: i = int(floor(n * p / 100 + 0.5)) - 1, nothing when out of range.
    const i = Math.floor(n * p / 100 + 0.5) - 1;
    if (i < 0 || i >= n) return { value: null };
    const k = order[i];
    return { value: s.values[k], ms: s.ms[k], subMs: s.subMs[k] };
  },
};

register(first, last, min, max, percentile);
