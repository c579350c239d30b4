/**
 * Executes InfluxQL text against a {@linkcode QueryStore}: parse, then per statement plan, run
 * per shard, merge at the coordinator and finish. Statement-level failures (unknown function,
 * missing database ...) become per-statement errors with InfluxDB's texts; the statements
 * after a failed one answer `not executed`, as InfluxDB does. Syntax errors throw
 * {@linkcode ParseError} for the HTTP layer to answer 400.
 *
 * @module
 */
import { EpochError, NotFoundError, ValidationError } from "../core/errors.ts";
import { FIELD_TYPE_NAMES, type FieldType } from "../core/point.ts";
import { MAX_TIME_NS, MIN_TIME_NS } from "../core/time.ts";
import type { Expr, Measurement, SelectStatement, Source, Statement } from "./ast.ts";
import { isWriteStatement } from "./ast.ts";
import { splitCondition } from "./condition.ts";
import { finish, mergePartials } from "./coordinator.ts";
import { compileRegex, evalTagCondition } from "./eval.ts";
import { parseQuery } from "./parser.ts";
import { type MeasurementSchema, planSelect } from "./plan.ts";
import { printStatement } from "./print.ts";
import type { ResultSeries, StatementResult, Value } from "./result.ts";
import { runShard } from "./shard_exec.ts";
import type { QueryStore, ShardReader } from "./store.ts";

/** Options of {@linkcode executeQuery}. */
export interface ExecuteOptions {
  /** The default database (`db=` of the HTTP API). */
  database?: string;
  /** The default retention policy (`rp=`); else the database's default. */
  retentionPolicy?: string;
  /** now() in int64 ns, passed in so tests control it. */
  nowNs: bigint;
  /** Values for bind parameters `$name`. */
  params?: Record<string, unknown>;
  /**
   * A read-only request (HTTP GET). InfluxDB 1.6 still executes statements that change data
   * but adds a deprecation warning to their result; so do we.
   */
  readOnly?: boolean;
}

/**
 * Parses and executes `text`, one result per statement.
 *
 * @example
 * ```ts
 * const results = await executeQuery(store, "SELECT mean(usage) FROM cpu", {
 *   database: "db",
 *   nowNs: 1678886400000000000n,
 * });
 * ```
 * @throws {ParseError} when the text is not valid InfluxQL.
 */
export async function executeQuery(
  store: QueryStore,
  text: string,
  options: ExecuteOptions,
): Promise<StatementResult[]> {
  const statements = parseQuery(text);
  return await executeStatements(store, statements, options);
}

/** Executes already parsed statements (see {@linkcode executeQuery}). */
export async function executeStatements(
  store: QueryStore,
  statements: readonly Statement[],
  options: ExecuteOptions,
): Promise<StatementResult[]> {
  const results: StatementResult[] = [];
  let failed = false;
  for (let i = 0; i < statements.length; i++) {
    if (failed) {
      results.push({ statementId: i, error: "not executed" });
      continue;
    }
    try {
      const stmt = bindParams(statements[i], options.params ?? {});
      const series = await executeStatement(store, stmt, options);
      const r: StatementResult = { statementId: i };
      if (series.length > 0) r.series = series;
      if (options.readOnly && isWriteStatement(stmt)) {
        r.messages = [{
          level: "warning",
          text: `deprecated use of '${
            printStatement(statements[i])
          }' in a read only context, please use a POST request instead`,
        }];
      }
      results.push(r);
    } catch (e) {
      if (!(e instanceof EpochError)) throw e;
      results.push({ statementId: i, error: e.message });
      failed = true;
    }
  }
  return results;
}

