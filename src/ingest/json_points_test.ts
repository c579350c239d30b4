import assert from "node:assert/strict";
import fc from "fast-check";
import {
  FieldType,
  instantFromNanos,
  INT64_MAX,
  INT64_MIN,
  MAX_TIME_NS,
  MIN_TIME_NS,
  ParseError,
  type Point,
  UINT64_MAX,
  ValidationError,
} from "../core/mod.ts";
import { findJsonSyntaxProblem } from "./_json_syntax.ts";
import { plainPoint } from "../core/testing/mod.ts";
import {
  decodeJsonPoints,
  type JsonPointsOptions,
  JsonRecordError,
  parseJson,
  pointFromJsonObject,
  TagInterner,
} from "./json_points.ts";

const NOW = { ms: 1_700_000_000_123, subMs: 456 };

function decode(text: string, options: Partial<JsonPointsOptions> = {}) {
  return decodeJsonPoints(text, { defaultTime: NOW, ...options });
}

function onePoint(text: string, options: Partial<JsonPointsOptions> = {}): Point {
  const { points, errors } = decode(text, options);
  assert.deepEqual(errors, [], text);
  assert.equal(points.length, 1, text);
  return points[0];
}

function time(p: Point): [number, number] {
  return [p.timeMs, p.timeSubMs];
}

Deno.test("json: the seed's example works as written", () => {
  const p = onePoint(
    '{"timestamp": 1678886400, "measurement": "cpu_usage", "value": 0.75, ' +
      '"tags": {"host": "server1", "region": "us-east"}}',
  );
  assert.deepEqual(plainPoint(p), {
    measurement: "cpu_usage",
    tags: [{ key: "host", value: "server1" }, { key: "region", value: "us-east" }],
    fields: [{ key: "value", type: FieldType.Float, value: 0.75 }],
    timeMs: Date.parse("2023-03-15T13:20:00Z"),
    timeSubMs: 0,
  });
});

Deno.test("json: an array of records, fields of every type, value beside fields", () => {
  const { points, errors } = decode(`[
    {"measurement": "m", "fields": {"f": 1, "s": "NaN", "t": "42i", "b": false,
      "i": {"integer": "-9223372036854775808"}, "j": {"integer": 42},
      "k": {"integer": 9223372036854775807}, "u": {"unsigned": "18446744073709551615"},
      "v": {"unsigned": 7}}, "value": -0.5, "timestamp": "2023-03-15T13:20:00.123456789+01:00"},
    {"measurement": "n", "tags": {"z": "1", "a": "2", "empty": ""}, "fields": {"x": 1e300}}
  ]`);
  assert.deepEqual(errors, []);
  assert.deepEqual(points[0].fields, [
    { key: "f", type: FieldType.Float, value: 1 },
    { key: "s", type: FieldType.String, value: "NaN" },
    { key: "t", type: FieldType.String, value: "42i" },
    { key: "b", type: FieldType.Boolean, value: false },
    { key: "i", type: FieldType.Integer, value: INT64_MIN },
    { key: "j", type: FieldType.Integer, value: 42 },
    { key: "k", type: FieldType.Integer, value: INT64_MAX },
    { key: "u", type: FieldType.Unsigned, value: UINT64_MAX },
    { key: "v", type: FieldType.Unsigned, value: 7 },
    { key: "value", type: FieldType.Float, value: -0.5 },
  ]);
  assert.deepEqual(time(points[0]), [Date.parse("2023-03-15T12:20:00.123Z"), 456789]);
  assert.deepEqual(points[1].tags, [{ key: "a", value: "2" }, { key: "z", value: "1" }]);
  assert.deepEqual(time(points[1]), [NOW.ms, NOW.subMs]);
});

