/**
 * The InfluxQL abstract syntax tree, and the one-line constructors the generated parser's
 * actions call (grammar/influxql.peggy). Nodes are plain data (`kind` tags), so they compare
 * with deep equality in tests and travel between rooms unchanged.
 *
 * Literals keep their lexical type: `1` is an integer literal, `1.0` a number literal, `10m` a
 * duration literal (nanoseconds as bigint). Bind parameters (`$name`) stay in the tree; the
 * executor substitutes them before planning.
 *
 * @module
 */

/** Binary operators, in InfluxQL spelling. */
export type BinaryOp =
  | "+"
  | "-"
  | "*"
  | "/"
  | "%"
  | "&"
  | "|"
  | "^"
  | "AND"
  | "OR"
  | "="
  | "!="
  | "<>"
  | "<"
  | "<="
  | ">"
  | ">="
  | "=~"
  | "!~";

/** The `::type` cast of a variable reference. */
export type VarType = "float" | "integer" | "unsigned" | "string" | "boolean" | "field" | "tag";

/** A field or tag name, optionally cast: `usage`, `"host"::tag`. */
export interface VarRef {
  kind: "var";
  name: string;
  type?: VarType;
}
/** A function call: `mean(usage)`, `percentile(usage, 95)`, `now()`. */
export interface Call {
  kind: "call";
  name: string;
  args: Expr[];
}
/** `lhs op rhs`. */
export interface BinaryExpr {
  kind: "binary";
  op: BinaryOp;
  lhs: Expr;
  rhs: Expr;
}
/** Parentheses kept so printing round-trips. */
export interface ParenExpr {
  kind: "paren";
  expr: Expr;
}
/** An integer literal; number when safe, bigint beyond. */
export interface IntegerLiteral {
  kind: "integer";
  value: number | bigint;
}
/** A float literal (`1.5`, `1.0`). */
export interface NumberLiteral {
  kind: "number";
  value: number;
}
/** A single-quoted string. */
export interface StringLiteral {
  kind: "string";
  value: string;
}
/** `true` / `false`. */
export interface BooleanLiteral {
  kind: "boolean";
  value: boolean;
}
/** A duration (`1h30m`), in nanoseconds. */
export interface DurationLiteral {
  kind: "duration";
  ns: bigint;
}
/** A regular expression literal `/.../` (Go RE2 syntax). */
export interface RegexLiteral {
  kind: "regex";
  pattern: string;
}
/** A bind parameter `$name`. */
export interface BindParam {
  kind: "param";
  name: string;
}
/** `*` (optionally `*::field` / `*::tag`). */
export interface Wildcard {
  kind: "wildcard";
  type?: "field" | "tag";
}
/** A time instant resolved by the planner (not produced by the parser). */
export interface TimeLiteral {
  kind: "time";
  ns: bigint;
}
/** Literal `null` is not InfluxQL; absent values are represented by `undefined` at run time. */
export type Literal =
  | IntegerLiteral
  | NumberLiteral
  | StringLiteral
  | BooleanLiteral
  | DurationLiteral
  | RegexLiteral
  | TimeLiteral;

/** Any expression. */
export type Expr = VarRef | Call | BinaryExpr | ParenExpr | BindParam | Wildcard | Literal;

/** One output column of a SELECT: an expression and its optional alias. */
export interface Field {
  expr: Expr;
  alias?: string;
}

/** A measurement source: `cpu`, `"my db"."rp".cpu`, `/cpu.*‍/`. */
export interface Measurement {
  kind: "measurement";
  database?: string;
  retentionPolicy?: string;
  name?: string;
  regex?: string;
}
/** A subquery source `(SELECT ...)`. */
export interface SubQuery {
  kind: "subquery";
  statement: SelectStatement;
}
/** A FROM source. */
export type Source = Measurement | SubQuery;

/** GROUP BY time(interval[, offset]). */
export interface TimeDimension {
  kind: "time";
  /** The width; for calendar intervals, an average (30 d a month) used only for estimates. */
  intervalNs: bigint;
  /**
   * EpochNexus extension: calendar buckets of this many months (`1mo`, `3mo`, `1y` = 12),
   * following the tz() wall calendar. Absent for InfluxQL's fixed durations.
   */
  months?: number;
  /** Offset as written: a duration (possibly negative) or `now()`. */
  offset?: Expr;
}
/** GROUP BY tag. */
export interface TagDimension {
  kind: "tag";
  name: string;
}
/** GROUP BY *. */
export interface WildcardDimension {
  kind: "wildcard";
}
/** GROUP BY /regex/. */
export interface RegexDimension {
  kind: "regex";
  pattern: string;
}
/** One GROUP BY item. */
export type Dimension = TimeDimension | TagDimension | WildcardDimension | RegexDimension;

