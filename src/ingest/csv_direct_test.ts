/**
 * CSV rows are built straight into points; the JSON API's rules decide the same rows. Each row
 * of random cells (good and bad numbers, out-of-range integers, empty cells, bad times, empty
 * measurements) must give the point, or the refusal, that its JSON-API record gives.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type { Point } from "../core/mod.ts";
import { type CsvFieldType, decodeCsvStream } from "./csv_points.ts";
import { decodeJsonRecord, isRecordError } from "./json_points.ts";

const EPOCH = { ms: 0, subMs: 0 };
const TYPES: Record<string, CsvFieldType> = {
  f: "float",
  i: "integer",
  u: "unsigned",
  b: "boolean",
  s: "string",
};
const HEADER = ["time", "measurement", "host", "dc", "f", "i", "u", "b", "s"];

const cell = fc.oneof(
  fc.constantFrom("", " ", "1", "+7", "-3", " 42 ", "2.5", ".5", "1e3", "1e999", "-1e999", "x"),
  fc.constantFrom("-0", "+0", "007", "-999999999999999", "9999999999999999", "-9007199254740993"),
  fc.constantFrom("9223372036854775807", "9223372036854775808", "-9223372036854775808"),
  fc.constantFrom("-9223372036854775809", "18446744073709551615", "18446744073709551616"),
  fc.constantFrom("true", "FALSE", "True", "tRUE", "0x10", "Infinity", "1_0", "NaN"),
  fc.integer().map(String),
  fc.double({ noNaN: true }).map(String),
);
const time = fc.constantFrom(
  "",
  "1678886400",
  "1678886400123",
  "2023-03-15T13:20:00Z",
  "2023-03-15T13:20:00.123456789Z",
  "not a time",
  "1e30",
  "-5",
);
const tagValue = fc.constantFrom("", "a", "b");
/** Cells a column of each type mostly takes (most rows valid), else any cell. */
const typical: Record<CsvFieldType, fc.Arbitrary<string>> = {
  float: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }).map(String), cell),
  integer: fc.oneof(
    fc.constantFrom("-0", "+0", "007", "-999999999999999", "9999999999999999", "+12"),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String),
  ),
  unsigned: fc.oneof(
    fc.constantFrom("+0", "0", "+5"),
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String),
  ),
  boolean: fc.constantFrom("", "true", "FALSE", "True", " false "),
  string: fc.oneof(fc.string(), cell),
};
const fieldCells = fc.tuple(
  ...HEADER.slice(4).map((k) => fc.oneof({ weight: 4, arbitrary: typical[TYPES[k]] }, cell)),
);
const row = fc.tuple(time, fc.constantFrom("cpu", "", "m é"), tagValue, tagValue, fieldCells)
  .map(([t, m, h, d, v]) => [t, m, h, d, ...v]);

/** What the JSON API makes of the row's record: the CSV reading of each cell, as before. */
function viaJson(cells: string[], record: number): Point | string {
  const fields: Record<string, unknown> = {};
  for (let c = 4; c < HEADER.length; c++) {
    const v = cells[c], key = HEADER[c];
    if (v === "") continue;
    const t = v.trim();
    switch (TYPES[key]) {
      case "string":
        fields[key] = v;
        break;
      case "float":
        if (!/^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/.test(t)) return "bad";
        fields[key] = Number(t);
        break;
      case "integer":
        if (!/^[+-]?\d+$/.test(t)) return "bad";
        fields[key] = { integer: t.replace(/^\+/, "") };
        break;
      case "unsigned":
        if (!/^\+?\d+$/.test(t)) return "bad";
        fields[key] = { unsigned: t.replace(/^\+/, "") };
        break;
      case "boolean":
        if (!/^(true|false|TRUE|FALSE|True|False)$/.test(t)) return "bad";
        fields[key] = t.toLowerCase() === "true";
        break;
    }
  }
  if (Object.keys(fields).length === 0) return "no fields";
  const tags: Record<string, string> = {};
  if (cells[2] !== "") tags.host = cells[2];
  if (cells[3] !== "") tags.dc = cells[3];
  const timestamp = cells[0].trim() === "" ? undefined : cells[0].trim();
  const decoded = decodeJsonRecord(
    { measurement: cells[1], tags, fields, timestamp },
    record,
    { defaultTime: EPOCH },
  );
  return isRecordError(decoded) ? decoded.reason : decoded;
}

function shape(p: Point) {
  return {
    measurement: p.measurement,
    tags: p.tags.map((t) => [t.key, t.value]),
    fields: p.fields.map((f) => [f.key, f.type, f.value]).sort(),
    time: [p.timeMs, p.timeSubMs],
  };
}

Deno.test("csv: a row gives the point, or the refusal, its JSON-API record gives", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 30 }), async (rows) => {
      const csv = [HEADER, ...rows].map((r) =>
        r.map((c) => `"${c.replaceAll('"', '""')}"`).join(",")
      ).join("\n");
      const points: Point[] = [], refused: number[] = [];
      const stream = ReadableStream.from([new TextEncoder().encode(csv + "\n")]);
      for await (
        const b of decodeCsvStream(stream, {
          defaultTime: EPOCH,
          tags: ["host", "dc"],
          types: TYPES,
        })
      ) {
        points.push(...b.points);
        refused.push(...b.errors.map((e) => e.record!));
      }
      let p = 0;
      rows.forEach((cells, i) => {
        const expected = viaJson(cells, i + 1);
        if (typeof expected === "string") {
          assert.ok(refused.includes(i + 1), `row ${i + 1} ${cells} accepted (${expected})`);
        } else {
          assert.ok(!refused.includes(i + 1), `row ${i + 1} ${cells} refused`);
          assert.deepEqual(shape(points[p++]), shape(expected), `row ${i + 1}: ${cells}`);
        }
      });
      assert.equal(p, points.length);
    }),
    { numRuns: 300 },
  );
});
