import assert from "node:assert/strict";
import fc from "fast-check";
import { KEYWORDS as PARSER_KEYWORDS } from "../query/mod.ts";
import { KEYWORDS, tokenize, type TokenKind } from "./influxql_tokens.ts";

const kinds = (text: string) =>
  tokenize(text).filter((t) => t.kind !== "space").map((t) => `${t.kind}:${t.text}`);

Deno.test("tokens put back together are the input, whatever it is", () => {
  const pieces = fc.constantFrom(
    "SELECT",
    " ",
    "\n",
    "'",
    '"',
    "/",
    "*",
    "--",
    "/*",
    "*/",
    "\\",
    "$",
    "$timeFilter",
    "10m",
    "1.5e",
    "=~",
    "(",
    ")",
    "µs",
    "é",
    "cpu",
    ",",
    "0",
    ".",
  );
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.array(pieces).map((p) => p.join(""))), (text) => {
      const tokens = tokenize(text);
      assert.equal(tokens.map((t) => t.text).join(""), text);
      assert.ok(tokens.every((t) => t.text.length > 0), "no empty token");
    }),
    { numRuns: 2000 },
  );
});

Deno.test("a query's parts get their colours", () => {
  assert.deepEqual(
    kinds(
      `SELECT mean("usage") FROM cpu WHERE host =~ /web.*/ AND time > now() - 1h GROUP BY time(5m)`,
    ),
    [
      "keyword:SELECT",
      "function:mean",
      "punctuation:(",
      'quoted:"usage"',
      "punctuation:)",
      "keyword:FROM",
      "identifier:cpu",
      "keyword:WHERE",
      "identifier:host",
      "operator:=~",
      "regex:/web.*/",
      "keyword:AND",
      "identifier:time",
      "operator:>",
      "function:now",
      "punctuation:(",
      "punctuation:)",
      "operator:-",
      "duration:1h",
      "keyword:GROUP",
      "keyword:BY",
      "function:time",
      "punctuation:(",
      "duration:5m",
      "punctuation:)",
    ],
  );
  const table: [string, TokenKind][] = [
    ["'it\\'s'", "string"],
    ["-- a comment", "comment"],
    ["/* block */", "comment"],
    ["$timeFilter", "variable"],
    ["1.5e10", "number"],
    ["42", "number"],
    ["250ms", "duration"],
    ["select", "keyword"],
    ['"unclosed', "quoted"],
  ];
  for (const [text, kind] of table) assert.deepEqual(kinds(text), [`${kind}:${text}`], text);
  // Division after a value, a regex anywhere else.
  assert.deepEqual(kinds("a / 2"), ["identifier:a", "operator:/", "number:2"]);
  assert.deepEqual(kinds("SELECT /u.*/ FROM /cpu/"), [
    "keyword:SELECT",
    "regex:/u.*/",
    "keyword:FROM",
    "regex:/cpu/",
  ]);
});

Deno.test("the highlighter's reserved words are the parser's", () => {
  assert.deepEqual([...KEYWORDS].sort(), [...PARSER_KEYWORDS].sort());
});