Deno.test("json: auto precision picks the unit by magnitude; integers stay exact", () => {
  const cases: [string, number, number][] = [
    ["1678886400", 1678886400000, 0],
    ["-1678886400", -1678886400000, 0],
    ["9223372036", 9223372036000, 0], // the last second InfluxDB can store
    ["100000000000", 100000000000, 0], // 1e11: milliseconds
    ["1678886400123", 1678886400123, 0],
    ["100000000000000", 100000000000, 0], // 1e14: microseconds
    ["100000000000000000", 100000000000, 0], // 1e17: nanoseconds
    ["1678886400123456", 1678886400123, 456000],
    ["1678886400123456789", 1678886400123, 456789],
    ['"1678886400123456789"', 1678886400123, 456789],
    ["9223372036854775806", 9223372036854, 775806],
    ['"-9223372036854775806"', -9223372036855, 224194],
    ["1678886400.25", 1678886400250, 0],
    ["0", 0, 0],
  ];
  for (const [ts, ms, subMs] of cases) {
    const p = onePoint(`{"measurement": "m", "value": 1, "timestamp": ${ts}}`);
    assert.deepEqual(time(p), [ms, subMs], ts);
  }
  // Just below a band's upper bound the unit is still the finer one (and out of range).
  for (const [ts, unit] of [["99999999999999", "ms"], ["99999999999999999", "us"]]) {
    const { errors } = decode(`{"measurement": "m", "value": 1, "timestamp": ${ts}}`);
    assert.match(errors[0].reason, new RegExp(`^timestamp ${ts} \\(in ${unit}\\) is outside`));
  }
});

Deno.test("json: an explicit precision applies to numbers and digit strings", () => {
  const cases: [JsonPointsOptions["precision"], string, number, number][] = [
    ["ns", "1678886400", 1678, 886400],
    ["ns", "-1", -1, 999999],
    ["u", "1678886400", 1678886, 400000],
    ["ms", '"1678886400"', 1678886400, 0],
    ["s", "-5", -5000, 0],
    ["m", "2", 120000, 0],
    ["h", "-1", -3600000, 0],
    ["s", "1.5", 1500, 0],
  ];
  for (const [precision, ts, ms, subMs] of cases) {
    const p = onePoint(`{"measurement": "m", "value": 1, "timestamp": ${ts}}`, { precision });
    assert.deepEqual(time(p), [ms, subMs], `${ts} ${precision}`);
  }
});

