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
import { RE2JS } from "re2js";
import { expect, refuse } from "./grammar_support.ts";
import { lastTokenStart } from "./influx_tokens.ts";

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
/**
 * An integer literal; number when safe, bigint beyond. `unsigned`: beyond int64, up to 2^64 - 1
 * (InfluxDB's unsigned literal).
 */
export interface IntegerLiteral {
  kind: "integer";
  value: number | bigint;
  unsigned?: true;
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
/**
 * A GROUP BY item InfluxDB parses but refuses when the statement runs (`GROUP BY 1`,
 * `GROUP BY time(x)`): planning fails with `message`, InfluxDB's.
 */
export interface InvalidDimension {
  kind: "invalid";
  message: string;
  expr: Expr;
}
/** One GROUP BY item. */
export type Dimension =
  | TimeDimension
  | TagDimension
  | WildcardDimension
  | RegexDimension
  | InvalidDimension;

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
  /**
   * Not InfluxQL: a subquery run under an outer query (subquery.ts pushDown) windows SLIMIT over
   * tag sets of the outer query's GROUP BY tags (`*` and /re/ expanded over its own), not of
   * its own GROUP BY.
   */
  slimitBy?: Dimension[];
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
  /** ORDER BY, as written (InfluxDB parses it; the names come sorted whatever it says). */
  order?: "ASC" | "DESC";
  limit?: number;
  offset?: number;
}
/** SHOW TAG KEYS [ON db] [FROM ...] [WHERE ...] [ORDER BY] [LIMIT] [OFFSET] [SLIMIT] [SOFFSET] */
export interface ShowTagKeysStatement {
  kind: "show_tag_keys";
  database?: string;
  sources: Source[];
  condition?: Expr;
  order?: "ASC" | "DESC";
  limit?: number;
  offset?: number;
  /** Parsed as InfluxDB 1.6 parses them; like it, the answer does not depend on them. */
  slimit?: number;
  soffset?: number;
}
/** SHOW TAG VALUES [ON db] [FROM ...] WITH KEY ... [WHERE ...] [ORDER BY] [LIMIT] [OFFSET] */
export interface ShowTagValuesStatement {
  kind: "show_tag_values";
  database?: string;
  sources: Source[];
  key: TagKeyFilter;
  condition?: Expr;
  order?: "ASC" | "DESC";
  limit?: number;
  offset?: number;
}
/** SHOW FIELD KEYS [ON db] [FROM ...] [ORDER BY] [LIMIT] [OFFSET] */
export interface ShowFieldKeysStatement {
  kind: "show_field_keys";
  database?: string;
  sources: Source[];
  order?: "ASC" | "DESC";
  limit?: number;
  offset?: number;
}
/** SHOW SERIES [ON db] [FROM ...] [WHERE ...] [ORDER BY] [LIMIT] [OFFSET] */
export interface ShowSeriesStatement {
  kind: "show_series";
  database?: string;
  sources: Source[];
  condition?: Expr;
  order?: "ASC" | "DESC";
  limit?: number;
  offset?: number;
}
/** SHOW RETENTION POLICIES [ON db] */
export interface ShowRetentionPoliciesStatement {
  kind: "show_retention_policies";
  database?: string;
}
/**
 * CREATE DATABASE name [WITH [DURATION d] [REPLICATION n] [SHARD DURATION d] [NAME rp]]: with
 * WITH, the database's default policy is made from these (InfluxDB's defaults for the rest).
 */
