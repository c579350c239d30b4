import assert from "node:assert/strict";
import fc from "fast-check";
import { ParseError } from "../core/mod.ts";
import { pt } from "./_test_util.ts";
import { compileExpression, parseExpression, truthy } from "./expression.ts";

const P = pt("weather", { station: "KSEA", region: "us" }, {
  temp: 20,
  humidity: 50,
  "count:i": 7,
  status: "ok",
  up: true,
}, 1_700_000_000_123);

Deno.test("expression: a table of expressions and their values", () => {
  const cases: [string, unknown][] = [
    ["1 + 2 * 3", 7],
    ["(1 + 2) * 3", 9],
    ["10 / 4", 2.5],
    ["10 % 4", 2],
    ["2 - 3 - 4", -5],
    ["-temp + 1", -19],
    ["1e3 + .5", 1000.5],
    ["temp * 1.8 + 32", 68],
    ["count + 1", 8],
    ["missing + 1", null],
    ["1 / 0", null],
    ["temp > 10", true],
    ["temp >= 20 and humidity < 50", false],
    ["temp >= 20 && humidity <= 50", true],
    ["temp < 0 or status = 'ok'", true],
    ["not up", false],
    ["!(temp = 20)", false],
    ["temp != 20", false],
    ["temp <> 21", true],
    ["temp == 20", true],
    ["station = 'KSEA'", true],
    ["'10' = 10", true],
    ["missing = null", true],
    ["missing > 1", false],
    ["if(humidity > 40, 'humid', 'dry')", "humid"],
    ["humidity > 60 ? 1 : temp > 10 ? 2 : 3", 2],
    ["round(temp / 3, 2)", 6.67],
    ["round(2.5)", 3],
    ["abs(-3) + ceil(1.2) + floor(1.8)", 6],
    ["sqrt(16) + pow(2, 3)", 12],
    ["min(temp, humidity, 30)", 20],
    ["max(temp, humidity)", 50],
    ["clamp(temp, 0, 10)", 10],
    ["round(ln(exp(2)), 6) + log10(100)", 4],
    ["lower(station) + '-' + upper(region)", "ksea-US"],
    ["len(station)", 4],
    ["trim('  a ')", "a"],
    ["concat(station, '/', count)", "KSEA/7"],
    ["substr(station, 1, 2)", "SE"],
    ["replace(station, 'SEA', 'PDX')", "KPDX"],
    ["contains(station, 'SE') and starts_with(station, 'K') and ends_with(station, 'A')", true],
    ["str(temp) + 'C'", "20C"],
    ["num('4.5') * 2", 9],
    ["bool(0)", false],
    ["coalesce(missing, humidity)", 50],
    ['"temp" + 1', 21],
    ["measurement", "weather"],
    ["time", 1_700_000_000_123],
    ["'it''s'", "it's"],
    ["TRUE and not FALSE", true],
  ];
  for (const [text, expected] of cases) {
    assert.deepEqual(compileExpression(text)(P), expected, text);
  }
});

Deno.test("expression: syntax errors say what was found, what was expected and where", () => {
  const cases: [string, RegExp][] = [
    ["1 +", /found end of expression, expected .* at char 4/],
    ["temp >", /at char 7/],
    ["(1", /expected .*"\)"/],
    ["'open", /found "'", expected .*string.* at char 1/],
    ["nope(1)", /unknown function nope/],
    ["round()", /round\(\) takes 1 to 2 arguments, got 0/],
    ["if(1, 2)", /if\(\) takes 3 arguments, got 2/],
  ];
  for (const [text, expected] of cases) {
    assert.throws(
      () => compileExpression(text),
      (e) => e instanceof ParseError && expected.test(e.message),
      text,
    );
  }
});

Deno.test("expression: integer arithmetic matches JavaScript's on safe integers (property)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: -1e6, max: 1e6 }),
      fc.integer({ min: -1e6, max: 1e6 }),
      (a, b) => {
        const p = pt("m", {}, { a, b });
        assert.equal(compileExpression("a + b * 2 - a")(p), a + b * 2 - a);
        assert.equal(compileExpression("a < b")(p), a < b);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("expression: truthiness", () => {
  assert.deepEqual([0, "", null, false, NaN, 1, "x", true].map(truthy), [
    false,
    false,
    false,
    false,
    false,
    true,
    true,
    true,
  ]);
  assert.equal(parseExpression("a.b").kind, "ref");
});
