import assert from "node:assert/strict";
import {
  type FieldLayout,
  FieldLayouts,
  FieldType,
  MAX_KEY_LENGTH,
  PackedPoint,
  type Point,
  seriesKey,
  type Tag,
} from "../core/mod.ts";
import { pointProblem, PointRules } from "./point_rules.ts";

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

Deno.test("point rules: a batch's rules, each layout measured once, answer each point as pointProblem does", () => {
  const layouts = new FieldLayouts();
  const F = FieldType.Float;
  const short = layouts.find(["v"], [F], 1), timed = layouts.find(["a", "time"], [F, F], 2);
  const long = "x".repeat(MAX_KEY_LENGTH - 9);
  const packed = (measurement: string, tags: Tag[], layout: FieldLayout) =>
    new PackedPoint(measurement, Object.freeze(tags), layout, layout.keys.map(() => 1), {
      ms: 0,
      subMs: 0,
    });
  // Consecutive points sharing a layout differ in what is checked per point: the series key's
  // length, a tag named time, the measurement a message names.
  const points = [
    packed("m", [{ key: "k", value: long }], short), // at the limit: fits
    packed("m", [{ key: "k", value: long + "x" }], short), // one byte more
    packed("m", [{ key: "k", value: "é".repeat((MAX_KEY_LENGTH - 9) / 2) + "x" }], short),
    packed("m", [{ key: "time", value: "x" }], short),
    packed("m", [{ key: "k", value: "x" }], short),
    packed("cpu", [], timed),
    packed("mem", [], timed),
    packed("mem", [{ key: "k", value: long }], timed),
    packed("m", [{ key: "k", value: "x" }], short),
  ];
  const rules = new PointRules();
  const answers = points.map((p) => rules.problem(p, seriesKey(p.measurement, p.tags)));
  assert.deepEqual(answers, points.map(problem));
  assert.deepEqual(answers, [
    undefined,
    "max key length exceeded: 65536 > 65535",
    "max key length exceeded: 65536 > 65535",
    'invalid tag key: input tag "time" on measurement "m" is invalid',
    undefined,
    'invalid field name: input field "time" on measurement "cpu" is invalid',
    'invalid field name: input field "time" on measurement "mem" is invalid',
    "max key length exceeded: 65537 > 65535", // with the first field key, "a"
    undefined,
  ]);
});
