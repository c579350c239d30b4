/**
 * Checking a point against its measurement's schema. {@linkcode compileSchema} turns the
 * declared schema into lookup tables and compiled RE2 patterns once; {@linkcode checkPoint}
 * then costs a map lookup per tag and field. A point either passes (possibly with defaults
 * added and unknown keys dropped, as a new object: decoder points are never mutated) or breaks
 * one rule, reported as a {@linkcode Violation}.
 * @module
 */
import { RE2JS } from "re2js";
import {
  type Field,
  FIELD_TYPE_NAMES,
  FieldType,
  type FieldValue,
  type Point,
  sortTags,
  type Tag,
  withFields,
  withTags,
} from "../core/mod.ts";
import type { FieldRule, FieldTypeName, MeasurementSchema, UnknownPolicy } from "./model.ts";

/** The rule a point broke: which key, what the schema expects, what the point had. */
export interface Violation {
  /** Rule name, also the `rule` label of the rejection metric. */
  rule: string;
  /** The tag or field (or `series`, `script` ...) the rule is about. */
  key: string;
  expected: string;
  got: string;
}

/** Field type names -> {@linkcode FieldType}. */
export const FIELD_TYPE_BY_NAME: Readonly<Record<FieldTypeName, FieldType>> = {
  float: FieldType.Float,
  integer: FieldType.Integer,
  unsigned: FieldType.Unsigned,
  string: FieldType.String,
  boolean: FieldType.Boolean,
};

interface CompiledTag {
  required: boolean;
  values?: Set<string>;
  pattern?: RE2JS;
  patternText?: string;
  maxLength?: number;
  default?: Tag;
}

interface CompiledField {
  type: FieldType;
  typeName: FieldTypeName;
  required: boolean;
  min?: number;
  max?: number;
  enumValues?: Set<FieldValue>;
  default?: Field;
}

/** A schema ready to check points. */
export interface CompiledSchema {
  measurement: string;
  source: MeasurementSchema;
  tags: Map<string, CompiledTag>;
  fields: Map<string, CompiledField>;
  unknownTags: UnknownPolicy;
  unknownFields: UnknownPolicy;
  requiredTags: string[];
  requiredFields: string[];
  tagDefaults: Tag[];
  fieldDefaults: Field[];
}

/** A schema rule that cannot be compiled; `keyPath` is relative to the measurement. */
export class SchemaRuleError extends Error {
  constructor(message: string, readonly keyPath: readonly PropertyKey[]) {
    super(message);
    this.name = "SchemaRuleError";
  }
}

/** Converts a declared scalar to a field value of `type`; undefined when it does not fit. */
export function toFieldValue(value: unknown, type: FieldType): FieldValue | undefined {
  switch (type) {
    case FieldType.Float:
      return typeof value === "number" ? value : undefined;
    case FieldType.Integer:
      return typeof value === "number" && Number.isSafeInteger(value) ? value : undefined;
    case FieldType.Unsigned:
      return typeof value === "number" && Number.isSafeInteger(value) && value >= 0
        ? value
        : undefined;
    case FieldType.String:
      return typeof value === "string" ? value : undefined;
    case FieldType.Boolean:
      return typeof value === "boolean" ? value : undefined;
  }
  return undefined;
}

/**
 * Compiles a measurement's schema.
 * @throws {SchemaRuleError} for a bad pattern, or a default or enum value of the wrong type.
 */
export function compileSchema(measurement: string, schema: MeasurementSchema): CompiledSchema {
  const tags = new Map<string, CompiledTag>();
  for (const [key, rule] of Object.entries(schema.tags)) {
    let pattern: RE2JS | undefined;
    if (rule.pattern !== undefined) {
      try {
        pattern = RE2JS.compile(rule.pattern);
      } catch (error) {
        throw new SchemaRuleError(
          `invalid pattern ${JSON.stringify(rule.pattern)}: ${(error as Error).message}`,
          ["tags", key, "pattern"],
        );
      }
    }
    tags.set(key, {
      required: rule.required,
      values: rule.values ? new Set(rule.values) : undefined,
      pattern,
      patternText: rule.pattern,
      maxLength: rule.max_length,
      default: rule.default === undefined ? undefined : { key, value: rule.default },
    });
  }
  const fields = new Map<string, CompiledField>();
  for (const [key, rule] of Object.entries(schema.fields)) {
    fields.set(key, compileField(key, rule));
  }
  const compiledTags = [...tags];
  const compiledFields = [...fields];
  return {
    measurement,
    source: schema,
    tags,
    fields,
    unknownTags: schema.unknown_tags,
    unknownFields: schema.unknown_fields,
    requiredTags: compiledTags.filter(([, t]) => t.required && !t.default).map(([k]) => k),
    requiredFields: compiledFields.filter(([, f]) => f.required && !f.default).map(([k]) => k),
    tagDefaults: compiledTags.flatMap(([, t]) => t.default ? [t.default] : []),
    fieldDefaults: compiledFields.flatMap(([, f]) => f.default ? [f.default] : []),
  };
}

