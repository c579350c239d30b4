/**
 * Continuous queries: how a definition is checked and stored, and how one run executes. A run is
 * the definition's `SELECT ... INTO ... GROUP BY time(...)` with its time conditions replaced by
 * the run's range (`time >= start AND time < end`, as InfluxDB's `SetTimeRange`), executed in the
 * CQ's database with `now()` at the run's time; its rows are written by the executor's
 * `SELECT ... INTO`.
 * @module
 */
import { EpochError, ValidationError } from "../core/mod.ts";
import type { ContinuousQueryMeta } from "../cluster/mod.ts";
import {
  executeStatements,
  type Expr,
  parseStatement,
  printExpr,
  printStatement,
  type QueryStore,
  type SelectStatement,
  splitCondition,
} from "../query/mod.ts";
import type { CqTiming } from "./cq_schedule.ts";

/** What a continuous query is made of when it is created. */
export interface CqSpec {
  name: string;
  database: string;
  select: SelectStatement;
  /** RESAMPLE EVERY and FOR (ns), 0 or absent when not given. */
  everyNs?: bigint;
  forNs?: bigint;
  /** The CREATE statement as printed (SHOW CONTINUOUS QUERIES shows it). */
  query: string;
}

/**
 * Checks a continuous query and makes its stored form.
 * @throws {ValidationError} with InfluxDB's words when it has no INTO, no GROUP BY time, or
 * a RESAMPLE FOR shorter than its interval.
 */
export function cqDefinition(spec: CqSpec): ContinuousQueryMeta {
  const s = spec.select;
  if (!s.into) throw new ValidationError("continuous query requires INTO");
  const timing = cqTimingOf(s);
  if (timing.intervalNs === 0n) {
    throw new ValidationError("continuous query must have a GROUP BY time() clause");
  }
  const forNs = spec.forNs ?? 0n;
  const everyNs = spec.everyNs ?? 0n;
  // InfluxDB's check: FOR covers at least one run's reach, max(interval, EVERY).
  const reach = everyNs > timing.intervalNs ? everyNs : timing.intervalNs;
  if (forNs !== 0n && forNs < reach) {
    throw new ValidationError(
      `FOR duration must be >= GROUP BY time duration: must be a minimum of ` +
        `${printExpr({ kind: "duration", ns: reach })}, got ${
          printExpr({ kind: "duration", ns: forNs })
        }`,
    );
  }
  return {
    name: spec.name,
    database: spec.database,
    query: spec.query,
    select: printStatement(s),
    everyNs: String(spec.everyNs ?? 0n),
    forNs: String(forNs),
  };
}

/** The GROUP BY time interval and offset of a SELECT, with no RESAMPLE. */
export function cqTimingOf(select: SelectStatement): CqTiming {
  for (const d of select.dimensions) {
    if (d.kind !== "time") continue;
    if (d.months !== undefined) {
      throw new ValidationError(
        "continuous queries take fixed GROUP BY time intervals, not months",
      );
    }
    const offsetNs = d.offset?.kind === "duration" ? d.offset.ns : 0n;
    return {
      intervalNs: d.intervalNs,
      offsetNs: mod(offsetNs, d.intervalNs),
      everyNs: 0n,
      forNs: 0n,
    };
  }
  return { intervalNs: 0n, offsetNs: 0n, everyNs: 0n, forNs: 0n };
}

/** A stored continuous query's SELECT and timing. */
export function parseCq(cq: ContinuousQueryMeta): { select: SelectStatement; timing: CqTiming } {
  const stmt = parseStatement(cq.select);
  if (stmt.kind !== "select" || !stmt.into) {
    throw new EpochError("internal", `BUG: continuous query ${cq.name} holds no SELECT ... INTO`);
  }
  return {
    select: stmt,
    timing: { ...cqTimingOf(stmt), everyNs: BigInt(cq.everyNs), forNs: BigInt(cq.forNs) },
  };
}

/** The SELECT of one run: its own time conditions replaced by [startNs, endNs). */
export function withTimeRange(
  select: SelectStatement,
  startNs: bigint,
  endNs: bigint,
): SelectStatement {
  const rest = splitCondition(select.condition, 0n).condition;
  const time: Expr = { kind: "var", name: "time" };
  const range: Expr = {
    kind: "binary",
    op: "AND",
    lhs: { kind: "binary", op: ">=", lhs: time, rhs: { kind: "integer", value: startNs } },
    rhs: { kind: "binary", op: "<", lhs: time, rhs: { kind: "integer", value: endNs } },
  };
  return {
    ...select,
    condition: rest === undefined
      ? range
      : { kind: "binary", op: "AND", lhs: { kind: "paren", expr: rest }, rhs: range },
  };
}

/** What one run did. */
export interface CqRunOutcome {
  /** Points written into the target measurement. */
  written: number;
  /** The statement run. */
  statement: string;
}

/**
 * Runs a continuous query over [startNs, endNs) at `nowNs`.
 * @throws {EpochError} when the query or the write fails.
 */
export async function runCq(
  store: QueryStore,
  cq: ContinuousQueryMeta,
  range: { startNs: bigint; endNs: bigint; nowNs: bigint },
  signal?: AbortSignal,
): Promise<CqRunOutcome> {
  const { select } = parseCq(cq);
  const statement = withTimeRange(select, range.startNs, range.endNs);
  const [result] = await executeStatements(store, [statement], {
    database: cq.database,
    nowNs: range.nowNs,
    signal,
  });
  const text = printStatement(statement);
  if (result.error) {
    throw new EpochError(result.errorCode ?? "unknown", `${result.error} (running ${text})`);
  }
  const written = result.series?.[0]?.values[0]?.[1];
  return { written: typeof written === "number" ? written : 0, statement: text };
}

function mod(a: bigint, b: bigint): bigint {
  if (b === 0n) return a;
  const r = a % b;
  return r < 0n ? r + b : r;
}

/** A duration as Go prints it (`1h0m0s`, `30m0s`, `10s`, `500ms`). */
export function goDuration(ns: bigint): string {
  if (ns === 0n) return "0s";
  const neg = ns < 0n;
  let n = neg ? -ns : ns;
  let out: string;
  if (n < 1_000_000_000n) {
    out = n < 1000n
      ? `${n}ns`
      : n < 1_000_000n
      ? `${trimFraction(n, 1000n)}µs`
      : `${trimFraction(n, 1_000_000n)}ms`;
  } else {
    const h = n / 3_600_000_000_000n;
    n %= 3_600_000_000_000n;
    const m = n / 60_000_000_000n;
    n %= 60_000_000_000n;
    const s = trimFraction(n, 1_000_000_000n);
    out = h > 0n ? `${h}h${m}m${s}s` : m > 0n ? `${m}m${s}s` : `${s}s`;
  }
  return neg ? `-${out}` : out;
}

function trimFraction(n: bigint, unit: bigint): string {
  const whole = n / unit;
  const frac = n % unit;
  if (frac === 0n) return String(whole);
  const digits = String(unit).length - 1;
  return `${whole}.${String(frac).padStart(digits, "0").replace(/0+$/, "")}`;
}
