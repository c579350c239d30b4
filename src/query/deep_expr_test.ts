/**
 * Deep and long expressions (security issue #12): nesting past the parser's limit is a parse
 * error naming where, not a stack overflow (a 500); long flat chains (10,000 ORs, which influxd
 * 1.6.7 answers) are answered, and a left-deep tree of 10,000 nodes goes through every walker
 * (printer, evaluator, condition split, tag filter, planner, parameter binding) without
 * overflowing the stack.
 */
import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { ParseError } from "../core/errors.ts";
import type { BinaryExpr, Expr, SelectStatement } from "./ast.ts";
import { splitCondition, tagFilterOf } from "./condition.ts";
import { evalExpr, evalTagCondition } from "./eval.ts";
import { bindParams, executeQuery, executeStatements } from "./executor.ts";
import { MAX_NESTING } from "./grammar_support.ts";
import { MemoryStore } from "./_memory_store_test_helper.ts";
import { parseQuery, parseStatement } from "./parser.ts";
import { printExpr, printStatement } from "./print.ts";

const NOW = 1764000000000000000n;
const N = 10_000;

async function store(): Promise<MemoryStore> {
  const s = new MemoryStore({ shardGroupNs: 60_000_000_000n, partitions: 2 });
  await s.createDatabase("db");
  s.writeLines(
    "db",
    "m,host=h1 v=1 1000000000\nm,host=h7 v=7 2000000000\nm,host=zz v=3 3000000000\n",
  );
  return s;
}

function nestingError(text: string): ParseError {
  let caught: unknown;
  try {
    parseQuery(text);
  } catch (e) {
    caught = e;
  }
  ok(caught instanceof ParseError, `expected a ParseError, got ${caught}`);
  return caught;
}

Deno.test("nesting past the limit is a parse error with line and char, not a stack overflow", () => {
  const deep = 1_000;
  const parens = nestingError(
    "SELECT v FROM m WHERE " + "(".repeat(deep) + "v=1" + ")".repeat(deep),
  );
  // WHERE's expression is level 1; the paren that opens level MAX_NESTING + 1 is the culprit.
  const column = "SELECT v FROM m WHERE ".length + MAX_NESTING + 1;
  equal(
    parens.message,
    `expression nested too deeply (more than ${MAX_NESTING} levels) at line 1, char ${column}`,
  );
  equal(parens.line, 1);
  equal(parens.column, column);
  for (
    const text of [
      "SELECT " + "abs(".repeat(deep) + "v" + ")".repeat(deep) + " FROM m",
      // A sign applies to a number, a name, a call or parentheses (`- -1` is refused, as InfluxDB).
      "SELECT v FROM m WHERE v = " + "-(".repeat(deep) + "1" + ")".repeat(deep),
      "SELECT v FROM m WHERE v = " + "+(".repeat(deep) + "1" + ")".repeat(deep),
      "SELECT v FROM " + "(SELECT v FROM ".repeat(deep) + "m" + ")".repeat(deep),
      "SELECT v FROM m;\nSELECT v FROM m WHERE " + "(".repeat(N * 10) + "v",
    ]
  ) {
    ok(/^expression nested too deeply .* at line \d+, char \d+$/.test(nestingError(text).message));
  }
  // Below the limit nesting parses and runs as before.
  const fine = MAX_NESTING - 2;
  parseStatement("SELECT v FROM m WHERE " + "(".repeat(fine) + "v=1" + ")".repeat(fine));
});