/** fill(...) options. */
export type Fill =
  | { mode: "null" }
  | { mode: "none" }
  | { mode: "previous" }
  | { mode: "linear" }
  | { mode: "value"; value: number | bigint };

/** SELECT ... */
export interface SelectStatement {
  kind: "select";
  fields: Field[];
  into?: Measurement;
  sources: Source[];
  condition?: Expr;
  dimensions: Dimension[];
  fill?: Fill;
  /** ORDER BY time DESC. */
  descending: boolean;
  /** True when ORDER BY was written (for printing); ascending is the default. */
  orderWritten?: boolean;
  limit?: number;
  offset?: number;
  slimit?: number;
  soffset?: number;
  timezone?: string;
}

/** WITH KEY ... of SHOW TAG VALUES. */
export type TagKeyFilter =
  | { op: "=" | "!="; key: string }
  | { op: "=~" | "!~"; pattern: string }
  | { op: "IN"; keys: string[] };

/** WITH MEASUREMENT ... of SHOW MEASUREMENTS. */
export type MeasurementFilter = { op: "="; name: string } | { op: "=~"; pattern: string };

/** SHOW DATABASES */
export interface ShowDatabasesStatement {
  kind: "show_databases";
}
/** SHOW MEASUREMENTS [ON db] [WITH MEASUREMENT ...] [WHERE ...] [LIMIT] [OFFSET] */
export interface ShowMeasurementsStatement {
  kind: "show_measurements";
  database?: string;
  measurement?: MeasurementFilter;
  condition?: Expr;
  limit?: number;
  offset?: number;
}
/** SHOW TAG KEYS [ON db] [FROM ...] [WHERE ...] [LIMIT] [OFFSET] */
export interface ShowTagKeysStatement {
  kind: "show_tag_keys";
  database?: string;
  sources: Source[];
  condition?: Expr;
  limit?: number;
  offset?: number;
}
/** SHOW TAG VALUES [ON db] [FROM ...] WITH KEY ... [WHERE ...] [LIMIT] [OFFSET] */
export interface ShowTagValuesStatement {
  kind: "show_tag_values";
  database?: string;
  sources: Source[];
  key: TagKeyFilter;
  condition?: Expr;
  limit?: number;
  offset?: number;
}
/** SHOW FIELD KEYS [ON db] [FROM ...] [LIMIT] [OFFSET] */
export interface ShowFieldKeysStatement {
  kind: "show_field_keys";
  database?: string;
  sources: Source[];
  limit?: number;
  offset?: number;
}
/** SHOW SERIES [ON db] [FROM ...] [WHERE ...] [LIMIT] [OFFSET] */
export interface ShowSeriesStatement {
  kind: "show_series";
  database?: string;
  sources: Source[];
  condition?: Expr;
  limit?: number;
  offset?: number;
}
/** SHOW RETENTION POLICIES [ON db] */
export interface ShowRetentionPoliciesStatement {
  kind: "show_retention_policies";
  database?: string;
}
/** CREATE DATABASE name */
export interface CreateDatabaseStatement {
  kind: "create_database";
  name: string;
}
/** DROP DATABASE name */
export interface DropDatabaseStatement {
  kind: "drop_database";
  name: string;
}