async function executeStatement(
  store: QueryStore,
  stmt: Statement,
  options: ExecuteOptions,
): Promise<ResultSeries[]> {
  switch (stmt.kind) {
    case "select":
      return await executeSelect(store, stmt, options);
    case "create_database":
      await store.createDatabase(stmt.name);
      return [];
    case "drop_database":
      await store.dropDatabase(stmt.name);
      return [];
    case "show_databases":
      return [listing("databases", ["name"], store.databases().map((d) => [d]))];
    case "show_retention_policies": {
      const db = requireDatabase(store, stmt.database ?? options.database, true);
      const rows = store.retentionPolicies(db).map((rp) => [
        rp.name,
        goDuration(rp.durationNs),
        goDuration(rp.shardGroupDurationNs),
        rp.replicaN,
        rp.isDefault,
      ]);
      return [listing("", ["name", "duration", "shardGroupDuration", "replicaN", "default"], rows)];
    }
    case "show_measurements": {
      const db = stmt.database ?? options.database;
      if (db === undefined) throw new ValidationError("database name required");
      if (!store.databases().includes(db)) return [];
      const names = new Set<string>();
      for (const reader of allShards(store, db)) {
        for (const m of reader.measurements()) {
          if (names.has(m) || !measurementMatches(stmt.measurement, m)) continue;
          if (stmt.condition && !anySeriesMatches(reader, m, stmt.condition)) continue;
          names.add(m);
        }
      }
      const rows = page([...names].sort().map((n) => [n]), stmt.limit, stmt.offset);
      return rows.length === 0 ? [] : [listing("measurements", ["name"], rows)];
    }
    case "show_tag_keys":
    case "show_tag_values":
    case "show_field_keys":
    case "show_series":
      return showSchema(store, stmt, options);
  }
}

function listing(name: string, columns: string[], values: Value[][]): ResultSeries {
  return { name, columns, values, timeColumn: false };
}

function page<T>(rows: T[], limit?: number, offset?: number): T[] {
  const o = offset ?? 0;
  return rows.slice(o, limit ? o + limit : undefined);
}

function requireDatabase(store: QueryStore, db: string | undefined, mustExist: boolean): string {
  if (db === undefined || db === "") throw new ValidationError("database name required");
  if (mustExist && !store.databases().includes(db)) {
    throw new NotFoundError(`database not found: ${db}`);
  }
  return db;
}

function allShards(store: QueryStore, db: string): ShardReader[] {
  const out: ShardReader[] = [];
  for (const rp of store.retentionPolicies(db)) {
    out.push(...store.shards(db, rp.name, MIN_TIME_NS, MAX_TIME_NS));
  }
  return out;
}

function measurementMatches(
  filter: { op: "="; name: string } | { op: "=~"; pattern: string } | undefined,
  m: string,
): boolean {
  if (filter === undefined) return true;
  return "name" in filter ? filter.name === m : compileRegex(filter.pattern).test(m);
}

function sourceMatches(sources: readonly Source[], m: string): boolean {
  if (sources.length === 0) return true;
  return sources.some((s) =>
    s.kind === "measurement" &&
    (s.regex !== undefined ? compileRegex(s.regex).test(m) : s.name === m)
  );
}

function anySeriesMatches(reader: ShardReader, m: string, cond: Expr): boolean {
  return reader.series(m).some((s) => seriesMatches(s.tags, cond));
}

function seriesMatches(tags: readonly { key: string; value: string }[], cond: Expr): boolean {
  const tri = evalTagCondition(
    cond,
    (k) => tags.find((t) => t.key === k)?.value ?? "",
    () => false,
  );
  return tri !== false;
}

