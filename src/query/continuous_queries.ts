/**
 * CREATE, SHOW and DROP CONTINUOUS QUERY as the executor runs them. The definitions live with
 * whoever runs them on schedule (`src/jobs`), reached through {@linkcode ContinuousQueryAdmin}.
 * As InfluxDB does, a new query's measurements (FROM and INTO) are qualified with their
 * database and retention policy before it is stored, so SHOW CONTINUOUS QUERIES prints
 * `INTO db.rp.m FROM db.rp.src` and a later change of default policy does not move it.
 * @module
 */
import { NotFoundError, ValidationError } from "../core/errors.ts";
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
  /** Every database with its queries, databases in name order. */
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
  if (!admin) throw new ValidationError("continuous queries are not supported by this server");
  switch (stmt.kind) {
    case "create_continuous_query": {
      if (!store.databases().includes(stmt.database)) {
        throw new NotFoundError(`database not found: ${stmt.database}`);
      }
      const select = qualified(store, stmt.select, stmt.database, 0);
      await admin.createContinuousQuery({
        name: stmt.name,
        database: stmt.database,
        select,
        everyNs: stmt.everyNs,
        forNs: stmt.forNs,
        query: printStatement({ ...stmt, select }),
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