Deno.test("10,000 ORs are answered (influxd 1.6.7 answers them too)", async () => {
  const s = await store();
  const hosts = Array.from({ length: N }, (_, i) => `host = 'h${i}'`).join(" OR ");
  const [r] = await executeQuery(s, `SELECT v FROM m WHERE ${hosts}`, {
    database: "db",
    nowNs: NOW,
  });
  equal(r.error, undefined);
  deepEqual(r.series?.[0].values.map((row) => row[1]), [1, 7]);
  // Field conditions are evaluated row by row: the chain goes through evalExpr.
  const values = Array.from({ length: N }, (_, i) => `v = ${i + 3}`).join(" OR ");
  const [f] = await executeQuery(s, `SELECT v FROM m WHERE ${values}`, {
    database: "db",
    nowNs: NOW,
  });
  deepEqual(f.series?.[0].values.map((row) => row[1]), [7, 3]);
  // A long sum in the field list, and time arithmetic ten thousand terms long.
  const sum = Array.from({ length: N }, () => "v").join(" + ");
  const [g] = await executeQuery(
    s,
    `SELECT ${sum} AS total FROM m WHERE time > 0s ${"+ 1ns ".repeat(N)}AND host = 'h1'`,
    { database: "db", nowNs: NOW },
  );
  deepEqual(g.series?.[0].values.map((row) => row[1]), [N]);
  // The printer round-trips it (compared as text: deepEqual itself recurses per node).
  const printed = printStatement(parseStatement(`SELECT v FROM m WHERE ${hosts}`));
  equal(printed, `SELECT v FROM m WHERE ${hosts}`);
  equal(printStatement(parseStatement(printed)), printed);
});

/** `t0 op t1 op ... op t(n-1)`, left-deep, built without the parser. */
function leftDeep(n: number, op: BinaryExpr["op"], term: (i: number) => Expr): Expr {
  let e = term(0);
  for (let i = 1; i < n; i++) e = { kind: "binary", op, lhs: e, rhs: term(i) };
  return e;
}

Deno.test("a left-deep tree of 10,000 nodes goes through every walker", async () => {
  const eq = (i: number): Expr => ({
    kind: "binary",
    op: "=",
    lhs: { kind: "var", name: "host" },
    rhs: { kind: "string", value: `h${i}` },
  });
  const ors = leftDeep(N, "OR", eq);
  const ands = leftDeep(N, "AND", (i) => ({
    kind: "binary",
    op: "!=",
    lhs: { kind: "var", name: "host" },
    rhs: { kind: "string", value: `x${i}` },
  }));
  equal(printExpr(ors).length > N * 10, true);
  equal(evalExpr(ors, (name) => (name === "host" ? "h9999" : null)), true);
  equal(evalExpr(ands, (name) => (name === "host" ? "h1" : null)), true);
  equal(evalTagCondition(ors, () => "h5000", () => false), true);
  equal(evalTagCondition(ors, () => "nope", () => false), false);
  const filter = tagFilterOf(ors, () => false);
  ok(filter !== undefined && "terms" in filter);
  equal(filter.terms.length, N);
  equal(tagFilterOf(ands, () => false)?.op, "AND");
  const cond: Expr = {
    kind: "binary",
    op: "AND",
    lhs: ands,
    rhs: {
      kind: "binary",
      op: ">=",
      lhs: { kind: "var", name: "time" },
      rhs: { kind: "integer", value: 0 },
    },
  };
  const split = splitCondition(cond, NOW);
  equal(split.hasMin, true);
  throws(() => splitCondition({ kind: "binary", op: "OR", lhs: ors, rhs: cond }, NOW), /OR/);

  // Planner, binder and evaluator through the executor: a statement whose WHERE and field are
  // left-deep trees (with a bind parameter at the bottom of the sum).
  const sum = leftDeep(
    N,
    "+",
    (i) => i === 0 ? { kind: "param", name: "p" } : { kind: "var", name: "v" },
  );
  const stmt: SelectStatement = {
    ...(parseStatement("SELECT v FROM m") as SelectStatement),
    fields: [{ expr: sum, alias: "total" }],
    condition: ors,
  };
  const bound = bindParams(stmt, { p: 0.5 });
  const [r] = await executeStatements(await store(), [bound], { database: "db", nowNs: NOW });
  equal(r.error, undefined);
  deepEqual(r.series?.[0].values.map((row) => row[1]), [N - 1 + 0.5, 7 * (N - 1) + 0.5]);
  const agg: SelectStatement = {
    ...(parseStatement("SELECT max(v) FROM m") as SelectStatement),
    fields: [{
      expr: leftDeep(
        2_000,
        "+",
        () => ({ kind: "call", name: "max", args: [{ kind: "var", name: "v" }] }),
      ),
    }],
    condition: ors,
  };
  const [a] = await executeStatements(await store(), [agg], { database: "db", nowNs: NOW });
  equal(a.error, undefined);
  deepEqual(a.series?.[0].values.map((row) => row[1]), [7 * 2_000]);
  ok(printStatement(agg).startsWith("SELECT max(v) + max(v)"));
});
