/**
 * Executes InfluxQL text against a {@linkcode QueryStore}: parse, then per statement plan, run
 * per shard, merge at the coordinator and finish. Statement-level failures (unknown function,
 * missing database ...) become per-statement errors with InfluxDB's texts; the statements
 * after a failed one answer `not executed`, as InfluxDB does. Syntax errors throw
 * {@linkcode ParseError} for the HTTP layer to answer 400.
 *
 * @module
 */
import { EpochError, NotFoundError, ParseError, ValidationError } from "../core/errors.ts";
import {
  type Field as PointField,
  FIELD_TYPE_NAMES,
  FieldType,
  type Point,
  type Tag,
} from "../core/point.ts";
import { MAX_TIME_NS, MIN_TIME_NS } from "../core/time.ts";
import type {
  Expr,
  Measurement,
  SelectStatement,
  Source,
  Statement,
  UserStatement,
} from "./ast.ts";
import { isWriteStatement } from "./ast.ts";
import { executeAdmin, isAdminStatement } from "./admin_statements.ts";
import { splitCondition, tagFilterOf } from "./condition.ts";
import { finish, mergeShards } from "./coordinator.ts";
import { compileRegex, evalTagCondition } from "./eval.ts";
import { mapChain, someExpr } from "./expr_walk.ts";
import {
  checkQuerySize,
  CLIENT_GONE_MESSAGE,
  QueryBudget,
  QueryInterruptedError,
  type QueryLimits,
  QueryMemory,
  type QueryRegistry,
} from "./limits.ts";
import { STATEMENTS } from "./statement_cache.ts";
import {
  type MeasurementSchema,
  planSelect,
  readPadding,
  type SelectPlan,
  SLOT_PREFIX,
} from "./plan.ts";
import { goDuration, printSelect, printStatement } from "./print.ts";
import type { ResultSeries, SeriesStream, StatementResult, Value } from "./result.ts";
import { openRawStream, streamable } from "./raw_stream.ts";
import { runShard, type ShardPartial, type ShardTarget } from "./shard_exec.ts";
import {
  emitOrder,
  expandOuterDimensions,
  pushDown,
  readSelectedTagsAsFields,
  ResultShard,
} from "./subquery.ts";
import type { UserAdmin } from "./users.ts";
import {
  type ContinuousQueryAdmin,
  executeContinuousQueryStatement,
} from "./continuous_queries.ts";
import type {
  DeleteRequest,
  PlanRequest,
  QueryStore,
  ReadConsistency,
  SeriesRef,
  ShardReader,
  ShardsOptions,
  TagFilter,
} from "./store.ts";

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
  /** How current reads must be (a cluster's replicas). @default {"leader"} */
  consistency?: ReadConsistency;
  /**
   * A read-only request (HTTP GET). InfluxDB 1.6 still executes statements that change data
   * but adds a deprecation warning to their result; so do we.
   */
  readOnly?: boolean;
  /** Limits of this query (series, points, buckets, timeout). */
  limits?: QueryLimits;
  /** The server's running queries: SHOW QUERIES / KILL QUERY, and this query's entry. */
  registry?: QueryRegistry;
  /** Stops the query (a client gone away). */
  signal?: AbortSignal;
  /**
   * The last statement, when it is a raw SELECT that can stream (raw_stream.ts), answers a
   * {@linkcode StatementResult.stream} instead of its series: the caller reads it as it encodes
   * and closes it. The query stays registered (KILL QUERY, its deadline) until it is closed.
   */
  stream?: boolean;
  /**
   * Called once a streamed statement's stream is closed, with what ended it midway (a limit, a
   * kill, the deadline) if anything did; executeQuery ends the query there first.
   */
  onStreamEnd?: (error?: unknown) => void;
  /** Called with each statement's result as soon as it is ready (chunked answers stream them). */
  onResult?: (result: StatementResult, statement: Statement) => void;
  /**
   * The memory meter of the whole request (every statement and subquery charges it); one with
   * `limits.maxMemoryBytes` is made when absent.
   */
  memory?: QueryMemory;
  /** Users and privileges (CREATE USER, GRANT ...); those statements fail without it. */
  users?: UserAdmin;
  /** CREATE / SHOW / DROP CONTINUOUS QUERY; those statements fail without it. */
  continuousQueries?: ContinuousQueryAdmin;
  /** SHOW DATABASES lists only these (a user sees the databases it may read); all when absent. */
  canSeeDatabase?: (database: string) => boolean;
  /**
   * Elapsed time for a query's yields to the event loop (a simulation passes its virtual
   * clock, so that a run never depends on the wall clock). @default {performance.now}
   */
  monotonicMs?: () => number;
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
  checkQuerySize(text, options.limits);
  // Parameters are bound before anything runs: a missing one is a parse error, as InfluxDB.
  const statements = STATEMENTS.parse(text).map((stmt) => {
    try {
      return bindParams(stmt, options.params ?? {});
    } catch (e) {
      if (e instanceof ValidationError) throw new ParseError(e.message, { cause: e });
      throw e;
    }
  });
  // SHOW QUERIES must not show a password in flight: those queries are listed as printed.
  const listed = statements.some((s) => s.kind === "create_user" || s.kind === "set_password")
    ? statements.map(printStatement).join("; ")
    : text;
  const entry = options.registry?.begin(listed, options.database ?? "");
  const controller = entry?.controller ?? new AbortController();
  const timeoutMs = options.limits?.timeoutMs ?? 0;
  const timer = timeoutMs > 0
    ? setTimeout(
      () => controller.abort(new QueryInterruptedError("query-timeout limit exceeded")),
      timeoutMs,
    )
    : undefined;
  // The caller's signal aborts when the client went away (its reason is the server's, not an
  // EpochError): the query ends as abandoned, not as killed.
  const onAbort = () => {
    const reason = options.signal?.reason;
    controller.abort(
      reason instanceof EpochError ? reason : new QueryInterruptedError(CLIENT_GONE_MESSAGE),
    );
  };
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener("abort", onAbort);
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    if (timer !== undefined) clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
    entry?.done();
  };
  let streaming = false;
  try {
    const results = await executeStatements(store, statements, {
      ...options,
      signal: controller.signal,
      onStreamEnd: (error) => {
        end();
        options.onStreamEnd?.(error);
      },
    });
    streaming = results.at(-1)?.stream !== undefined;
    return results;
  } finally {
    // A streamed statement ends the query when its stream is closed.
    if (!streaming) end();
  }
}