// Records that fail: [record JSON, field, reason].
const BAD: [string, string | undefined, string][] = [
  ['{"value": 1}', "measurement", "missing measurement"],
  [
    '{"measurement": "", "value": 1}',
    "measurement",
    'measurement: expected a non-empty string, got the string ""',
  ],
  [
    '{"measurement": 5, "value": 1}',
    "measurement",
    "measurement: expected a non-empty string, got the number 5",
  ],
  ['{"measurement": "m"}', "fields", 'no fields: give "fields" (an object of values) or "value"'],
  [
    '{"measurement": "m", "fields": {}}',
    "fields",
    'no fields: give "fields" (an object of values) or "value"',
  ],
  ['{"measurement": "m", "fields": [1]}', "fields", "fields: expected an object, got an array"],
  [
    '{"measurement": "m", "tags": "a", "value": 1}',
    "tags",
    'tags: expected an object of strings, got the string "a"',
  ],
  [
    '{"measurement": "m", "tags": {"host": 1}, "value": 1}',
    "tags.host",
    'tag "host": expected a string, got the number 1',
  ],
  ['{"measurement": "m", "tags": {"": "x"}, "value": 1}', "tags", "tag keys must not be empty"],
  ['{"measurement": "m", "fields": {"": 1}}', "fields", "field keys must not be empty"],
  [
    '{"measurement": "m", "fields": {"x": null}}',
    "fields.x",
    'field "x": expected a number, string, boolean, {"integer": "..."} or {"unsigned": "..."}, got null',
  ],
  [
    '{"measurement": "m", "value": [1]}',
    "value",
    'field "value": expected a number, string, boolean, {"integer": "..."} or {"unsigned": "..."}, got an array',
  ],
  [
    '{"measurement": "m", "fields": {"x": {"float": 1}}}',
    "fields.x",
    'field "x": expected a number, string, boolean, {"integer": "..."} or {"unsigned": "..."}, got an object',
  ],
  [
    '{"measurement": "m", "fields": {"x": 1e400}}',
    "fields.x",
    'field "x": Infinity is out of range',
  ],
  [
    `{"measurement": "m", "fields": {"x": ${"9".repeat(310)}}}`,
    "fields.x",
    'field "x": an integer of 310 digits is out of range (a float holds up to about 1.8e308)',
  ],
  [
    `{"measurement": "m", "value": -${"1".repeat(400)}}`,
    "value",
    'field "value": an integer of 400 digits is out of range (a float holds up to about 1.8e308)',
  ],
  [
    '{"measurement": "m", "fields": {"x": {"integer": "12i"}}}',
    "fields.x",
    'field "x": {"integer": ...} takes a decimal string or an exact integer, got the string "12i"',
  ],
  [
    '{"measurement": "m", "fields": {"x": {"integer": 1.5}}}',
    "fields.x",
    'field "x": {"integer": ...} takes a decimal string or an exact integer, got the number 1.5',
  ],
  [
    '{"measurement": "m", "fields": {"x": {"integer": "9223372036854775808"}}}',
    "fields.x",
    'field "x": integer 9223372036854775808 is outside the int64 range [-9223372036854775808, 9223372036854775807]',
  ],
  [
    '{"measurement": "m", "fields": {"x": {"unsigned": -1}}}',
    "fields.x",
    'field "x": unsigned -1 is outside the uint64 range [0, 18446744073709551615]',
  ],
  [
    '{"measurement": "m", "value": 1, "fields": {"value": 2}}',
    "value",
    'field "value" given twice, as "value" and inside "fields"',
  ],
  [
    '{"measurement": "m", "value": 1, "time": 5}',
    "time",
    'unknown key "time" (a record has measurement, tags, fields, value, timestamp)',
  ],
  [
    '{"measurement": "m", "value": 1, "timestamp": 9223372036854775807}',
    "timestamp",
    "timestamp 9223372036854775807 (in ns) is outside the valid range [-9223372036854775806, 9223372036854775806] nanoseconds",
  ],
  [
    '{"measurement": "m", "value": 1, "timestamp": "-99999999999999999999"}',
    "timestamp",
    "timestamp -99999999999999999999 (in ns) is outside the valid range [-9223372036854775806, 9223372036854775806] nanoseconds",
  ],
  [
    '{"measurement": "m", "value": 1, "timestamp": 1e300}',
    "timestamp",
    "timestamp 1e+300 (in ns) is outside the valid range [-9223372036854775806, 9223372036854775806] nanoseconds",
  ],
  [
    '{"measurement": "m", "value": 1, "timestamp": 99999999999}',
    "timestamp",
    "timestamp 99999999999 (in s) is outside the valid range [-9223372036854775806, 9223372036854775806] nanoseconds",
  ],
  [
    '{"measurement": "m", "value": 1, "timestamp": "2300-01-01T00:00:00Z"}',
    "timestamp",
    'timestamp "2300-01-01T00:00:00Z" is outside the valid range',
  ],
  [
    '{"measurement": "m", "value": 1, "timestamp": "yesterday"}',
    "timestamp",
    'timestamp "yesterday" is neither an integer nor an RFC3339 time (like "2023-03-15T13:20:00Z")',
  ],
  [
    '{"measurement": "m", "value": 1, "timestamp": true}',
    "timestamp",
    "timestamp expected a number, a digit string or an RFC3339 string, got the boolean true",
  ],
  ['"just a string"', undefined, 'expected an object, got the string "just a string"'],
  ["null", undefined, "expected an object, got null"],
];

Deno.test("json: bad records are reported with the key and the reason", () => {
  for (const [record, field, reason] of BAD) {
    const { points, errors } = decode(`[${record}]`);
    assert.equal(points.length, 0, record);
    const expected = field === undefined ? { record: 0, reason } : { record: 0, field, reason };
    assert.deepEqual(errors, [expected], record);
  }
  // An explicit precision decides the range: 2562047 h is the last hour, 2562048 h is not.
  const hours = (ts: number) =>
    decode(`{"measurement": "m", "value": 1, "timestamp": ${ts}}`, { precision: "h" }).errors;
  assert.deepEqual(hours(2562047), []);
  assert.equal(hours(2562048)[0].field, "timestamp");
});

