import assert from "node:assert/strict";
import fc from "fast-check";
import { ParseError } from "../core/errors.ts";
import { parseQuery } from "./parser.ts";
import { StatementCache } from "./statement_cache.ts";
import { cutLiterals, StatementTemplates, VERIFY_TEXTS } from "./statement_templates.ts";

/** Shapes with string literals in the places clients put them, `{}` for each literal. */
const SHAPES = [
  "SELECT max(usage_user) from cpu where (hostname = {}) and time >= {} and time < {} group by time(1m)",
  "SELECT * from cpu where usage_user > 90.0 and (hostname = {} or hostname = {}) and time >= {} and time < {}",
  'SELECT mean(v) FROM m WHERE a = {} AND b != {} GROUP BY time(1h), "host" fill(none); SELECT v FROM n WHERE c = {}',
  'SHOW TAG VALUES FROM cpu WITH KEY = "hostname" WHERE region = {}',
  'SELECT v AS "it\'s" FROM m WHERE x = {} LIMIT 3',
  "CREATE USER bob WITH PASSWORD {}",
  "SELECT count(v) FROM (SELECT v FROM m WHERE a = {}) WHERE time > {} - 1h",
];

const fill = (shape: string, values: string[]) => {
  let i = 0;
  return shape.replaceAll("{}", () => `'${values[i++]}'`);
};
const arity = (shape: string) => shape.split("{}").length - 1;
// Anything a client sends in a literal but a quote, a backslash or a control character.
const literal = fc.string({
  unit: fc.constantFrom(..."aZ09_-:. TéхÅ€😀".split("")),
  maxLength: 12,
});

Deno.test("statement templates: every text of a shape gets the parser's own statements", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...SHAPES),
      fc.array(fc.array(literal, { minLength: 4, maxLength: 4 }), { minLength: 4, maxLength: 8 }),
      (shape, valueSets) => {
        const templates = new StatementTemplates();
        for (const values of valueSets) {
          const text = fill(shape, values.slice(0, arity(shape)));
          assert.deepEqual(templates.parse(text), parseQuery(text), text);
        }
      },
    ),
    { numRuns: 150 },
  );
});

Deno.test("statement templates: after the checked texts, a shape's texts are copies, not parses", () => {
  const templates = new StatementTemplates();
  const shape = SHAPES[0];
  const texts = Array.from(
    { length: 1 + VERIFY_TEXTS + 5 }, // seen, learnt and checked, checked, then copies
    (_, i) =>
      fill(shape, [
        `host_${i}`,
        `2023-01-0${1 + (i % 9)}T00:00:00Z`,
        `2023-01-0${1 + (i % 9)}T01:00:00Z`,
      ]),
  );
  for (const text of texts) assert.deepEqual(templates.parse(text), parseQuery(text));
  assert.equal(templates.stats().copies, 5, "the texts after the checked ones were parsed");
  // A copy shares nothing it changed with the tree it was copied from, nor with earlier copies.
  const a = templates.parse(fill(shape, ["x", "1", "2"]));
  const b = templates.parse(fill(shape, ["y", "3", "4"]));
  assert.deepEqual(a, parseQuery(fill(shape, ["x", "1", "2"])));
  assert.deepEqual(b, parseQuery(fill(shape, ["y", "3", "4"])));
});

Deno.test("statement templates: a literal the grammar checks keeps its shape on the parser", () => {
  // tz() names a zone: the sentinel is no zone, so this shape is never copied, and a bad zone in
  // a later text still fails as the parser fails.
  const templates = new StatementTemplates();
  const shape = "SELECT mean(v) FROM m WHERE time > {} GROUP BY time(1h) tz({})";
  for (const zone of ["Europe/Paris", "America/New_York", "Asia/Tokyo", "UTC"]) {
    const text = fill(shape, ["2023-01-01T00:00:00Z", zone]);
    assert.deepEqual(templates.parse(text), parseQuery(text));
  }
  assert.equal(templates.stats().copies, 0);
  assert.throws(
    () => templates.parse(fill(shape, ["2023-01-01T00:00:00Z", "Mars/Olympus"])),
    ParseError,
  );
});

Deno.test("statement templates: texts the scan cannot read for sure are not cut", () => {
  assert.equal(cutLiterals("SELECT v FROM m WHERE a = 'it\\'s'"), undefined);
  assert.equal(cutLiterals("SELECT v FROM m WHERE a =~ /x'y/ AND b = 'c'"), undefined);
  assert.equal(cutLiterals("SELECT v FROM m -- it's\nWHERE b = 'c'"), undefined);
  assert.equal(cutLiterals("SELECT v FROM m WHERE b = 'c\u0001'"), undefined);
  assert.equal(cutLiterals("SELECT v FROM m"), undefined);
  assert.deepEqual(cutLiterals(`SELECT "a'b" FROM m WHERE b = 'c' AND d = ''`), {
    shape: `SELECT "a'b" FROM m WHERE b = \u0000 AND d = \u0000`,
    values: ["c", ""],
  });
});

Deno.test("statement templates: a bad text of a known shape throws the parser's error", () => {
  const cache = new StatementCache();
  const shape = "SELECT max(v) FROM m WHERE host = {} AND time > {}";
  for (let i = 0; i < VERIFY_TEXTS + 3; i++) cache.parse(fill(shape, [`h${i}`, `t${i}`]));
  assert.ok(cache.stats().copies > 0);
  assert.throws(() => cache.parse("SELECT max(v) FROM m WHERE host = 'h' AND time >"), ParseError);
  // An unterminated literal is no shape: the parser words the error.
  assert.throws(
    () => cache.parse("SELECT max(v) FROM m WHERE host = 'h AND time > 'x'"),
    ParseError,
  );
});
