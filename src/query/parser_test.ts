import { deepEqual, equal, throws } from "node:assert/strict";
import fc from "fast-check";
import { ParseError } from "../core/errors.ts";
import type { Expr, Statement } from "./ast.ts";
import { parseQuery } from "./parser.ts";
import { printExpr, printQuery } from "./print.ts";

const v = (name: string): Expr => ({ kind: "var", name });
const s1 = (q: string): Statement => {
  const out = parseQuery(q);
  equal(out.length, 1, q);
  return out[0];
};

Deno.test("query -> AST table", () => {
  const table: [string, unknown][] = [
    ["SELECT usage FROM cpu", {
      kind: "select",
      fields: [{ expr: v("usage") }],
      sources: [{ kind: "measurement", name: "cpu" }],
      dimensions: [],
      descending: false,
    }],
    ['select "my field" AS f, * from "db"."rp"."my m"', {
      kind: "select",
      fields: [{ expr: v("my field"), alias: "f" }, { expr: { kind: "wildcard" } }],
      sources: [{ kind: "measurement", database: "db", retentionPolicy: "rp", name: "my m" }],
      dimensions: [],
      descending: false,
    }],
    [
      "SELECT mean(usage) FROM db..cpu, rp.mem, /^disk/ GROUP BY time(1h30m, -5m), host, * fill(linear)",
      {
        kind: "select",
        fields: [{ expr: { kind: "call", name: "mean", args: [v("usage")] } }],
        sources: [
          { kind: "measurement", database: "db", name: "cpu" },
          { kind: "measurement", retentionPolicy: "rp", name: "mem" },
          { kind: "measurement", regex: "^disk" },
        ],
        dimensions: [
          {
            kind: "time",
            intervalNs: 5_400_000_000_000n,
            offset: { kind: "duration", ns: -300_000_000_000n },
          },
          { kind: "tag", name: "host" },
          { kind: "wildcard" },
        ],
        fill: { mode: "linear" },
        descending: false,
      },
    ],
    [
      "SELECT a FROM m WHERE time > now() - 1h AND host =~ /a\\/b/ OR x::field != 1.5 ORDER BY time DESC LIMIT 10 OFFSET 2 SLIMIT 3 SOFFSET 4 tz('Europe/Paris')",
      {
        kind: "select",
        fields: [{ expr: v("a") }],
        sources: [{ kind: "measurement", name: "m" }],
        condition: {
          kind: "binary",
          op: "OR",
          lhs: {
            kind: "binary",
            op: "AND",
            lhs: {
              kind: "binary",
              op: ">",
              lhs: v("time"),
              rhs: {
                kind: "binary",
                op: "-",
                lhs: { kind: "call", name: "now", args: [] },
                rhs: { kind: "duration", ns: 3_600_000_000_000n },
              },
            },
            rhs: {
              kind: "binary",
              op: "=~",
              lhs: v("host"),
              rhs: { kind: "regex", pattern: "a/b" },
            },
          },
          rhs: {
            kind: "binary",
            op: "!=",
            lhs: { kind: "var", name: "x", type: "field" },
            rhs: { kind: "number", value: 1.5 },
          },
        },
        dimensions: [],
        descending: true,
        orderWritten: true,
        limit: 10,
        offset: 2,
        slimit: 3,
        soffset: 4,
        timezone: "Europe/Paris",
      },
    ],
    ["SHOW TAG VALUES ON db FROM cpu WITH KEY = \"host\" WHERE region = 'eu' LIMIT 5", {
      kind: "show_tag_values",
      database: "db",
      sources: [{ kind: "measurement", name: "cpu" }],
      key: { op: "=", key: "host" },
      condition: {
        kind: "binary",
        op: "=",
        lhs: v("region"),
        rhs: { kind: "string", value: "eu" },
      },
      limit: 5,
    }],
    ['show tag values with key in (a, "b c")', {
      kind: "show_tag_values",
      sources: [],
      key: { op: "IN", keys: ["a", "b c"] },
    }],
    ["SHOW MEASUREMENTS WITH MEASUREMENT =~ /cpu.*/", {
      kind: "show_measurements",
      measurement: { op: "=~", pattern: "cpu.*" },
    }],
    ["SHOW FIELD KEYS FROM cpu", {
      kind: "show_field_keys",
      sources: [{ kind: "measurement", name: "cpu" }],
    }],
    ["SHOW RETENTION POLICIES ON telegraf", {
      kind: "show_retention_policies",
      database: "telegraf",
    }],
    ['create database "my-db"', { kind: "create_database", name: "my-db" }],
    ["DROP DATABASE x", { kind: "drop_database", name: "x" }],
  ];
  for (const [q, want] of table) deepEqual(s1(q), want, q);
});