function compileField(key: string, rule: FieldRule): CompiledField {
  const type = FIELD_TYPE_BY_NAME[rule.type];
  const numeric = type === FieldType.Float || type === FieldType.Integer ||
    type === FieldType.Unsigned;
  if ((rule.min !== undefined || rule.max !== undefined) && !numeric) {
    throw new SchemaRuleError(`min/max apply to numeric fields, not ${rule.type}`, [
      "fields",
      key,
      rule.min !== undefined ? "min" : "max",
    ]);
  }
  let enumValues: Set<FieldValue> | undefined;
  if (rule.enum) {
    enumValues = new Set();
    for (const [i, v] of rule.enum.entries()) {
      const value = toFieldValue(v, type);
      if (value === undefined) {
        throw new SchemaRuleError(
          `enum value ${JSON.stringify(v)} is not a ${rule.type}`,
          ["fields", key, "enum", i],
        );
      }
      enumValues.add(value);
    }
  }
  let defaultField: Field | undefined;
  if (rule.default !== undefined) {
    const value = toFieldValue(rule.default, type);
    if (value === undefined) {
      throw new SchemaRuleError(
        `default ${JSON.stringify(rule.default)} is not a ${rule.type}`,
        ["fields", key, "default"],
      );
    }
    defaultField = { key, type, value };
  }
  return {
    type,
    typeName: rule.type,
    required: rule.required,
    min: rule.min,
    max: rule.max,
    enumValues,
    default: defaultField,
  };
}

/** The outcome of {@linkcode checkPoint}: the point to store, or the rule broken. */
export type CheckResult = { point: Point; violation?: undefined } | {
  point?: undefined;
  violation: Violation;
};

function show(value: FieldValue): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/**
 * Checks a point against a compiled schema. Returns the point unchanged when nothing needs
 * adding or dropping, else a new point; or the first rule it breaks.
 */
export function checkPoint(schema: CompiledSchema, point: Point): CheckResult {
  // The point's tag array may be shared by every point of its series (Point.tags is
  // read-only): a change goes to a copy, `ownTags`, made at the first change.
  let tags: readonly Tag[] = point.tags;
  let ownTags: Tag[] | undefined;
  // Likewise the fields (read once: a packed point builds them on each read), `ownFields`.
  const inTags = point.tags, inFields = point.fields;
  let fields: readonly Field[] = inFields;
  let ownFields: Field[] | undefined;
  for (let i = 0; i < inTags.length; i++) {
    const tag = inTags[i];
    const rule = schema.tags.get(tag.key);
    if (rule === undefined) {
      if (schema.unknownTags === "keep") continue;
      if (schema.unknownTags === "reject") {
        return violation("unknown_tag", tag.key, "no such tag in the schema", tag.value);
      }
      if (ownTags === undefined) tags = ownTags = inTags.slice(0, i);
      continue;
    }
    if (rule.values && !rule.values.has(tag.value)) {
      return violation("tag_values", tag.key, `one of ${[...rule.values].join("|")}`, tag.value);
    }
    if (rule.maxLength !== undefined && tag.value.length > rule.maxLength) {
      return violation(
        "tag_max_length",
        tag.key,
        `at most ${rule.maxLength} characters`,
        `${tag.value.length} characters`,
      );
    }
    if (rule.pattern && !rule.pattern.testExact(tag.value)) {
      return violation("tag_pattern", tag.key, `match /${rule.patternText}/`, tag.value);
    }
    if (ownTags !== undefined) ownTags.push(tag);
  }
  for (let i = 0; i < inFields.length; i++) {
    const field = inFields[i];
    const rule = schema.fields.get(field.key);
    if (rule === undefined) {
      if (schema.unknownFields === "keep") continue;
      if (schema.unknownFields === "reject") {
        return violation(
          "unknown_field",
          field.key,
          "no such field in the schema",
          show(field.value),
        );
      }
      if (ownFields === undefined) fields = ownFields = inFields.slice(0, i);
      continue;
    }
    if (field.type !== rule.type) {
      return violation(
        "field_type",
        field.key,
        rule.typeName,
        `${FIELD_TYPE_NAMES[field.type]} ${show(field.value)}`,
      );
    }
    const value = field.value;
    if (rule.min !== undefined && (value as number) < rule.min) {
      return violation("field_min", field.key, `>= ${rule.min}`, show(value));
    }
    if (rule.max !== undefined && (value as number) > rule.max) {
      return violation("field_max", field.key, `<= ${rule.max}`, show(value));
    }
    if (
      rule.enumValues && !rule.enumValues.has(typeof value === "bigint" ? Number(value) : value)
    ) {
      return violation(
        "field_enum",
        field.key,
        `one of ${[...rule.enumValues].map(show).join("|")}`,
        show(value),
      );
    }
    if (ownFields !== undefined) ownFields.push(field);
  }
  for (const key of schema.requiredTags) {
    if (!hasKey(tags, key)) return violation("required_tag", key, "present", "missing");
  }
  for (const key of schema.requiredFields) {
    if (!hasKey(fields, key)) return violation("required_field", key, "present", "missing");
  }
  for (const tag of schema.tagDefaults) {
    if (!hasKey(tags, tag.key)) {
      if (ownTags === undefined) tags = ownTags = tags.slice();
      ownTags.push(tag);
      sortTags(ownTags);
    }
  }
  for (const field of schema.fieldDefaults) {
    if (!hasKey(fields, field.key)) {
      if (ownFields === undefined) fields = ownFields = fields.slice();
      ownFields.push(field);
    }
  }
  if (fields.length === 0) {
    return violation("unknown_field", "*", "at least one declared field", "none left");
  }
  if (ownFields === undefined) {
    return { point: ownTags === undefined ? point : withTags(point, tags) };
  }
  return { point: withTags(withFields(point, fields), tags) };
}

function hasKey(items: readonly { key: string }[], key: string): boolean {
  for (let i = 0; i < items.length; i++) if (items[i].key === key) return true;
  return false;
}

function violation(rule: string, key: string, expected: string, got: string): CheckResult {
  return { violation: { rule, key, expected, got } };
}

/** The reason text of a violation, as a rejection reports it. */
export function describeViolation(measurement: string, v: Violation): string {
  return `schema violation in ${measurement}: ${v.rule} on ${JSON.stringify(v.key)}: ` +
    `expected ${v.expected}, got ${v.got}`;
}
