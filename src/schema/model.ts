/**
 * The zod models of schema files (config/schemas/*.yaml or *.json) and of the schema API's
 * bodies. One file holds one or more measurements:
 *
 * ```yaml
 * measurements:
 *   cpu:
 *     unknown_tags: reject        # reject | drop | keep (default keep)
 *     unknown_fields: drop
 *     max_series: 10000
 *     retention: 30d              # older points deleted, whatever the policy keeps
 *     max_bytes: 1073741824       # its oldest points deleted beyond 1 GiB per database
 *     dead_letter: true           # rejected points go to cpu_rejected (or a name given here)
 *     tags:
 *       host: { required: true, max_length: 64, pattern: "^[a-z0-9-]+$" }
 *       region: { values: [us-east, eu-west] }
 *     fields:
 *       usage: { type: float, required: true, min: 0, max: 100, unit: percent }
 *       state: { type: string, enum: [ok, degraded] }
 *       up: { type: boolean, default: true }
 *     pipeline:
 *       - rename_tag: { from: hostname, to: host }
 *       - scale: { field: temp, factor: 0.5556, offset: -17.78 }
 * ```
 * @module
 */
import { z } from "zod";

/** What happens to a tag or field the schema does not declare. */
export const UnknownPolicy = z.enum(["reject", "drop", "keep"]);
/** One of {@linkcode UnknownPolicy}'s values. */
export type UnknownPolicy = z.infer<typeof UnknownPolicy>;

/** The field type names, as InfluxQL prints them. */
export const FieldTypeName = z.enum(["float", "integer", "unsigned", "string", "boolean"]);
/** One of {@linkcode FieldTypeName}'s values. */
export type FieldTypeName = z.infer<typeof FieldTypeName>;

/** A declared tag. */
export const TagRule = z.strictObject({
  required: z.boolean().default(false),
  /** The allowed values. */
  values: z.array(z.string().min(1)).min(1).optional(),
  /** An RE2 regular expression the whole value must match (anchor it yourself if needed). */
  pattern: z.string().min(1).optional(),
  max_length: z.number().int().positive().optional(),
  /** A value set when the tag is missing. */
  default: z.string().min(1).optional(),
  description: z.string().optional(),
});
/** A declared tag. */
export type TagRule = z.infer<typeof TagRule>;

const scalar = z.union([z.number(), z.string(), z.boolean()]);

/** A declared field. */
export const FieldRule = z.strictObject({
  type: FieldTypeName,
  required: z.boolean().default(false),
  min: z.number().optional(),
  max: z.number().optional(),
  /** The allowed values (strings, numbers or booleans, matching the type). */
  enum: z.array(scalar).min(1).optional(),
  /** Documentation only (shown by the API): the unit of the values. */
  unit: z.string().optional(),
  /** A value set when the field is missing. */
  default: scalar.optional(),
  description: z.string().optional(),
}).refine((f) => f.min === undefined || f.max === undefined || f.min <= f.max, {
  message: "min must not exceed max",
});
/** A declared field. */
export type FieldRule = z.infer<typeof FieldRule>;

const fieldName = z.string().min(1);
const condition = z.string().min(1);

/** The built-in transformation steps, each a one-key object (`- scale: {...}`). */
export const Step = z.union([
  z.strictObject({
    rename_tag: z.strictObject({ from: z.string().min(1), to: z.string().min(1) }),
  }),
  z.strictObject({
    rename_field: z.strictObject({ from: fieldName, to: fieldName }),
  }),
  z.strictObject({ cast: z.strictObject({ field: fieldName, to: FieldTypeName }) }),
  z.strictObject({
    scale: z.strictObject({
      field: fieldName,
      factor: z.number().default(1),
      offset: z.number().default(0),
    }),
  }),
  z.strictObject({
    round: z.strictObject({ field: fieldName, digits: z.number().int().min(0).max(15).default(0) }),
  }),
  z.strictObject({
    default: z.strictObject({
      tags: z.record(z.string(), z.string().min(1)).default({}),
      fields: z.record(z.string(), scalar).default({}),
    }),
  }),
  z.strictObject({ drop_if: condition }),
  z.strictObject({
    lookup: z.strictObject({
      /** The tag whose value is the key. */
      tag: z.string().min(1),
      /** A YAML/JSON mapping (key -> {tag: value}) or a CSV file with a header row. */
      file: z.string().min(1).optional(),
      /** Inline table (key -> {tag: value}). */
      table: z.record(z.string(), z.record(z.string(), z.string())).optional(),
      /** CSV: the column holding the key (default: the first). */
      key_column: z.string().optional(),
      /** Which columns become tags (default: all but the key). */
      columns: z.array(z.string().min(1)).optional(),
      /** Overwrite tags already on the point. */
      overwrite: z.boolean().default(false),
    }).refine((l) => (l.file === undefined) !== (l.table === undefined), {
      message: "give exactly one of file or table",
    }),
  }),
  z.strictObject({
    derive: z.strictObject({
      field: fieldName,
      expr: z.string().min(1),
      /** The stored type; float, integer, string or boolean (default: from the value). */
      type: FieldTypeName.optional(),
    }),
  }),
  z.strictObject({
    script: z.strictObject({
      /** A .js or .ts module whose default export maps a batch of points. */
      file: z.string().min(1).optional(),
      /** Inline source (same contract). */
      source: z.string().min(1).optional(),
      timeout_ms: z.number().int().positive().max(60_000).default(250),
    }).refine((s) => (s.file === undefined) !== (s.source === undefined), {
      message: "give exactly one of file or source",
    }),
  }),
]);
/** One transformation step. */
export type Step = z.infer<typeof Step>;

/** The schema of one measurement. */
export const MeasurementSchema = z.strictObject({
  description: z.string().optional(),
  tags: z.record(z.string().min(1), TagRule).default({}),
  fields: z.record(z.string().min(1), FieldRule).default({}),
  unknown_tags: UnknownPolicy.default("keep"),
  unknown_fields: UnknownPolicy.default("keep"),
  /** Most series the measurement may have (per database); new series beyond are rejected. */
  max_series: z.number().int().positive().optional(),
  /**
   * Points of the measurement older than this are deleted (`90m`, `36h`, `30d`, `2w`), in
   * every database and retention policy, whatever the policy keeps.
   */
  retention: z.string().regex(/^[1-9]\d*(s|m|h|d|w)$/, "expected a duration such as 36h or 30d")
    .optional(),
  /**
   * Most bytes of the measurement's stored blocks per database (its data on local disk, cold
   * objects and unflushed points not counted); beyond, its oldest points are deleted. A
   * cluster shares it evenly between a database's partitions.
   */
  max_bytes: z.number().int().positive().optional(),
  /** Rejected points also go to a dead-letter measurement (true: `<measurement>_rejected`). */
  dead_letter: z.union([z.boolean(), z.string().min(1)]).default(false),
  /**
   * All or nothing per batch: when one point of this measurement is rejected, the batch's other
   * points of it are rejected too (rule `atomic`); other measurements are not affected.
   */
  atomic: z.boolean().default(false),
  /** Transformation steps run in order before validation. */
  pipeline: z.array(Step).default([]),
});
/** The schema of one measurement, as validated (defaults applied). */
export type MeasurementSchema = z.infer<typeof MeasurementSchema>;
/** The schema of one measurement, as written. */
export type MeasurementSchemaInput = z.input<typeof MeasurementSchema>;

/** A schema file. */
export const SchemaFile = z.strictObject({
  measurements: z.record(z.string().min(1), MeasurementSchema),
});
/** A schema file, as validated. */
export type SchemaFile = z.infer<typeof SchemaFile>;