/** Executes already parsed statements (see {@linkcode executeQuery}). */
export async function executeStatements(
  store: QueryStore,
  statements: readonly Statement[],
  options: ExecuteOptions,
): Promise<StatementResult[]> {
  const results: StatementResult[] = [];
  let failed = false;
  // The databases this query's read barrier covers (with the metadata): one barrier serves the
  // query's reads, which must see what was acknowledged before the query, until one of its
  // statements changes something (its effect may not be applied here yet).
  let barrierCovers: Set<string> | undefined;
  options = {
    ...options,
    memory: options.memory ?? new QueryMemory(options.limits?.maxMemoryBytes ?? 0),
  };
  for (let i = 0; i < statements.length; i++) {
    if (failed) {
      results.push({ statementId: i, error: "not executed" });
      options.onResult?.(results[results.length - 1], statements[i]);
      continue;
    }
    try {
      const stmt = bindParams(statements[i], options.params ?? {});
      if (store.readBarrier !== undefined && options.consistency !== "any") {
        const covered = barrierCovers;
        const wanted = databasesOf(stmt, options.database, store);
        const missing = covered === undefined ? wanted : wanted.filter((d) => !covered.has(d));
        if (covered === undefined || missing.length > 0) {
          await store.readBarrier(missing);
          barrierCovers = new Set([...(covered ?? []), ...missing]);
        }
      }
      if (!isPlainRead(stmt)) barrierCovers = undefined;
      const r: StatementResult = { statementId: i };
      if (options.stream && i === statements.length - 1 && stmt.kind === "select" && !stmt.into) {
        const answer = await streamSelect(store, stmt, options);
        if (!Array.isArray(answer)) r.stream = answer;
        else if (answer.length > 0) r.series = answer;
      } else {
        const series = await executeStatement(store, stmt, options);
        if (series.length > 0) r.series = series;
      }
      // InfluxDB 1.6 warns for every write statement over GET except DELETE.
      if (options.readOnly && isWriteStatement(stmt) && stmt.kind !== "delete") {
        r.messages = [{
          level: "warning",
          text: `deprecated use of '${
            printStatement(qualified(store, statements[i], options))
          }' in a read only context, please use a POST request instead`,
        }];
      }
      results.push(r);
    } catch (e) {
      if (!(e instanceof EpochError)) throw e;
      results.push({
        statementId: i,
        error: e.message,
        errorCode: e.code,
        errorStatus: e.httpStatus,
      });
      failed = true;
    }
    options.onResult?.(results[results.length - 1], statements[i]);
  }
  return results;
}

/** A statement that only reads (a later statement's read barrier may be shared with it). */
function isPlainRead(stmt: Statement): boolean {
  return stmt.kind.startsWith("show_") || (stmt.kind === "select" && stmt.into === undefined);
}

/**
 * The existing databases a statement names (any `database` in it, subqueries included) or
 * works in by default.
 */
function databasesOf(stmt: Statement, fallback: string | undefined, store: QueryStore): string[] {
  const names = new Set<string>();
  if (fallback) names.add(fallback);
  for (const name of namedDatabases(stmt)) names.add(name);
  const existing = store.databases();
  return [...names].filter((n) => existing.includes(n));
}

/**
 * The databases a statement names, remembered for a frozen (cached) statement: the walk visits
 * every node of the tree, on every query.
 */
const NAMED_DATABASES = new WeakMap<Statement, readonly string[]>();

function namedDatabases(stmt: Statement): readonly string[] {
  const known = NAMED_DATABASES.get(stmt);
  if (known !== undefined) return known;
  const names = new Set<string>();
  const walk = (node: unknown, depth: number): void => {
    if (depth > 64 || node === null || typeof node !== "object") return;
    if (Array.isArray(node)) {
      for (const item of node) walk(item, depth + 1);
      return;
    }
    for (const [key, value] of Object.entries(node)) {
      if (key === "database" && typeof value === "string") names.add(value);
      else if (typeof value === "object") walk(value, depth + 1);
    }
  };
  walk(stmt, 0);
  const out = [...names];
  if (Object.isFrozen(stmt)) NAMED_DATABASES.set(stmt, out);
  return out;
}

