/**
 * InfluxQL (src/query/parser.ts): `parseQuery` either returns statements or throws a
 * `ParseError` with a line and a column, nothing else; and what it returns prints
 * (src/query/print.ts) to text that parses back to the same tree, which prints the same again:
 * `parse(print(parse(q)))` equals `parse(q)`.
 * @module
 */
import fc from "fast-check";
import { ParseError } from "../../../src/core/mod.ts";
import { parseQuery, printQuery } from "../../../src/query/mod.ts";
import { GrammarFailure, MAX_NESTING } from "../../../src/query/grammar_support.ts";
import { structuredAndMutated } from "../_mutate.ts";
import { sameData } from "../_same.ts";
import { bytesOfAll, QUERY_SAMPLES, QUERY_TOKENS } from "../_samples.ts";
import { count, demand, expectOnly, FuzzFailure, type FuzzTarget } from "../_target.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

const ident: fc.Arbitrary<string> = fc.oneof(
  { weight: 60, arbitrary: fc.constantFrom("v", "usage_user", "host", "cpu", "m", "time", "x1") },
  {
    weight: 20,
    arbitrary: fc.array(
      fc.constantFrom("a", "Z", " ", '\\"', "\\\\", "'", ".", ",", "\u00e9", "\u{1f600}", "select"),
      { minLength: 1, maxLength: 6 },
    ).map((parts) => `"${parts.join("")}"`),
  },
  { weight: 10, arbitrary: fc.constantFrom('"select"', '"from"', '""', "_", "a_b_c") },
  { weight: 1, arbitrary: fc.constantFrom("SELECT", "FROM", "1a", "a-b") }, // not identifiers
);

/** A number as InfluxQL writes it: digits, a point, digits (no exponent). */
function decimal(v: number): string {
  const a = Math.abs(v);
  const s = String(a);
  if (!s.includes("e")) return s;
  return a < 1 ? a.toFixed(20) : BigInt(Math.round(a)).toString();
}

const literal: fc.Arbitrary<string> = fc.oneof(
  fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map(decimal),
  fc.constantFrom(
    "0",
    "1.5",
    ".5",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "1ns",
    "1u",
    "1µ",
    "1ms",
    "1s",
    "1m",
    "1h",
    "1d",
    "1w",
    "9223372036854775807ns",
    "9223372036854775808ns",
    "106751d",
    "106752d",
    "true",
    "FALSE",
    "now()",
    "$p",
    '$"a b"',
  ),
  fc.array(fc.constantFrom("a", " ", "\\'", "\\\\", "\\n", '"', "\u00e9", "%"), { maxLength: 8 })
    .map((parts) => `'${parts.join("")}'`),
  fc.constantFrom(
    "'2023-03-15T13:20:00Z'",
    "'2023-03-15T13:20:00.123456789+02:00'",
    "'2262-04-11T23:47:16.854775807Z'",
    "'2262-04-11T23:47:16.854775808Z'",
    "'1677-09-21T00:12:43.145224192Z'",
    "'1677-09-21T00:12:43.145224191Z'",
    "'2023-02-30T00:00:00Z'",
    "'2023-03-15 13:20:00'",
    "'0000-01-01T00:00:00Z'",
  ),
);

/** Regexes: valid RE2 mostly (atoms, each maybe quantified), sometimes not. */
const regex: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.array(
      fc.tuple(
        fc.constantFrom("a", ".", "\\/", "[a-z]", "\\d", "(x|y)", "\u00e9", "\\.", "^", "$"),
        fc.constantFrom("", "", "*", "+", "?", "{2,3}"),
      ).map(([atom, q]) => (atom === "^" || atom === "$" ? atom : atom + q)),
      { minLength: 1, maxLength: 6 },
    ).map((parts) => `/${parts.join("")}/`),
  },
  { weight: 1, arbitrary: fc.constantFrom("//", "/+/", "/(/", "/a{2,1}/", "/\\/", "/[/") },
);

const FUNCTIONS = [
  "mean",
  "count",
  "sum",
  "max",
  "min",
  "first",
  "last",
  "percentile",
  "derivative",
  "non_negative_derivative",
  "moving_average",
  "holt_winters",
  "top",
  "bottom",
  "distinct",
  "difference",
  "cumulative_sum",
  "elapsed",
  "integral",
  "nosuchfunction",
];