Deno.test("literals keep their lexical type", () => {
  const field = (q: string) =>
    (s1(`SELECT ${q} FROM m`) as { fields: { expr: Expr }[] }).fields[0].expr;
  deepEqual(field("1"), { kind: "integer", value: 1 });
  deepEqual(field("1.0"), { kind: "number", value: 1 });
  deepEqual(field(".5"), { kind: "number", value: 0.5 });
  deepEqual(field("-3"), { kind: "integer", value: -3 });
  deepEqual(field("9223372036854775807"), { kind: "integer", value: 9223372036854775807n });
  deepEqual(field("'it\\'s'"), { kind: "string", value: "it's" });
  deepEqual(field("TRUE"), { kind: "boolean", value: true });
  deepEqual(field("$p"), { kind: "param", name: "p" });
  deepEqual(field('"quo\\"ted"'), v('quo"ted'));
  for (
    const [d, ns] of [
      ["1ns", 1n],
      ["1u", 1_000n],
      ["1µ", 1_000n],
      ["5ms", 5_000_000n],
      ["10s", 10_000_000_000n],
      ["10m", 600_000_000_000n],
      ["1h", 3_600_000_000_000n],
      ["1d", 86_400_000_000_000n],
      ["1w", 604_800_000_000_000n],
      ["1h30m", 5_400_000_000_000n],
    ] as const
  ) deepEqual(field(d), { kind: "duration", ns }, d);
  // Precedence: * binds tighter than +, AND tighter than OR, unary minus on a ref is -1 * x.
  equal(printExpr(field("a + b * c")), "a + b * c");
  deepEqual(field("-a"), {
    kind: "binary",
    op: "*",
    lhs: { kind: "integer", value: -1 },
    rhs: v("a"),
  });
});

Deno.test("keywords are case-insensitive; comments and several statements", () => {
  const stmts = parseQuery(
    "select a from m -- trailing comment\n; /* block\ncomment */ SHOW databases;",
  );
  equal(stmts.length, 2);
  equal(stmts[0].kind, "select");
  equal(stmts[1].kind, "show_databases");
  deepEqual(parseQuery(""), []);
});