export interface CreateDatabaseStatement {
  kind: "create_database";
  name: string;
  policy?: DatabasePolicySpec;
}
/** The WITH clause of CREATE DATABASE: what was given (durations in ns, 0 = INF). */
export interface DatabasePolicySpec {
  duration?: bigint;
  replicaN?: number;
  shardDuration?: bigint;
  name?: string;
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
  /** GROUP BY, as InfluxDB 1.6 parses it (its answer does not depend on it either). */
  dimensions?: Dimension[];
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
  /** A uint64: a number when safe, a bigint beyond. */
  id: number | bigint;
  host?: string;
}
/** CREATE CONTINUOUS QUERY name ON db [RESAMPLE [EVERY d] [FOR d]] BEGIN SELECT ... END */
export interface CreateContinuousQueryStatement {
  kind: "create_continuous_query";
  name: string;
  database: string;
  /** RESAMPLE EVERY, ns (absent: the GROUP BY interval). */
  every?: bigint;
  /** RESAMPLE FOR, ns (absent: the GROUP BY interval). */
  for?: bigint;
  source: SelectStatement;
}
/** DROP CONTINUOUS QUERY name ON db */
export interface DropContinuousQueryStatement {
  kind: "drop_continuous_query";
  name: string;
  database: string;
}
/** SHOW CONTINUOUS QUERIES */
export interface ShowContinuousQueriesStatement {
  kind: "show_continuous_queries";
}
/** SHOW SHARDS */
export interface ShowShardsStatement {
  kind: "show_shards";
}
/** SHOW SHARD GROUPS */
export interface ShowShardGroupsStatement {
  kind: "show_shard_groups";
}
/** SHOW STATS [FOR 'module'] */
export interface ShowStatsStatement {
  kind: "show_stats";
  module?: string;
}
/** SHOW DIAGNOSTICS [FOR 'module'] */
export interface ShowDiagnosticsStatement {
  kind: "show_diagnostics";
  module?: string;
}
/** SHOW SUBSCRIPTIONS */
export interface ShowSubscriptionsStatement {
  kind: "show_subscriptions";
}
/** CREATE SUBSCRIPTION name ON db.rp DESTINATIONS ALL|ANY 'dest', ... */
export interface CreateSubscriptionStatement {
  kind: "create_subscription";
  name: string;
  database: string;
  retentionPolicy: string;
  mode: "ALL" | "ANY";
  destinations: string[];
}
/** DROP SUBSCRIPTION name ON db.rp */
export interface DropSubscriptionStatement {
  kind: "drop_subscription";
  name: string;
  database: string;
  retentionPolicy: string;
}
/** DROP SHARD id */
export interface DropShardStatement {
  kind: "drop_shard";
  id: number | bigint;
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
  | CreateContinuousQueryStatement
  | DropContinuousQueryStatement
  | ShowContinuousQueriesStatement
  | ShowShardsStatement
  | ShowShardGroupsStatement
  | ShowStatsStatement
  | ShowDiagnosticsStatement
  | ShowSubscriptionsStatement
  | CreateSubscriptionStatement
  | DropSubscriptionStatement
  | DropShardStatement
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
    case "create_continuous_query":
    case "drop_continuous_query":
    case "create_subscription":
    case "drop_subscription":
    case "drop_shard":
    case "create_user":
    case "drop_user":
    case "set_password":
    case "grant":
    case "grant_admin":
    case "revoke":
    case "revoke_admin":
      return true;
    case "select":
      return s.into !== undefined;
    default:
      return false;
  }
}

// ---- constructors called by the grammar's actions -------------------------------------------
//
// Where InfluxDB refuses a statement it has read (a duration past int64, `REPLICATION 0`), the
// constructor refuses with InfluxDB's words through grammar_support's `refuse`, which throws.

const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

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
/**
 * A sign before an operand, as InfluxDB reads it: literals fold (`-5`, `-1.5`, `-10m`); a name,
 * a call or parentheses become `-1 * x` (`+x` is `1 * x`).
 */
