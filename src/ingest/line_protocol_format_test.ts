import assert from "node:assert/strict";
import fc from "fast-check";
import { FieldType, type Point, type Tag } from "../core/mod.ts";
import { formatLineProtocol, LineProtocolFormatter } from "./line_protocol_format.ts";

const name = fc.string({
  minLength: 1,
  maxLength: 6,
  unit: fc.constantFrom("a", "b", ",", " ", "=", '"'),
});

Deno.test("line protocol formatter: each line is formatLineProtocol's, shared tag arrays included", () => {
  const shared: Tag[] = [{ key: "host", value: "a b" }];
  const other: Tag[] = [{ key: "host", value: "a,b" }];
  const point = (measurement: string, tags: Tag[], key: string, timeMs: number): Point => ({
    measurement,
    tags,
    fields: [{ key, type: FieldType.Integer, value: -9223372036854775808n }, {
      key: 'q"=',
      type: FieldType.String,
      value: 'say "hi"\\',
    }],
    timeMs,
    timeSubMs: 7,
  });
  // One tag array under two measurements, two equal-looking arrays, escaped keys and values.
  const points = [
    point("cpu", shared, "v", 1),
    point("cpu", shared, "v w", 2),
    point("mem", shared, "v", 3),
    point("mem", other, "v", 4),
    point("mem", [{ key: "host", value: "a b" }], "v", -5),
  ];
  const formatter = new LineProtocolFormatter();
  assert.deepEqual(points.map((p) => formatter.line(p)), points.map((p) => formatLineProtocol(p)));
});

Deno.test("line protocol formatter: property: equal to formatLineProtocol over runs of series", () => {
  const series = fc.record({
    measurement: name,
    tags: fc.array(fc.record({ key: name, value: name }), { maxLength: 2 }),
  });
  fc.assert(
    fc.property(
      fc.array(series, { minLength: 1, maxLength: 4 }),
      fc.array(
        fc.tuple(fc.nat(3), fc.nat(3), name, fc.double({ noNaN: true, noDefaultInfinity: true })),
        {
          minLength: 1,
          maxLength: 20,
        },
      ),
      (seriesList, rows) => {
        const points: Point[] = rows.map(([s, m, key, value], i) => ({
          // A series' own tag array, under its measurement or another series' (same array).
          measurement: seriesList[m % seriesList.length].measurement,
          tags: seriesList[s % seriesList.length].tags,
          fields: [{ key, type: FieldType.Float, value }],
          timeMs: 1_700_000_000_000 + i,
          timeSubMs: i,
        }));
        const formatter = new LineProtocolFormatter();
        assert.deepEqual(
          points.map((p) => formatter.line(p)),
          points.map((p) => formatLineProtocol(p)),
        );
      },
    ),
    { numRuns: 300 },
  );
});