function showSchema(
  store: QueryStore,
  stmt: Extract<
    Statement,
    { kind: "show_tag_keys" | "show_tag_values" | "show_field_keys" | "show_series" }
  >,
  options: ExecuteOptions,
): ResultSeries[] {
  const db = requireDatabase(store, stmt.database ?? options.database, true);
  const condition = "condition" in stmt ? stmt.condition : undefined;
  const shards = allShards(store, db);
  const measurements = new Set<string>();
  for (const r of shards) {
    for (const m of r.measurements()) if (sourceMatches(stmt.sources, m)) measurements.add(m);
  }
  const sorted = [...measurements].sort();
  if (stmt.kind === "show_series") {
    const keys = new Set<string>();
    for (const r of shards) {
      for (const m of sorted) {
        for (const s of r.series(m)) {
          if (!condition || seriesMatches(s.tags, condition)) keys.add(s.key);
        }
      }
    }
    const rows = page([...keys].sort().map((k) => [k]), stmt.limit, stmt.offset);
    return rows.length === 0 ? [] : [listing("", ["key"], rows)];
  }
  const out: ResultSeries[] = [];
  for (const m of sorted) {
    let rows: Value[][] = [];
    if (stmt.kind === "show_field_keys") {
      const types = new Map<string, FieldType>();
      for (const r of shards) {
        for (const [k, t] of r.fieldTypes(m)) if (!types.has(k)) types.set(k, t);
      }
      rows = [...types.keys()].sort().map((k) => [k, FIELD_TYPE_NAMES[types.get(k)!]]);
      rows = page(rows, stmt.limit, stmt.offset);
      if (rows.length > 0) out.push(listing(m, ["fieldKey", "fieldType"], rows));
      continue;
    }
    const pairs = new Set<string>();
    const keys = new Set<string>();
    for (const r of shards) {
      for (const s of r.series(m)) {
        if (condition && !seriesMatches(s.tags, condition)) continue;
        for (const t of s.tags) {
          if (stmt.kind === "show_tag_keys") keys.add(t.key);
          else if (tagKeyMatches(stmt.key, t.key)) pairs.add(t.key + "\u0000" + t.value);
        }
      }
    }
    if (stmt.kind === "show_tag_keys") {
      rows = page([...keys].sort().map((k) => [k]), stmt.limit, stmt.offset);
      if (rows.length > 0) out.push(listing(m, ["tagKey"], rows));
    } else {
      rows = page(
        [...pairs].sort().map((p) => p.split("\u0000")),
        stmt.limit,
        stmt.offset,
      );
      if (rows.length > 0) out.push(listing(m, ["key", "value"], rows));
    }
  }
  return out;
}

function tagKeyMatches(
  f: Extract<Statement, { kind: "show_tag_values" }>["key"],
  key: string,
): boolean {
  switch (f.op) {
    case "=":
      return key === f.key;
    case "!=":
      return key !== f.key;
    case "=~":
      return compileRegex(f.pattern).test(key);
    case "!~":
      return !compileRegex(f.pattern).test(key);
    case "IN":
      return f.keys.includes(key);
  }
}

interface ResolvedSource {
  db: string;
  rp: string;
  source: Measurement;
}

function resolveSources(
  store: QueryStore,
  stmt: SelectStatement,
  options: ExecuteOptions,
): ResolvedSource[] {
  const out: ResolvedSource[] = [];
  for (const s of stmt.sources) {
    if (s.kind === "subquery") throw new ValidationError("subqueries are not supported yet");
    const db = requireDatabase(store, s.database ?? options.database, true);
    let rp = s.retentionPolicy ?? (s.database === undefined ? options.retentionPolicy : undefined);
    if (rp === undefined || rp === "") rp = store.defaultRetentionPolicy(db);
    if (!store.retentionPolicies(db).some((p) => p.name === rp)) {
      throw new NotFoundError(`retention policy not found: ${rp}`);
    }
    out.push({ db, rp, source: s });
  }
  return out;
}

