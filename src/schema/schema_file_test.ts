import assert from "node:assert/strict";
import { parseSchemaFile, SchemaError } from "./schema_file.ts";

const GOOD = `measurements:
  cpu:
    tags:
      host: { required: true, max_length: 8 }
    fields:
      usage: { type: float, min: 0, max: 100 }
`;

Deno.test("schema file: a valid file yields its measurements with defaults", () => {
  const file = parseSchemaFile("cpu.yaml", GOOD);
  const cpu = file.measurements.get("cpu")!;
  assert.equal(cpu.fields.usage.type, "float");
  assert.equal(cpu.unknown_tags, "keep");
  assert.equal(cpu.tags.host.required, true);
  assert.deepEqual(cpu.pipeline, []);
});

Deno.test("schema file: JSON is accepted", () => {
  const file = parseSchemaFile(
    "s.json",
    '{"measurements": {"m": {"fields": {"v": {"type": "integer", "enum": [1, 2]}}}}}',
  );
  assert.deepEqual(file.measurements.get("m")!.fields.v.enum, [1, 2]);
});

function errorOf(text: string): string {
  try {
    parseSchemaFile("config/schemas/x.yaml", text);
  } catch (error) {
    assert.ok(error instanceof SchemaError, String(error));
    return error.message;
  }
  assert.fail("expected a SchemaError");
}

Deno.test("schema file: errors name file, line and key", () => {
  const cases: [string, RegExp][] = [
    [
      GOOD.replace("type: float", "type: double"),
      /x\.yaml:6: measurements\.cpu\.fields\.usage\.type: /,
    ],
    [
      GOOD.replace("max_length: 8", "max_len: 8"),
      /x\.yaml:4: measurements\.cpu\.tags\.host\.max_len: unknown key "max_len"/,
    ],
    [GOOD + "    unknown_tags: forbid\n", /x\.yaml:7: measurements\.cpu\.unknown_tags: /],
    [
      GOOD.replace("min: 0, max: 100", "min: 10, max: 1"),
      /x\.yaml:6: measurements\.cpu\.fields\.usage: min must not exceed max/,
    ],
    [
      'measurements:\n  m:\n    tags:\n      h: { pattern: "a(" }\n    fields: {}\n',
      /x\.yaml:4: measurements\.m\.tags\.h\.pattern: invalid pattern/,
    ],
    [
      "measurements:\n  m:\n    fields:\n      v: { type: string, min: 1 }\n",
      /x\.yaml:4: measurements\.m\.fields\.v\.min: min\/max apply to numeric/,
    ],
    [
      "measurements:\n  m:\n    fields:\n      v: { type: integer, default: 1.5 }\n",
      /x\.yaml:4: measurements\.m\.fields\.v\.default: default 1\.5 is not a integer/,
    ],
    [
      "measurements:\n  m:\n    pipeline:\n      - explode: {}\n",
      /x\.yaml:4: measurements\.m\.pipeline\.0/,
    ],
    ["measurements: [1, 2\n", /x\.yaml:\d+:\d+: invalid YAML/],
    ["measurements:\n  m: {}\n  m: {}\n", /invalid YAML/],
    ["other: 1\n", /x\.yaml:1: other: unknown key "other"/],
    [
      'measurements:\n  m:\n    pipeline:\n      - drop_if: "a >"\n      - derive:\n          field: x\n          expr: "b +"\n',
      /x\.yaml:4: measurements\.m\.pipeline\.0\.drop_if: invalid expression "a >"/,
    ],
    [
      'measurements:\n  m:\n    pipeline:\n      - derive:\n          field: x\n          expr: "nope(1)"\n',
      /x\.yaml:6: measurements\.m\.pipeline\.0\.derive\.expr: .*unknown function nope/,
    ],
  ];
  for (const [text, expected] of cases) assert.match(errorOf(text), expected, text);
});

Deno.test("schema file: the example files in config/schemas parse", async () => {
  for await (const entry of Deno.readDir("config/schemas")) {
    if (!/\.(ya?ml|json)$/.test(entry.name)) continue;
    const path = `config/schemas/${entry.name}`;
    const file = parseSchemaFile(path, await Deno.readTextFile(path));
    assert.ok(file.measurements.size > 0, path);
  }
});