// Messages verified against influxd 1.6.7 (`error parsing query: ` is added by the HTTP layer).
const ERRORS: [string, string][] = [
  ["SELECT", "found EOF, expected identifier, string, number, bool at line 1, char 8"],
  ["SELECT FROM cpu", "found FROM, expected identifier, string, number, bool at line 1, char 8"],
  ["SELECT * FROM", "found EOF, expected identifier at line 1, char 15"],
  [
    "SELEC",
    "found SELEC, expected SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN, GRANT, REVOKE, ALTER, SET, KILL at line 1, char 1",
  ],
  [
    "SELECT * FROM cpu; SELEC",
    "found SELEC, expected SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN, GRANT, REVOKE, ALTER, SET, KILL at line 1, char 20",
  ],
  [
    "SELECT mean(usage) FROM cpu GROUP BY",
    "found EOF, expected identifier, string, number, bool at line 1, char 38",
  ],
  [
    "SELECT * FROM cpu WHERE host = 'a' AND",
    "found EOF, expected identifier, string, number, bool at line 1, char 40",
  ],
  ["SELECT * FROM cpu LIMIT x", "found x, expected integer at line 1, char 25"],
  ["SELECT a FROM cpu LIMIT", "found EOF, expected integer at line 1, char 25"],
  [
    "SHOW",
    "found EOF, expected CONTINUOUS, DATABASES, DIAGNOSTICS, FIELD, GRANTS, MEASUREMENT, MEASUREMENTS, QUERIES, RETENTION, SERIES, SHARD, SHARDS, STATS, SUBSCRIPTIONS, TAG, USERS at line 1, char 6",
  ],
  ["SHOW TAG VALUES FROM cpu", "found EOF, expected WITH at line 1, char 26"],
  ["CREATE DATABASE", "found EOF, expected identifier at line 1, char 17"],
  [
    "CREATE",
    "found EOF, expected CONTINUOUS, DATABASE, USER, RETENTION, SUBSCRIPTION at line 1, char 8",
  ],
  [
    "DROP",
    "found EOF, expected CONTINUOUS, DATABASE, MEASUREMENT, RETENTION, SERIES, SHARD, SUBSCRIPTION, USER at line 1, char 6",
  ],
  ['SELECT * FROM "cpu', "found cpu, expected identifier at line 1, char 14"],
  [
    "SELECT * FROM cpu WHERE host = 'a",
    "found a, expected identifier, string, number, bool at line 1, char 31",
  ],
  ["SELECT mean(usage FROM cpu", "found FROM, expected ) at line 1, char 19"],
  ["SELECT * FROM cpu WHERE host = 'a' foo", "found foo, expected ; at line 1, char 36"],
  ["SELECT * FROM cpu foo", "found foo, expected ; at line 1, char 19"],
  [
    "SELECT * FROM cpu GROUP BY time(",
    "found EOF, expected identifier, string, number, bool at line 1, char 34",
  ],
  ["SELECT * FROM cpu GROUP BY time(1m", "found EOF, expected ) at line 1, char 35"],
  ["SELECT a FROM cpu ORDER BY", "found EOF, expected identifier, ASC, DESC at line 1, char 28"],
  [
    "SELECT a + FROM cpu",
    "found FROM, expected identifier, string, number, bool at line 1, char 12",
  ],
  ["SELECT a AS FROM cpu", "found FROM, expected identifier at line 1, char 13"],
  ["SHOW FIELD KEYS FROM", "found EOF, expected identifier at line 1, char 22"],
  ["SELECT * FROM cpu WHERE host =~ foo", "found foo, expected regex at line 1, char 33"],
  [
    "SELECT a FROM cpu GROUP BY time(1m) fill(",
    "found EOF, expected identifier, string, number, bool at line 1, char 43",
  ],
  ["SELECT * FROM cpu WHERE (host = 'a'", "found EOF, expected ) at line 1, char 36"],
  [
    "SELECT * FROM cpu WHERE host = 1\nAND",
    "found EOF, expected identifier, string, number, bool at line 2, char 5",
  ],
];

Deno.test("parse errors read as InfluxDB 1.6.7's", () => {
  for (const [q, want] of ERRORS) {
    throws(() => parseQuery(q), (e: unknown) => {
      equal(e instanceof ParseError, true, q);
      equal((e as ParseError).message, want, q);
      const m = /at line (\d+), char (\d+)$/.exec(want)!;
      equal((e as ParseError).line, Number(m[1]), q);
      equal((e as ParseError).column, Number(m[2]), q);
      return true;
    });
  }
});

const ROUND_TRIP = [
  "CREATE RETENTION POLICY big ON db DURATION INF REPLICATION 1 MAX_BYTES 1000 COLD_AFTER 30d",
  "ALTER RETENTION POLICY big ON db COLD_AFTER INF MAX_BYTES 0 DEFAULT",
  "SELECT * FROM cpu",
  'SELECT "select", "a b", "x\\"y" AS "from" FROM "db"."rp"."m m"',
  "SELECT mean(usage) AS m, max(usage) - min(usage), percentile(n, 95.5) FROM db..cpu",
  "SELECT a FROM m WHERE time >= '2023-03-15T13:20:00Z' AND time < now() + 10m AND (x = 1 OR y =~ /a\\/b/)",
  "SELECT count(*) FROM /^c/ GROUP BY time(1h, 15m), host fill(-1.5) ORDER BY time DESC LIMIT 1 OFFSET 2 SLIMIT 3 SOFFSET 4",
  "SELECT a * (b + c) / -2, -a, a % 3 & 1 | 2 ^ 4 FROM m WHERE $p = 'it\\'s'",
  "SELECT derivative(mean(v), 1s) FROM m WHERE time > 1678886400s GROUP BY time(1m) fill(previous) tz('UTC')",
  "SELECT a::integer, b::tag, *::field FROM m ORDER BY time ASC",
  "SELECT 1.0e0 FROM m".replace("e0", ""),
  "SHOW DATABASES; SHOW MEASUREMENTS ON db WITH MEASUREMENT = cpu WHERE host = 'a' LIMIT 2 OFFSET 1",
  "SHOW TAG KEYS ON db FROM cpu WHERE x = 'y' LIMIT 1",
  "SHOW TAG VALUES FROM cpu, mem WITH KEY !~ /x/",
  "SHOW FIELD KEYS ON db FROM cpu OFFSET 3; SHOW SERIES FROM cpu WHERE a = 'b'",
  'SHOW RETENTION POLICIES ON db; CREATE DATABASE "a-b"; DROP DATABASE c',
  "SELECT a FROM m WHERE b = 0.000001 OR c = 12345678901234567890.5",
];

