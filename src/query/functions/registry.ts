/**
 * The function registry: every InfluxQL function is an entry here, looked up by name. One file
 * per family (aggregates.ts, selectors.ts, transformations.ts) registers its functions, so a new
 * function is one object in one file.
 *
 * Aggregates and selectors reduce a field's points per group and time bucket into a state that
 * is *mergeable*: each shard builds partial states and the coordinator merges them with
 * `merge`, then reads `result`. Transformations run after aggregation (or over raw rows) on the
 * ordered sequence of one series.
 *
 * @module
 */
import { ValidationError } from "../../core/errors.ts";
import type { FieldType } from "../../core/point.ts";
import type { Call } from "../ast.ts";
import type { Value } from "../result.ts";
import type { BlockSummary, FieldColumn, SeriesRef } from "../store.ts";

/** A reduced value, with the time of the selected point for selectors. */
export interface Reduced {
  value: Value;
  /** The selected point's time (selectors only). */
  ms?: number;
  subMs?: number;
  /** Auxiliary values (fields and tags) read at the selected point, when asked for. */
  aux?: Value[];
}

/** What `add` may need beyond the points: their series, and auxiliary values at a point. */
export interface AddContext {
  series: SeriesRef;
  /** The auxiliary values (fields and tags beside a selector) at index `i` of the column. */
  aux?: (i: number) => Value[];
  /**
   * The column's times ascend strictly (storage columns: sorted, deduplicated), so first() and
   * last() need look at one point of a run only.
   */
  sorted?: boolean;
  /**
   * ORDER BY time DESC: InfluxDB reads each series' points latest first, so float sums and
   * means add them in that order (their last bit depends on it).
   */
  descending?: boolean;
}

/** An aggregate or selector over one field. `S` is its mergeable state. */
export interface AggregateFunction<S = unknown, P = unknown> {
  readonly kind: "aggregate";
  readonly name: string;
  /** Selectors return one input point; alone in a query they report that point's time. */
  readonly selector: boolean;
  /** The value in a bucket without points (count answers 0), before fill() applies. */
  readonly emptyValue: Value;
  /**
   * Checks the arguments after the field and returns the parameters; `ctx` tells the GROUP BY
   * time interval (0 without one). @throws ValidationError
   */
  parseArgs(call: Call, ctx: TransformContext): P;
  /** An InfluxDB error text when the field type is not supported, else undefined. */
  checkType(type: FieldType): string | undefined;
  init(params: P): S;
  /**
   * Adds points `[from, to)` of a column (sorted by time). Each call is all the points of one
   * series in one bucket, and calls come in series-key order: InfluxDB reduces every series to a
   * partial before combining, and float sums and means depend on that order to the last bit.
   */
  add(state: S, column: FieldColumn, from: number, to: number, ctx?: AddContext): void;
  /**
   * Optional: adds consecutive columns as one call of `add` over their concatenation would (the
   * pieces of one series' bucket run that block boundaries split), without copying them into one.
   */
  addPieces?(state: S, pieces: readonly FieldColumn[], ctx?: AddContext): void;
  /**
   * Block statistics: true when a whole block's summary can stand for its points for a field of
   * this type with an exact, InfluxDB-identical answer (so not float sums or means, whose
   * rounding depends on the order of additions).
   */
  summarizes?(type: FieldType): boolean;
  /** Adds a block's summary (only called when `summarizes` said yes). */
  addSummary?(state: S, summary: BlockSummary): void;
  /** Folds `other` into `into` (states from different shards or series). */
  merge(into: S, other: S): void;
  /**
   * Optional: folds a whole shard's partial as InfluxDB's reducer across shards does, where that
   * differs from `merge` (mean: the partial's mean times its count). `shard` is the partial's
   * place in the query's read order (the same for every bucket of one shard). Defaults to `merge`.
   */
  mergeShard?(into: S, other: S, shard: number): void;
  /** The final value; undefined when no point was added. */
  result(state: S, params: P): Reduced | undefined;
  /**
   * Functions that answer several points per bucket (distinct, top, bottom, sample): every
   * point, in output order. When present, the coordinator emits one row per point.
   */
  results?(state: S, params: P): Reduced[];
  /** Buckets without a value are left out rather than filled (integral). */
  readonly noFill?: boolean;
  /** Without GROUP BY time the row's time is the epoch, not the range start (integral). */
  readonly epochTime?: boolean;
  /** Multi-point functions whose rows carry the points' own times (top, bottom, sample). */
  readonly pointTimes?: boolean;
  /** Multi-point functions that keep auxiliary values per point (top, bottom, sample). */
  readonly keepsAux?: boolean;
  /**
   * Functions that keep every point they are given until the result (median, percentile,
   * distinct ...): the executor charges {@linkcode KEPT_POINT_BYTES} per point to the query's
   * memory budget.
   */
  readonly keepsPoints?: boolean;
  /**
   * Functions whose bucket values depend on neighbouring buckets (integral interpolates across
   * bucket edges): given the states of one group in bucket order with their bucket starts and
   * ends in ms (fractional below a millisecond), the value per bucket index. Used instead of `result` when present.
   */
  resultSeries?(
    buckets: { idx: number; state: S; startMs: number; endMs: number }[],
    params: P,
  ): Map<number, Value>;
}

