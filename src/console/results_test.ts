import assert from "node:assert/strict";
import { chartOf, parseAnswer, readResult } from "./results.ts";

const ANSWER = {
  results: [
    {
      statement_id: 0,
      series: [
        {
          name: "cpu",
          tags: { host: "a" },
          columns: ["time", "mean"],
          values: [[1000, 1], [3000, 3]],
        },
        {
          name: "cpu",
          tags: { host: "b" },
          columns: ["time", "mean"],
          values: [[2000, 2], [3000, null]],
        },
      ],
    },
    { statement_id: 1, error: "measurement not found" },
    { statement_id: 2, series: [{ name: "databases", columns: ["name"], values: [["db"]] }] },
  ],
};

Deno.test("an answer's series, errors and rows", () => {
  const r = readResult(ANSWER);
  assert.equal(r.tables.length, 3);
  assert.equal(r.rowCount, 5);
  assert.deepEqual(r.errors, [{ statementId: 1, message: "measurement not found" }]);
  assert.deepEqual(r.tables[0].tags, { host: "a" });
  assert.deepEqual(readResult({ error: "bad query" }).errors, [
    { statementId: 0, message: "bad query" },
  ]);
  assert.throws(() => readResult("nope"), /not a JSON object/);
});

Deno.test("the chart joins series on one sorted time axis, nulls where a series has no point", () => {
  const chart = readResult(ANSWER).chart!;
  assert.deepEqual(chart.times, [1, 2, 3]); // seconds
  assert.deepEqual(chart.lines, [
    { label: "mean {host=a}", values: [1, null, 3] },
    { label: "mean {host=b}", values: [null, 2, null] },
  ]);
});

Deno.test("no chart without a time column, numbers, or more than one row per series", () => {
  const table = (columns: string[], values: unknown[][]) => ({
    statementId: 0,
    name: "m",
    tags: {},
    columns,
    rows: values as never,
  });
  assert.equal(chartOf([table(["name"], [["a"], ["b"]])]), undefined);
  assert.equal(chartOf([table(["time", "s"], [[1, "x"], [2, "y"]])]), undefined);
  assert.equal(chartOf([table(["time", "count"], [[0, 180]])]), undefined);
  // Several measurements: the label says which.
  const two = chartOf([
    table(["time", "v"], [[1000, 1], [2000, 2]]),
    { ...table(["time", "v"], [[1000, 5]]), name: "n" },
  ])!;
  assert.deepEqual(two.lines.map((l) => l.label), ["m.v", "n.v"]);
});

Deno.test("integers beyond 2^53 keep every digit", () => {
  const parsed = parseAnswer('{"v": [9223372036854775807, 1.5, 12, -9007199254740993]}');
  assert.deepEqual(parsed, { v: ["9223372036854775807", 1.5, 12, "-9007199254740993"] });
});
