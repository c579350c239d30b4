/**
 * Reading schema files: YAML (JSON is YAML too), validated with zod; a mistake names the file,
 * the line and the key path (`config/schemas/cpu.yaml:7: measurements.cpu.fields.usage.type:
 * expected one of float|integer|...`).
 *
 * This room does no IO: the caller passes the file's path and text.
 * @module
 */
import { ValidationError } from "../core/mod.ts";
import { type MeasurementSchema, SchemaFile } from "./model.ts";
import { compileExpression } from "./expression.ts";
import { compileSchema, SchemaRuleError } from "./validate.ts";
import { readYamlDocument } from "./yaml_document.ts";

/** A schema file or body that is not valid: names the file, line and key. */
export class SchemaError extends ValidationError {
  constructor(message: string, options: { details?: Record<string, unknown> } = {}) {
    super(message, options);
    this.name = "SchemaError";
  }
}

/** The measurements of one schema file. */
export interface LoadedSchemaFile {
  path: string;
  measurements: Map<string, MeasurementSchema>;
}

type Path = readonly PropertyKey[];

/**
 * Parses and validates a schema file; also compiles every measurement, so a bad regular
 * expression or expression is reported here, at load time.
 *
 * @example
 * ```ts
 * const file = parseSchemaFile("cpu.yaml", "measurements:\n  cpu:\n    fields: {v: {type: float}}\n");
 * file.measurements.get("cpu")?.fields.v.type; // "float"
 * ```
 * @throws {SchemaError} naming file, line and key.
 */
export function parseSchemaFile(path: string, text: string): LoadedSchemaFile {
  const { data, lineOf } = readYamlDocument(path, text, (m) => new SchemaError(m));
  const raw = data ?? {};
  const result = SchemaFile.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      let keyPath: Path = issue.path;
      let message = issue.message;
      if (issue.code === "unrecognized_keys") {
        const keys = (issue as { keys: string[] }).keys;
        keyPath = [...issue.path, keys[0]];
        message = `unknown key ${keys.map((k) => JSON.stringify(k)).join(", ")}`;
      }
      return `${path}:${lineOf(keyPath)}: ${keyPath.map(String).join(".") || "(top)"}: ${message}`;
    });
    throw new SchemaError(`invalid schema file:\n  ${problems.join("\n  ")}`, {
      details: { file: path },
    });
  }
  const measurements = new Map<string, MeasurementSchema>();
  for (const [name, schema] of Object.entries(result.data.measurements)) {
    try {
      compileSchema(name, schema);
      checkExpressions(schema);
    } catch (error) {
      const where = (error as { keyPath?: Path }).keyPath ?? [];
      const keyPath = ["measurements", name, ...where];
      throw new SchemaError(
        `invalid schema file:\n  ${path}:${lineOf(keyPath)}: ${keyPath.join(".")}: ${
          (error as Error).message
        }`,
        { details: { file: path } },
      );
    }
    measurements.set(name, schema);
  }
  return { path, measurements };
}

/** Compiles the expressions of `derive` and `drop_if` steps, so a syntax error names its line. */
function checkExpressions(schema: MeasurementSchema): void {
  for (const [i, step] of schema.pipeline.entries()) {
    const [text, keyPath] = "drop_if" in step
      ? [step.drop_if, ["pipeline", i, "drop_if"]]
      : "derive" in step
      ? [step.derive.expr, ["pipeline", i, "derive", "expr"]]
      : [undefined, []];
    if (text === undefined) continue;
    try {
      compileExpression(text);
    } catch (error) {
      throw new SchemaRuleError((error as Error).message, keyPath);
    }
  }
}
