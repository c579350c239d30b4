/**
 * Aggregates: count, sum, mean, spread, stddev, median, mode, distinct, count(distinct),
 * integral. Each keeps a mergeable state so
 * per-shard partials combine at the coordinator. Float columns are summed in tight loops over
 * their Float64Array.
 *
 * Float sums and means reproduce InfluxDB 1.x bit for bit. InfluxDB reduces each series
 * separately (query/call_iterator.go: a call iterator per series, in the storage engine), then a
 * final reducer folds those partial points in series-key order: `sum` adds the partial sums;
 * `mean` adds `partialMean * float64(count)` (FloatMeanReducer.AggregateFloat with Aggregated
 * >= 2), so each series' sum is divided and multiplied back before it is added. Each `add` call
 * is one series' points in one bucket (shard_exec.ts), so `add` reduces them to that partial
 * first and folds it in.
 *
 * @module
 */
import { ValidationError } from "../../core/errors.ts";
import { FieldType } from "../../core/point.ts";
import type { Call } from "../ast.ts";
import type { FieldColumn } from "../store.ts";
import type { Value } from "../result.ts";
import { addInt, intSumValue, isNumericType, mergeInt, numberAt, unsupported } from "./_numeric.ts";
import type { IntSum } from "./_numeric.ts";
import { goSort } from "./_go_sort.ts";
import { goHeapMerge } from "../go_heap_merge.ts";
import {
  type AddContext,
  type AggregateFunction,
  checkArity,
  durationArg,
  register,
} from "./registry.ts";

function noArgs(call: Call): undefined {
  checkArity(call, 1);
  return undefined;
}

interface CountState {
  n: number;
}
const count: AggregateFunction<CountState, undefined> = {
  kind: "aggregate",
  name: "count",
  selector: false,
  emptyValue: 0,
  parseArgs: noArgs,
  checkType: () => undefined,
  init: () => ({ n: 0 }),
  add(s, _col, from, to) {
    s.n += to - from;
  },
  summarizes: () => true,
  addSummary(s, b) {
    s.n += b.count;
  },
  merge(into, other) {
    into.n += other.n;
  },
  result: (s) => (s.n === 0 ? undefined : { value: s.n }),
};

interface SumState {
  type: FieldType;
  f: number;
  i: IntSum;
  n: number;
}
const sum: AggregateFunction<SumState, undefined> = {
  kind: "aggregate",
  name: "sum",
  selector: false,
  emptyValue: null,
  parseArgs: noArgs,
  checkType: (t) => (isNumericType(t) ? undefined : unsupported("sum", t)),
  init: () => ({ type: FieldType.Float, f: 0, i: { n: 0, big: null }, n: 0 }),
  // Integer sums are exact in any order; float sums depend on it, so they never use summaries.
  summarizes: (t) => t === FieldType.Integer || t === FieldType.Unsigned,
  addSummary(s, b) {
    if (b.sum === undefined) return;
    s.n += b.count;
    s.type = b.type;
    addInt(s.i, b.sum);
  },
  add(s, col, from, to, ctx) {
    if (to <= from) return;
    s.n += to - from;
    const v = col.values;
    if (v instanceof Float64Array) {
      // FloatSumReduce: the series' partial starts at its first value (its last, descending),
      // then the final reducer adds partials in series order.
      let acc: number;
      if (ctx?.descending) {
        acc = v[to - 1];
        for (let k = to - 2; k >= from; k--) acc += v[k];
      } else {
        acc = v[from];
        for (let k = from + 1; k < to; k++) acc += v[k];
      }
      s.f += acc;
    } else {
      s.type = col.type;
      for (let k = from; k < to; k++) addInt(s.i, v[k] as number | bigint);
    }
  },
  merge(into, other) {
    into.n += other.n;
    into.f += other.f;
    mergeInt(into.i, other.i);
    if (other.type !== FieldType.Float) into.type = other.type;
  },
  result(s) {
    if (s.n === 0) return undefined;
    return { value: s.type === FieldType.Float ? s.f : intSumValue(s.i) };
  },
};

