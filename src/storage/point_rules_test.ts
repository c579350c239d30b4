import assert from "node:assert/strict";
import { FieldType, MAX_KEY_LENGTH, type Point, seriesKey, type Tag } from "../core/mod.ts";
import { pointProblem } from "./point_rules.ts";

function point(measurement: string, tags: Tag[], fieldKeys: string[]): Point {
  return {
    measurement,
    tags,
    fields: fieldKeys.map((key) => ({ key, type: FieldType.Float, value: 1 })),
    timeMs: 0,
    timeSubMs: 0,
  };
}
const problem = (p: Point) => pointProblem(p, seriesKey(p.measurement, p.tags));

Deno.test("point rules: a tag or field named time is refused with InfluxDB 1.6's message", () => {
  assert.equal(
    problem(point("m", [{ key: "time", value: "x" }], ["v"])),
    'invalid tag key: input tag "time" on measurement "m" is invalid',
  );
  assert.equal(
    problem(point("cpu", [], ["time"])),
    'invalid field name: input field "time" on measurement "cpu" is invalid',
  );
  // InfluxDB 1.6.7 drops such a field silently when there are others; here the point is refused.
  assert.equal(
    problem(point("cpu", [], ["a", "time", "z"])),
    'invalid field name: input field "time" on measurement "cpu" is invalid',
  );
  // As in InfluxDB: the measurement may be called time, and names are case-sensitive.
  assert.equal(problem(point("time", [{ key: "TIME", value: "x" }], ["Time", "_time"])), undefined);
});

Deno.test("point rules: series key + field key up to 65,535 UTF-8 bytes, not one more", () => {
  // m,k=<value> plus "#!~#" plus the field key "v": 1 + 3 + n + 4 + 1 bytes.
  const atLimit = (n: number) => point("m", [{ key: "k", value: "x".repeat(n) }], ["v"]);
  const fits = MAX_KEY_LENGTH - 9;
  assert.equal(problem(atLimit(fits)), undefined);
  assert.equal(problem(atLimit(fits + 1)), "max key length exceeded: 65536 > 65535");
  // Bytes, not characters: é is two bytes, 𝄞 four.
  const wide = (n: number) => point("m", [{ key: "k", value: "é".repeat(n) + "𝄞" }], ["v"]);
  const half = (fits - 4) / 2;
  assert.equal(problem(wide(half)), undefined);
  assert.equal(problem(wide(half + 1)), "max key length exceeded: 65537 > 65535");
  // The series key alone past the limit, and escapes counted as written (`,` becomes `\,`).
  assert.equal(
    problem(point("m", [{ key: "k", value: ",".repeat(40_000) }], ["v"])),
    "max key length exceeded: 80004 > 65535",
  );
});
