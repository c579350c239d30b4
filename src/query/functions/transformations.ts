/**
 * Transformations: functions of the ordered values of one series, applied after aggregation
 * (`derivative(mean(x), 1s)` with GROUP BY time) or over raw points (`derivative(x)`).
 * Inputs have nulls removed; times are `(ms, subMs)` pairs, differences taken in ns.
 *
 * @module
 */
import { ValidationError } from "../../core/errors.ts";
import type { Call } from "../ast.ts";
import {
  checkArity,
  durationArg,
  integerArg,
  register,
  type Sequence,
  type TransformContext,
  type TransformFunction,
} from "./registry.ts";

function elapsedNs(s: Sequence, i: number, j: number): number {
  return (s.ms[j] - s.ms[i]) * 1e6 + (s.subMs[j] - s.subMs[i]);
}

function emptySequence(): Sequence {
  return { ms: [], subMs: [], values: [] };
}

function push(out: Sequence, s: Sequence, i: number, v: number | bigint): void {
  out.ms.push(s.ms[i]);
  out.subMs.push(s.subMs[i]);
  out.values.push(v);
}

/**
 * b - a as a float; int64 values are subtracted exactly first (IntegerDerivativeReducer), so
 * counters beyond 2^53 do not lose their low bits.
 */
function delta(a: number | bigint, b: number | bigint): number {
  return typeof a === "bigint" || typeof b === "bigint"
    ? Number(BigInt.asIntN(64, BigInt(b) - BigInt(a)))
    : b - a;
}

function derivative(name: string, nonNegative: boolean): TransformFunction<number> {
  return {
    kind: "transform",
    name,
    extraBucket: true,
    parseArgs(call: Call, ctx: TransformContext) {
      checkArity(call, 1, 2);
      const unit = durationArg(call, 1, ctx.intervalNs > 0 ? ctx.intervalNs : 1e9);
      if (unit <= 0) throw new ValidationError(`duration argument must be positive, got ${unit}`);
      return unit;
    },
    apply(s, unit) {
      const out = emptySequence();
      for (let i = 1; i < s.values.length; i++) {
        // Descending (ORDER BY time DESC), InfluxDB counts the elapsed time forward all the same.
        const dt = Math.abs(elapsedNs(s, i - 1, i));
        if (dt === 0) continue;
        const d = delta(s.values[i - 1], s.values[i]) / (dt / unit);
        if (nonNegative && d < 0) continue;
        push(out, s, i, d);
      }
      return out;
    },
  };
}

function difference(name: string, nonNegative: boolean): TransformFunction<undefined> {
  return {
    kind: "transform",
    name,
    extraBucket: true,
    parseArgs(call: Call) {
      checkArity(call, 1);
      return undefined;
    },
    apply(s) {
      const out = emptySequence();
      for (let i = 1; i < s.values.length; i++) {
        const a = s.values[i - 1], b = s.values[i];
        const d = typeof a === "bigint" || typeof b === "bigint"
          ? BigInt.asIntN(64, BigInt(b) - BigInt(a))
          : b - a;
        if (nonNegative && d < 0) continue;
        push(out, s, i, d);
      }
      return out;
    },
  };
}

const movingAverage: TransformFunction<number> = {
  kind: "transform",
  name: "moving_average",
  extraBucket: true,
  parseArgs(call) {
    checkArity(call, 2);
    const n = integerArg(call, 1, "integer");
    if (n < 1) throw new ValidationError(`moving_average window must be greater than 1, got ${n}`);
    return n;
  },
  apply(s, n) {
    const out = emptySequence();
    // FloatMovingAverageReducer: the value leaving the window is subtracted before the new
    // one is added (the order matters to the last bit).
    let acc = 0;
    for (let i = 0; i < s.values.length; i++) {
      if (i >= n) acc -= Number(s.values[i - n]);
      acc += Number(s.values[i]);
      if (i >= n - 1) push(out, s, i, acc / n);
    }
    return out;
  },
};

const cumulativeSum: TransformFunction<undefined> = {
  kind: "transform",
  name: "cumulative_sum",
  parseArgs(call) {
    checkArity(call, 1);
    return undefined;
  },
  apply(s) {
    const out = emptySequence();
    let acc: number | bigint = 0;
    for (let i = 0; i < s.values.length; i++) {
      const v = s.values[i];
      acc = typeof acc === "bigint" || typeof v === "bigint"
        ? BigInt.asIntN(64, BigInt(acc) + BigInt(v))
        : acc + v;
      push(out, s, i, acc);
    }
    return out;
  },
};

const elapsed: TransformFunction<number> = {
  kind: "transform",
  name: "elapsed",
  anyType: true,
  extraBucket: true,
  parseArgs(call) {
    checkArity(call, 1, 2);
    return durationArg(call, 1, 1);
  },
  apply(s, unit) {
    const out = emptySequence();
    for (let i = 1; i < s.values.length; i++) {
      push(out, s, i, Math.trunc(elapsedNs(s, i - 1, i) / unit));
    }
    return out;
  },
};

register(
  derivative("derivative", false),
  derivative("non_negative_derivative", true),
  difference("difference", false),
  difference("non_negative_difference", true),
  movingAverage,
  cumulativeSum,
  elapsed,
);
