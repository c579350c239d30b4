/**
 * Transformation steps, compiled once per schema and run in order before validation:
 * rename_tag, rename_field, cast, scale, round, default, drop_if, lookup, derive (built in,
 * per point) and script (a user function over the batch, in a sandbox).
 *
 * A per-point step returns the (new) point, `null` to drop it, or a {@linkcode Violation} to
 * reject it. Steps never mutate their input: decoders share tag objects between points.
 * @module
 */
import {
  type Field,
  FIELD_TYPE_NAMES,
  FieldType,
  type FieldValue,
  type FileSystem,
  type Point,
  sortTags,
  type Tag,
  withFields,
  withTags,
} from "../core/mod.ts";
import { compileExpression, truthy, type Value } from "./expression.ts";
import { type LookupTable, parseLookupFile, tableFromRecord } from "./lookup.ts";
import type { Step } from "./model.ts";
import { compileScriptStep, type ScriptSandboxFactory } from "./script.ts";
import { readSchemaFile, SchemaFileError } from "./schema_folder.ts";
import { FIELD_TYPE_BY_NAME, SchemaRuleError, type Violation } from "./validate.ts";

/** What a per-point step does to a point. */
export type PointOutcome = Point | null | Violation;

/** One item of a batch in the pipeline: a point and the index of the input point it came from. */
export interface BatchItem {
  point: Point;
  /** Index in the input batch; -1 for a point a script added. */
  index: number;
}

/** What a batch step returns: the items to keep, and input items it rejected. */
export interface BatchOutcome {
  items: BatchItem[];
  rejected: { index: number; violation: Violation }[];
}

/** A compiled step. Exactly one of `point` and `batch` is set. */
export interface CompiledStep {
  /** The step's kind and position, for errors: `scale#2`. */
  name: string;
  point?: (point: Point) => PointOutcome;
  batch?: (items: BatchItem[]) => Promise<BatchOutcome>;
  close?(): void;
}

/** Outside things steps may need. */
export interface StepResources {
  /** Creates script sandboxes; script steps are refused without one. */
  scripts?: ScriptSandboxFactory;
  /**
   * Most script sandboxes the schema registry keeps at once (`max_script_sandboxes`): schemas in
   * force and dry runs together; a schema that would need more is refused (409).
   * @default {8}
   */
  maxScripts?: number;
}

/** Options of {@linkcode compileSteps}. */
export interface CompileStepsOptions {
  fs?: FileSystem;
  /**
   * The schema folder: the files steps name (lookup tables, scripts) are read from inside it
   * only (see schema_folder.ts). None: every file reference is refused.
   */
  folder?: string;
  /**
   * The files' texts, carried with a replicated schema (carried_files.ts): when given, files are
   * taken from here only and no file is read.
   */
  files?: Readonly<Record<string, string>>;
  resources?: StepResources;
}

/** Whether an outcome is a violation (not a point and not a drop). */
export function isViolation(outcome: PointOutcome): outcome is Violation {
  return outcome !== null && (outcome as Violation).rule !== undefined;
}

/**
 * Compiles a pipeline. Lookup files and script files are read here, once, from the schema
 * folder only. On failure the steps compiled so far are closed (no sandbox outlives it).
 * @throws {SchemaRuleError} whose message starts with the step's key (`pipeline.2.lookup.file:
 * ...`) and whose `keyPath` is that key, relative to the measurement.
 */
export async function compileSteps(
  measurement: string,
  steps: readonly Step[],
  options: CompileStepsOptions = {},
): Promise<CompiledStep[]> {
  const out: CompiledStep[] = [];
  for (const [i, step] of steps.entries()) {
    const kind = Object.keys(step)[0];
    const name = `${kind}#${i + 1}`;
    try {
      out.push({ name, ...await compileStep(measurement, step, name, options) });
    } catch (error) {
      for (const s of out) s.close?.();
      const within = error instanceof SchemaRuleError ? error.keyPath : [kind];
      const keyPath = ["pipeline", i, ...within];
      throw new SchemaRuleError(`${keyPath.join(".")}: ${(error as Error).message}`, keyPath);
    }
  }
  return out;
}

/**
 * The text of a file a step names (`<kind>.file`): carried with the schema, or read from inside
 * the schema folder.
 */
async function readStepFile(
  options: CompileStepsOptions,
  kind: string,
  file: string,
): Promise<string> {
  if (options.files) {
    if (Object.hasOwn(options.files, file)) return options.files[file];
    throw new SchemaRuleError(
      `${JSON.stringify(file)} is not among the files carried with the schema`,
      [kind, "file"],
    );
  }
  if (!options.fs) throw new Error(`BUG: ${kind}.file given to compileSteps without a fs`);
  try {
    return await readSchemaFile(options.fs, options.folder, file);
  } catch (error) {
    if (error instanceof SchemaFileError) throw new SchemaRuleError(error.message, [kind, "file"]);
    throw error;
  }
}

