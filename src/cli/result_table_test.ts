import assert from "node:assert/strict";
import { displayWidth, formatColumns, parseAnswer, type WireResult } from "./result_table.ts";

Deno.test("tables: columns as wide as their widest cell on screen; wide characters count two", () => {
  const body = parseAnswer(JSON.stringify({
    results: [{
      statement_id: 0,
      series: [{
        name: "cpu",
        tags: { region: "eu", host: "a" },
        columns: ["time", "host", "v"],
        values: [["2023-11-14T22:13:20Z", "東京", 1.5], ["2023-11-14T22:13:21Z", "b", null]],
      }],
    }],
  })) as { results: WireResult[] };
  assert.equal(
    formatColumns(body.results),
    [
      "name: cpu",
      "tags: host=a, region=eu",
      "time                 host v",
      "----                 ---- -",
      "2023-11-14T22:13:20Z 東京 1.5",
      "2023-11-14T22:13:21Z b",
      "",
    ].join("\n"),
  );
  assert.equal(displayWidth("e\u0301"), 1); // e + combining acute
  assert.equal(displayWidth("🙂x"), 3);
});

Deno.test("tables: int64 beyond 2^53 exact, line breaks escaped, errors and messages shown", () => {
  const body = parseAnswer(
    '{"results":[{"statement_id":0,"series":[{"columns":["n","s"],"values":[[9223372036854775807,"a\\nb"]]}]},' +
      '{"statement_id":1,"error":"database not found: x"},' +
      '{"statement_id":2,"messages":[{"level":"warning","text":"deprecated"}]}]}',
  ) as { results: WireResult[] };
  assert.equal(
    formatColumns(body.results),
    "n                   s\n-                   -\n9223372036854775807 a\\nb\n\nERR: database not found: x\n\nwarning: deprecated\n",
  );
});