/** What a kept point costs (value, time halves and series key in parallel arrays), roughly. */
export const KEPT_POINT_BYTES = 64;

/** A numeric point sequence of one series, sorted by time, nulls removed. */
export interface Sequence {
  ms: number[];
  subMs: number[];
  values: (number | bigint)[];
}

/** Context a function's arguments are checked in. */
export interface TransformContext {
  /** The GROUP BY time interval in ns, 0 when none. */
  intervalNs: number;
  /** The statement's LIMIT, 0 when none (top() and bottom() may not ask for more points). */
  limit?: number;
  /** Every source is a subquery (SelectPlan.overSubqueries). */
  overSubqueries?: boolean;
}

/** A transformation over the ordered values of one series (derivative, moving_average ...). */
export interface TransformFunction<P = unknown> {
  readonly kind: "transform";
  readonly name: string;
  /** Checks the arguments after the first and returns parameters. @throws ValidationError */
  parseArgs(call: Call, ctx: TransformContext): P;
  apply(input: Sequence, params: P): Sequence;
  /**
   * Optional: `apply` in steps, for long computations (holt_winters' fit). Each `next()` does a
   * bounded slice of the work; the caller may let other work run in between. Pure: the
   * generator itself never waits.
   */
  steps?(input: Sequence, params: P): Generator<void, Sequence, void>;
  /** Outputs may lie at times that have no input row (holt_winters forecasts). */
  readonly newTimes?: boolean;
  /**
   * Reads values of any type, not only numbers (elapsed() looks at times only): the sequence's
   * values are then whatever the rows hold, nulls left out.
   */
  readonly anyType?: boolean;
  /**
   * With GROUP BY time, InfluxDB feeds it one bucket more than the range, before it in time
   * order (after it with ORDER BY time DESC), so the first row of the range has a value.
   */
  readonly extraBucket?: boolean;
}

/** A row-wise math function (abs, sin, pow ...): applies to raw values and to aggregates. */
export interface MathFunction {
  readonly kind: "math";
  readonly name: string;
  /** How many arguments it takes. */
  readonly arity: number;
  /** The value for numeric arguments; null when an argument is null or not numeric. */
  apply(args: Value[]): Value;
}

/** Any registered function. */
export type QueryFunction = AggregateFunction | TransformFunction | MathFunction;

const REGISTRY = new Map<string, QueryFunction>();

/** Registers functions (called by each family's module). */
export function register(...fns: QueryFunction[]): void {
  for (const fn of fns) {
    if (REGISTRY.has(fn.name)) throw new Error(`BUG: function ${fn.name}() registered twice`);
    REGISTRY.set(fn.name, fn);
  }
}

/** The function of that name, or undefined. */
export function lookupFunction(name: string): QueryFunction | undefined {
  return REGISTRY.get(name);
}

/** Names of every registered function, sorted. */
export function functionNames(): string[] {
  return [...REGISTRY.keys()].sort();
}

/** Throws InfluxDB's arity error unless `call` has between min and max arguments. */
export function checkArity(call: Call, min: number, max = min): void {
  const n = call.args.length;
  if (n < min || n > max) {
    const want = min === max
      ? `${min}`
      : max === Infinity
      ? `at least ${min}`
      : `at least ${min} but no more than ${max}`;
    throw new ValidationError(
      `invalid number of arguments for ${call.name}, expected ${want}, got ${n}`,
    );
  }
}

/** The number at argument `i` (integer or float literal). @throws ValidationError */
export function numberArg(call: Call, i: number, what: string): number {
  const a = call.args[i];
  if (a?.kind === "integer") return Number(a.value);
  if (a?.kind === "number") return a.value;
  throw new ValidationError(`expected ${what} argument in ${call.name}()`);
}

/** The integer at argument `i`. @throws ValidationError */
export function integerArg(call: Call, i: number, what: string): number {
  const a = call.args[i];
  if (a?.kind === "integer") return Number(a.value);
  throw new ValidationError(`expected ${what} argument in ${call.name}()`);
}

/** The duration at argument `i` in ns, or the default. @throws ValidationError */
export function durationArg(call: Call, i: number, fallbackNs: number): number {
  const a = call.args[i];
  if (a === undefined) return fallbackNs;
  if (a.kind === "duration") return Number(a.ns);
  throw new ValidationError(
    `second argument to ${call.name} must be a duration, got ${
      a.kind === "integer"
        ? "*influxql.IntegerLiteral"
        : a.kind === "number"
        ? "*influxql.NumberLiteral"
        : "*influxql." + a.kind
    }`,
  );
}
