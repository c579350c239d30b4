/**
 * Aggregates: count, sum, mean, spread, stddev, median, mode. Each keeps a mergeable state so
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
import { FieldType } from "../../core/point.ts";
import type { Call } from "../ast.ts";
import type { FieldColumn } from "../store.ts";
import type { Value } from "../result.ts";
import { addInt, intSumValue, isNumericType, mergeInt, numberAt, unsupported } from "./_numeric.ts";
import type { IntSum } from "./_numeric.ts";
import { type AggregateFunction, checkArity, register } from "./registry.ts";

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
  add(s, col, from, to) {
    if (to <= from) return;
    s.n += to - from;
    const v = col.values;
    if (v instanceof Float64Array) {
      // FloatSumReduce: the series' partial starts at its first value, then the final reducer
      // adds partials in series order.
      let acc = v[from];
      for (let k = from + 1; k < to; k++) acc += v[k];
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
  add(s, col, from, to) {
    const n = to - from;
    if (n <= 0) return;
    // The series' partial mean (Float/IntegerMeanReducer.Emit), folded in as the final
    // FloatMeanReducer does: sum += mean * count when the partial aggregated two points or more.
    const v = col.values;
    let acc = 0;
    if (v instanceof Float64Array) {
      for (let k = from; k < to; k++) acc += v[k];
    } else {
      for (let k = from; k < to; k++) acc += numberAt(col, k);
    }
    s.sum += n >= 2 ? (acc / n) * n : acc;
    s.n += n;
  },
  merge(into, other) {
    into.sum += other.sum;
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

/** Every value, for aggregates that need them all (median, mode, stddev). */
interface ValuesState {
  type: FieldType;
  values: (number | bigint)[];
}
function collect(s: ValuesState, col: FieldColumn, from: number, to: number): void {
  s.type = col.type;
  const v = col.values;
  for (let k = from; k < to; k++) s.values.push(v[k] as number | bigint);
}
function valuesFunction(
  name: string,
  reduce: (s: ValuesState) => Value,
): AggregateFunction<ValuesState, undefined> {
  return {
    kind: "aggregate",
    name,
    selector: false,
    emptyValue: null,
    parseArgs: noArgs,
    checkType: (t) => (isNumericType(t) ? undefined : unsupported(name, t)),
    init: () => ({ type: FieldType.Float, values: [] }),
    add: collect,
    merge(into, other) {
      if (other.values.length === 0) return;
      into.type = other.type;
      for (const v of other.values) into.values.push(v);
    },
    result: (s) => (s.values.length === 0 ? undefined : { value: reduce(s) }),
  };
}

function compareNumeric(a: number | bigint, b: number | bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const median = valuesFunction("median", (s) => {
  const v = s.values.slice().sort(compareNumeric);
  const n = v.length;
  if (n % 2 === 1) return Number(v[(n - 1) / 2]);
  return Number(v[n / 2 - 1]) + (Number(v[n / 2]) - Number(v[n / 2 - 1])) / 2;
});

const mode = valuesFunction("mode", (s) => {
  // The most frequent value; ties go to the smallest value, as InfluxDB.
  const v = s.values.slice().sort(compareNumeric);
  let best: number | bigint = v[0];
  let bestN = 0;
  for (let i = 0; i < v.length;) {
    let j = i;
    while (j < v.length && v[j] == v[i]) j++;
    if (j - i > bestN) {
      bestN = j - i;
      best = v[i];
    }
    i = j;
  }
  return best;
});

const stddev = valuesFunction("stddev", (s) => {
  const n = s.values.length;
  if (n < 2) return null;
  let m = 0;
  for (const x of s.values) m += Number(x);
  m /= n;
  let ss = 0;
  for (const x of s.values) {
    const d = Number(x) - m;
    ss += d * d;
  }
  return Math.sqrt(ss / (n - 1));
});

register(count, sum, mean, spread, median, mode, stddev);