/** SHOW ... [EXACT] CARDINALITY */
export interface ShowCardinalityStatement {
  kind: "show_cardinality";
  what: "series" | "measurement" | "tag_key" | "tag_values" | "field_key";
  exact: boolean;
  database?: string;
  sources: Source[];
  key?: TagKeyFilter;
  condition?: Expr;
  limit?: number;
  offset?: number;
}
/** SHOW QUERIES */
export interface ShowQueriesStatement {
  kind: "show_queries";
}
/** KILL QUERY id [ON host] */
export interface KillQueryStatement {
  kind: "kill_query";
  id: number;
  host?: string;
}
/** DROP MEASUREMENT name */
export interface DropMeasurementStatement {
  kind: "drop_measurement";
  name: string;
}
/** DROP SERIES [FROM ...] [WHERE ...] */
export interface DropSeriesStatement {
  kind: "drop_series";
  sources: Source[];
  condition?: Expr;
}
/** DELETE [FROM ...] [WHERE ...] */
export interface DeleteStatement {
  kind: "delete";
  sources: Source[];
  condition?: Expr;
}
/** CREATE RETENTION POLICY name ON db DURATION d REPLICATION n [SHARD DURATION d] [DEFAULT] */
export interface CreateRetentionPolicyStatement {
  kind: "create_retention_policy";
  name: string;
  database: string;
  /** ns; 0 = INF. */
  duration: bigint;
  replicaN: number;
  shardDuration?: bigint;
  /** MAX_BYTES (an EpochNexus extension); 0 = no limit. */
  maxBytes?: number;
  /** COLD_AFTER in ns (an EpochNexus extension); 0 = INF, never. */
  coldAfter?: bigint;
  isDefault: boolean;
}
/** ALTER RETENTION POLICY name ON db [DURATION d] [REPLICATION n] [SHARD DURATION d] [DEFAULT] */
export interface AlterRetentionPolicyStatement {
  kind: "alter_retention_policy";
  name: string;
  database: string;
  duration?: bigint;
  replicaN?: number;
  shardDuration?: bigint;
  maxBytes?: number;
  coldAfter?: bigint;
  isDefault?: boolean;
}
/** DROP RETENTION POLICY name ON db */
export interface DropRetentionPolicyStatement {
  kind: "drop_retention_policy";
  name: string;
  database: string;
}
/** EXPLAIN [ANALYZE] SELECT ... */
export interface ExplainStatement {
  kind: "explain";
  analyze: boolean;
  statement: SelectStatement;
}

// ---- users and privileges (InfluxDB 1.x) -----------------------------------------------------

/** READ, WRITE or ALL [PRIVILEGES] on a database. */
export type PrivilegeName = "READ" | "WRITE" | "ALL";

/** CREATE USER name WITH PASSWORD 'pw' [WITH ALL PRIVILEGES] */
export interface CreateUserStatement {
  kind: "create_user";
  name: string;
  password: string;
  admin: boolean;
}
/** DROP USER name */
export interface DropUserStatement {
  kind: "drop_user";
  name: string;
}
/** SET PASSWORD FOR name = 'pw' */
export interface SetPasswordStatement {
  kind: "set_password";
  name: string;
  password: string;
}
/** GRANT READ|WRITE|ALL ON db TO name */
export interface GrantStatement {
  kind: "grant";
  privilege: PrivilegeName;
  database: string;
  name: string;
}
/** GRANT ALL [PRIVILEGES] TO name (makes an admin) */
export interface GrantAdminStatement {
  kind: "grant_admin";
  name: string;
}
/** REVOKE READ|WRITE|ALL ON db FROM name */
export interface RevokeStatement {
  kind: "revoke";
  privilege: PrivilegeName;
  database: string;
  name: string;
}
/** REVOKE ALL [PRIVILEGES] FROM name */
export interface RevokeAdminStatement {
  kind: "revoke_admin";
  name: string;
}
/** SHOW USERS */
export interface ShowUsersStatement {
  kind: "show_users";
}
/** SHOW GRANTS FOR name */
export interface ShowGrantsStatement {
  kind: "show_grants";
  name: string;
}

/**
 * CREATE CONTINUOUS QUERY name ON db [RESAMPLE [EVERY d] [FOR d]] BEGIN select END
 * (`everyNs`/`forNs` absent when not given).
 */
export interface CreateContinuousQueryStatement {
  kind: "create_continuous_query";
  name: string;
  database: string;
  everyNs?: bigint;
  forNs?: bigint;
  select: SelectStatement;
}
/** SHOW CONTINUOUS QUERIES */
export interface ShowContinuousQueriesStatement {
  kind: "show_continuous_queries";
}
/** DROP CONTINUOUS QUERY name ON db */
export interface DropContinuousQueryStatement {
  kind: "drop_continuous_query";
  name: string;
  database: string;
}

/** The user and privilege statements. */
export type UserStatement =
  | CreateUserStatement
  | DropUserStatement
  | SetPasswordStatement
  | GrantStatement
  | GrantAdminStatement
  | RevokeStatement
  | RevokeAdminStatement
  | ShowUsersStatement
  | ShowGrantsStatement;