export function signed(sign: string, operand: Expr): Expr {
  const minus = sign === "-";
  switch (operand.kind) {
    case "integer":
      if (!minus) return operand;
      if (operand.unsigned) {
        // -9223372036854775808 is read as an unsigned literal, negated into int64's minimum.
        if (operand.value === INT64_MAX + 1n) return { kind: "integer", value: -(INT64_MAX + 1n) };
        refuse(0, `constant -${operand.value} underflows int64`, "none");
      }
      return integerFromBig(-BigInt(operand.value));
    case "number":
      return minus ? { kind: "number", value: -operand.value } : operand;
    case "duration":
      return minus ? { kind: "duration", ns: -operand.ns } : operand;
    default:
      return {
        kind: "binary",
        op: "*",
        lhs: { kind: "integer", value: minus ? -1 : 1 },
        rhs: operand,
      };
  }
}
/** Unary minus (`-x`); see {@linkcode signed}. */
export function negate(expr: Expr): Expr {
  return signed("-", expr);
}
/**
 * An integer literal from its digits: int64, else InfluxDB's unsigned literal up to 2^64 - 1.
 * @throws beyond that: `unable to parse integer`, at the literal.
 */
export function integer(text: string, at = 0): IntegerLiteral {
  const v = BigInt(text);
  if (v <= INT64_MAX) return integerFromBig(v);
  if (v <= UINT64_MAX) return { kind: "integer", value: v, unsigned: true };
  refuse(at, "unable to parse integer", "token");
  throw new Error("unreachable");
}
function integerFromBig(v: bigint): IntegerLiteral {
  const safe = v >= -9007199254740991n && v <= 9007199254740991n;
  return { kind: "integer", value: safe ? Number(v) : v };
}
/** A float literal from its text. @throws past float64's range: `unable to parse number`. */
export function number(text: string, at = 0): NumberLiteral {
  const value = Number(text);
  if (!Number.isFinite(value)) refuse(at, "unable to parse number", "token");
  return { kind: "number", value };
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

/**
 * InfluxDB's ParseDuration over a duration lexeme (digits and letters: `1h30m`, `1e3`): the
 * nanoseconds, or the error text InfluxDB gives. Its int64 arithmetic wraps, and only a total
 * that wrapped below zero counts as overflowed, as in influxql's ParseDuration.
 */
export function parseDurationText(text: string): bigint | string {
  const chars = [...text];
  if (chars.length < 2) return "invalid duration";
  let d = 0n;
  let measure = 0n;
  let unit = "";
  let i = 0;
  while (i < chars.length) {
    const start = i;
    while (i < chars.length && chars[i] >= "0" && chars[i] <= "9") i++;
    if (i >= chars.length || i === start) return "invalid duration";
    const n = BigInt(chars.slice(start, i).join(""));
    if (n > INT64_MAX) return "invalid duration";
    measure = n;
    let size: bigint;
    unit = chars[i];
    if ((chars[i] === "n" || chars[i] === "m") && chars[i + 1] === "s") {
      unit = chars[i] + "s";
      size = DURATION_UNITS_NS[unit];
      i += 2;
    } else if (chars[i] === "n") {
      return "invalid duration";
    } else {
      const s = DURATION_UNITS_NS[chars[i]];
      if (s === undefined || chars[i] === "ns" || chars[i] === "ms") return "invalid duration";
      size = s;
      i++;
    }
    d = BigInt.asIntN(64, d + BigInt.asIntN(64, n * size));
  }
  if (d < 0n) return `overflowed duration ${measure}${unit}: choose a smaller duration or INF`;
  return d;
}
/** A duration literal from its lexeme, in an expression. @throws InfluxDB's error, bare. */
export function durationLiteral(text: string): DurationLiteral {
  const d = parseDurationText(text);
  if (typeof d === "string") refuse(0, d, "none");
  return { kind: "duration", ns: d as bigint };
}
/** A policy's duration (after DURATION): its ns. @throws InfluxDB's error, at the lexeme. */
export function rpDuration(text: string, at: number): bigint {
  const d = parseDurationText(text);
  if (typeof d === "string") refuse(at, d, "token");
  return d as bigint;
}

/**
 * A regex literal from its body (`\/` already unescaped), compiled at once as InfluxDB does.
 * @throws a bad one: Go's regexp message (`error parsing regexp: missing closing ]: ...`).
 */
export function regex(pattern: string, at = 0): RegexLiteral {
  try {
    RE2JS.compile(pattern);
  } catch (e) {
    refuse(at, (e as Error).message, "regex");
  }
  return { kind: "regex", pattern };
}
/** A bind parameter. @throws for `$` alone: `empty bound parameter`. */
export function param(name: string, at = 0): BindParam {
  if (name === "") refuse(at, "empty bound parameter", "none");
  return { kind: "param", name };
}
/** True for a `::type` name given quoted (`a::"float"`), any case. */
export function isVarType(name: string): boolean {
  return ["float", "integer", "unsigned", "string", "boolean"].includes(name.toLowerCase());
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

const WHERE_OPERATORS: Record<string, string> = {
  "=": "=",
  "!=": "!=",
  "<>": "!=",
  "=~": "=~",
  "!~": "!~",
  "<": "<",
  "<=": "<=",
  ">": ">",
  ">=": ">=",
  AND: "AND",
  OR: "OR",
};
/**
 * A SELECT field may not compare (`SELECT value > 2`): InfluxDB names the last such operator
 * met walking the field (not below one already met) and where the field starts.
 * @throws `invalid operator > in SELECT clause at line 1, char 8; operator is intended for WHERE clause`
 */
export function checkFieldOperators(expr: Expr, at: number): Expr {
  let bad: string | undefined;
  const walk = (e: Expr, depth: number): void => {
    if (depth > 1000) return;
    if (e.kind === "binary") {
      const op = WHERE_OPERATORS[e.op];
      if (op !== undefined) {
        bad = op;
        return;
      }
      walk(e.lhs, depth + 1);
      walk(e.rhs, depth + 1);
    } else if (e.kind === "paren") walk(e.expr, depth + 1);
    else if (e.kind === "call") { for (const a of e.args) walk(a, depth + 1); }
  };
  walk(expr, 0);
  if (bad !== undefined) {
    refuse(
      at,
      `invalid operator ${bad} in SELECT clause {at}; operator is intended for WHERE clause`,
      "token",
    );
  }
  return expr;
}

/**
 * Segmented identifiers (`db.rp.m`, `a.b`): at most three. @throws more:
 * `too many segments in "a"."b"."c".d` (InfluxDB gives no position: line 1, char 1).
 */
export function segments(parts: string[], _at: number): string[] {
  if (parts.length > 3) refuse(0, `too many segments in ${quoteSegments(parts)}`, "start");
  return parts;
}
/** influxql's QuoteIdent over segments: all but the last quoted unless empty, empties kept. */
function quoteSegments(parts: string[]): string {
  return parts.map((p, i) => {
    const last = i === parts.length - 1;
    const bare = /^[A-Za-z_][A-Za-z0-9_]*$/.test(p) && !isReservedWord(p);
    const quote = (p !== "" && !bare) || (!last && p !== "") || ((i === 0 || last) && p === "");
    const escaped = p.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
    return quote ? `"${escaped}"` : escaped;
  }).join(".");
}
function isReservedWord(word: string): boolean {
  return RESERVED.has(word.toUpperCase());
}
const RESERVED = new Set(
  ("ALL ALTER ANALYZE AND ANY AS ASC BEGIN BY CARDINALITY CONTINUOUS CREATE DATABASE DATABASES " +
    "DEFAULT DELETE DESC DESTINATIONS DIAGNOSTICS DISTINCT DROP DURATION END EVERY EXACT EXPLAIN " +
    "FALSE FIELD FOR FROM GRANT GRANTS GROUP GROUPS IN INF INSERT INTO KEY KEYS KILL LIMIT " +
    "MEASUREMENT MEASUREMENTS NAME OFFSET ON OR ORDER PASSWORD POLICIES POLICY PRIVILEGES QUERIES " +
    "QUERY READ REPLICATION RESAMPLE RETENTION REVOKE SELECT SERIES SET SHARD SHARDS SHOW SLIMIT " +
    "SOFFSET STATS SUBSCRIPTION SUBSCRIPTIONS TAG TO TRUE USER USERS VALUES WHERE WITH WRITE")
    .split(" "),
);

/** A measurement source from its dotted parts (`db.rp.m`, `db..m`, `rp.m`, `m`). */
export function measurement(
  parts: (string | null)[],
  last: { name?: string; regex?: string },
): Measurement {
  const m: Measurement = { kind: "measurement" };
  if (parts.length === 2) {
    if (parts[0]) m.database = parts[0];
    if (parts[1]) m.retentionPolicy = parts[1];
  } else if (parts.length === 1 && parts[0]) {
    m.retentionPolicy = parts[0];
  }
  if (last.name !== undefined) m.name = last.name;
  if (last.regex !== undefined) m.regex = last.regex;
  return m;
}
/** A FROM measurement from segmented names and the regex that may end them (`db.rp./re/`). */
export function measurementOf(parts: string[], pattern: RegexLiteral | null): Measurement {
  if (pattern !== null && parts.length < 3) return measurement(parts, { regex: pattern.pattern });
  return measurement(parts.slice(0, -1), { name: parts[parts.length - 1] });
}
/** An INTO target: `db.rp.m`, `rp.m`, `m`; `:MEASUREMENT` (no name) writes to each source's own. */
export function target(parts: string[], sourceName: boolean): Measurement {
  const idents = sourceName && parts.length < 3 ? [...parts, ""] : parts;
  const m = measurement(idents.slice(0, -1), {});
  const name = idents[idents.length - 1];
  if (name !== "") m.name = name;
  return m;
}
/** WITH MEASUREMENT = or =~ a measurement or regex: the source decides, as in InfluxDB. */
export function measurementFilter(source: Measurement): MeasurementFilter {
  return source.regex !== undefined
    ? { op: "=~", pattern: source.regex }
    : { op: "=", name: source.name ?? "" };
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
/**
 * A GROUP BY expression as InfluxDB compiles it: a tag, `*`, a regex or time(interval[,
 * offset]); anything else parses but fails when the statement runs, with InfluxDB's words.
 */
export function dimension(e: Expr): Dimension {
  const invalid = (message: string): InvalidDimension => ({ kind: "invalid", message, expr: e });
  switch (e.kind) {
    case "var":
      if (e.name.toLowerCase() === "time") {
        return invalid("time() is a function and expects at least one argument");
      }
      return tagDimension(e.name);
    case "wildcard":
      return { kind: "wildcard" };
    case "regex":
      return { kind: "regex", pattern: e.pattern };
    case "call": {
      if (e.name !== "time") return invalid("only time() calls allowed in dimensions");
      if (e.args.length < 1 || e.args.length > 2) {
        return invalid("time dimension expected 1 or 2 arguments");
      }
      const [interval, offset] = e.args;
      if (interval.kind !== "duration") {
        return invalid("time dimension must have duration argument");
      }
      if (offset === undefined || offset.kind === "duration") {
        return timeDimension(interval, offset);
      }
      if (offset.kind === "call") {
        if (offset.name !== "now") return invalid("time dimension offset function must be now()");
        if (offset.args.length !== 0) {
          return invalid("time dimension offset now() function requires no arguments");
        }
        return timeDimension(interval, offset);
      }
      if (offset.kind === "string" && /^\d{4}-\d{2}-\d{2}/.test(offset.value)) {
        const quoted = offset.value.replace(/\\/g, "\\\\").replace(/'/g, "\\'");
        return invalid(`invalid time dimension offset: '${quoted}'`);
      }
      return invalid("time dimension offset must be duration or now()");
    }
    default:
      return invalid("only time and tag dimensions allowed");
  }
}
/**
 * fill(...), read as an expression and then checked, as InfluxDB does: `null`, `none`,
 * `previous`, `linear` (lower case) or a number.
 * @throws InfluxDB's message (`fill must be a function call` ...), bare.
 */
export function fill(e: Expr): Fill {
  if (e.kind !== "call") refuse(0, "fill must be a function call", "none");
  const args = (e as Call).args;
  if (args.length !== 1) {
    refuse(0, "fill requires an argument, e.g.: 0, null, none, previous, linear", "none");
  }
  const arg = args[0];
  if (
    arg.kind === "var" && arg.type === undefined &&
    (arg.name === "null" || arg.name === "none" || arg.name === "previous" ||
      arg.name === "linear")
  ) {
    return { mode: arg.name } as Fill;
  }
  if (arg.kind === "integer" || arg.kind === "number") return { mode: "value", value: arg.value };
  refuse(0, "expected number argument in fill()", "none");
  throw new Error("unreachable");
}
/** tz('Zone'), read as an expression and then checked. @throws InfluxDB's message, bare. */
export function timezone(e: Expr): string {
  if (e.kind !== "call") refuse(0, "tz must be a function call", "none");
  const args = (e as Call).args;
  if (args.length !== 1) refuse(0, "tz requires exactly one argument", "none");
  if (args[0].kind !== "string") refuse(0, "expected string argument in tz()", "none");
  return (args[0] as StringLiteral).value;
}
/**
 * ORDER BY: only `time` (or a bare ASC / DESC), one field.
 * @throws otherwise: `only ORDER BY time supported at this time`.
 */
export function sortFields(
  dir: "ASC" | "DESC" | null,
  name: string | null,
  more: unknown[],
): "ASC" | "DESC" {
  if ((name !== null && name !== "time") || more.length > 0) {
    refuse(0, "only ORDER BY time supported at this time", "none");
  }
  return dir ?? "ASC";
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
  if (kind === "create_database" && s.policy !== undefined) {
    const p: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(s.policy as object)) if (v != null) p[k] = v;
    s.policy = p;
  }
  return s as unknown as S;
}
/**
 * DELETE / DROP SERIES: a FROM or a WHERE (or both).
 * @throws neither: `found X, expected FROM, WHERE` at the word after the keyword.
 */
export function deleteStatement(
  kind: "delete" | "drop_series",
  sources: Source[] | null,
  condition: Expr | null,
  at: number,
): Statement {
  if (sources === null && condition === null) expect(at, "FROM, WHERE");
  return statement(kind, { sources, condition });
}
/**
 * DELETE and DROP SERIES name measurements of the selected database, across its policies.
 * @throws a database or policy in FROM (InfluxDB: `retention policy not supported`, line 1, char 1).
 */
export function checkDeleteSources(sources: Measurement[]): Measurement[] {
  let message: string | undefined;
  for (const m of sources) {
    if (m.database !== undefined) message = "database not supported";
    if (m.retentionPolicy !== undefined) message = "retention policy not supported";
  }
  if (message !== undefined) refuse(0, message, "start");
  return sources;
}
/** ALTER RETENTION POLICY's options. @throws one given twice: `found duplicate DURATION option`. */
export function rpOptions(
  list: { at: number; key: string; value: object }[],
): Record<string, unknown> {
  const seen = new Set<string>();
  const out: Record<string, unknown> = {};
  for (const o of list) {
    if (seen.has(o.key)) refuse(o.at, `found duplicate ${o.key} option`, "token");
    seen.add(o.key);
    Object.assign(out, o.value);
  }
  return out;
}
/** REPLICATION n. @throws outside 1 <= n <= 2147483647, with InfluxDB's words, at n. */
export function replication(digits: string, at: number): number {
  const v = BigInt(digits);
  if (v > INT64_MAX) refuse(at, `strconv.Atoi: parsing "${digits}": value out of range`, "token");
  if (v < 1n || v > 2147483647n) {
    refuse(at, `invalid value ${v}: must be 1 <= n <= 2147483647`, "token");
  }
  return Number(v);
}
/** A uint64 (query or shard id). @throws past 2^64 - 1, with Go's strconv words. */
export function unsigned64(digits: string, at: number): number | bigint {
  const v = BigInt(digits);
  if (v > UINT64_MAX) {
    refuse(at, `strconv.ParseUint: parsing "${digits}": value out of range`, "token");
  }
  return v <= 9007199254740991n ? Number(v) : v;
}
/** A LIMIT-like integer; past 2^53 it is 2^53 - 1 (a float would not print back as a count). */
export function count(text: string): number {
  return Math.min(Number(text), Number.MAX_SAFE_INTEGER);
}

/** The GROUP BY interval a continuous query runs at, or InfluxDB's complaint about it. */
function groupByInterval(s: SelectStatement): { ns: bigint; error?: string } {
  for (const d of s.dimensions) {
    if (d.kind === "time") return { ns: d.intervalNs };
    if (
      d.kind === "invalid" &&
      (d.message === "time dimension expected 1 or 2 arguments" ||
        d.message === "time dimension must have duration argument")
    ) return { ns: 0n, error: d.message };
  }
  return { ns: 0n };
}
/**
 * A continuous query's SELECT: an aggregate one needs GROUP BY time, else InfluxDB names the
 * select's last word: `found cpu, expected GROUP BY time(...)`.
 */
export function cqSelect(source: SelectStatement, input: string, end: number): SelectStatement {
  const raw = !source.fields.some((f) => containsCall(f.expr));
  if (raw) return source;
  const { ns, error } = groupByInterval(source);
  if (ns === 0n || error !== undefined) {
    const last = lastTokenStart(input, 0, end);
    expect(last, "GROUP BY time(...)" + (error !== undefined ? `, ${error}` : ""));
  }
  return source;
}
function containsCall(e: Expr): boolean {
  switch (e.kind) {
    case "call":
      return true;
    case "binary":
      return containsCall(e.lhs) || containsCall(e.rhs);
    case "paren":
      return containsCall(e.expr);
    default:
      return false;
  }
}
/**
 * CREATE CONTINUOUS QUERY. @throws a RESAMPLE FOR shorter than the interval:
 * `FOR duration must be >= GROUP BY time duration: must be a minimum of 1h, got 30m`.
 */
export function continuousQuery(
  name: string,
  database: string,
  resample: { every: bigint | null; for: bigint | null } | null,
  source: SelectStatement,
): CreateContinuousQueryStatement {
  const s: CreateContinuousQueryStatement = {
    kind: "create_continuous_query",
    name,
    database,
    source,
  };
  if (resample?.every != null) s.every = resample.every;
  if (resample?.for != null) s.for = resample.for;
  if (s.for !== undefined && s.for !== 0n) {
    let interval = groupByInterval(source).ns;
    if (s.every !== undefined && s.every !== 0n && s.every > interval) interval = s.every;
    if (interval > s.for) {
      refuse(
        0,
        `FOR duration must be >= GROUP BY time duration: must be a minimum of ${
          formatDuration(interval)
        }, got ${formatDuration(s.for)}`,
        "none",
      );
    }
  }
  return s;
}
/** influxql's FormatDuration: the largest unit that divides the duration. */
export function formatDuration(ns: bigint): string {
  if (ns === 0n) return "0s";
  const units: [bigint, string][] = [
    [604_800_000_000_000n, "w"],
    [86_400_000_000_000n, "d"],
    [3_600_000_000_000n, "h"],
    [60_000_000_000n, "m"],
    [1_000_000_000n, "s"],
    [1_000_000n, "ms"],
    [1_000n, "u"],
  ];
  for (const [size, unit] of units) if (ns % size === 0n) return `${ns / size}${unit}`;
  return `${ns}ns`;
}