Deno.test("json: valid records are kept when others in the array fail", () => {
  const { points, errors } = decode(
    '[{"measurement": "a", "value": 1}, {"value": 2}, 7, {"measurement": "d", "value": 4}]',
  );
  assert.deepEqual(points.map((p) => p.measurement), ["a", "d"]);
  assert.deepEqual(errors, [
    { record: 1, field: "measurement", reason: "missing measurement" },
    { record: 2, reason: "expected an object, got the number 7" },
  ]);
});

Deno.test("json: pointFromJsonObject throws a JsonRecordError naming record and key", () => {
  assert.throws(
    () => pointFromJsonObject({ measurement: "m", value: {} }, 12, { defaultTime: NOW }),
    (e: unknown) =>
      e instanceof JsonRecordError && e instanceof ValidationError && e.record === 12 &&
      e.field === "value" && e.message.startsWith('record 12: field "value": expected'),
  );
  const p = pointFromJsonObject(
    parseJson('{"measurement": "m", "value": 1, "timestamp": 1678886400123456789}'),
    0,
    { defaultTime: NOW },
  );
  assert.deepEqual(time(p), [1678886400123, 456789]);
});

Deno.test("json: malformed JSON throws a ParseError with line and column", () => {
  const cases: [string, number, number, string][] = [
    ["", 1, 1, "expected a JSON value, found end of input"],
    ["   ", 1, 4, "expected a JSON value, found end of input"],
    ['{"a": 1', 1, 8, "expected ',' or '}' after an object member, found end of input"],
    ['{"a": }', 1, 7, 'expected a JSON value, found "}"'],
    [
      '[\n  {"measurement": "a", "value": 1},\n  {"measurement": "b" "value": 2}\n]',
      3,
      23,
      "expected ',' or '}' after an object member, found \"\\\"\"",
    ],
    ["[1,\n2,,3]", 2, 3, 'expected a JSON value, found ","'],
    ['{"a": "x\ty"}', 1, 9, "control character U+0009 in a string"],
    ['{"a": "\\x"}', 1, 8, 'bad escape "\\\\x" in a string'],
    ["[1] 2", 1, 5, 'unexpected "2" after the JSON value'],
    ["{'a': 1}", 1, 2, 'expected a string (an object key), found "\'"'],
    ["[01]", 1, 3, "expected ',' or ']' after an array element, found \"1\""],
    ["[1.]", 1, 4, 'expected a digit after the decimal point, found "]"'],
    ["[NaN]", 1, 2, 'expected a JSON value, found "N"'],
    ['{"a": tru}', 1, 7, 'expected a JSON value, found "t"'],
    ['["🙂", x]', 1, 8, 'expected a JSON value, found "x"'],
  ];
  for (const [text, line, column, what] of cases) {
    assert.throws(
      () => decode(text),
      (e: unknown) => {
        assert.ok(e instanceof ParseError, `${JSON.stringify(text)}: ${e}`);
        assert.deepEqual(
          [e.line, e.column, e.message],
          [line, column, `malformed JSON at line ${line}, column ${column}: ${what}`],
          JSON.stringify(text),
        );
        return true;
      },
    );
  }
});

Deno.test("json: a body that is neither an object nor an array is a ValidationError", () => {
  for (const text of ["1", '"x"', "null", "true"]) {
    assert.throws(() => decode(text), ValidationError, text);
  }
  assert.deepEqual(decode("[]"), { points: [], errors: [], unlistedErrors: 0, records: [] });
});

Deno.test("json: property: the syntax locator agrees with JSON.parse", () => {
  const piece = fc.constantFrom(
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    '"a"',
    '"',
    "1",
    "-",
    "0",
    ".5",
    "e3",
    "true",
    "nul",
    "null",
    " ",
    "\n",
    "\\",
    '"\\u12"',
    '"\\n"',
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
      const text = pieces.join("");
      let valid = true;
      try {
        JSON.parse(text);
      } catch {
        valid = false;
      }
      const problem = findJsonSyntaxProblem(text);
      assert.equal(problem === undefined, valid, JSON.stringify(text));
    }),
    { numRuns: 3000 },
  );
});

