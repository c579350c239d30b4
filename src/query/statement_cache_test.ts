import assert from "node:assert/strict";
import { ParseError } from "../core/errors.ts";
import { parseQuery } from "./parser.ts";
import { StatementCache } from "./statement_cache.ts";
import { bindParams } from "./executor.ts";
import { splitCondition } from "./condition.ts";
import type { SelectStatement } from "./ast.ts";

const Q =
  "SELECT max(usage_user) FROM cpu WHERE hostname = 'a' AND time > now() - 1h GROUP BY time(1m)";

Deno.test("statement cache: a repeated text is answered with the kept statements, equal to a parse", () => {
  const cache = new StatementCache();
  const first = cache.parse(Q);
  const second = cache.parse(Q);
  assert.equal(second, first, "the second lookup parsed again");
  assert.deepEqual(first, parseQuery(Q));
  assert.deepEqual(cache.stats(), { entries: 1, hits: 1, misses: 1, copies: 0 });
});

Deno.test("statement cache: kept statements are frozen all the way down", () => {
  const [stmt] = new StatementCache().parse(Q) as SelectStatement[];
  assert.throws(() => {
    (stmt as { limit: number }).limit = 5;
  }, TypeError);
  assert.throws(() => {
    (stmt.fields[0].expr as { name: string }).name = "min";
  }, TypeError);
  // A chain far deeper than the call stack freezes too.
  const long = "SELECT * FROM cpu WHERE " + Array.from({ length: 10_000 }, (_, i) => `a = '${i}'`)
    .join(" OR ");
  const [deep] = new StatementCache().parse(long) as SelectStatement[];
  let node = deep.condition!;
  while (node.kind === "binary") node = node.lhs;
  assert.ok(Object.isFrozen(node));
});

Deno.test("statement cache: least recently used texts go first, long texts are not kept", () => {
  const cache = new StatementCache({ maxEntries: 2, maxTextLength: 40 });
  const a = cache.parse("SELECT a FROM m");
  cache.parse("SELECT b FROM m");
  cache.parse("SELECT a FROM m"); // a is now the most recent
  cache.parse("SELECT c FROM m"); // evicts b
  assert.equal(cache.parse("SELECT a FROM m"), a);
  assert.equal(cache.stats().entries, 2);
  const before = cache.stats().misses;
  cache.parse("SELECT b FROM m");
  assert.equal(cache.stats().misses, before + 1, "b should have been evicted");
  const long = "SELECT value FROM a_rather_long_measurement_name WHERE x = 1";
  assert.notEqual(cache.parse(long), cache.parse(long));
});

Deno.test("statement cache: a text that does not parse throws each time and is not kept", () => {
  const cache = new StatementCache();
  for (let i = 0; i < 2; i++) assert.throws(() => cache.parse("SELECT FROM"), ParseError);
  assert.equal(cache.stats().entries, 0);
});

Deno.test("statement cache: parameters are bound into copies; the kept tree is unchanged", () => {
  const cache = new StatementCache();
  const text = "SELECT v FROM m WHERE host = $host";
  const [kept] = cache.parse(text);
  const a = bindParams(kept, { host: "a" }) as SelectStatement;
  const b = bindParams(kept, { host: "b" }) as SelectStatement;
  assert.deepEqual(a.condition, {
    kind: "binary",
    op: "=",
    lhs: { kind: "var", name: "host" },
    rhs: { kind: "string", value: "a" },
  });
  assert.equal((b.condition as { rhs: { value: string } }).rhs.value, "b");
  assert.deepEqual(cache.parse(text)[0], parseQuery(text)[0]);
  // Without parameters, binding keeps the statement itself.
  const [plain] = cache.parse(Q);
  assert.equal(bindParams(plain, {}), plain);
});

Deno.test("statement cache: what is remembered of a kept statement holds for every query", async (t) => {
  const cache = new StatementCache();
  const HOUR = 3_600_000_000_000n;
  await t.step("a condition reading now() splits at each query's now", () => {
    const [stmt] = cache.parse(Q) as SelectStatement[];
    const at1 = splitCondition(stmt.condition, 1000n * HOUR);
    const at2 = splitCondition(stmt.condition, 2000n * HOUR);
    assert.equal(at1.minNs, 999n * HOUR + 1n);
    assert.equal(at2.minNs, 1999n * HOUR + 1n);
    assert.equal(splitCondition(stmt.condition, 1000n * HOUR).minNs, at1.minNs);
  });
  await t.step("a fixed range: the same split, a copy each time", () => {
    const [stmt] = cache.parse(
      "SELECT max(v) FROM cpu WHERE host = 'a' AND time >= '2023-01-01T00:00:00Z' AND time < '2023-01-01T01:00:00Z'",
    ) as SelectStatement[];
    const first = splitCondition(stmt.condition, 1n);
    first.minNs = 0n;
    const second = splitCondition(stmt.condition, 2n);
    assert.equal(second.minNs, 1672531200000000000n);
    assert.equal(second.maxNs, 1672534800000000000n - 1n);
    const tagOnly = parseQuery("SELECT v FROM cpu WHERE host = 'a'")[0] as SelectStatement;
    assert.deepEqual(second.condition, tagOnly.condition);
  });
  await t.step(
    "a statement with a parameter is bound at every query, and refused without it",
    () => {
      const [stmt] = cache.parse("SELECT v FROM cpu WHERE host = $h") as SelectStatement[];
      const a = bindParams(stmt, { h: "a" }) as SelectStatement;
      const b = bindParams(stmt, { h: "b" }) as SelectStatement;
      assert.notEqual(a.condition, b.condition);
      assert.throws(() => bindParams(stmt, {}), /missing parameter: h/);
      const [plain] = cache.parse("SELECT v FROM cpu WHERE host = 'a'");
      assert.equal(bindParams(plain, {}), plain);
      assert.equal(bindParams(plain, {}), plain);
    },
  );
});
