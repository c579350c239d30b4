/**
 * Prints the AST back to InfluxQL, so that `parseQuery(print(parseQuery(q)))` gives the same
 * tree. Identifiers are quoted only when they must be (keywords, non-bare characters), and
 * parentheses are added wherever precedence would otherwise change the tree.
 *
 * @module
 */
import { formatRFC3339Nano, instantFromNanos } from "../core/time.ts";
import type {
  BinaryOp,
  Dimension,
  Expr,
  Field,
  Fill,
  Measurement,
  SelectStatement,
  Source,
  Statement,
  TagKeyFilter,
} from "./ast.ts";
import { DURATION_UNITS_NS } from "./ast.ts";
import { foldChain } from "./expr_walk.ts";
import { KEYWORDS } from "./grammar_support.ts";

/** Prints statements separated by `; `. */
export function printQuery(statements: readonly Statement[]): string {
  return statements.map(printStatement).join("; ");
}

/** Prints one statement. */
export function printStatement(s: Statement): string {
  switch (s.kind) {
    case "select":
      return printSelect(s);
    case "show_databases":
      return "SHOW DATABASES";
    case "show_measurements": {
      let out = "SHOW MEASUREMENTS" + on(s.database);
      if (s.measurement) {
        out += s.measurement.op === "="
          ? ` WITH MEASUREMENT = ${quoteIdent(s.measurement.name)}`
          : ` WITH MEASUREMENT =~ ${printRegex(s.measurement.pattern)}`;
      }
      return out + where(s.condition) + limits(s);
    }
    case "show_tag_keys":
      return "SHOW TAG KEYS" + on(s.database) + from(s.sources) + where(s.condition) + limits(s) +
        (s.slimit !== undefined ? ` SLIMIT ${s.slimit}` : "") +
        (s.soffset !== undefined ? ` SOFFSET ${s.soffset}` : "");
    case "show_tag_values":
      return "SHOW TAG VALUES" + on(s.database) + from(s.sources) + " WITH KEY " +
        printKeyFilter(s.key) + where(s.condition) + limits(s);
    case "show_field_keys":
      return "SHOW FIELD KEYS" + on(s.database) + from(s.sources) + limits(s);
    case "show_series":
      return "SHOW SERIES" + on(s.database) + from(s.sources) + where(s.condition) + limits(s);
    case "show_retention_policies":
      return "SHOW RETENTION POLICIES" + on(s.database);
    case "create_database": {
      const p = s.policy;
      if (p === undefined) return `CREATE DATABASE ${quoteIdent(s.name)}`;
      return `CREATE DATABASE ${quoteIdent(s.name)} WITH` +
        // As InfluxDB prints it: Go durations (`720h0m0s`, INF as `0s`), not InfluxQL ones.
        (p.duration !== undefined ? ` DURATION ${goDuration(p.duration)}` : "") +
        (p.replicaN !== undefined ? ` REPLICATION ${p.replicaN}` : "") +
        (p.shardDuration ? ` SHARD DURATION ${goDuration(p.shardDuration)}` : "") +
        (p.name !== undefined ? ` NAME ${quoteIdent(p.name)}` : "");
    }
    case "show_continuous_queries":
      return "SHOW CONTINUOUS QUERIES";
    case "create_continuous_query":
      return `CREATE CONTINUOUS QUERY ${quoteIdent(s.name)}${on(s.database)}` +
        (s.every !== undefined || s.for !== undefined
          ? " RESAMPLE" + (s.every !== undefined ? ` EVERY ${printDuration(s.every)}` : "") +
            (s.for !== undefined ? ` FOR ${printDuration(s.for)}` : "")
          : "") +
        ` BEGIN ${printSelect(s.source)} END`;
    case "drop_continuous_query":
      return `DROP CONTINUOUS QUERY ${quoteIdent(s.name)}${on(s.database)}`;
    case "show_shards":
      return "SHOW SHARDS";
    case "show_shard_groups":
      return "SHOW SHARD GROUPS";
    case "show_stats":
      return "SHOW STATS" + (s.module !== undefined ? ` FOR ${quoteString(s.module)}` : "");
    case "show_diagnostics":
      return "SHOW DIAGNOSTICS" + (s.module !== undefined ? ` FOR ${quoteString(s.module)}` : "");
    case "show_subscriptions":
      return "SHOW SUBSCRIPTIONS";
    case "create_subscription":
      return `CREATE SUBSCRIPTION ${quoteIdent(s.name)} ON ${quoteIdent(s.database)}.${
        quoteIdent(s.retentionPolicy)
      } DESTINATIONS ${s.mode} ${s.destinations.map(quoteString).join(", ")}`;
    case "drop_subscription":
      return `DROP SUBSCRIPTION ${quoteIdent(s.name)} ON ${quoteIdent(s.database)}.${
        quoteIdent(s.retentionPolicy)
      }`;
    case "drop_shard":
      return `DROP SHARD ${s.id}`;
    case "drop_database":
      return `DROP DATABASE ${quoteIdent(s.name)}`;
    case "show_cardinality": {
      const what = {
        series: "SERIES",
        measurement: "MEASUREMENT",
        tag_key: "TAG KEY",
        tag_values: "TAG VALUES",
        field_key: "FIELD KEY",
      }[s.what];
      return `SHOW ${what}${s.exact ? " EXACT" : ""} CARDINALITY` + on(s.database) +
        from(s.sources) + (s.key ? " WITH KEY " + printKeyFilter(s.key) : "") +
        where(s.condition) + limits(s);
    }
    case "show_queries":
      return "SHOW QUERIES";
    case "kill_query":
      return `KILL QUERY ${s.id}` + (s.host !== undefined ? ` ON ${quoteIdent(s.host)}` : "");
    case "drop_measurement":
      return `DROP MEASUREMENT ${quoteIdent(s.name)}`;
    case "drop_series":
      return "DROP SERIES" + from(s.sources) + where(s.condition);
    case "delete":
      return "DELETE" + from(s.sources) + where(s.condition);
    case "create_retention_policy":
      return `CREATE RETENTION POLICY ${quoteIdent(s.name)}${on(s.database)} DURATION ${
        rpDuration(s.duration)
      } REPLICATION ${s.replicaN}` +
        (s.shardDuration !== undefined ? ` SHARD DURATION ${rpDuration(s.shardDuration)}` : "") +
        (s.maxBytes !== undefined ? ` MAX_BYTES ${s.maxBytes}` : "") +
        (s.coldAfter !== undefined ? ` COLD_AFTER ${rpDuration(s.coldAfter)}` : "") +
        (s.isDefault ? " DEFAULT" : "");
    case "alter_retention_policy":
      return `ALTER RETENTION POLICY ${quoteIdent(s.name)}${on(s.database)}` +
        (s.duration !== undefined ? ` DURATION ${rpDuration(s.duration)}` : "") +
        (s.replicaN !== undefined ? ` REPLICATION ${s.replicaN}` : "") +
        (s.shardDuration !== undefined ? ` SHARD DURATION ${rpDuration(s.shardDuration)}` : "") +
        (s.maxBytes !== undefined ? ` MAX_BYTES ${s.maxBytes}` : "") +
        (s.coldAfter !== undefined ? ` COLD_AFTER ${rpDuration(s.coldAfter)}` : "") +
        (s.isDefault ? " DEFAULT" : "");
    case "drop_retention_policy":
      return `DROP RETENTION POLICY ${quoteIdent(s.name)}${on(s.database)}`;
    case "create_user":
      return `CREATE USER ${quoteIdent(s.name)} WITH PASSWORD [REDACTED]` +
        (s.admin ? " WITH ALL PRIVILEGES" : "");
    case "drop_user":
      return `DROP USER ${quoteIdent(s.name)}`;
    case "set_password":
      return `SET PASSWORD FOR ${quoteIdent(s.name)} = [REDACTED]`;
    case "grant":
      return `GRANT ${s.privilege} ON ${quoteIdent(s.database)} TO ${quoteIdent(s.name)}`;
    case "grant_admin":
      return `GRANT ALL PRIVILEGES TO ${quoteIdent(s.name)}`;
    case "revoke":
      return `REVOKE ${s.privilege} ON ${quoteIdent(s.database)} FROM ${quoteIdent(s.name)}`;
    case "revoke_admin":
      return `REVOKE ALL PRIVILEGES FROM ${quoteIdent(s.name)}`;
    case "show_users":
      return "SHOW USERS";
    case "show_grants":
      return `SHOW GRANTS FOR ${quoteIdent(s.name)}`;
    case "explain":
      return `EXPLAIN ${s.analyze ? "ANALYZE " : ""}${printSelect(s.statement)}`;
  }
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

function rpDuration(ns: bigint): string {
  return ns === 0n ? "INF" : printExpr({ kind: "duration", ns });
}

function on(db?: string): string {
  return db === undefined ? "" : ` ON ${quoteIdent(db)}`;
}
function from(sources: readonly Source[]): string {
  return sources.length === 0 ? "" : " FROM " + sources.map(printSource).join(", ");
}
function where(cond?: Expr): string {
  return cond === undefined ? "" : " WHERE " + printExpr(cond);
}
function limits(s: { limit?: number; offset?: number }): string {
  return (s.limit !== undefined ? ` LIMIT ${s.limit}` : "") +
    (s.offset !== undefined ? ` OFFSET ${s.offset}` : "");
}
function printKeyFilter(k: TagKeyFilter): string {
  if (k.op === "IN") return "IN (" + k.keys.map(quoteIdent).join(", ") + ")";
  if ("pattern" in k) return `${k.op} ${printRegex(k.pattern)}`;
  return `${k.op} ${quoteIdent(k.key)}`;
}

/** Prints a SELECT statement. */
export function printSelect(s: SelectStatement): string {
  let out = "SELECT " + s.fields.map(printField).join(", ");
  if (s.into) out += " INTO " + printMeasurement(s.into);
  out += " FROM " + s.sources.map(printSource).join(", ");
  out += where(s.condition);
  if (s.dimensions.length > 0) out += " GROUP BY " + s.dimensions.map(printDimension).join(", ");
  if (s.fill) out += ` fill(${printFill(s.fill)})`;
  if (s.descending) out += " ORDER BY time DESC";
  else if (s.orderWritten) out += " ORDER BY time ASC";
  if (s.limit !== undefined) out += ` LIMIT ${s.limit}`;
  if (s.offset !== undefined) out += ` OFFSET ${s.offset}`;
  if (s.slimit !== undefined) out += ` SLIMIT ${s.slimit}`;
  if (s.soffset !== undefined) out += ` SOFFSET ${s.soffset}`;
  if (s.timezone !== undefined) out += ` tz(${quoteString(s.timezone)})`;
  return out;
}

function printField(f: Field): string {
  return printExpr(f.expr) + (f.alias !== undefined ? ` AS ${quoteIdent(f.alias)}` : "");
}

function printSource(s: Source): string {
  return s.kind === "subquery" ? `(${printSelect(s.statement)})` : printMeasurement(s);
}

function printMeasurement(m: Measurement): string {
  // An INTO target without a name writes to each source's own measurement.
  const last = m.regex !== undefined
    ? printRegex(m.regex)
    : m.name === undefined
    ? ":MEASUREMENT"
    : quoteIdent(m.name);
  if (m.database !== undefined) {
    return `${quoteIdent(m.database)}.${
      m.retentionPolicy !== undefined ? quoteIdent(m.retentionPolicy) : ""
    }.${last}`;
  }
  if (m.retentionPolicy !== undefined) return `${quoteIdent(m.retentionPolicy)}.${last}`;
  return last;
}

function printMonths(months: number): string {
  return months % 12 === 0 ? `${months / 12}y` : `${months}mo`;
}

function printDimension(d: Dimension): string {
  switch (d.kind) {
    case "time":
      return `time(${d.months !== undefined ? printMonths(d.months) : printDuration(d.intervalNs)}${
        d.offset !== undefined ? ", " + printExpr(d.offset) : ""
      })`;
    case "tag":
      return quoteIdent(d.name);
    case "wildcard":
      return "*";
    case "regex":
      return printRegex(d.pattern);
    case "invalid":
      return printExpr(d.expr);
  }
}

function printFill(f: Fill): string {
  if (f.mode !== "value") return f.mode;
  return typeof f.value === "bigint" || Number.isInteger(f.value) && !Object.is(f.value, -0)
    ? printInteger(f.value)
    : printFloat(f.value);
}

// Binding strength, as influxql's Token.Precedence.
const PRECEDENCE: Readonly<Record<BinaryOp, number>> = {
  OR: 1,
  AND: 2,
  "=": 4,
  "!=": 4,
  "<>": 4,
  "=~": 4,
  "!~": 4,
  "<": 4,
  "<=": 4,
  ">": 4,
  ">=": 4,
  "+": 5,
  "-": 5,
  "|": 5,
  "^": 5,
  "*": 6,
  "/": 6,
  "%": 6,
  "&": 6,
};

/** Prints an expression. */
export function printExpr(e: Expr): string {
  switch (e.kind) {
    case "var":
      return quoteIdent(e.name) + (e.type !== undefined ? `::${e.type}` : "");
    case "call":
      return `${e.name}(${e.args.map(printExpr).join(", ")})`;
    case "binary":
      // Along the left spine in a loop: `a OR b OR ...` may be 10,000 nodes deep.
      return foldChain(e, printExpr, (lhs, node) => {
        const p = PRECEDENCE[node.op];
        const rhs = printExpr(node.rhs);
        const l = node.lhs.kind === "binary" && PRECEDENCE[node.lhs.op] < p ? `(${lhs})` : lhs;
        const r = node.rhs.kind === "binary" && PRECEDENCE[node.rhs.op] <= p ? `(${rhs})` : rhs;
        return `${l} ${node.op} ${r}`;
      });
    case "paren":
      return `(${printExpr(e.expr)})`;
    case "integer":
      return printInteger(e.value);
    case "number":
      return printFloat(e.value);
    case "string":
      return quoteString(e.value);
    case "boolean":
      return e.value ? "true" : "false";
    case "duration":
      return printDuration(e.ns);
    case "regex":
      return printRegex(e.pattern);
    case "param":
      return "$" + (BARE.test(e.name) ? e.name : quoteIdentAlways(e.name));
    case "wildcard":
      return e.type !== undefined ? `*::${e.type}` : "*";
    case "time": {
      const i = instantFromNanos(e.ns);
      return quoteString(formatRFC3339Nano(i.ms, i.subMs));
    }
  }
}

function printInteger(v: number | bigint): string {
  return String(v);
}

/** A float literal that reads back as a float: always with a fraction, never an exponent. */
function printFloat(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`BUG: cannot print non-finite float literal ${v}`);
  const s = expandExponent(String(Math.abs(v)));
  const body = s.includes(".") ? s : s + ".0";
  return v < 0 || Object.is(v, -0) ? "-" + body : body;
}