Deno.test("parse(print(parse(q))) round-trips", () => {
  for (const q of ROUND_TRIP) {
    const ast = parseQuery(q);
    deepEqual(parseQuery(printQuery(ast)), ast, `${q}\n  printed: ${printQuery(ast)}`);
  }
});

// Random expressions: printing then parsing gives back the printed form (the printer adds
// parentheses wherever precedence requires them).
const ident = fc.oneof(
  fc.constantFrom("a", "b", "time", "host"),
  fc.string({ minLength: 1, maxLength: 6 }),
);
const leaf: fc.Arbitrary<Expr> = fc.oneof(
  ident.map((name): Expr => ({ kind: "var", name })),
  fc.integer({ min: 0, max: 1_000_000 }).map((value): Expr => ({ kind: "integer", value })),
  fc.double({ min: 0, max: 1e30, noNaN: true }).map((value): Expr => ({ kind: "number", value })),
  fc.string({ maxLength: 8 }).map((value): Expr => ({ kind: "string", value })),
  fc.boolean().map((value): Expr => ({ kind: "boolean", value })),
  fc.bigInt({ min: 1n, max: 10n ** 15n }).map((ns): Expr => ({ kind: "duration", ns })),
);
const OPS = [
  "+",
  "-",
  "*",
  "/",
  "%",
  "&",
  "|",
  "^",
  "AND",
  "OR",
  "=",
  "!=",
  "<",
  "<=",
  ">",
  ">=",
] as const;
const expr: fc.Arbitrary<Expr> = fc.letrec<{ e: Expr }>((tie) => ({
  e: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.record({ op: fc.constantFrom(...OPS), lhs: tie("e"), rhs: tie("e") }).map((b): Expr => ({
      kind: "binary",
      ...b,
    })),
    fc.record({
      name: fc.constantFrom("mean", "max", "percentile"),
      args: fc.array(tie("e"), { maxLength: 2 }),
    })
      .map((c): Expr => ({ kind: "call", ...c })),
  ),
})).e;

Deno.test("property: print(parse(print(e))) === print(e) for random expressions", () => {
  fc.assert(
    fc.property(expr, (e) => {
      // In WHERE, where comparisons may stand (a SELECT field may not hold one, as in InfluxDB).
      const text = printExpr(e);
      const q = `SELECT a FROM m WHERE ${text}`;
      const back = (parseQuery(q)[0] as { condition: Expr }).condition;
      equal(printExpr(back), text);
    }),
    { numRuns: 300 },
  );
});

Deno.test("continuous queries: CREATE with RESAMPLE, :MEASUREMENT, SHOW, DROP", () => {
  const create = s1(
    'create continuous query "c q" on db resample every 1s for 2h begin ' +
      "select sum(n) into db.rp.:MEASUREMENT from /^(a|b)$/ group by time(5m), * end",
  );
  deepEqual(
    { ...create, source: undefined },
    {
      kind: "create_continuous_query",
      name: "c q",
      database: "db",
      every: 1_000_000_000n,
      for: 7_200_000_000_000n,
      source: undefined,
    },
  );
  equal(
    printQuery([create]),
    'CREATE CONTINUOUS QUERY "c q" ON db RESAMPLE EVERY 1s FOR 2h BEGIN SELECT sum(n) ' +
      "INTO db.rp.:MEASUREMENT FROM /^(a|b)$/ GROUP BY time(5m), * END",
  );
  const forOnly = "CREATE CONTINUOUS QUERY cq ON db RESAMPLE FOR 1h BEGIN SELECT mean(v) " +
    "INTO m2 FROM m GROUP BY time(1m) END";
  equal(printQuery(parseQuery(forOnly)), forOnly);
  deepEqual(s1("SHOW CONTINUOUS QUERIES"), { kind: "show_continuous_queries" });
  deepEqual(s1("DROP CONTINUOUS QUERY cq ON db"), {
    kind: "drop_continuous_query",
    name: "cq",
    database: "db",
  });
  throws(
    () => parseQuery("CREATE CONTINUOUS QUERY cq ON db RESAMPLE BEGIN SELECT 1 END"),
    /found BEGIN, expected EVERY, FOR/,
  );
});