async function executeSelect(
  store: QueryStore,
  stmt: SelectStatement,
  options: ExecuteOptions,
): Promise<ResultSeries[]> {
  if (stmt.into) throw new ValidationError("SELECT ... INTO is not supported yet");
  const sources = resolveSources(store, stmt, options);
  const split = splitCondition(stmt.condition, options.nowNs);
  const hasInterval = stmt.dimensions.some((d) => d.kind === "time");
  const maxNs = hasInterval && !split.hasMax ? options.nowNs : split.maxNs;
  // Shards per (db, rp), with the measurements each source names in them.
  const targets: { reader: ShardReader; measurements: string[] }[] = [];
  const byPolicy = new Map<string, ResolvedSource[]>();
  for (const r of sources) {
    const k = r.db + "\u0000" + r.rp;
    byPolicy.set(k, [...(byPolicy.get(k) ?? []), r]);
  }
  const schemas = new Map<string, MeasurementSchema>();
  for (const group of byPolicy.values()) {
    const { db, rp } = group[0];
    for (const reader of store.shards(db, rp, split.minNs, maxNs)) {
      const ms = reader.measurements().filter((m) =>
        group.some((g) =>
          g.source.regex !== undefined ? compileRegex(g.source.regex).test(m) : g.source.name === m
        )
      );
      if (ms.length === 0) continue;
      targets.push({ reader, measurements: ms });
      for (const m of ms) {
        let schema = schemas.get(m);
        if (schema === undefined) schemas.set(m, schema = { fields: new Map(), tagKeys: [] });
        for (const [k, t] of reader.fieldTypes(m)) {
          if (!schema.fields.has(k)) schema.fields.set(k, t);
        }
        const keys = new Set(schema.tagKeys);
        for (const s of reader.series(m)) for (const t of s.tags) keys.add(t.key);
        schema.tagKeys = [...keys].sort();
      }
    }
  }
  // Validate the statement even when no data exists, so errors do not depend on data.
  const plan = planSelect(stmt, [...schemas.values()], options.nowNs);
  if (targets.length === 0) return [];
  const partials = await Promise.all(targets.map((t) => runShard(plan, t)));
  return finish(plan, mergePartials(plan, partials));
}

/** Replaces bind parameters with literals. @throws {ValidationError} for a missing one. */
export function bindParams(stmt: Statement, params: Record<string, unknown>): Statement {
  if (stmt.kind !== "select") return stmt;
  const bind = (e: Expr): Expr => {
    switch (e.kind) {
      case "param":
        return literalOf(e.name, params);
      case "binary":
        return { ...e, lhs: bind(e.lhs), rhs: bind(e.rhs) };
      case "paren":
        return { ...e, expr: bind(e.expr) };
      case "call":
        return { ...e, args: e.args.map(bind) };
      default:
        return e;
    }
  };
  const out: SelectStatement = {
    ...stmt,
    fields: stmt.fields.map((f) => ({ ...f, expr: bind(f.expr) })),
  };
  if (stmt.condition) out.condition = bind(stmt.condition);
  return out;
}

function literalOf(name: string, params: Record<string, unknown>): Expr {
  if (!Object.hasOwn(params, name)) throw new ValidationError(`missing parameter: ${name}`);
  const v = params[name];
  if (typeof v === "string") return { kind: "string", value: v };
  if (typeof v === "boolean") return { kind: "boolean", value: v };
  if (typeof v === "bigint") return { kind: "integer", value: v };
  if (typeof v === "number") {
    return Number.isInteger(v) ? { kind: "integer", value: v } : { kind: "number", value: v };
  }
  throw new ValidationError(`unable to bind parameter with type ${typeof v}`);
}

/** Formats ns as Go's time.Duration.String() does (`168h0m0s`, `0s`, `1.5s`). */
export function goDuration(ns: bigint): string {
  if (ns === 0n) return "0s";
  const neg = ns < 0n;
  let u = neg ? -ns : ns;
  let out: string;
  if (u < 1_000_000_000n) {
    // Sub-second: the largest unit among ns, µs, ms.
    const [unit, size] = u < 1_000n
      ? ["ns", 1n]
      : u < 1_000_000n
      ? ["µs", 1_000n]
      : ["ms", 1_000_000n];
    out = fraction(u, size) + unit;
  } else {
    const h = u / 3_600_000_000_000n;
    u %= 3_600_000_000_000n;
    const m = u / 60_000_000_000n;
    u %= 60_000_000_000n;
    const s = fraction(u, 1_000_000_000n) + "s";
    out = h > 0n ? `${h}h${m}m${s}` : m > 0n ? `${m}m${s}` : s;
  }
  return neg ? "-" + out : out;
}

function fraction(v: bigint, size: bigint): string {
  const whole = v / size;
  const rest = v % size;
  if (rest === 0n) return String(whole);
  const digits = String(size).length - 1;
  return `${whole}.${String(rest).padStart(digits, "0").replace(/0+$/, "")}`;
}
