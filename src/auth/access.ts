/**
 * Which privilege each InfluxQL statement needs: one row per statement kind (the mapped type
 * makes a new kind without a row a type error). InfluxDB 1.x's rules, stricter where the issue
 * asks: DELETE and DROP SERIES need ALL on the database (InfluxDB: WRITE).
 *
 * | statements | need |
 * |---|---|
 * | SELECT, EXPLAIN, SHOW (data) | READ on each database read |
 * | SELECT ... INTO | also WRITE on the target database |
 * | DELETE, DROP SERIES | ALL on the database |
 * | CREATE/DROP CONTINUOUS QUERY | WRITE on its database (SHOW CONTINUOUS QUERIES: READ) |
 * | databases, retention policies, DROP MEASUREMENT, KILL QUERY, users | admin |
 * | shards, stats, diagnostics, subscriptions | admin |
 * | SHOW DATABASES, SHOW QUERIES | any user (SHOW DATABASES lists what it may read) |
 * @module
 */
import { Privilege, type PrivilegeBits } from "../cluster/mod.ts";
import { printStatement, type SelectStatement, type Source, type Statement } from "../query/mod.ts";
import { holds, type Principal } from "./principal.ts";

/** One thing a statement needs. */
export type Requirement = { admin: true } | { database: string; privilege: PrivilegeBits };

type Rule<K extends Statement["kind"]> = (
  s: Extract<Statement, { kind: K }>,
  database: string,
) => Requirement[];

const ADMIN: Requirement[] = [{ admin: true }];
const admin = () => ADMIN;
const read = (database: string): Requirement[] => [{ database, privilege: Privilege.read }];
const readOn = (s: { database?: string }, db: string) => read(s.database ?? db);

/** What each statement kind needs. */
export const STATEMENT_ACCESS: { [K in Statement["kind"]]: Rule<K> } = {
  select: (s, db) => selectNeeds(s, db),
  explain: (s, db) => selectNeeds(s.statement, db),
  show_databases: () => [],
  show_queries: () => [],
  show_measurements: readOn,
  show_tag_keys: readOn,
  show_tag_values: readOn,
  show_field_keys: readOn,
  show_series: readOn,
  show_cardinality: readOn,
  show_retention_policies: readOn,
  create_database: admin,
  drop_database: admin,
  create_retention_policy: admin,
  alter_retention_policy: admin,
  drop_retention_policy: admin,
  drop_measurement: admin,
  kill_query: admin,
  drop_series: (_s, db) => [{ database: db, privilege: Privilege.all }],
  delete: (_s, db) => [{ database: db, privilege: Privilege.all }],
  create_user: admin,
  drop_user: admin,
  set_password: admin,
  grant: admin,
  grant_admin: admin,
  revoke: admin,
  revoke_admin: admin,
  show_users: admin,
  show_grants: admin,
  // As InfluxDB 1.6's RequiredPrivileges for them.
  create_continuous_query: (s) => [{ database: s.database, privilege: Privilege.write }],
  drop_continuous_query: (s) => [{ database: s.database, privilege: Privilege.write }],
  show_continuous_queries: (_s, db) => read(db),
  show_shards: admin,
  show_shard_groups: admin,
  show_stats: admin,
  show_diagnostics: admin,
  show_subscriptions: admin,
  create_subscription: admin,
  drop_subscription: admin,
  drop_shard: admin,
};

/** What a statement needs (`database` is the request's `db`, "" when none). */
export function requirementsOf(stmt: Statement, database: string): Requirement[] {
  return (STATEMENT_ACCESS[stmt.kind] as Rule<Statement["kind"]>)(stmt, database);
}

/**
 * Checks every statement before any runs (as InfluxDB): undefined when allowed, else InfluxDB's
 * text, e.g. `r not authorized to execute statement 'DROP DATABASE d', requires admin privilege`.
 */
export function authorizeStatements(
  principal: Principal,
  statements: readonly Statement[],
  database: string,
): string | undefined {
  if (principal.isAdmin()) return undefined;
  for (const stmt of statements) {
    for (const need of requirementsOf(stmt, database)) {
      if ("admin" in need) return denial(principal, stmt, "admin privilege");
      if (!holds(principal, need.database, need.privilege)) {
        return denial(principal, stmt, `${PRIVILEGE_NAMES[need.privilege]} on ${need.database}`);
      }
    }
  }
  return undefined;
}

/** True when the statement needs admin or ALL (the audit log records these). */
export function isPrivileged(stmt: Statement, database: string): boolean {
  return requirementsOf(stmt, database).some((n) => "admin" in n || n.privilege === Privilege.all);
}

const PRIVILEGE_NAMES = ["NO PRIVILEGES", "READ", "WRITE", "ALL PRIVILEGES"];

function denial(p: Principal, stmt: Statement, needs: string): string {
  return `${p.name} not authorized to execute statement '${
    printStatement(stmt)
  }', requires ${needs}`;
}

function selectNeeds(s: SelectStatement, db: string): Requirement[] {
  const out: Requirement[] = [];
  const walk = (sources: readonly Source[], depth: number) => {
    for (const src of sources) {
      if (src.kind === "subquery") {
        if (depth < 64) walk(src.statement.sources, depth + 1);
      } else out.push(...read(src.database ?? db));
    }
  };
  walk(s.sources, 0);
  if (s.into) out.push({ database: s.into.database ?? db, privilege: Privilege.write });
  return out;
}