/** Any statement. */
export type Statement =
  | ShowCardinalityStatement
  | ShowQueriesStatement
  | KillQueryStatement
  | DropMeasurementStatement
  | DropSeriesStatement
  | DeleteStatement
  | CreateRetentionPolicyStatement
  | AlterRetentionPolicyStatement
  | DropRetentionPolicyStatement
  | ExplainStatement
  | SelectStatement
  | ShowDatabasesStatement
  | ShowMeasurementsStatement
  | ShowTagKeysStatement
  | ShowTagValuesStatement
  | ShowFieldKeysStatement
  | ShowSeriesStatement
  | ShowRetentionPoliciesStatement
  | CreateDatabaseStatement
  | DropDatabaseStatement
  | CreateContinuousQueryStatement
  | ShowContinuousQueriesStatement
  | DropContinuousQueryStatement
  | UserStatement;

/** Statements that change data or the catalog (refused on read-only requests). */
export function isWriteStatement(s: Statement): boolean {
  switch (s.kind) {
    case "create_database":
    case "drop_database":
    case "create_retention_policy":
    case "alter_retention_policy":
    case "drop_retention_policy":
    case "drop_series":
    case "drop_measurement":
    case "delete":
    case "kill_query":
    case "create_user":
    case "drop_user":
    case "set_password":
    case "grant":
    case "grant_admin":
    case "revoke":
    case "revoke_admin":
    case "create_continuous_query":
    case "drop_continuous_query":
      return true;
    case "select":
      return s.into !== undefined;
    default:
      return false;
  }
}

// ---- constructors called by the grammar's actions -------------------------------------------

/** A variable reference. */
export function varRef(name: string, type?: VarType): VarRef {
  return type === undefined ? { kind: "var", name } : { kind: "var", name, type };
}
/** A call; function names are case-insensitive and kept lower case. */
export function call(name: string, args: Expr[]): Call {
  return { kind: "call", name: name.toLowerCase(), args };
}
/** A left-associative chain of binary operations: `first (op rhs)*`. */
export function binaryChain(first: Expr, rest: [string, Expr][]): Expr {
  let e = first;
  for (const [op, rhs] of rest) e = { kind: "binary", op: normalizeOp(op), lhs: e, rhs };
  return e;
}
/** A binary expression. */
export function binary(op: string, lhs: Expr, rhs: Expr): BinaryExpr {
  return { kind: "binary", op: normalizeOp(op), lhs, rhs };
}
function normalizeOp(op: string): BinaryOp {
  const up = op.toUpperCase();
  return (up === "AND" || up === "OR" ? up : op) as BinaryOp;
}
/** `( expr )`. */
export function paren(expr: Expr): ParenExpr {
  return { kind: "paren", expr };
}
/** Unary minus: negative literals fold; anything else becomes `-1 * expr` as InfluxQL does. */
export function negate(expr: Expr): Expr {
  if (expr.kind === "integer") {
    return integerFromBig(-BigInt(expr.value));
  }
  if (expr.kind === "number") return { kind: "number", value: -expr.value };
  if (expr.kind === "duration") return { kind: "duration", ns: -expr.ns };
  return { kind: "binary", op: "*", lhs: { kind: "integer", value: -1 }, rhs: expr };
}
/** An integer literal from its digits. */
export function integer(text: string): IntegerLiteral {
  return integerFromBig(BigInt(text));
}
function integerFromBig(v: bigint): IntegerLiteral {
  const safe = v >= -9007199254740991n && v <= 9007199254740991n;
  return { kind: "integer", value: safe ? Number(v) : v };
}
/** A float literal from its text. */
export function number(text: string): NumberLiteral {
  return { kind: "number", value: Number(text) };
}
/** A string literal from its already unescaped value. */
export function string(value: string): StringLiteral {
  return { kind: "string", value };
}
/** A boolean literal. */
export function boolean(text: string): BooleanLiteral {
  return { kind: "boolean", value: text.toLowerCase() === "true" };
}
/** Nanoseconds per duration unit, as InfluxQL spells them. */
export const DURATION_UNITS_NS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  u: 1_000n,
  "µ": 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
  d: 86_400_000_000_000n,
  w: 604_800_000_000_000n,
};
/** A duration literal from `[digits, unit]` parts (`1h30m` is two parts). */
export function duration(parts: [string, string][]): DurationLiteral {
  let ns = 0n;
  for (const [digits, unit] of parts) ns += BigInt(digits) * DURATION_UNITS_NS[unit];
  return { kind: "duration", ns };
}
/** A regex literal from its body (`\/` already unescaped). */
export function regex(pattern: string): RegexLiteral {
  return { kind: "regex", pattern };
}
/** A bind parameter. */
export function param(name: string): BindParam {
  return { kind: "param", name };
}
/** `*` or `*::field` / `*::tag`. */
export function wildcard(type?: string): Wildcard {
  return type === undefined ? { kind: "wildcard" } : {
    kind: "wildcard",
    type: type.toLowerCase() as "field" | "tag",
  };
}
/** A SELECT field. */
export function field(expr: Expr, alias?: string | null): Field {
  return alias == null ? { expr } : { expr, alias };
}
/** A measurement source from its dotted parts (`db.rp.m`, `db..m`, `rp.m`, `m`). */
export function measurement(
  parts: (string | null)[],
  last: { name?: string; regex?: string },
): Measurement {
  const m: Measurement = { kind: "measurement" };
  if (parts.length === 2) {
    if (parts[0] !== null) m.database = parts[0];
    if (parts[1] !== null) m.retentionPolicy = parts[1];
  } else if (parts.length === 1 && parts[0] !== null) {
    m.retentionPolicy = parts[0];
  }
  if (last.name !== undefined) m.name = last.name;
  if (last.regex !== undefined) m.regex = last.regex;
  return m;
}
/** A subquery source. */
export function subquery(statement: SelectStatement): SubQuery {
  return { kind: "subquery", statement };
}
/** A calendar interval (`1mo`, `1y`): months, with an average duration for estimates. */
export interface CalendarInterval {
  kind: "calendar";
  months: number;
}
/** A calendar interval from its digits and unit (`mo` or `y`). */
export function calendarInterval(digits: string, unit: string): CalendarInterval {
  return { kind: "calendar", months: Number(digits) * (unit === "y" ? 12 : 1) };
}
const MONTH_NS = 2_592_000_000_000_000n;
/** GROUP BY time(...). */
export function timeDimension(
  interval: DurationLiteral | CalendarInterval,
  offset?: Expr | null,
): TimeDimension {
  const d: TimeDimension = interval.kind === "calendar"
    ? { kind: "time", intervalNs: BigInt(interval.months) * MONTH_NS, months: interval.months }
    : { kind: "time", intervalNs: interval.ns };
  if (offset != null) d.offset = offset;
  return d;
}
/** GROUP BY tag. */
export function tagDimension(name: string): TagDimension {
  return { kind: "tag", name };
}
/** fill(...) from its argument: a keyword or a number literal. */
export function fill(arg: string | Expr): Fill {
  if (typeof arg === "string") return { mode: arg.toLowerCase() } as Fill;
  if (arg.kind === "integer" || arg.kind === "number") return { mode: "value", value: arg.value };
  throw new Error("BUG: fill() argument must be a keyword or a number literal");
}