const expr: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
  e: fc.oneof(
    { depthSize: "small", maxDepth: 5 },
    literal,
    ident,
    fc.tuple(ident, fc.constantFrom("::float", "::integer", "::tag", "::field", "::string"))
      .map(([i, t]) => i + t),
    fc.tuple(
      tie("e"),
      fc.constantFrom(
        "+",
        "-",
        "*",
        "/",
        "%",
        "&",
        "|",
        "^",
        "=",
        "!=",
        "<>",
        "<",
        "<=",
        ">",
        ">=",
        "AND",
        "OR",
      ),
      tie("e"),
    ).map(([a, op, b]) => `${a} ${op} ${b}`),
    fc.tuple(ident, fc.constantFrom("=~", "!~"), regex).map(([a, op, r]) => `${a} ${op} ${r}`),
    tie("e").map((e) => `(${e})`),
    tie("e").map((e) => `-${e}`),
    fc.tuple(fc.constantFrom(...FUNCTIONS), fc.array(tie("e"), { maxLength: 3 }))
      .map(([f, args]) => `${f}(${args.join(", ")})`),
  ),
})).e;

/** Nesting right at and past the parser's limit, and far past it. */
const deep: fc.Arbitrary<string> = fc.constantFrom(
  MAX_NESTING - 1,
  MAX_NESTING,
  MAX_NESTING + 1,
  2000,
  20_000,
).chain((n) =>
  fc.constantFrom(
    `SELECT v FROM m WHERE ${"(".repeat(n)}v = 1${")".repeat(n)}`,
    `SELECT ${"-".repeat(n)}v FROM m`,
    `SELECT ${"mean(".repeat(n)}v${")".repeat(n)} FROM m`,
    `SELECT v FROM ${"(SELECT v FROM ".repeat(n)}m${")".repeat(n)}`,
    `SELECT v FROM m WHERE ${"(".repeat(n)}`,
  )
);

const source: fc.Arbitrary<string> = fc.oneof(
  ident,
  fc.tuple(ident, ident, ident).map(([d, r, m]) => `${d}.${r}.${m}`),
  fc.tuple(ident, ident).map(([d, m]) => `${d}..${m}`),
  regex,
  fc.constant("(SELECT mean(v) AS v FROM m GROUP BY time(1m))"),
);

const select: fc.Arbitrary<string> = fc.record({
  fields: fc.array(
    fc.oneof(
      expr,
      fc.constant("*"),
      fc.constant("*::field"),
      fc.tuple(expr, ident).map(([e, a]) => `${e} AS ${a}`),
    ),
    { minLength: 1, maxLength: 4 },
  ),
  sources: fc.array(source, { minLength: 1, maxLength: 3 }),
  where: fc.option(expr),
  group: fc.option(
    fc.array(
      fc.oneof(
        ident,
        fc.constant("*"),
        regex,
        fc.tuple(
          fc.constantFrom("1m", "1ns", "1w", "1h", "10s", "1mo", "0s", "9223372036854775807ns"),
          fc.option(fc.constantFrom("15s", "-5m", "now()", "1ns")),
        ).map(([d, o]) => `time(${d}${o === null ? "" : `, ${o}`})`),
      ),
      { minLength: 1, maxLength: 3 },
    ),
  ),
  fill: fc.option(fc.constantFrom("null", "none", "previous", "linear", "0", "-1.5", "100")),
  order: fc.option(fc.constantFrom("time DESC", "time ASC", "time")),
  limits: fc.array(
    fc.tuple(
      fc.constantFrom("LIMIT", "OFFSET", "SLIMIT", "SOFFSET"),
      fc.constantFrom("0", "1", "10", "2147483648", "9223372036854775807"),
    ),
    { maxLength: 2 },
  ).map((limits) => {
    // Each clause once, in the order the grammar reads them.
    const order = ["LIMIT", "OFFSET", "SLIMIT", "SOFFSET"];
    const seen = new Map<string, string>(limits);
    return order.filter((k) => seen.has(k)).map((k) => [k, seen.get(k)!] as const);
  }),
  tz: fc.option(fc.constantFrom("'UTC'", "'America/New_York'", "'Asia/Kolkata'")),
}).map((s) => {
  let q = `SELECT ${s.fields.join(", ")} FROM ${s.sources.join(", ")}`;
  if (s.where !== null) q += ` WHERE ${s.where}`;
  if (s.group !== null) q += ` GROUP BY ${s.group.join(", ")}`;
  if (s.fill !== null) q += ` fill(${s.fill})`;
  if (s.order !== null) q += ` ORDER BY ${s.order}`;
  for (const [k, v] of s.limits) q += ` ${k} ${v}`;
  if (s.tz !== null) q += ` tz(${s.tz})`;
  return q;
});

