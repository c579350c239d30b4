import { equal } from "node:assert/strict";
import { encodeCsv } from "./encode_csv.ts";
import { encodeJson, goFloat, jsonString } from "./encode_json.ts";
import { formatTable } from "./encode_table.ts";
import type { StatementResult } from "./result.ts";

const T0 = { ms: 1678886400000, subMs: 0 };
const T1 = { ms: 1678886410123, subMs: 456789 };

const RESULTS: StatementResult[] = [
  {
    statementId: 0,
    series: [{
      name: "cpu",
      tags: { region: "us", host: "a" },
      columns: ["time", "mean", "n", "s", "b"],
      values: [[T0, 0.75, 9223372036854775807n, "x", true], [T1, null, -3, "", false]],
      timeColumn: true,
    }],
  },
  { statementId: 1 },
  { statementId: 2, error: "database not found: x" },
];

Deno.test("JSON: InfluxDB's bytes (key order, times, integers, empty and error results)", () => {
  equal(
    encodeJson(RESULTS),
    `{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"a","region":"us"},"columns":["time","mean","n","s","b"],"values":[["2023-03-15T13:20:00Z",0.75,9223372036854775807,"x",true],["2023-03-15T13:20:10.123456789Z",null,-3,"",false]]}]},{"statement_id":1},{"statement_id":2,"error":"database not found: x"}]}\n`,
  );
});

Deno.test("JSON: epoch units truncate like Go", () => {
  const one = (epoch: "ns" | "u" | "ms" | "s" | "m" | "h") =>
    encodeJson([{
      statementId: 0,
      series: [{ name: "m", columns: ["time", "v"], values: [[T1, 1]], timeColumn: true }],
    }], { epoch });
  const cell = (s: string) => /\[\[(-?\d+),/.exec(s)![1];
  equal(cell(one("ns")), "1678886410123456789");
  equal(cell(one("u")), "1678886410123456");
  equal(cell(one("ms")), "1678886410123");
  equal(cell(one("s")), "1678886410");
  equal(cell(one("m")), "27981440");
  equal(cell(one("h")), "466357");
  // Before 1970 Go's integer division truncates toward zero.
  const neg = encodeJson([{
    statementId: 0,
    series: [{
      name: "m",
      columns: ["time", "v"],
      values: [[{ ms: -1, subMs: 500000 }, 1]],
      timeColumn: true,
    }],
  }], { epoch: "ms" });
  equal(cell(neg), "0");
});

Deno.test("JSON: floats as Go's encoding/json (verified against influxd 1.6.7)", () => {
  // influxd 1.6.7 answered 1e-7, 1e+21 and 123456789012345680000 for these values.
  equal(goFloat(1e-7), "1e-7");
  equal(goFloat(1e21), "1e+21");
  equal(goFloat(123456789012345680000), "123456789012345680000");
  equal(goFloat(5.0), "5");
  equal(goFloat(0.5833333333333334), "0.5833333333333334");
  equal(goFloat(0.000001), "0.000001");
  equal(goFloat(-0), "-0");
  equal(goFloat(NaN), "null");
});

Deno.test("JSON: strings escaped as Go's encoding/json (HTML-safe)", () => {
  // influxd 1.6.7 answered "\u003ca\u0026b\u003e" for the string <a&b>.
  equal(jsonString("<a&b>"), '"\\u003ca\\u0026b\\u003e"');
  equal(jsonString('q"\\\n\t\r'), '"q\\"\\\\\\n\\t\\r"');
  equal(jsonString("\u0001\b\f"), '"\\u0001\\u0008\\u000c"');
  equal(jsonString("\u2028é😀"), '"\\u2028é😀"');
  equal(jsonString("\ud800"), '"\\ufffd"');
});

Deno.test("JSON: messages and pretty output", () => {
  equal(
    encodeJson([{ statementId: 0, messages: [{ level: "warning", text: "w" }] }]),
    `{"results":[{"statement_id":0,"messages":[{"level":"warning","text":"w"}]}]}\n`,
  );
  equal(
    encodeJson([{
      statementId: 0,
      series: [{ name: "databases", columns: ["name"], values: [["db"]], timeColumn: false }],
    }], { pretty: true }),
    `{
    "results": [
        {
            "statement_id": 0,
            "series": [
                {
                    "name": "databases",
                    "columns": [
                        "name"
                    ],
                    "values": [
                        [
                            "db"
                        ]
                    ]
                }
            ]
        }
    ]
}
`,
  );
});

Deno.test("CSV: InfluxDB's shape (verified against influxd 1.6.7)", () => {
  equal(
    encodeCsv(RESULTS),
    `name,tags,time,mean,n,s,b
cpu,"host=a,region=us",1678886400000000000,0.75,9223372036854775807,x,true
cpu,"host=a,region=us",1678886410123456789,,-3,,false
`,
  );
  const two: StatementResult[] = [
    {
      statementId: 0,
      series: [{ name: "cpu", columns: ["time", "usage"], values: [[T0, 1e-7]], timeColumn: true }],
    },
    {
      statementId: 1,
      series: [{ name: "databases", columns: ["name"], values: [["a,b"]], timeColumn: false }],
    },
  ];
  equal(
    encodeCsv(two, { epoch: "ms" }),
    `name,tags,time,usage\ncpu,,1678886400000,0.0000001\n\nname,tags,name\ndatabases,,"a,b"\n`,
  );
});

Deno.test("table: aligned columns for the CLI", () => {
  equal(
    formatTable(RESULTS),
    `name: cpu
tags: host=a, region=us
time                           mean n                   s b
----                           ---- -                   - -
2023-03-15T13:20:00Z           0.75 9223372036854775807 x true
2023-03-15T13:20:10.123456789Z      -3                    false

ERR: database not found: x
`,
  );
});