/** The optional clauses of a SELECT, as the grammar collects them. */
export interface SelectClauses {
  into?: Measurement | null;
  condition?: Expr | null;
  dimensions?: Dimension[] | null;
  fill?: Fill | null;
  order?: "ASC" | "DESC" | null;
  limit?: number | null;
  offset?: number | null;
  slimit?: number | null;
  soffset?: number | null;
  timezone?: string | null;
}
/** A SELECT statement. */
export function select(fields: Field[], sources: Source[], c: SelectClauses): SelectStatement {
  const s: SelectStatement = {
    kind: "select",
    fields,
    sources,
    dimensions: c.dimensions ?? [],
    descending: c.order === "DESC",
  };
  if (c.order != null) s.orderWritten = true;
  if (c.into != null) s.into = c.into;
  if (c.condition != null) s.condition = c.condition;
  if (c.fill != null) s.fill = c.fill;
  if (c.limit != null) s.limit = c.limit;
  if (c.offset != null) s.offset = c.offset;
  if (c.slimit != null) s.slimit = c.slimit;
  if (c.soffset != null) s.soffset = c.soffset;
  if (c.timezone != null) s.timezone = c.timezone;
  return s;
}
/** A non-SELECT statement from its kind and its present clauses (nulls dropped). */
export function statement<S extends Statement>(kind: S["kind"], clauses: object = {}): S {
  const s: Record<string, unknown> = { kind };
  for (const [k, v] of Object.entries(clauses)) if (v != null) s[k] = v;
  if (
    (kind === "show_tag_keys" || kind === "show_tag_values" || kind === "show_field_keys" ||
      kind === "show_series" || kind === "show_cardinality" || kind === "drop_series" ||
      kind === "delete") && s.sources === undefined
  ) {
    s.sources = [];
  }
  return s as unknown as S;
}
/** A LIMIT-like integer. */
export function count(text: string): number {
  return Number(text);
}