const recordArb = fc.record({
  measurement: fc.string({ minLength: 1, maxLength: 8 }),
  tags: fc.dictionary(
    fc.string({ minLength: 1, maxLength: 5 }),
    fc.string({ minLength: 1, maxLength: 5 }),
    { maxKeys: 3 },
  ),
  floats: fc.dictionary(
    fc.string({ minLength: 1, maxLength: 5 }).map((k) => "f" + k),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    { maxKeys: 3 },
  ),
  ints: fc.dictionary(
    fc.string({ minLength: 1, maxLength: 5 }).map((k) => "i" + k),
    fc.bigInt(INT64_MIN, INT64_MAX),
    { maxKeys: 3 },
  ),
  uints: fc.dictionary(
    fc.string({ minLength: 1, maxLength: 5 }).map((k) => "u" + k),
    fc.bigInt(0n, UINT64_MAX),
    { maxKeys: 3 },
  ),
  ns: fc.bigInt(MIN_TIME_NS, MAX_TIME_NS),
  asNumber: fc.boolean(),
});

Deno.test("json: property: exact integers and nanosecond timestamps round-trip", () => {
  fc.assert(
    fc.property(fc.array(recordArb, { minLength: 1, maxLength: 4 }), (records) => {
      const parts = records.map((r) => {
        const fields: string[] = [];
        for (const [k, v] of Object.entries(r.floats)) {
          fields.push(`${JSON.stringify(k)}: ${Object.is(v, -0) ? "-0" : v}`);
        }
        for (const [k, v] of Object.entries(r.ints)) {
          fields.push(`${JSON.stringify(k)}: {"integer": ${r.asNumber ? v : `"${v}"`}}`);
        }
        for (const [k, v] of Object.entries(r.uints)) {
          fields.push(`${JSON.stringify(k)}: {"unsigned": "${v}"}`);
        }
        fields.push('"last": true');
        const ts = r.asNumber ? `${r.ns}` : `"${r.ns}"`;
        return `{"measurement": ${JSON.stringify(r.measurement)}, "tags": ${
          JSON.stringify(r.tags)
        }, "fields": {${fields.join(", ")}}, "timestamp": ${ts}}`;
      });
      const { points, errors } = decode(`[${parts.join(",\n")}]`, { precision: "ns" });
      assert.deepEqual(errors, []);
      records.forEach((r, k) => {
        const p = points[k];
        const t = instantFromNanos(r.ns);
        assert.deepEqual(time(p), [t.ms, t.subMs]);
        const byKey = new Map(p.fields.map((f) => [f.key, f]));
        for (const [key, v] of Object.entries(r.floats)) {
          assert.ok(Object.is(byKey.get(key)?.value, v), key);
        }
        for (const [key, v] of Object.entries(r.ints)) {
          const f = byKey.get(key)!;
          assert.equal(f.type, FieldType.Integer);
          assert.equal(BigInt(f.value as number | bigint), v);
        }
        for (const [key, v] of Object.entries(r.uints)) {
          assert.equal(BigInt(byKey.get(key)!.value as number | bigint), v);
        }
        const tags = Object.entries(r.tags).map(([key, value]) => ({ key, value }))
          .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
        assert.deepEqual(p.tags, tags);
      });
    }),
    { numRuns: 300 },
  );
});

Deno.test("TagInterner: one Tag object per key and value, shared across records; bounded", () => {
  const { points } = decodeJsonPoints(
    '[{"measurement":"m","tags":{"host":"a","dc":"x"},"value":1},' +
      '{"measurement":"m","tags":{"dc":"x","host":"a"},"value":2},' +
      '{"measurement":"m","tags":{"host":"b"},"value":3}]',
    { defaultTime: { ms: 0, subMs: 0 } },
  );
  assert.equal(points[0].tags[0], points[1].tags[0]); // dc=x, sorted first in both
  assert.equal(points[0].tags[1], points[1].tags[1]);
  assert.notEqual(points[0].tags[1], points[2].tags[0]); // host=a vs host=b
  assert.deepEqual(points[2].tags, [{ key: "host", value: "b" }]);
  const small = new TagInterner(2);
  const a = small.tag("k", "1");
  assert.equal(small.tag("k", "1"), a);
  small.tag("k", "2");
  const again = small.tag("k", "3"); // past 2 entries: starts over
  assert.deepEqual(again, { key: "k", value: "3" });
  assert.notEqual(small.tag("k", "1"), a);
});