interface MeanState {
  sum: number;
  n: number;
}
const mean: AggregateFunction<MeanState, undefined> = {
  kind: "aggregate",
  name: "mean",
  selector: false,
  emptyValue: null,
  parseArgs: noArgs,
  checkType: (t) => (isNumericType(t) ? undefined : unsupported("mean", t)),
  init: () => ({ sum: 0, n: 0 }),
  add(s, col, from, to, ctx) {
    const n = to - from;
    if (n <= 0) return;
    // The series' partial mean (Float/IntegerMeanReducer.Emit), folded in as the final
    // FloatMeanReducer does: sum += mean * count when the partial aggregated two points or more.
    const v = col.values;
    let acc = 0;
    if (!(v instanceof Float64Array)) {
      // IntegerMeanReducer: an int64 sum (exact, wrapping), divided as a float.
      const sum: IntSum = { n: 0, big: null };
      for (let k = from; k < to; k++) addInt(sum, v[k] as number | bigint);
      acc = Number(intSumValue(sum)) / n;
      s.sum += n >= 2 ? acc * n : acc;
      s.n += n;
      return;
    }
    if (ctx?.descending) {
      for (let k = to - 1; k >= from; k--) acc += v[k];
    } else {
      for (let k = from; k < to; k++) acc += v[k];
    }
    s.sum += n >= 2 ? (acc / n) * n : acc;
    s.n += n;
  },
  addPieces(s, pieces, ctx) {
    // The same additions in the same order as add() over the pieces concatenated.
    if (pieces.some((col) => !(col.values instanceof Float64Array))) {
      // Integers: one exact sum over the pieces, as add() over their concatenation.
      const sum: IntSum = { n: 0, big: null };
      let n = 0;
      for (const col of pieces) {
        n += col.length;
        for (let k = 0; k < col.length; k++) addInt(sum, col.values[k] as number | bigint);
      }
      if (n <= 0) return;
      const partial = Number(intSumValue(sum)) / n;
      s.sum += n >= 2 ? partial * n : partial;
      s.n += n;
      return;
    }
    if (ctx?.descending) {
      let n = 0;
      let acc = 0;
      for (let p = pieces.length - 1; p >= 0; p--) {
        const col = pieces[p];
        n += col.length;
        for (let k = col.length - 1; k >= 0; k--) acc += numberAt(col, k);
      }
      if (n <= 0) return;
      s.sum += n >= 2 ? (acc / n) * n : acc;
      s.n += n;
      return;
    }
    let n = 0;
    let acc = 0;
    for (const col of pieces) {
      const v = col.values;
      const len = col.length;
      n += len;
      if (v instanceof Float64Array) {
        for (let k = 0; k < len; k++) acc += v[k];
      } else {
        for (let k = 0; k < len; k++) acc += numberAt(col, k);
      }
    }
    if (n <= 0) return;
    s.sum += n >= 2 ? (acc / n) * n : acc;
    s.n += n;
  },
  merge(into, other) {
    into.sum += other.sum;
    into.n += other.n;
  },
  mergeShard(into, other) {
    // A shard's partial comes as its mean with its count (FloatMeanReducer.Emit), folded in
    // as sum += mean * count when it aggregated two points or more.
    if (other.n === 0) return;
    into.sum += other.n >= 2 ? (other.sum / other.n) * other.n : other.sum;
    into.n += other.n;
  },
  result: (s) => (s.n === 0 ? undefined : { value: s.sum / s.n }),
};

