/**
 * CREATE, SHOW and DROP CONTINUOUS QUERY as the executor runs them. The definitions live with
 * whoever runs them on schedule (`src/jobs`), reached through {@linkcode ContinuousQueryAdmin}.
 * As InfluxDB does, a new query's measurements (FROM and INTO) are qualified with their
 * database and retention policy before it is stored, so SHOW CONTINUOUS QUERIES prints
 * `INTO db.rp.m FROM db.rp.src` and a later change of default policy does not move it.
 * A server that runs no jobs keeps none: SHOW lists each database with no queries, DROP of a
 * missing one succeeds (both InfluxDB's answers when there are none), CREATE is refused.
 * @module
 */
import { NotFoundError, ValidationError } from "../core/errors.ts";
import { NotSupportedError } from "./admin_statements.ts";
import type {
  CreateContinuousQueryStatement,
  DropContinuousQueryStatement,
  Measurement,
  SelectStatement,
  ShowContinuousQueriesStatement,
  Source,
} from "./ast.ts";
import { printStatement } from "./print.ts";
import type { ResultSeries } from "./result.ts";
import type { QueryStore } from "./store.ts";

/** The continuous queries as the executor sees them. */
export interface ContinuousQueryAdmin {
  /**
   * Stores a continuous query; `query` is the CREATE statement as SHOW prints it.
   * @throws {ValidationError} for one the schedule cannot run, or a name taken by another.
   */
  createContinuousQuery(spec: {
    name: string;
    database: string;
    select: SelectStatement;
    everyNs?: bigint;
    forNs?: bigint;
    query: string;
  }): Promise<void>;
  /** Drops one; dropping one that does not exist is no error (InfluxDB's rule). */
  dropContinuousQuery(database: string, name: string): Promise<void>;
  /** Every database with its queries, databases in creation order (as InfluxDB lists them). */
  continuousQueries(): { database: string; queries: { name: string; query: string }[] }[];
}

type CqStatement =
  | CreateContinuousQueryStatement
  | ShowContinuousQueriesStatement
  | DropContinuousQueryStatement;

/** Runs one continuous query statement. */
export async function executeContinuousQueryStatement(
  store: QueryStore,
  stmt: CqStatement,
  admin: ContinuousQueryAdmin | undefined,
): Promise<ResultSeries[]> {
  if (!admin) return withoutRunner(store, stmt);
  switch (stmt.kind) {
    case "create_continuous_query": {
      if (!store.databases().includes(stmt.database)) {
        throw new NotFoundError(`database not found: ${stmt.database}`);
      }
      const source = qualified(store, stmt.source, stmt.database, 0);
      // RESAMPLE EVERY 0s / FOR 0s mean the default, as in InfluxDB (which prints neither).
      const every = stmt.every ? stmt.every : undefined;
      const forNs = stmt.for ? stmt.for : undefined;
      const stored: CreateContinuousQueryStatement = {
        kind: stmt.kind,
        name: stmt.name,
        database: stmt.database,
        source,
        ...(every !== undefined && { every }),
        ...(forNs !== undefined && { for: forNs }),
      };
      await admin.createContinuousQuery({
        name: stmt.name,
        database: stmt.database,
        select: source,
        everyNs: every,
        forNs,
        query: printStatement(stored),
      });
      return [];
    }
    case "drop_continuous_query":
      await admin.dropContinuousQuery(stmt.database, stmt.name);
      return [];
    case "show_continuous_queries":
      return admin.continuousQueries().map(({ database, queries }) => ({
        name: database,
        columns: ["name", "query"],
        values: queries.map((q) => [q.name, q.query]),
        timeColumn: false,
      }));
  }
}

/** The answers of a server that runs no continuous queries (so keeps none). */
function withoutRunner(store: QueryStore, stmt: CqStatement): ResultSeries[] {
  switch (stmt.kind) {
    case "show_continuous_queries":
      return store.databases().map((name) => ({
        name,
        columns: ["name", "query"],
        values: [],
        timeColumn: false,
      }));
    case "create_continuous_query":
      if (!store.databases().includes(stmt.database)) {
        throw new NotFoundError(`database not found: ${stmt.database}`);
      }
      throw new NotSupportedError(
        "CREATE CONTINUOUS QUERY (this server runs no jobs)",
        "the `serve` command runs them; or run the SELECT ... INTO on a schedule of your own",
      );
    case "drop_continuous_query":
      // None exists here, and InfluxDB drops a missing one without an error.
      return [];
  }
}

/** The SELECT with every measurement's database and retention policy filled in and checked. */
function qualified(
  store: QueryStore,
  select: SelectStatement,
  database: string,
  depth: number,
): SelectStatement {
  if (depth > 64) throw new ValidationError("continuous query: subqueries nest too deep");
  const sources = select.sources.map((s): Source =>
    s.kind === "subquery"
      ? { kind: "subquery", statement: qualified(store, s.statement, database, depth + 1) }
      : qualifiedMeasurement(store, s, database)
  );
  const into = select.into && qualifiedMeasurement(store, select.into, database);
  return { ...select, sources, ...(into ? { into } : {}) };
}

function qualifiedMeasurement(store: QueryStore, m: Measurement, database: string): Measurement {
  const db = m.database ?? database;
  if (!store.databases().includes(db)) throw new NotFoundError(`database not found: ${db}`);
  const rp = m.retentionPolicy ?? store.defaultRetentionPolicy(db);
  if (!store.retentionPolicies(db).some((p) => p.name === rp)) {
    throw new NotFoundError(`retention policy not found: ${db}.${rp}`);
  }
  return { ...m, database: db, retentionPolicy: rp };
}