async function executeStatement(
  store: QueryStore,
  stmt: Statement,
  options: ExecuteOptions,
): Promise<ResultSeries[]> {
  if (isAdminStatement(stmt)) return await executeAdmin(store, stmt);
  switch (stmt.kind) {
    case "select":
      return await executeSelect(store, stmt, options);
    case "drop_database":
      await store.dropDatabase(stmt.name);
      return [];
    case "show_databases":
      return [
        listing(
          "databases",
          ["name"],
          store.databases().filter((d) => options.canSeeDatabase?.(d) ?? true).map((d) => [d]),
        ),
      ];
    case "show_retention_policies": {
      const db = requireDatabase(store, stmt.database ?? options.database, true);
      const policies = store.retentionPolicies(db);
      const rows = policies.map((rp) => [
        rp.name,
        goDuration(rp.durationNs),
        goDuration(rp.shardGroupDurationNs),
        rp.replicaN,
        rp.isDefault,
      ]);
      const columns = ["name", "duration", "shardGroupDuration", "replicaN", "default"];
      // Size limits and the cold tier are EpochNexus's: their columns appear once a policy uses
      // them, so a database set up as in InfluxDB gets InfluxDB's exact answer.
      if (policies.some((rp) => (rp.maxBytes ?? 0) > 0 || (rp.coldAfterNs ?? 0n) > 0n)) {
        columns.push("maxBytes", "bytes", "coldAfter", "coldBytes");
        const sizes = await store.retentionSizes?.(db);
        policies.forEach((rp, i) =>
          rows[i].push(
            rp.maxBytes ?? 0,
            sizes ? (sizes.get(rp.name)?.bytes ?? 0) : rp.bytes ?? 0,
            goDuration(rp.coldAfterNs ?? 0n),
            sizes ? (sizes.get(rp.name)?.coldBytes ?? 0) : rp.coldBytes ?? 0,
          )
        );
      }
      return [listing("", columns, rows)];
    }
    case "show_measurements": {
      const db = stmt.database ?? options.database;
      if (db === undefined) throw new ValidationError("database name required");
      if (hasTimeTerm(stmt.condition, options.nowNs)) {
        throw new ValidationError("SHOW MEASUREMENTS doesn't support time in WHERE clause");
      }
      if (!store.databases().includes(db)) return [];
      const names = new Set<string>();
      const where = seriesCondition(stmt.condition);
      for (const reader of await allShards(store, db, options)) {
        for (const m of reader.measurements()) {
          if (names.has(m) || !measurementMatches(stmt.measurement, m)) continue;
          if (where && matchingSeries(reader, m, where).length === 0) continue;
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
    case "show_cardinality":
      return showCardinality(store, stmt, options);
    case "show_queries": {
      const rows = (options.registry?.list() ?? []).map((q) => [
        q.id,
        q.text,
        q.database,
        goDuration(BigInt(Math.max(0, Math.round(q.durationMs * 1e6)))),
        "running",
      ]);
      return [listing("", ["qid", "query", "database", "duration", "status"], rows)];
    }
    case "kill_query":
      if (typeof stmt.id !== "number" || !options.registry?.kill(stmt.id)) {
        throw new NotFoundError(`no such query id: ${stmt.id}`);
      }
      return [];
    case "create_retention_policy": {
      requireDatabase(store, stmt.database, true);
      if (!store.createRetentionPolicy) throw unsupported("CREATE RETENTION POLICY");
      await store.createRetentionPolicy(stmt.database, {
        name: stmt.name,
        durationNs: stmt.duration,
        shardGroupDurationNs: stmt.shardDuration ?? 0n,
        replicaN: stmt.replicaN,
        isDefault: stmt.isDefault,
        ...(stmt.maxBytes !== undefined && { maxBytes: stmt.maxBytes }),
        ...(stmt.coldAfter !== undefined && { coldAfterNs: stmt.coldAfter }),
      });
      return [];
    }
    case "alter_retention_policy": {
      requireDatabase(store, stmt.database, true);
      if (!store.alterRetentionPolicy) throw unsupported("ALTER RETENTION POLICY");
      const changes: Parameters<NonNullable<QueryStore["alterRetentionPolicy"]>>[2] = {};
      if (stmt.duration !== undefined) changes.durationNs = stmt.duration;
      if (stmt.shardDuration !== undefined) changes.shardGroupDurationNs = stmt.shardDuration;
      if (stmt.replicaN !== undefined) changes.replicaN = stmt.replicaN;
      if (stmt.maxBytes !== undefined) changes.maxBytes = stmt.maxBytes;
      if (stmt.coldAfter !== undefined) changes.coldAfterNs = stmt.coldAfter;
      if (stmt.isDefault) changes.isDefault = true;
      await store.alterRetentionPolicy(stmt.database, stmt.name, changes);
      return [];
    }
    case "drop_retention_policy":
      requireDatabase(store, stmt.database, true);
      if (!store.dropRetentionPolicy) throw unsupported("DROP RETENTION POLICY");
      await store.dropRetentionPolicy(stmt.database, stmt.name);
      return [];
    case "drop_measurement":
    case "drop_series":
    case "delete":
      await deleteData(store, stmt, options);
      return [];
    case "explain":
      return await explain(store, stmt.statement, stmt.analyze, options);
    case "create_continuous_query":
    case "show_continuous_queries":
    case "drop_continuous_query":
      return await executeContinuousQueryStatement(store, stmt, options.continuousQueries);
    case "create_user":
    case "drop_user":
    case "set_password":
    case "grant":
    case "grant_admin":
    case "revoke":
    case "revoke_admin":
    case "show_users":
    case "show_grants":
      return await executeUserStatement(stmt, options.users);
  }
}

async function executeUserStatement(
  stmt: UserStatement,
  users: UserAdmin | undefined,
): Promise<ResultSeries[]> {
  if (!users) throw new ValidationError("users are not supported by this server");
  switch (stmt.kind) {
    case "create_user":
      await users.createUser(stmt.name, stmt.password, stmt.admin);
      return [];
    case "drop_user":
      await users.dropUser(stmt.name);
      return [];
    case "set_password":
      await users.setPassword(stmt.name, stmt.password);
      return [];
    case "grant":
      await users.grant(stmt.name, stmt.database, stmt.privilege);
      return [];
    case "grant_admin":
      await users.setAdmin(stmt.name, true);
      return [];
    case "revoke":
      await users.revoke(stmt.name, stmt.database, stmt.privilege);
      return [];
    case "revoke_admin":
      await users.setAdmin(stmt.name, false);
      return [];
    case "show_users":
      return [
        listing("", ["user", "admin"], users.listUsers().map((u) => [u.name, u.admin])),
      ];
    case "show_grants":
      return [
        listing(
          "",
          ["database", "privilege"],
          users.grantsOf(stmt.name).map((g) => [g.database, g.privilege]),
        ),
      ];
  }
}

function unsupported(what: string): ValidationError {
  return new ValidationError(
    `${what} is not supported by this store (it keeps data in memory only); ` +
      "use a segment-storage data directory",
  );
}

async function deleteData(
  store: QueryStore,
  stmt: Extract<Statement, { kind: "drop_measurement" | "drop_series" | "delete" }>,
  options: ExecuteOptions,
): Promise<void> {
  const db = requireDatabase(store, options.database, true);
  const what = stmt.kind === "delete"
    ? "DELETE"
    : stmt.kind === "drop_series"
    ? "DROP SERIES"
    : "DROP MEASUREMENT";
  const request: DeleteRequest = {
    minNs: MIN_TIME_NS,
    maxNs: MAX_TIME_NS,
    dropSeries: stmt.kind !== "delete",
  };
  if (stmt.kind === "drop_measurement") {
    request.measurements = [stmt.name];
  } else {
    if (stmt.sources.some((s) => s.kind === "subquery")) {
      throw new ValidationError(`${what}: subqueries are not allowed in FROM`);
    }
    if (stmt.sources.length > 0) {
      const names = new Set<string>();
      for (const r of await allShards(store, db, options)) {
        for (const m of r.measurements()) if (sourceMatches(stmt.sources, m)) names.add(m);
      }
      request.measurements = [...names].sort();
    }
    if (stmt.condition) {
      const split = splitCondition(stmt.condition, options.nowNs);
      if (stmt.kind === "drop_series" && (split.hasMin || split.hasMax)) {
        throw new ValidationError("DROP SERIES doesn't support time in WHERE clause");
      }
      request.minNs = split.minNs;
      request.maxNs = split.maxNs;
      const cond = split.condition;
      if (cond) {
        if (hasFieldRef(cond)) {
          throw new ValidationError(
            `${what}: fields not supported in WHERE clause during deletion`,
          );
        }
        Object.assign(request, deleteFilters(cond));
      }
    }
  }
  if (!store.deleteSeries) throw unsupported(what);
  await store.deleteSeries(db, request);
}

/**
 * What a DELETE's tag condition gives a store: the condition itself (for a store that runs the
 * delete elsewhere, to rebuild the rest), a filter on each series' tags, and the tag terms an
 * index can narrow with.
 */
export function deleteFilters(
  cond: Expr,
): Pick<DeleteRequest, "condition" | "seriesFilter" | "tagFilter"> {
  return {
    condition: cond,
    seriesFilter: (_m, tags) => seriesMatches(tags, cond),
    tagFilter: tagFilterOf(cond, () => false),
  };
}

/** True when an expression names something other than tags (a quoted field cast). */
function hasFieldRef(e: Expr): boolean {
  return someExpr(e, (x) => x.kind === "var" && x.type === "field", () => false);
}

async function showCardinality(
  store: QueryStore,
  stmt: Extract<Statement, { kind: "show_cardinality" }>,
  options: ExecuteOptions,
): Promise<ResultSeries[]> {
  const db = requireDatabase(store, stmt.database ?? options.database, true);
  if (stmt.what !== "tag_values" && hasTimeTerm(stmt.condition, options.nowNs)) {
    const what = {
      series: "SERIES EXACT",
      measurement: "MEASUREMENT EXACT",
      tag_key: "TAG KEY EXACT",
      field_key: "FIELD KEY",
    }[stmt.what];
    throw new ValidationError(`SHOW ${what} CARDINALITY doesn't support time in WHERE clause`);
  }
  const shards = await allShards(store, db, options);
  const measurements = new Set<string>();
  for (const r of shards) {
    for (const m of r.measurements()) if (sourceMatches(stmt.sources, m)) measurements.add(m);
  }
  const sorted = [...measurements].sort();
  const where = seriesCondition(stmt.condition);
  if (stmt.what === "measurement") {
    let n = 0;
    for (const m of sorted) {
      if (!where || shards.some((r) => matchingSeries(r, m, where).length > 0)) n++;
    }
    return [listing("", [stmt.exact ? "count" : "cardinality estimation"], [[n]])];
  }
  if (stmt.what === "series" && !stmt.exact) {
    const keys = new Set<string>();
    for (const r of shards) {
      for (const m of sorted) for (const s of matchingSeries(r, m, where)) keys.add(s.key);
    }
    return [listing("", ["cardinality estimation"], [[keys.size]])];
  }
  const out: ResultSeries[] = [];
  for (const m of sorted) {
    let seen = new Set<string>();
    let count: number | undefined;
    if (stmt.what === "field_key") {
      for (const r of shards) for (const k of r.fieldTypes(m).keys()) seen.add(k);
    } else if (stmt.what === "tag_key") {
      seen = tagKeysOf(shards, m, where);
    } else if (stmt.what === "tag_values") {
      const key = stmt.key;
      const pairs = tagPairsOf(shards, m, where, (k) => key === undefined || tagKeyMatches(key, k));
      count = 0;
      for (const values of pairs.values()) count += values.size;
    } else {
      for (const r of shards) for (const s of matchingSeries(r, m, where)) seen.add(s.key);
    }
    count ??= seen.size;
    if (count > 0) out.push(listing(m, ["count"], [[count]]));
  }
  return out;
}

async function explain(
  store: QueryStore,
  stmt: SelectStatement,
  analyze: boolean,
  options: ExecuteOptions,
): Promise<ResultSeries[]> {
  const started = performance.now();
  const prepared = await prepareSelect(store, stmt, options);
  const { plan, targets, request } = prepared;
  let series = 0;
  for (const t of targets) for (const m of t.measurements) series += t.reader.series(m).length;
  const exprs = plan.slots.length > 0
    ? plan.slots.map((s) => `${s.fn.name}(${s.field}::${typeName(plan, s.field)})`)
    : plan.rawFields.map((f) => `${f}::${typeName(plan, f)}`);
  const rows: Value[][] = [
    ...exprs.map((e) => [`EXPRESSION: ${e}`]),
    [`NUMBER OF SHARDS: ${targets.length}`],
    [`NUMBER OF SERIES: ${series}`],
  ];
  if (analyze) {
    const budget = new QueryBudget(options.limits ?? {}, options.signal, {
      memory: options.memory,
      statement: () => printSelect(stmt),
      monotonicMs: options.monotonicMs,
    });
    const perShard: string[] = [];
    const partials = [];
    for (const [i, t] of targets.entries()) {
      const t0 = performance.now();
      const before = budget.points;
      partials.push(await runTarget(plan, request, t, budget));
      perShard.push(
        `shard ${i}: ${(performance.now() - t0).toFixed(3)}ms, ${
          budget.points - before
        } points read, measurements ${t.measurements.join(",")}`,
      );
    }
    const result = partials.length > 0
      ? await finish(plan, mergeShards(plan, partials), budget)
      : [];
    rows.push([`POINTS READ: ${budget.points}`]);
    rows.push([`BLOCKS FROM STATISTICS: ${budget.summaryBlocks}`]);
    rows.push([`SERIES READ: ${budget.series}`]);
    rows.push([`RESULT SERIES: ${result.length}`]);
    for (const line of perShard) rows.push([line]);
    rows.push([`EXECUTION TIME: ${(performance.now() - started).toFixed(3)}ms`]);
  }
  return [listing("", ["QUERY PLAN"], rows)];
}

function typeName(plan: SelectPlan, field: string): string {
  const t = plan.fieldTypes.get(field);
  return t === undefined ? "unknown" : FIELD_TYPE_NAMES[t];
}

/**
 * A SELECT or CREATE CONTINUOUS QUERY with every measurement named as db.rp.m (the request's
 * database), as InfluxDB prints it in warnings.
 */
function qualified(store: QueryStore, stmt: Statement, options: ExecuteOptions): Statement {
  if (stmt.kind !== "select" && stmt.kind !== "create_continuous_query") return stmt;
  const q = (m: Measurement): Measurement => {
    const database = m.database ?? options.database;
    if (database === undefined) return m;
    let rp = m.retentionPolicy ?? (m.database === undefined ? options.retentionPolicy : undefined);
    if (rp === undefined) {
      try {
        rp = store.defaultRetentionPolicy(database);
      } catch {
        return m;
      }
    }
    return { ...m, database, retentionPolicy: rp };
  };
  // Every measurement InfluxDB's walk reaches: subqueries' and a continuous query's too.
  const select = (s: SelectStatement): SelectStatement => {
    const out: SelectStatement = {
      ...s,
      sources: s.sources.map((src) =>
        src.kind === "measurement" ? q(src) : { ...src, statement: select(src.statement) }
      ),
    };
    if (s.into) out.into = q(s.into);
    return out;
  };
  return stmt.kind === "select" ? select(stmt) : { ...stmt, source: select(stmt.source) };
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

async function allShards(
  store: QueryStore,
  db: string,
  options: ExecuteOptions,
  minNs = MIN_TIME_NS,
  maxNs = MAX_TIME_NS,
): Promise<ShardReader[]> {
  const out: ShardReader[] = [];
  const how = { series: true, consistency: options.consistency };
  for (const rp of store.retentionPolicies(db)) {
    out.push(...await shardsOf(store, db, rp.name, minNs, maxNs, how));
  }
  return out;
}

/** True when a condition bounds time (a SHOW that cannot take it refuses it). */
function hasTimeTerm(cond: Expr | undefined, nowNs: bigint): boolean {
  const split = splitCondition(cond, nowNs);
  return split.hasMin || split.hasMax;
}

/** The shards of a policy in a range, from wherever the store keeps them. */
function shardsOf(
  store: QueryStore,
  db: string,
  rp: string,
  minNs: bigint,
  maxNs: bigint,
  options: ShardsOptions,
): Promise<ShardReader[]> | ShardReader[] {
  return store.shardsAsync !== undefined
    ? store.shardsAsync(db, rp, minNs, maxNs, options)
    : store.shards(db, rp, minNs, maxNs);
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

/** A SHOW / DELETE condition (names are all tags) and the tag filter an index can use. */
interface SeriesCondition {
  cond: Expr;
  filter: TagFilter | undefined;
}

function seriesCondition(cond: Expr | undefined): SeriesCondition | undefined {
  return cond === undefined ? undefined : { cond, filter: tagFilterOf(cond, () => false) };
}

/**
 * The series of `m` in a shard that satisfy the condition (all without one): the index narrows
 * them when the reader has one, and the condition is evaluated on what it returns.
 */
function matchingSeries(
  reader: ShardReader,
  m: string,
  where: SeriesCondition | undefined,
): readonly SeriesRef[] {
  if (where === undefined) return reader.series(m);
  const list = where.filter !== undefined && reader.seriesWhere !== undefined
    ? reader.seriesWhere(m, where.filter)
    : reader.series(m);
  return list.filter((s) => seriesMatches(s.tags, where.cond));
}

/** The tag keys of the series of `m` that satisfy the condition (without one: the index's). */
function tagKeysOf(
  shards: readonly ShardReader[],
  m: string,
  where: SeriesCondition | undefined,
): Set<string> {
  const keys = new Set<string>();
  for (const r of shards) {
    if (where === undefined && r.tagKeys !== undefined) {
      for (const k of r.tagKeys(m)) keys.add(k);
      continue;
    }
    for (const s of matchingSeries(r, m, where)) for (const t of s.tags) keys.add(t.key);
  }
  return keys;
}

/**
 * Tag key -> values of the series of `m` that satisfy the condition, for the keys `keyMatches`
 * accepts (without a condition: the index's values, no series walked). Not pairs joined by a
 * separator: a key or value may hold any character, NUL included.
 */
function tagPairsOf(
  shards: readonly ShardReader[],
  m: string,
  where: SeriesCondition | undefined,
  keyMatches: (key: string) => boolean,
): Map<string, Set<string>> {
  const pairs = new Map<string, Set<string>>();
  const valuesOf = (k: string) => {
    let values = pairs.get(k);
    if (values === undefined) pairs.set(k, values = new Set());
    return values;
  };
  for (const r of shards) {
    if (where === undefined && r.tagKeys !== undefined && r.tagValues !== undefined) {
      for (const k of r.tagKeys(m)) {
        if (!keyMatches(k)) continue;
        const values = valuesOf(k);
        for (const v of r.tagValues(m, k)) values.add(v);
      }
      continue;
    }
    for (const s of matchingSeries(r, m, where)) {
      for (const t of s.tags) if (keyMatches(t.key)) valuesOf(t.key).add(t.value);
    }
  }
  return pairs;
}

/** The `[key, value]` rows of {@linkcode tagPairsOf}'s answer, by key and then by value. */
function tagPairRows(pairs: Map<string, Set<string>>): Value[][] {
  const rows: Value[][] = [];
  for (const k of [...pairs.keys()].sort()) {
    for (const v of [...pairs.get(k)!].sort()) rows.push([k, v]);
  }
  return rows;
}

function seriesMatches(tags: readonly { key: string; value: string }[], cond: Expr): boolean {
  const tri = evalTagCondition(
    cond,
    (k) => tags.find((t) => t.key === k)?.value ?? "",
    () => false,
  );
  return tri !== false;
}

async function showSchema(
  store: QueryStore,
  stmt: Extract<
    Statement,
    { kind: "show_tag_keys" | "show_tag_values" | "show_field_keys" | "show_series" }
  >,
  options: ExecuteOptions,
): Promise<ResultSeries[]> {
  const db = requireDatabase(store, stmt.database ?? options.database, true);
  // A time range in WHERE is no tag condition. SHOW SERIES lists the series of the shard
  // groups it meets. SHOW TAG KEYS and TAG VALUES read InfluxDB 1.6's default index, which is
  // one per database: any shard group in the range answers with every series of the database,
  // none with nothing.
  const split = splitCondition("condition" in stmt ? stmt.condition : undefined, options.nowNs);
  const condition = split.condition;
  let shards = await allShards(store, db, options, split.minNs, split.maxNs);
  if (
    (stmt.kind === "show_tag_keys" || stmt.kind === "show_tag_values") &&
    (split.hasMin || split.hasMax) && shards.length > 0
  ) {
    shards = await allShards(store, db, options);
  }
  const measurements = new Set<string>();
  for (const r of shards) {
    for (const m of r.measurements()) if (sourceMatches(stmt.sources, m)) measurements.add(m);
  }
  const sorted = [...measurements].sort();
  const where = seriesCondition(condition);
  if (stmt.kind === "show_series") {
    const keys = new Set<string>();
    for (const r of shards) {
      for (const m of sorted) for (const s of matchingSeries(r, m, where)) keys.add(s.key);
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
    if (stmt.kind === "show_tag_keys") {
      const keys = tagKeysOf(shards, m, where);
      rows = page([...keys].sort().map((k) => [k]), stmt.limit, stmt.offset);
      if (rows.length > 0) out.push(listing(m, ["tagKey"], rows));
    } else {
      const key = stmt.key;
      const pairs = tagPairsOf(shards, m, where, (k) => tagKeyMatches(key, k));
      rows = page(tagPairRows(pairs), stmt.limit, stmt.offset);
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
    if (s.kind === "subquery") continue;
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
  if (stmt.into) return await selectInto(store, stmt, stmt.into, options);
  return (await runSelect(store, stmt, options)).series;
}

/**
 * SELECT ... INTO: the rows become points of the target measurement (GROUP BY tags stay tags;
 * every other column, selected tags included, becomes a field), written through the store;
 * the answer is InfluxDB's `result` series with the number of points written.
 */
async function selectInto(
  store: QueryStore,
  stmt: SelectStatement,
  into: Measurement,
  options: ExecuteOptions,
): Promise<ResultSeries[]> {
  const db = requireDatabase(store, into.database ?? options.database, true);
  if (!store.write) {
    throw new ValidationError("SELECT ... INTO is not supported by this store: it cannot write");
  }
  const { series, types } = await runSelect(store, { ...stmt, into: undefined }, options);
  const points: Point[] = [];
  for (const s of series) {
    const tags: Tag[] = Object.keys(s.tags ?? {}).sort().filter((k) => s.tags![k] !== "")
      .map((k) => ({ key: k, value: s.tags![k] }));
    for (const row of s.values) {
      const time = row[0] as { ms: number; subMs: number };
      const fields: PointField[] = [];
      for (let c = 1; c < s.columns.length; c++) {
        const v = row[c] as Value;
        if (v === null) continue;
        fields.push({ key: s.columns[c], type: fieldTypeOf(v, types[c - 1]), value: v });
      }
      if (fields.length === 0) continue;
      points.push({
        measurement: into.name ?? s.name,
        tags,
        fields,
        timeMs: time.ms,
        timeSubMs: time.subMs,
      });
    }
  }
  if (points.length > 0) {
    const outcome = await store.write(db, into.retentionPolicy, points);
    if (outcome.rejected.length > 0) {
      throw new ValidationError(
        `partial write: ${outcome.rejected[0].reason} dropped=${outcome.rejected.length}`,
      );
    }
  }
  return [{
    name: "result",
    columns: ["time", "written"],
    values: [[{ ms: 0, subMs: 0 }, points.length]],
    timeColumn: true,
  }];
}

/** The type a value is written with: its column's type when known (counts are integers). */
function fieldTypeOf(v: Value, known: FieldType | undefined): FieldType {
  if (typeof v === "string") return FieldType.String;
  if (typeof v === "boolean") return FieldType.Boolean;
  if (typeof v === "bigint") return FieldType.Integer;
  if (known === FieldType.Integer || known === FieldType.Unsigned) {
    return Number.isInteger(v) ? known : FieldType.Float;
  }
  return FieldType.Float;
}

/** Integer-valued functions; the others answer floats or their input's type. */
const INTEGER_FUNCTIONS = new Set(["count", "count_distinct", "elapsed"]);
const INPUT_TYPED_FUNCTIONS = new Set([
  "sum",
  "min",
  "max",
  "first",
  "last",
  "mode",
  "spread",
  "distinct",
  "top",
  "bottom",
  "sample",
  "percentile",
  "difference",
  "non_negative_difference",
  "cumulative_sum",
]);

/** The field type of each planned column's values, when it can be told (for SELECT INTO). */
function columnTypes(plan: SelectPlan): (FieldType | undefined)[] {
  return plan.columns.map((c) => {
    if (c.aux !== undefined) return plan.fieldTypes.get(plan.aux[c.aux].name);
    const e = c.expr;
    if (e.kind !== "var") return undefined;
    if (!e.name.startsWith(SLOT_PREFIX)) return plan.fieldTypes.get(e.name);
    const slot = plan.slots[Number(e.name.slice(1))];
    const fn = c.transform?.fn.name ?? slot.fn.name;
    if (INTEGER_FUNCTIONS.has(fn)) return FieldType.Integer;
    if (INPUT_TYPED_FUNCTIONS.has(fn)) {
      return slot.cast === "integer" ? FieldType.Integer : plan.fieldTypes.get(slot.field);
    }
    return FieldType.Float;
  });
}

/**
 * A SELECT as a stream of its rows when its plan streams (raw_stream.ts), else its series; an
 * empty answer is no series. The stream's end calls `options.onStreamEnd`.
 */
async function streamSelect(
  store: QueryStore,
  stmt: SelectStatement,
  options: ExecuteOptions,
): Promise<ResultSeries[] | SeriesStream> {
  const prepared = await prepareSelect(store, stmt, options);
  const { plan, targets } = prepared;
  if (targets.length === 0 || !streamable(plan, targets)) {
    return (await runSelect(store, stmt, options, prepared)).series;
  }
  const budget = new QueryBudget(options.limits ?? {}, options.signal, {
    memory: options.memory,
    statement: () => printSelect(stmt),
    monotonicMs: options.monotonicMs,
  });
  return await openRawStream(plan, targets, budget, options.onStreamEnd ?? (() => {})) ?? [];
}

/** Plans and runs a SELECT; also says what a subquery's reader needs to know of it. */
async function runSelect(
  store: QueryStore,
  stmt: SelectStatement,
  options: ExecuteOptions,
  prepared?: Awaited<ReturnType<typeof prepareSelect>>,
): Promise<SelectResult> {
  const { plan, targets, request, shardNs } = prepared ?? await prepareSelect(store, stmt, options);
  const types = columnTypes(plan);
  const tagColumns = selectedTagColumns(plan);
  if (targets.length === 0) return { series: [], types, tagColumns, plan, shardNs };
  const budget = new QueryBudget(options.limits ?? {}, options.signal, {
    memory: options.memory,
    statement: () => printSelect(stmt),
    monotonicMs: options.monotonicMs,
  });
  // Before reading anything; the answer's own bucket count is checked again in finish (a grid
  // without a lower bound starts at the data).
  if (plan.interval && plan.hasMin) {
    budget.checkBuckets(Number((plan.maxNs - plan.minNs) / plan.interval.ns) + 1);
  }
  const partials = await Promise.all(targets.map((t) => runTarget(plan, request, t, budget)));
  budget.checkSignal();
  const series = await finish(plan, mergeShards(plan, partials), budget);
  return { series, types, tagColumns, plan, shardNs };
}

/** Output columns of a plan that hold a tag's values (tags the statement selects). */
function selectedTagColumns(plan: SelectPlan): Set<string> {
  const out = new Set<string>();
  const isTag = (v: { name: string; type?: string }) =>
    v.type === "tag" || (v.type !== "field" && !plan.fieldTypes.has(v.name));
  for (const c of plan.columns) {
    if (c.aux !== undefined) {
      if (isTag(plan.aux[c.aux])) out.add(c.name);
    } else if (!plan.aggregate && c.expr.kind === "var" && !c.transform && isTag(c.expr)) {
      out.add(c.name);
    }
  }
  return out;
}

/** What runSelect answers, and what a subquery's reader needs to know of it. */
interface SelectResult {
  series: ResultSeries[];
  types: (FieldType | undefined)[];
  /** Output columns that hold a tag's values: `name::tag` reads them in an outer query. */
  tagColumns: Set<string>;
  plan: SelectPlan;
  /** The shard group duration of the statement's (first) policy, ns; 0 when unknown. */
  shardNs: bigint;
}

/**
 * A subquery runs in its outer query's time order (InfluxDB refuses an ORDER BY that differs),
 * and over the outer query's time range when it has none of its own.
 */
function withOuterTimeRange(inner: SelectStatement, outer: SelectStatement, nowNs: bigint) {
  if (inner.orderWritten && inner.descending !== outer.descending) {
    throw new ValidationError(
      "subqueries must be ordered in the same direction as the query itself",
    );
  }
  if (inner.descending !== outer.descending) inner = { ...inner, descending: outer.descending };
  const o = splitCondition(outer.condition, nowNs);
  const i = splitCondition(inner.condition, nowNs);
  if ((!o.hasMin && !o.hasMax) || i.hasMin || i.hasMax) return inner;
  let cond: Expr | undefined = inner.condition;
  const and = (a: Expr | undefined, b: Expr): Expr =>
    a === undefined ? b : { kind: "binary", op: "AND", lhs: { kind: "paren", expr: a }, rhs: b };
  const time: Expr = { kind: "var", name: "time" };
  if (o.hasMin) {
    cond = and(cond, { kind: "binary", op: ">=", lhs: time, rhs: { kind: "time", ns: o.minNs } });
  }
  if (o.hasMax) {
    cond = and(cond, { kind: "binary", op: "<=", lhs: time, rhs: { kind: "time", ns: o.maxNs } });
  }
  return { ...inner, condition: cond };
}

/**
 * The tags the outer query groups by, which InfluxDB 1.6 pushes down into each subquery
 * (query.newIteratorOptionsSubstatement: the inner GroupBy gets the outer dimensions): named
 * tags, and what GROUP BY * or /re/ expands to over the measurement sources and the subqueries'
 * own GROUP BY tags.
 */
function pushedDimensions(
  stmt: SelectStatement,
  schemas: ReadonlyMap<string, MeasurementSchema>,
): string[] {
  const keys = new Set<string>();
  for (const schema of schemas.values()) for (const k of schema.tagKeys) keys.add(k);
  for (const src of stmt.sources) {
    if (src.kind !== "subquery") continue;
    for (const d of src.statement.dimensions) if (d.kind === "tag") keys.add(d.name);
  }
  const out = new Set<string>();
  for (const d of expandOuterDimensions(stmt.dimensions, keys)) {
    if (d.kind === "tag") out.add(d.name);
  }
  return [...out];
}

/** The outer query's GROUP BY tag names (`*`: every tag), as a subquery sees them. */
function outerGroupTags(stmt: SelectStatement): string[] | "*" {
  if (stmt.dimensions.some((d) => d.kind === "wildcard")) return "*";
  return stmt.dimensions.flatMap((d) => (d.kind === "tag" ? [d.name] : []));
}

async function prepareSelect(
  store: QueryStore,
  stmt: SelectStatement,
  options: ExecuteOptions,
): Promise<{
  plan: SelectPlan;
  targets: { reader: ShardReader; measurements: string[] }[];
  request: PlanRequest;
  shardNs: bigint;
}> {
  const sources = resolveSources(store, stmt, options);
  const first = sources[0];
  const shardNs = first === undefined ? 0n : store.retentionPolicies(first.db)
    .find((p) => p.name === first.rp)?.shardGroupDurationNs ?? 0n;
  const split = splitCondition(stmt.condition, options.nowNs);
  const hasInterval = stmt.dimensions.some((d) => d.kind === "time");
  // A transformation may read one GROUP BY bucket beyond the range (plan.ts readPadding).
  const pad = readPadding(stmt);
  const maxNs = (hasInterval && !split.hasMax ? options.nowNs : split.maxNs) + pad.after;
  const minNs = split.hasMin ? split.minNs - pad.before : split.minNs;
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
    for (
      const reader of await shardsOf(store, db, rp, minNs, maxNs, {
        consistency: options.consistency,
      })
    ) {
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
        if (reader.tagKeys !== undefined) { for (const k of reader.tagKeys(m)) keys.add(k); }
        else for (const s of reader.series(m)) for (const t of s.tags) keys.add(t.key);
        schema.tagKeys = [...keys].sort();
      }
    }
  }
  const inners: SelectResult[] = [];
  const pushed = pushedDimensions(stmt, schemas);
  const time = stmt.dimensions.find((d) => d.kind === "time");
  for (const src of stmt.sources) {
    if (src.kind !== "subquery") continue;
    const inner = withOuterTimeRange(src.statement, stmt, options.nowNs);
    inners.push(await runSelect(store, pushDown(inner, stmt, pushed, time), options));
  }
  if (inners.length > 0) {
    const keys = new Set<string>();
    for (const schema of schemas.values()) for (const k of schema.tagKeys) keys.add(k);
    for (const inner of inners) for (const k of inner.plan.groupBy) keys.add(k);
    stmt = { ...stmt, dimensions: expandOuterDimensions(stmt.dimensions, keys) };
    const selectedTags = new Set(inners.flatMap((r) => [...r.tagColumns]));
    for (const k of keys) selectedTags.delete(k);
    stmt = readSelectedTagsAsFields(stmt, selectedTags);
  }
  for (const result of inners) {
    // The outer query keeps the order InfluxDB's inner query emits its rows in.
    const places = emitOrder(result.series, {
      shardNs: result.shardNs,
      descending: result.plan.descending,
      ties: result.plan.rawTies ?? [],
      interleave: !result.plan.aggregate,
      outerTags: outerGroupTags(stmt),
    });
    const reader = new ResultShard(result.series, places);
    const ms = reader.measurements();
    if (ms.length === 0) continue;
    targets.push({ reader, measurements: ms });
    for (const m of ms) {
      let schema = schemas.get(m);
      if (schema === undefined) schemas.set(m, schema = { fields: new Map(), tagKeys: [] });
      for (const [k, t] of reader.fieldTypes(m)) if (!schema.fields.has(k)) schema.fields.set(k, t);
      const keys = new Set(schema.tagKeys);
      for (const s of reader.series(m)) for (const t of s.tags) keys.add(t.key);
      schema.tagKeys = [...keys].sort();
    }
  }
  // Validate the statement even when no data exists, so errors do not depend on data.
  const request = { statement: stmt, schemas: [...schemas.values()], nowNs: options.nowNs };
  const plan = planSelect(stmt, request.schemas, options.nowNs);
  return { plan, targets, request, shardNs };
}

/** Runs a plan over one target: where its data is, when the reader can (a cluster's). */
function runTarget(
  plan: SelectPlan,
  request: PlanRequest,
  target: ShardTarget,
  budget: QueryBudget,
): Promise<ShardPartial> {
  if (target.reader.runPlan !== undefined) {
    return target.reader.runPlan(plan, request, target.measurements, budget);
  }
  const reader = target.reader;
  return runShard(plan, target, budget).then((partial) => {
    if (reader instanceof ResultShard) {
      partial.rowOrder = (row) => reader.rowOrder(row.key, row.ms, row.subMs);
      partial.fromSubquery = true;
    }
    return partial;
  });
}

/**
 * Replaces bind parameters with literals; a statement without any is returned as it is (the
 * statement cache's frozen tree, shared).
 * @throws {ValidationError} for a missing one.
 */
export function bindParams(stmt: Statement, params: Record<string, unknown>): Statement {
  if (stmt.kind !== "select" || WITHOUT_PARAMS.has(stmt)) return stmt;
  const bind = (e: Expr): Expr => {
    switch (e.kind) {
      case "param":
        return literalOf(e.name, params);
      case "binary":
        return mapChain(e, bind);
      case "paren": {
        const expr = bind(e.expr);
        return expr === e.expr ? e : { ...e, expr };
      }
      case "call": {
        const args = e.args.map(bind);
        return args.every((a, i) => a === e.args[i]) ? e : { ...e, args };
      }
      default:
        return e;
    }
  };
  const fields = stmt.fields.map((f) => {
    const expr = bind(f.expr);
    return expr === f.expr ? f : { ...f, expr };
  });
  const condition = stmt.condition && bind(stmt.condition);
  if (condition === stmt.condition && fields.every((f, i) => f === stmt.fields[i])) {
    if (Object.isFrozen(stmt)) WITHOUT_PARAMS.add(stmt);
    return stmt;
  }
  const out: SelectStatement = { ...stmt, fields };
  if (stmt.condition) out.condition = condition;
  return out;
}

/** Frozen (cached) SELECTs found to hold no parameter: binding is a walk of the tree, twice per query. */
const WITHOUT_PARAMS = new WeakSet<Statement>();

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
