import assert from "node:assert/strict";
import { parseAlertRule, parseRulesFiles } from "./rules_file.ts";

const good = `alerts:
  - name: Hot
    database: db
    query: SELECT last(t) AS t FROM room GROUP BY room
    condition: t > 30
downsampling:
  - name: ds
    database: db
    from: autogen
    to: year
    interval: 5m
    aggregates: [mean, max]
`;

Deno.test("rules files: defaults filled in, each rule knows its file", () => {
  const rules = parseRulesFiles([{ path: "r.yaml", text: good }]);
  assert.equal(rules.alerts[0].every, "15s");
  assert.equal(rules.alerts[0].for, "0s");
  assert.equal(rules.alerts[0].source, "r.yaml");
  assert.deepEqual(rules.downsampling[0].aggregates, ["mean", "max"]);
});

Deno.test("rules files: a mistake names the file, the line and the key", () => {
  const cases: [string, RegExp][] = [
    [
      good.replace("interval: 5m", "interval: 5 minutes"),
      /r\.yaml:11: downsampling\.0\.interval: expected a duration/,
    ],
    [
      good.replace("condition: t > 30", "condition: t >"),
      /r\.yaml:5: alerts\.0\.condition: invalid expression/,
    ],
    [good.replace("query: SELECT", "query: SELEKT"), /r\.yaml:4: alerts\.0\.query: /],
    [
      good.replace("    condition", "    colour: red\n    condition"),
      /r\.yaml:5: alerts\.0\.colour: unknown key "colour"/,
    ],
    [
      good.replace("aggregates: [mean, max]", "aggregates: [avg]"),
      /downsampling\.0\.aggregates\.0/,
    ],
    ["alerts: [", /r\.yaml:1:\d+: invalid YAML/],
  ];
  for (const [text, expected] of cases) {
    assert.throws(() => parseRulesFiles([{ path: "r.yaml", text }]), expected, text);
  }
  assert.throws(
    () => parseRulesFiles([{ path: "a.yaml", text: good }, { path: "b.yaml", text: good }]),
    /b\.yaml:2: alerts\.0\.name: alert Hot is also defined in a\.yaml/,
  );
});

Deno.test("API rules: checked the same way", () => {
  assert.throws(
    () => parseAlertRule({ name: "x", database: "db", query: "SELECT * FROM m" }),
    /condition/,
  );
  assert.throws(
    () =>
      parseAlertRule({
        name: "x",
        database: "db",
        query: "SELECT v INTO c FROM m",
        condition: "v",
      }),
    /query: must not write/,
  );
  assert.equal(
    parseAlertRule({ name: "x", database: "db", query: "SELECT v FROM m", condition: "v" }).every,
    "15s",
  );
});