async function compileStep(
  measurement: string,
  step: Step,
  name: string,
  options: CompileStepsOptions,
): Promise<Omit<CompiledStep, "name">> {
  if ("rename_tag" in step) return { point: renameTag(step.rename_tag.from, step.rename_tag.to) };
  if ("rename_field" in step) {
    return { point: renameField(step.rename_field.from, step.rename_field.to) };
  }
  if ("cast" in step) return { point: cast(step.cast.field, FIELD_TYPE_BY_NAME[step.cast.to]) };
  if ("scale" in step) {
    const { field, factor, offset } = step.scale;
    return { point: mapNumber(field, "scale", (x) => x * factor + offset) };
  }
  if ("round" in step) {
    const f = 10 ** step.round.digits;
    return { point: mapNumber(step.round.field, "round", (x) => Math.round(x * f) / f) };
  }
  if ("default" in step) return { point: defaults(step.default.tags, step.default.fields) };
  if ("drop_if" in step) {
    const test = compileExpression(step.drop_if);
    return { point: (p) => (truthy(test(p)) ? null : p) };
  }
  if ("lookup" in step) {
    const l = step.lookup;
    const table = l.file !== undefined
      ? parseLookupFile(l.file, await readStepFile(options, "lookup", l.file), {
        keyColumn: l.key_column,
        columns: l.columns,
      })
      : tableFromRecord(l.table ?? {}, l.columns);
    return { point: lookup(l.tag, table, l.overwrite) };
  }
  if ("derive" in step) {
    const { field, expr, type } = step.derive;
    const evaluate = compileExpression(expr);
    return {
      point: derive(field, (p) => evaluate(p), type ? FIELD_TYPE_BY_NAME[type] : undefined),
    };
  }
  if ("script" in step) {
    const s = step.script;
    const factory = options.resources?.scripts;
    if (!factory) throw new Error("scripts are not enabled on this node (no sandbox host)");
    const source = s.file !== undefined ? await readStepFile(options, "script", s.file) : s.source!;
    return compileScriptStep(factory, {
      name: `${measurement}/${name}`,
      source,
      typescript: s.file === undefined || /\.tsx?$/.test(s.file),
      timeoutMs: s.timeout_ms,
    });
  }
  throw new Error(`BUG: unknown step ${JSON.stringify(step)}`);
}

function renameTag(from: string, to: string): (p: Point) => PointOutcome {
  return (p) => {
    const i = p.tags.findIndex((t) => t.key === from);
    if (i < 0) return p;
    const tags = p.tags.filter((t) => t.key !== from && t.key !== to);
    tags.push({ key: to, value: p.tags[i].value });
    return withTags(p, sortTags(tags));
  };
}

function renameField(from: string, to: string): (p: Point) => PointOutcome {
  return (p) => {
    const had = p.fields; // read once: a packed point builds its fields on each read
    const i = had.findIndex((f) => f.key === from);
    if (i < 0) return p;
    const fields = had.filter((f) => f.key !== from && f.key !== to);
    fields.push({ key: to, type: had[i].type, value: had[i].value });
    return withFields(p, fields);
  };
}

function replaceField(p: Point, index: number, field: Field): Point {
  const fields = p.fields.slice();
  fields[index] = field;
  return withFields(p, fields);
}

function castViolation(field: Field, to: FieldType, why: string): Violation {
  return {
    rule: "cast",
    key: field.key,
    expected: `a value castable to ${FIELD_TYPE_NAMES[to]} (${why})`,
    got: `${FIELD_TYPE_NAMES[field.type]} ${JSON.stringify(String(field.value))}`,
  };
}

