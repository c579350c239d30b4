/**
 * Schemas, validation and transformation at ingest: schema files in YAML or JSON (zod models
 * with file/line/key errors), the registry of schemas in force (config folder + API, kept in
 * the data folder), transformation steps (built-in, expressions, sandboxed scripts) and the
 * pipeline the HTTP write path runs before storage.
 * @module
 */
export * from "./model.ts";
export { type LoadedSchemaFile, parseSchemaFile, SchemaError } from "./schema_file.ts";
export {
  checkPoint,
  type CompiledSchema,
  compileSchema,
  describeViolation,
  type Violation,
} from "./validate.ts";
export {
  compileExpression,
  type Evaluator,
  parseExpression,
  truthy,
  type Value,
} from "./expression.ts";
export { type CompiledStep, compileSteps, type StepResources } from "./transform.ts";
export {
  ScriptError,
  type ScriptPoint,
  type ScriptSandbox,
  type ScriptSandboxFactory,
} from "./script.ts";
export { MAX_CARRIED_FILE_BYTES, readCarriedFiles } from "./carried_files.ts";
export {
  type ActiveSchema,
  type CarriedSchema,
  type SchemaCatalog,
  SchemaRegistry,
  type SchemaRegistryOptions,
  type StoredData,
} from "./registry.ts";
export {
  type DryRunResult,
  type PipelineMetrics,
  type PipelineRejection,
  type PipelineResult,
  SchemaPipeline,
  type SchemaPipelineOptions,
} from "./pipeline.ts";
export { type KeyPath, readYamlDocument } from "./yaml_document.ts";