interface SpreadState {
  type: FieldType;
  min: number | bigint;
  max: number | bigint;
  n: number;
}
const spread: AggregateFunction<SpreadState, undefined> = {
  kind: "aggregate",
  name: "spread",
  selector: false,
  emptyValue: null,
  parseArgs: noArgs,
  checkType: (t) => (isNumericType(t) ? undefined : unsupported("spread", t)),
  init: () => ({ type: FieldType.Float, min: Infinity, max: -Infinity, n: 0 }),
  summarizes: isNumericType,
  addSummary(s, b) {
    if (b.min === undefined || b.max === undefined) return;
    s.type = b.type;
    if ((b.min as number) < s.min) s.min = b.min as number | bigint;
    if ((b.max as number) > s.max) s.max = b.max as number | bigint;
    s.n += b.count;
  },
  add(s, col, from, to) {
    s.type = col.type;
    const v = col.values;
    for (let k = from; k < to; k++) {
      const x = v[k] as number | bigint;
      if (x < s.min) s.min = x;
      if (x > s.max) s.max = x;
    }
    s.n += to - from;
  },
  merge(into, other) {
    if (other.n === 0) return;
    into.type = other.type;
    if (other.min < into.min) into.min = other.min;
    if (other.max > into.max) into.max = other.max;
    into.n += other.n;
  },
  result(s) {
    if (s.n === 0) return undefined;
    if (typeof s.min === "bigint" || typeof s.max === "bigint") {
      const d = BigInt.asIntN(64, BigInt(s.max) - BigInt(s.min));
      return { value: d <= 9007199254740991n ? Number(d) : d };
    }
    return { value: s.max - s.min };
  },
};

/** Every point, for aggregates that need them all (median, mode, stddev). */
interface ValuesState {
  type: FieldType;
  values: Value[];
  ms: number[];
  subMs: number[];
  /** Series keys: points of equal time arrive in series order at InfluxDB's reducers. */
  keys: string[];
}
function collect(
  s: ValuesState,
  col: FieldColumn,
  from: number,
  to: number,
  ctx?: AddContext,
): void {
  s.type = col.type;
  const v = col.values;
  const key = ctx?.series.key ?? "";
  for (let k = from; k < to; k++) {
    s.values.push(v[k] as Value);
    s.ms.push(col.timesMs[k]);
    s.subMs.push(col.timesSubMs[k]);
    s.keys.push(key);
  }
}
/**
 * Indices in the order InfluxDB's reducer receives the points: each shard's series merged by
 * time in a heap (go_heap_merge.ts, which decides the order at equal times), shard after shard.
 * The points come in runs, one per series and shard (add() calls, in series-key order); runs
 * that overlap in time are one shard's.
 */
export function arrivalOrder(s: { ms: number[]; subMs: number[]; keys: string[] }): number[] {
  const n = s.ms.length;
  const before = (a: number, b: number) =>
    s.ms[a] < s.ms[b] || (s.ms[a] === s.ms[b] && s.subMs[a] < s.subMs[b]);
  // Runs: one series' points in time order.
  const runs: number[][] = [];
  for (let i = 0; i < n; i++) {
    const run = runs[runs.length - 1];
    const last = run?.[run.length - 1];
    if (last !== undefined && s.keys[last] === s.keys[i] && before(last, i)) run.push(i);
    else runs.push([i]);
  }
  if (runs.length <= 1) return runs[0] ?? [];
  // Shards: runs whose time spans overlap, in time order.
  runs.sort((a, b) => (before(a[0], b[0]) ? -1 : before(b[0], a[0]) ? 1 : 0));
  const out: number[] = [];
  let shard: number[][] = [];
  let end = -1;
  const flush = () => {
    shard.sort((a, b) => (s.keys[a[0]] < s.keys[b[0]] ? -1 : s.keys[a[0]] > s.keys[b[0]] ? 1 : 0));
    for (const i of goHeapMerge(shard, before)) out.push(i);
    shard = [];
  };
  for (const run of runs) {
    if (shard.length > 0 && before(end, run[0])) flush();
    shard.push(run);
    const last = run[run.length - 1];
    if (end < 0 || before(end, last)) end = last;
  }
  flush();
  return out;
}
function valuesFunction(
  name: string,
  reduce: (s: ValuesState) => Value,
  types: (t: FieldType) => boolean = isNumericType,
): AggregateFunction<ValuesState, undefined> {
  return {
    kind: "aggregate",
    name,
    selector: false,
    emptyValue: null,
    parseArgs: noArgs,
    checkType: (t) => (types(t) ? undefined : unsupported(name, t)),
    keepsPoints: true,
    init: () => ({ type: FieldType.Float, values: [], ms: [], subMs: [], keys: [] }),
    add: collect,
    merge(into, other) {
      if (other.values.length === 0) return;
      into.type = other.type;
      for (let i = 0; i < other.values.length; i++) {
        into.values.push(other.values[i]);
        into.ms.push(other.ms[i]);
        into.subMs.push(other.subMs[i]);
        into.keys.push(other.keys[i]);
      }
    },
    result: (s) => (s.values.length === 0 ? undefined : { value: reduce(s) }),
  };
}

