/**
 * Native JSON records as text, written by hand so they can hold what `JSON.stringify` never
 * writes: numbers beyond a double (`1e400`, 20-digit integers), `-0`, lone surrogate escapes,
 * duplicate keys, very deep nesting.
 * @module
 */
import fc from "fast-check";
import { rarely } from "../_random.ts";

/** JSON text taken as it is. */
class Raw {
  constructor(readonly text: string) {}
}

/** An object as entries, so a key may repeat. */
class Entries {
  constructor(readonly entries: [string | Raw, Json][]) {}
}

type Json = Raw | Entries | Json[] | string | number | boolean | null;

/** Writes a value as JSON text. */
function text(v: Json): string {
  if (v instanceof Raw) return v.text;
  if (v instanceof Entries) {
    return `{${
      v.entries.map(([k, x]) => `${k instanceof Raw ? k.text : JSON.stringify(k)}:${text(x)}`)
        .join(",")
    }}`;
  }
  if (Array.isArray(v)) return `[${v.map(text).join(",")}]`;
  return JSON.stringify(v);
}

const rawNumber = fc.constantFrom(
  "0",
  "-0",
  "1",
  "0.75",
  "1e400",
  "-1e400",
  "1e-400",
  "9007199254740993",
  "9223372036854775807",
  "9223372036854775808",
  "-9223372036854775809",
  "18446744073709551615",
  "18446744073709551616",
  "1678886400",
  "1678886400.25",
  "99999999999",
  "100000000000",
  "99999999999999",
  "100000000000000",
  "99999999999999999",
  "100000000000000000",
  "9223372036854775806",
  "-9223372036854775806",
  "1.5e300",
  "123456789012345678901234567890",
);

const name: fc.Arbitrary<string | Raw> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom("cpu", "host", "region", "usage", "value", "m") },
  { weight: 3, arbitrary: fc.string({ maxLength: 12, unit: "binary" }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      new Raw('"\\ud800"'),
      new Raw('"a\\udfffb"'),
      new Raw('"\\u0000"'),
      "",
      "__proto__",
      "constructor",
      "time",
      "k".repeat(70_000),
    ),
  },
);

const integerText = fc.oneof(
  fc.bigInt({ min: -(2n ** 65n), max: 2n ** 65n }).map(String),
  fc.constantFrom("", " 1", "+1", "1.5", "0x10", "1e3", "-", "00012", "-0"),
);

const fieldValue: fc.Arbitrary<Json> = fc.oneof(
  { weight: 4, arbitrary: fc.double().map((v) => (Number.isFinite(v) ? v : new Raw("1e400"))) },
  { weight: 2, arbitrary: rawNumber.map((t) => new Raw(t)) },
  { weight: 2, arbitrary: fc.string({ maxLength: 20, unit: "binary" }) },
  { weight: 1, arbitrary: fc.boolean() },
  {
    weight: 2,
    arbitrary: fc.tuple(fc.constantFrom("integer", "unsigned"), fc.oneof(integerText, rawNumber))
      .map(([k, v]) => new Entries([[k, /^[-\d.e]/.test(v) && v !== "-" ? new Raw(v) : v]])),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Json>(
      null,
      [],
      new Entries([]),
      new Entries([["integer", "1"], ["extra", 1]]),
      new Entries([["float", 1]]),
      new Raw('"NaN"'),
      new Raw('"\\ud83d"'),
    ),
  },
);

const timestamp: fc.Arbitrary<Json> = fc.oneof(
  rawNumber.map((t) => new Raw(t)),
  fc.double().map((v) => (Number.isFinite(v) ? v : null)),
  fc.constantFrom<Json>(
    "2023-03-15T13:20:00Z",
    "2023-03-15T13:20:00.123456789+02:00",
    "2023-03-15T13:20:00.1234567891Z",
    "2016-12-31T23:59:60Z",
    "2023-02-30T00:00:00Z",
    "2262-04-11T23:47:16.854775807Z",
    "2262-04-11T23:47:16.854775808Z",
    "1677-09-21T00:12:43.145224192Z",
    "1677-09-21T00:12:43.145224191Z",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2023-03-15t13:20:00z",
    "2023-03-15T13:20:00+24:00",
    "1678886400000000000",
    "-1",
    "",
    "1e9",
    true,
    null,
  ),
);

/** One record: mostly the documented keys with values at their edges; sometimes odd keys. */
export const jsonRecord: fc.Arbitrary<Json> = fc.record({
  measurement: fc.option(fc.oneof(name, fc.constant<Json>(1)), { freq: 10 }),
  tags: fc.option(
    fc.oneof(
      fc.array(fc.tuple(name, fc.oneof(name, fc.constant<Json>(1), fc.constant<Json>(null))), {
        maxLength: 5,
      }).map((e) => new Entries(e)),
      fc.constant<Json>("host=a"),
    ),
    { freq: 3 },
  ),
  fields: fc.option(
    fc.array(fc.tuple(name, fieldValue), { maxLength: 5 }).map((e) => new Entries(e)),
    { freq: 3 },
  ),
  value: fc.option(fieldValue, { freq: 2 }),
  timestamp: fc.option(timestamp, { freq: 3 }),
  extra: rarely(fc.tuple(fc.constantFrom("Measurement", "time", "fields", "x"), fieldValue), 8),
}).map((r) => {
  const entries: [string, Json][] = [];
  for (const k of ["measurement", "tags", "fields", "value", "timestamp"] as const) {
    const v = r[k];
    if (v !== null) entries.push([k, v]);
  }
  if (r.extra !== null) entries.push([r.extra[0], r.extra[1]]);
  return new Entries(entries);
});

/** A native JSON body: one record, an array of records, something else, or a deep structure. */
export const jsonBodies: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: jsonRecord.map(text) },
  { weight: 6, arbitrary: fc.array(jsonRecord, { maxLength: 12 }).map(text) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("1", '"x"', "null", "true", "[1, 2]", "[[]]", "{}", "", " "),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(10, 1000, 100_000).chain((n) =>
      fc.constantFrom(
        `[${"[".repeat(n)}${"]".repeat(n)}]`,
        `{"measurement":"m","fields":{"v":${'{"a":'.repeat(n)}1${"}".repeat(n)}}}`,
        `[${'{"measurement":"m","value":1},'.repeat(n)}{"measurement":"m","value":1}]`,
        `{"measurement":"m","tags":{${
          Array.from({ length: Math.min(n, 20_000) }, (_, i) => `"t${i}":"v"`).join(",")
        }},"value":1}`,
        `{"measurement":"${"\\u00e9".repeat(n)}","value":1}`,
      )
    ),
  },
);

/** NDJSON bodies: records one per line, blank lines, CRLF, a byte-order mark. */
export const ndjsonBodies: fc.Arbitrary<string> = fc.record({
  lines: fc.array(
    fc.oneof(
      { weight: 8, arbitrary: jsonRecord.map(text) },
      { weight: 1, arbitrary: fc.constantFrom("", " ", "\r", "[]", "{", "1", '{"a":1}') },
    ),
    { minLength: 1, maxLength: 12 },
  ),
  crlf: fc.boolean(),
  bom: fc.boolean(),
  final: fc.boolean(),
}).map(({ lines, crlf, bom, final }) =>
  (bom ? "\ufeff" : "") + lines.join(crlf ? "\r\n" : "\n") + (final ? "\n" : "")
);
