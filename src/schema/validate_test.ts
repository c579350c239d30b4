import assert from "node:assert/strict";
import { fieldsOf, pt, tagsOf } from "./_test_util.ts";
import { MeasurementSchema, type MeasurementSchemaInput } from "./model.ts";
import { checkPoint, compileSchema, type Violation } from "./validate.ts";

function schema(input: MeasurementSchemaInput) {
  return compileSchema("m", MeasurementSchema.parse(input));
}

function rule(s: ReturnType<typeof schema>, p: ReturnType<typeof pt>): Violation | undefined {
  return checkPoint(s, p).violation;
}

Deno.test("validate: every tag rule", () => {
  const s = schema({
    tags: {
      host: { required: true, max_length: 5, pattern: "[a-z]+[0-9]*" },
      region: { values: ["eu", "us"] },
    },
    fields: { v: { type: "float" } },
  });
  assert.equal(rule(s, pt("m", { host: "a1" }, { v: 1 })), undefined);
  assert.deepEqual(rule(s, pt("m", {}, { v: 1 })), {
    rule: "required_tag",
    key: "host",
    expected: "present",
    got: "missing",
  });
  assert.equal(rule(s, pt("m", { host: "abcdef" }, { v: 1 }))?.rule, "tag_max_length");
  assert.equal(rule(s, pt("m", { host: "A1" }, { v: 1 }))?.rule, "tag_pattern");
  // The pattern must match the whole value.
  assert.equal(rule(s, pt("m", { host: "a1-" }, { v: 1 }))?.rule, "tag_pattern");
  const v = rule(s, pt("m", { host: "a", region: "ap" }, { v: 1 }))!;
  assert.deepEqual([v.rule, v.key, v.expected, v.got], [
    "tag_values",
    "region",
    "one of eu|us",
    "ap",
  ]);
});

Deno.test("validate: every field rule", () => {
  const s = schema({
    fields: {
      v: { type: "float", required: true, min: 0, max: 10 },
      n: { type: "integer", enum: [1, 2] },
      s: { type: "string", enum: ["ok", "bad"] },
      b: { type: "boolean" },
    },
  });
  assert.equal(rule(s, pt("m", {}, { v: 1, "n:i": 2, s: "ok", b: true })), undefined);
  assert.equal(rule(s, pt("m", {}, { n: 1 }))?.rule, "field_type"); // float 1 for an integer
  assert.deepEqual(rule(s, pt("m", {}, { "n:i": 1 })), {
    rule: "required_field",
    key: "v",
    expected: "present",
    got: "missing",
  });
  assert.deepEqual(rule(s, pt("m", {}, { v: -1 })), {
    rule: "field_min",
    key: "v",
    expected: ">= 0",
    got: "-1",
  });
  assert.equal(rule(s, pt("m", {}, { v: 11 }))?.rule, "field_max");
  assert.equal(rule(s, pt("m", {}, { v: 1, "n:i": 3 }))?.rule, "field_enum");
  assert.equal(rule(s, pt("m", {}, { v: 1, s: "meh" }))?.rule, "field_enum");
  const t = rule(s, pt("m", {}, { v: "x" }))!;
  assert.deepEqual([t.rule, t.expected, t.got], ["field_type", "float", 'string "x"']);
  assert.equal(rule(s, pt("m", {}, { v: 1, b: "yes" }))?.rule, "field_type");
});

Deno.test("validate: unknown tags and fields: reject, drop, keep", () => {
  const base = { tags: { host: {} }, fields: { v: { type: "float" as const } } };
  const p = pt("m", { host: "a", extra: "x" }, { v: 1, more: 2 });
  assert.equal(rule(schema({ ...base, unknown_tags: "reject" }), p)?.rule, "unknown_tag");
  assert.equal(rule(schema({ ...base, unknown_fields: "reject" }), p)?.rule, "unknown_field");
  const dropped = checkPoint(schema({ ...base, unknown_tags: "drop", unknown_fields: "drop" }), p);
  assert.deepEqual(tagsOf(dropped.point!), { host: "a" });
  assert.deepEqual(fieldsOf(dropped.point!), { v: 1 });
  const kept = checkPoint(schema(base), p);
  assert.equal(kept.point, p); // unchanged points are not copied
  // Dropping every field leaves nothing to store: rejected.
  const onlyUnknown = pt("m", {}, { more: 2 });
  assert.equal(
    rule(schema({ ...base, unknown_fields: "drop" }), onlyUnknown)?.rule,
    "unknown_field",
  );
});

Deno.test("validate: defaults fill missing tags and fields, never the input point", () => {
  const s = schema({
    tags: { region: { default: "eu", required: true } },
    fields: { v: { type: "float" }, up: { type: "boolean", default: true, required: true } },
  });
  const p = pt("m", { host: "a" }, { v: 1 });
  const out = checkPoint(s, p).point!;
  assert.deepEqual(tagsOf(out), { host: "a", region: "eu" });
  assert.deepEqual(out.tags.map((t) => t.key), ["host", "region"]);
  assert.deepEqual(fieldsOf(out), { v: 1, up: true });
  assert.deepEqual(tagsOf(p), { host: "a" });
  assert.deepEqual(fieldsOf(p), { v: 1 });
});

Deno.test("validate: a bad enum or default type is refused at compile time", () => {
  assert.throws(
    () => schema({ fields: { v: { type: "integer", enum: ["a"] } } }),
    /enum value "a" is not a integer/,
  );
  assert.throws(
    () => schema({ fields: { v: { type: "boolean", default: 1 } } }),
    /default 1 is not a boolean/,
  );
});