function compareNumeric(a: number | bigint, b: number | bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** InfluxDB's value order: numbers ascending, strings bytewise, false before true. */
export function valueLess(a: Value, b: Value): boolean {
  if (typeof a === "boolean" && typeof b === "boolean") return !a && b;
  return (a as number) < (b as number);
}

const median = valuesFunction("median", (s) => {
  const v: ArrayLike<number | bigint> = s.values.every((x) => typeof x === "number")
    ? Float64Array.from(s.values as number[]).sort()
    : (s.values as (number | bigint)[]).slice().sort(compareNumeric);
  const n = v.length;
  if (n % 2 === 1) return Number(v[(n - 1) / 2]);
  const lo = v[n / 2 - 1], hi = v[n / 2];
  // IntegerMedianReduceSlice: float64(lo) + float64(hi-lo)/2, the difference taken in int64.
  if (typeof lo === "bigint" || typeof hi === "bigint") {
    return Number(lo) + Number(BigInt.asIntN(64, BigInt(hi) - BigInt(lo))) / 2;
  }
  return lo + (hi - lo) / 2;
});

const mode = valuesFunction("mode", (s) => {
  // FloatModeReduceSlice step by step: the points in arrival order, sorted by value with Go's
  // (unstable) sort; a run replaces the mode when more frequent, or as frequent and begun no
  // later than the last point of the current mode. A run's first point never replaces it.
  const pts = arrivalOrder(s).map((i) => ({ v: s.values[i], t: s.ms[i] + s.subMs[i] / 1e6 }));
  if (pts.length === 1) return pts[0].v;
  goSort(pts, (a, b) => valueLess(a.v, b.v));
  let mostFreq = 0, currFreq = 0;
  let currMode = pts[0].v, mostMode = currMode;
  let currTime = pts[0].t, mostTime = currTime;
  for (const p of pts) {
    if (p.v !== currMode) {
      currFreq = 1;
      currMode = p.v;
      currTime = p.t;
      continue;
    }
    currFreq++;
    if (mostFreq > currFreq || (mostFreq === currFreq && currTime > mostTime)) continue;
    mostFreq = currFreq;
    mostMode = p.v;
    mostTime = p.t;
  }
  return mostMode;
}, () => true);

const stddev = valuesFunction("stddev", (s) => {
  // FloatStddevReduceSlice: a running mean over the points in arrival order, then the sum of
  // squared deviations.
  const n = s.values.length;
  if (n < 2) return null;
  const order = arrivalOrder(s);
  let mean = 0, count = 0;
  for (const i of order) {
    const x = Number(s.values[i]);
    if (Number.isNaN(x)) continue;
    count++;
    mean += (x - mean) / count;
  }
  let variance = 0;
  for (const i of order) {
    const x = Number(s.values[i]);
    if (Number.isNaN(x)) continue;
    const d = x - mean;
    variance += d * d;
  }
  return Math.sqrt(variance / (count - 1));
});

register(count, sum, mean, spread, median, mode, stddev);

/** Distinct values with the time each was first seen (and the order it was seen in). */
interface DistinctState {
  seen: Map<Value, { ms: number; subMs: number; seq: number }>;
  seq: number;
}
function addDistinct(s: DistinctState, col: FieldColumn, from: number, to: number): void {
  const v = col.values;
  for (let k = from; k < to; k++) {
    const x = v[k] as Value;
    const cur = s.seen.get(x);
    const ms = col.timesMs[k], subMs = col.timesSubMs[k];
    if (cur === undefined) s.seen.set(x, { ms, subMs, seq: s.seq++ });
    else if (ms < cur.ms || (ms === cur.ms && subMs < cur.subMs)) {
      cur.ms = ms;
      cur.subMs = subMs;
    }
  }
}
function mergeDistinct(into: DistinctState, other: DistinctState): void {
  for (const [x, t] of other.seen) {
    const cur = into.seen.get(x);
    if (cur === undefined) into.seen.set(x, { ...t, seq: into.seq++ });
    else if (t.ms < cur.ms || (t.ms === cur.ms && t.subMs < cur.subMs)) {
      cur.ms = t.ms;
      cur.subMs = t.subMs;
    }
  }
}

/**
 * distinct(f): every distinct value of the bucket, in the order InfluxDB emits them (by the
 * time each value was first seen; FloatDistinctReducer sorts its points by time).
 */
const distinct: AggregateFunction<DistinctState, undefined> = {
  kind: "aggregate",
  name: "distinct",
  keepsPoints: true,
  selector: false,
  emptyValue: null,
  parseArgs(call) {
    if (call.args.length !== 1) {
      throw new ValidationError("distinct function can only have one argument");
    }
    return undefined;
  },
  checkType: () => undefined,
  init: () => ({ seen: new Map(), seq: 0 }),
  add: addDistinct,
  merge: mergeDistinct,
  result: (s) => (s.seen.size === 0 ? undefined : { value: s.seen.keys().next().value! }),
  results(s) {
    const entries = [...s.seen];
    // By time, then by value (InfluxDB sorts the distinct points by time and value).
    entries.sort((a, b) =>
      a[1].ms - b[1].ms || a[1].subMs - b[1].subMs ||
      (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : a[1].seq - b[1].seq)
    );
    return entries.map(([value]) => ({ value }));
  },
};

/** count(distinct(f)): how many distinct values (registered under an internal name). */
export const countDistinct: AggregateFunction<DistinctState, undefined> = {
  kind: "aggregate",
  name: "count_distinct",
  keepsPoints: true,
  selector: false,
  emptyValue: 0,
  parseArgs: () => undefined,
  checkType: () => undefined,
  init: () => ({ seen: new Map(), seq: 0 }),
  add: addDistinct,
  merge: mergeDistinct,
  result: (s) => (s.seen.size === 0 ? undefined : { value: s.seen.size }),
};

/**
 * Points of one bucket with their series key and the shard they were read from (the read
 * order of points of equal time depends on both: see `readOrder`).
 */
interface SeriesPoints {
  ms: number[];
  subMs: number[];
  values: number[];
  keys: string[];
  shards: number[];
}

/**
 * integral(f[, unit]): the area under the points by the trapezium rule, in `unit` (default 1s).
 * With GROUP BY time InfluxDB's FloatIntegralReducer interpolates a value at each bucket's end
 * from the next point, so a bucket's area depends on its neighbours: `resultSeries` replays that
 * reducer over the group's points in InfluxDB's read order.
 */
const integral: AggregateFunction<SeriesPoints, number> = {
  kind: "aggregate",
  name: "integral",
  keepsPoints: true,
  selector: false,
  emptyValue: null,
  parseArgs(call) {
    checkArity(call, 1, 2);
    const unit = durationArg(call, 1, 1e9);
    if (unit <= 0) {
      throw new ValidationError(`integral unit must be positive, got ${unit}`);
    }
    return unit;
  },
  checkType: (t) => (isNumericType(t) ? undefined : unsupported("integral", t)),
  init: () => ({ ms: [], subMs: [], values: [], keys: [], shards: [] }),
  add(s, col, from, to, ctx) {
    const key = ctx?.series.key ?? "";
    for (let k = from; k < to; k++) {
      s.ms.push(col.timesMs[k]);
      s.subMs.push(col.timesSubMs[k]);
      s.values.push(numberAt(col, k));
      s.keys.push(key);
      s.shards.push(0);
    }
  },
  merge: (into, other) => appendPoints(into, other),
  mergeShard: (into, other, shard) => appendPoints(into, other, shard),
  result(s, unit) {
    if (s.ms.length === 0) return undefined;
    const out = integrate([{ idx: 0, state: s, startMs: -Infinity, endMs: Infinity }], unit);
    const v = out.get(0);
    return v === undefined ? { value: 0 } : { value: v };
  },
  resultSeries: (buckets, unit) => integrate(buckets, unit),
  noFill: true,
  epochTime: true,
};

function appendPoints(into: SeriesPoints, other: SeriesPoints, shard?: number): void {
  for (let k = 0; k < other.ms.length; k++) {
    into.ms.push(other.ms[k]);
    into.subMs.push(other.subMs[k]);
    into.values.push(other.values[k]);
    into.keys.push(other.keys[k]);
    into.shards.push(shard ?? other.shards[k]);
  }
}

/** A point of `integrate`'s input: bucket and index into that bucket's state. */
interface PointRef {
  bucket: number;
  i: number;
}

/**
 * The buckets' points in the order InfluxDB feeds them to the reducer: shard after shard, and
 * within a shard the series (in key order, each in time order) merged by its sorted merge
 * heap, whose order decides which of several points of equal time comes last (the reducer
 * keeps the last).
 */
function readOrder(states: readonly SeriesPoints[]): PointRef[] {
  const streams = new Map<number, Map<string, PointRef[]>>();
  states.forEach((s, bucket) => {
    for (let i = 0; i < s.ms.length; i++) {
      let shard = streams.get(s.shards[i]);
      if (shard === undefined) streams.set(s.shards[i], shard = new Map());
      let stream = shard.get(s.keys[i]);
      if (stream === undefined) shard.set(s.keys[i], stream = []);
      stream.push({ bucket, i });
    }
  });
  const ms = (p: PointRef) => states[p.bucket].ms[p.i];
  const sub = (p: PointRef) => states[p.bucket].subMs[p.i];
  const before = (a: PointRef, b: PointRef) =>
    ms(a) < ms(b) || (ms(a) === ms(b) && sub(a) < sub(b));
  const out: PointRef[] = [];
  for (const shard of [...streams.keys()].sort((a, b) => a - b)) {
    const byKey = streams.get(shard)!;
    const inputs = [...byKey.keys()].sort().map((key) => {
      const stream = byKey.get(key)!;
      return stream.sort((a, b) => ms(a) - ms(b) || sub(a) - sub(b));
    });
    for (const p of goHeapMerge(inputs, before)) out.push(p);
  }
  return out;
}

/** InfluxDB's FloatIntegralReducer over the buckets' points in its read order. */
function integrate(
  buckets: { idx: number; state: SeriesPoints; startMs: number; endMs: number }[],
  unit: number,
): Map<number, Value> {
  const out = new Map<number, Value>();
  const windowed = buckets.length > 1 || Number.isFinite(buckets[0]?.startMs);
  let has = false;
  let prevMs = 0, prevSub = 0, prevV = 0;
  let win = buckets[0];
  let sum = 0;
  // Elapsed ns between two instants, exact for the distances of one query.
  const ns = (ms1: number, sub1: number, ms2: number, sub2: number) =>
    (ms2 - ms1) * 1e6 + (sub2 - sub1);
  for (const { bucket, i } of readOrder(buckets.map((b) => b.state))) {
    const b = buckets[bucket], s = b.state;
    const ms = s.ms[i], sub = s.subMs[i], v = s.values[i];
    if (!has) {
      has = true;
      prevMs = ms, prevSub = sub, prevV = v;
      win = b;
      continue;
    }
    if (prevMs === ms && prevSub === sub) {
      prevV = v;
      continue;
    }
    if (windowed && b.idx !== win.idx) {
      // Interpolate the value at the window's end and close the window.
      if (prevMs !== win.endMs || prevSub !== 0) {
        const slope = (v - prevV) / ns(prevMs, prevSub, ms, sub);
        const value = slope * ns(prevMs, prevSub, win.endMs, 0) + prevV;
        sum += 0.5 * (value + prevV) * (ns(prevMs, prevSub, win.endMs, 0) / unit);
        prevV = value;
        prevMs = win.endMs;
        prevSub = 0;
      }
      out.set(win.idx, sum);
      win = b;
      sum = 0;
    }
    sum += 0.5 * (v + prevV) * (ns(prevMs, prevSub, ms, sub) / unit);
    prevMs = ms, prevSub = sub, prevV = v;
  }
  // The last window is kept unless its only point sits at its start (no area inside it).
  if (has && !(windowed && prevMs === win.startMs && prevSub === 0)) out.set(win.idx, sum);
  return out;
}

register(distinct, countDistinct, integral);