const other: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "SHOW DATABASES",
    "SHOW MEASUREMENTS",
    "SHOW RETENTION POLICIES",
    "SHOW SERIES CARDINALITY",
    "SHOW QUERIES",
    "KILL QUERY 1",
    "CREATE DATABASE d",
  ),
  fc.tuple(ident, fc.option(expr)).map(([m, w]) =>
    `SHOW TAG KEYS FROM ${m}${w === null ? "" : ` WHERE ${w}`}`
  ),
  fc.tuple(ident, regex).map(([m, r]) => `SHOW TAG VALUES FROM ${m} WITH KEY =~ ${r}`),
  fc.tuple(ident, ident).map(([m, k]) => `SHOW TAG VALUES FROM ${m} WITH KEY = ${k}`),
  fc.tuple(ident, fc.option(expr)).map(([m, w]) =>
    `DELETE FROM ${m}${w === null ? "" : ` WHERE ${w}`}`
  ),
  fc.tuple(ident, ident, fc.constantFrom("1d", "INF", "0s", "1ns", "9223372036854775807ns"))
    .map(([rp, db, d]) =>
      `CREATE RETENTION POLICY ${rp} ON ${db} DURATION ${d} REPLICATION 1 SHARD DURATION 1h`
    ),
  fc.tuple(ident, ident).map(([n, db]) => `DROP RETENTION POLICY ${n} ON ${db}`),
  select.map((s) => `EXPLAIN ${s}`),
);

/** Query texts: statements joined by `;`, with comments and whitespace around them. */
export const queryTexts: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 20,
    arbitrary: fc.array(fc.oneof(select, select, other), { minLength: 1, maxLength: 3 })
      .map((s) => s.join("; ")),
  },
  { weight: 1, arbitrary: deep },
);

/** Inputs of the InfluxQL fuzzer (also the HTTP fuzzer's queries). */
export const queryInputs: fc.Arbitrary<Uint8Array> = structuredAndMutated(
  queryTexts.map((q) => enc.encode(q)),
  bytesOfAll(QUERY_SAMPLES),
  QUERY_TOKENS,
);

/** A paren node's expression (through any number of them); anything else as it is. */
function throughParens(value: unknown): unknown {
  // Bounded by the depth of the nesting, which the parser caps at MAX_NESTING.
  while (
    typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "paren"
  ) value = (value as { expr: unknown }).expr;
  return value;
}

export const influxqlTarget: FuzzTarget = {
  name: "influxql",
  about: "parseQuery throws only ParseError with a place; parse(print(parse(q))) equals parse(q)",
  inputs: queryInputs,
  open() {
    const outcomes: Record<string, number> = {};
    return Promise.resolve({
      outcomes,
      check(input: Uint8Array) {
        const text = dec.decode(input);
        let ast;
        try {
          ast = parseQuery(text);
        } catch (error) {
          expectOnly(() => {
            throw error;
          }, [ParseError]);
          // A syntax error says where; tz()'s unknown zone and the failures the grammar words
          // without a place (as InfluxDB does: "invalid duration", "... underflows int64") are
          // named instead.
          const e = error as ParseError;
          demand(
            (Number.isInteger(e.line) && Number.isInteger(e.column)) ||
              /^unable to find time zone /.test(e.message) ||
              (e.cause instanceof GrammarFailure && e.cause.position === "none"),
            () => `a parse error without its line and column: ${e.message.slice(0, 200)}`,
          );
          count(outcomes, "refused");
          return;
        }
        count(outcomes, "parsed");
        const printed = printQuery(ast);
        let again;
        try {
          again = parseQuery(printed);
        } catch (error) {
          throw new FuzzFailure(
            `printed query does not parse: ${(error as Error).message}\n  query: ${
              text.slice(0, 300)
            }\n  printed: ${printed.slice(0, 300)}`,
          );
        }
        // The printer adds parentheses where precedence needs them (`a & -m` prints as
        // `a & (-1 * m)`): they come back as paren nodes, which mean nothing, so the trees are
        // compared through them, and the text must be a fixed point.
        demand(
          sameData(again, ast, throughParens) && printQuery(again) === printed,
          () =>
            `parse(print(parse(q))) differs from parse(q)\n  query: ${
              text.slice(0, 300)
            }\n  printed: ${printed.slice(0, 300)}\n  reprinted: ${
              printQuery(again).slice(0, 300)
            }`,
        );
      },
      close: () => Promise.resolve(),
    });
  },
};