/** Converts a field value to another type; a string when it cannot (the reason). */
export function castValue(value: FieldValue, to: FieldType): FieldValue | { error: string } {
  switch (to) {
    case FieldType.Float: {
      const n = typeof value === "boolean" ? (value ? 1 : 0) : Number(value);
      return Number.isNaN(n) || (typeof value === "string" && value.trim() === "")
        ? { error: "not a number" }
        : n;
    }
    case FieldType.Integer:
    case FieldType.Unsigned: {
      let n: number | bigint;
      if (typeof value === "bigint") n = value;
      else if (typeof value === "boolean") n = value ? 1 : 0;
      else if (typeof value === "string" && /^[-+]?\d+$/.test(value.trim())) {
        const big = BigInt(value.trim());
        n = big >= -9007199254740991n && big <= 9007199254740991n ? Number(big) : big;
      } else {
        const x = Number(value);
        if (!Number.isFinite(x) || (typeof value === "string" && value.trim() === "")) {
          return { error: "not a finite number" };
        }
        n = Math.trunc(x);
        if (!Number.isSafeInteger(n)) return { error: "beyond 2^53 as a float" };
      }
      if (to === FieldType.Unsigned && n < 0) return { error: "negative" };
      return n;
    }
    case FieldType.String:
      return String(value);
    case FieldType.Boolean:
      if (typeof value === "boolean") return value;
      if (typeof value === "string") {
        const s = value.trim().toLowerCase();
        if (["true", "t", "1", "yes", "on"].includes(s)) return true;
        if (["false", "f", "0", "no", "off"].includes(s)) return false;
        return { error: "not true/false" };
      }
      return value !== 0 && value !== 0n;
  }
  return { error: "unknown type" };
}

function cast(key: string, to: FieldType): (p: Point) => PointOutcome {
  return (p) => {
    const fields = p.fields;
    const i = fields.findIndex((f) => f.key === key);
    if (i < 0 || fields[i].type === to) return p;
    const value = castValue(fields[i].value, to);
    if (typeof value === "object") return castViolation(fields[i], to, value.error);
    return replaceField(p, i, { key, type: to, value });
  };
}

/** Scale and round: numeric fields become floats; other types break the step's rule. */
function mapNumber(
  key: string,
  rule: string,
  f: (x: number) => number,
): (p: Point) => PointOutcome {
  return (p) => {
    const fields = p.fields;
    const i = fields.findIndex((x) => x.key === key);
    if (i < 0) return p;
    const field = fields[i];
    if (typeof field.value !== "number" && typeof field.value !== "bigint") {
      return {
        rule,
        key,
        expected: "a numeric field",
        got: `${FIELD_TYPE_NAMES[field.type]} ${JSON.stringify(String(field.value))}`,
      };
    }
    return replaceField(p, i, { key, type: FieldType.Float, value: f(Number(field.value)) });
  };
}

function fieldOfScalar(key: string, value: string | number | boolean): Field {
  if (typeof value === "number") return { key, type: FieldType.Float, value };
  if (typeof value === "boolean") return { key, type: FieldType.Boolean, value };
  return { key, type: FieldType.String, value };
}

function defaults(
  tags: Record<string, string>,
  fields: Record<string, string | number | boolean>,
): (p: Point) => PointOutcome {
  const tagList: Tag[] = Object.entries(tags).map(([key, value]) => Object.freeze({ key, value }));
  const fieldList = Object.entries(fields).map(([k, v]) => fieldOfScalar(k, v));
  return (p) => {
    let out = p;
    const missingTags = tagList.filter((t) => !p.tags.some((x) => x.key === t.key));
    if (missingTags.length) out = withTags(out, sortTags([...p.tags, ...missingTags]));
    const had = p.fields;
    const missingFields = fieldList.filter((f) => !had.some((x) => x.key === f.key));
    if (missingFields.length) out = withFields(out, [...had, ...missingFields]);
    return out;
  };
}

function lookup(tag: string, table: LookupTable, overwrite: boolean): (p: Point) => PointOutcome {
  return (p) => {
    const key = p.tags.find((t) => t.key === tag);
    if (!key) return p;
    const add = table.get(key.value);
    if (!add || add.length === 0) return p;
    const tags = overwrite
      ? p.tags.filter((t) => !add.some((a) => a.key === t.key))
      : p.tags.slice();
    for (const t of add) if (!tags.some((x) => x.key === t.key)) tags.push(t);
    return withTags(p, sortTags(tags));
  };
}

function derive(
  key: string,
  evaluate: (p: Point) => Value,
  type: FieldType | undefined,
): (p: Point) => PointOutcome {
  return (p) => {
    const value = evaluate(p);
    if (value === null || (typeof value === "number" && !Number.isFinite(value))) {
      // Nothing to derive (a missing input, a division by zero): the point keeps its fields.
      return p;
    }
    let field: Field;
    if (type === undefined) field = fieldOfScalar(key, value);
    else {
      const v = castValue(value, type);
      if (typeof v === "object") {
        return {
          rule: "derive",
          key,
          expected: FIELD_TYPE_NAMES[type],
          got: `${JSON.stringify(value)} (${v.error})`,
        };
      }
      field = { key, type, value: v };
    }
    const had = p.fields;
    const i = had.findIndex((f) => f.key === key);
    return i < 0 ? withFields(p, [...had, field]) : replaceField(p, i, field);
  };
}