function expandExponent(s: string): string {
  const m = /^(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (!m) return s;
  const digits = m[1] + (m[2] ?? "");
  const exp = Number(m[3]);
  const point = 1 + exp;
  if (point <= 0) return "0." + "0".repeat(-point) + digits;
  if (point >= digits.length) return digits + "0".repeat(point - digits.length);
  return digits.slice(0, point) + "." + digits.slice(point);
}

const UNIT_ORDER: [string, bigint][] = Object.entries(DURATION_UNITS_NS)
  .filter(([u]) => u !== "µ")
  .sort((a, b) => (a[1] < b[1] ? 1 : a[1] > b[1] ? -1 : 0));

/** Prints a duration in its largest exact unit (`90m` stays `90m`, `3600s` becomes `1h`). */
export function printDuration(ns: bigint): string {
  if (ns === 0n) return "0s";
  const neg = ns < 0n;
  const abs = neg ? -ns : ns;
  for (const [unit, size] of UNIT_ORDER) {
    if (abs % size === 0n) return `${neg ? "-" : ""}${abs / size}${unit}`;
  }
  throw new Error("BUG: unreachable: every duration is a whole number of nanoseconds");
}

function printRegex(pattern: string): string {
  return "/" + pattern.replaceAll("/", "\\/") + "/";
}

const BARE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Quotes an identifier when it is not a bare, non-keyword name (Go's QuoteIdent). */
export function quoteIdent(name: string): string {
  return BARE.test(name) && !KEYWORDS.has(name.toUpperCase()) ? name : quoteIdentAlways(name);
}

function quoteIdentAlways(name: string): string {
  return '"' + name.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : "\\" + c)) + '"';
}

/** Quotes a string literal with InfluxQL's escapes. */
export function quoteString(value: string): string {
  return "'" + value.replace(/[\\'\n]/g, (c) => (c === "\n" ? "\\n" : "\\" + c)) + "'";
}
