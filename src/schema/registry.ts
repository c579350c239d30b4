/**
 * The schemas in force: those of the config folder (config/schemas/*.yaml|json, reloadable
 * without a restart) and those set through the API (kept in `<data_dir>/schemas.json`, written
 * atomically, so they survive restarts). An API schema overrides a file's schema of the same
 * measurement; deleting it brings the file's back.
 *
 * A new schema is refused when data already stored contradicts it (a field stored as float
 * declared integer): the storage engine's field types are read through {@linkcode StoredData}.
 *
 * Every file a schema names, and every schema file of the folder, is read from inside the
 * schema folder (schema_folder.ts).
 * @module
 */
import {
  EpochError,
  FIELD_TYPE_NAMES,
  type FieldType,
  type FileSystem,
  NotFoundError,
} from "../core/mod.ts";
import { MeasurementSchema, type MeasurementSchemaInput } from "./model.ts";
import { parseSchemaFile, SchemaError } from "./schema_file.ts";
import { resolveSchemaFile, SchemaFileError } from "./schema_folder.ts";
import { type CompiledStep, compileSteps, type StepResources } from "./transform.ts";
import { type CompiledSchema, compileSchema, FIELD_TYPE_BY_NAME } from "./validate.ts";

/** What the storage engine tells the registry about data already written. */
export interface StoredData {
  /** The field types a measurement has, in every database that has it. */
  fieldTypes(measurement: string): { database: string; types: Map<string, FieldType> }[];
  /** The series keys a measurement has in a database (for series budgets). */
  seriesKeys(database: string, measurement: string): Iterable<string>;
}

/** A measurement's schema and pipeline, ready to run. */
export interface ActiveSchema {
  measurement: string;
  schema: CompiledSchema;
  steps: CompiledStep[];
  /** `file:<path>` or `api`. */
  origin: string;
  /** Dead-letter measurement, when rejected points are kept. */
  deadLetter?: string;
}

/** Options of {@linkcode SchemaRegistry}. */
export interface SchemaRegistryOptions {
  fs: FileSystem;
  /** Where API schemas are kept: `<dataDir>/schemas.json`. */
  dataDir: string;
  /** The config folder of schema files; none when absent. */
  folder?: string;
  stored?: StoredData;
  /** Script sandboxes and the like, for pipeline steps. */
  resources?: StepResources;
}

const STORE_FILE = "schemas.json";
const STORE_VERSION = 1;

/** The schemas of a node. Call {@linkcode SchemaRegistry.open} to build one. */
export class SchemaRegistry {
  readonly #options: SchemaRegistryOptions;
  #fromFiles = new Map<string, ActiveSchema>();
  #fromApi = new Map<string, ActiveSchema>();
  #apiSources = new Map<string, MeasurementSchemaInput>();
  #listeners: ((measurement: string) => void)[] = [];
  /** Serialises changes (API writes and reloads). */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(options: SchemaRegistryOptions) {
    this.#options = options;
  }

  /**
   * Loads the config folder and the stored API schemas.
   * @throws {SchemaError} naming the file, line and key of a bad schema file.
   */
  static async open(options: SchemaRegistryOptions): Promise<SchemaRegistry> {
    const registry = new SchemaRegistry(options);
    await registry.#loadFolder();
    await registry.#loadStore();
    return registry;
  }

  /** Called with a measurement's name whenever its schema changes (caches reset). */
  onChange(listener: (measurement: string) => void): void {
    this.#listeners.push(listener);
  }

  /** The schema in force for a measurement; undefined when it is schemaless. */
  active(measurement: string): ActiveSchema | undefined {
    return this.#fromApi.get(measurement) ?? this.#fromFiles.get(measurement);
  }

  /** Whether any schema is in force (the pipeline skips all work otherwise). */
  get size(): number {
    return this.#fromApi.size + this.#fromFiles.size;
  }

  /** Every measurement with a schema, sorted. */
  measurements(): string[] {
    return [...new Set([...this.#fromApi.keys(), ...this.#fromFiles.keys()])].sort();
  }

  /** A measurement's schema as declared (defaults applied), with where it came from. */
  describe(measurement: string): { origin: string; schema: MeasurementSchema } {
    const active = this.active(measurement);
    if (!active) {
      throw new NotFoundError(`no schema for measurement ${JSON.stringify(measurement)}`);
    }
    return { origin: active.origin, schema: active.schema.source };
  }

  /**
   * Sets a measurement's schema (API). Validates the body, compiles it, checks it against the
   * stored data, then writes the store atomically before it takes effect.
   * @throws {SchemaError} for an invalid body; EpochError failed_precondition when stored
   * data contradicts it.
   */
  put(measurement: string, body: unknown): Promise<{ schema: MeasurementSchema }> {
    return this.#serial(async () => {
      const active = await this.#build(measurement, body, "api");
      this.checkAgainstStored(active);
      const sources = new Map(this.#apiSources);
      sources.set(measurement, body as MeasurementSchemaInput);
      await this.#saveStore(sources);
      this.#apiSources = sources;
      this.#fromApi.set(measurement, active);
      this.#changed(measurement);
      return { schema: active.schema.source };
    });
  }

  /**
   * Removes a measurement's API schema (its config file's schema, if any, applies again).
   * @throws {NotFoundError} when the API holds none; EpochError failed_precondition when the
   * schema comes from a config file only.
   */
  delete(measurement: string): Promise<{ fallback?: string }> {
    return this.#serial(async () => {
      if (!this.#fromApi.has(measurement)) {
        const file = this.#fromFiles.get(measurement);
        if (file) {
          throw new EpochError(
            "failed_precondition",
            `the schema of ${measurement} comes from ${file.origin.slice(5)}: ` +
              "remove it there and reload (POST /api/v1/schemas/reload)",
            { httpStatus: 409 },
          );
        }
        throw new NotFoundError(`no schema for measurement ${JSON.stringify(measurement)}`);
      }
      const sources = new Map(this.#apiSources);
      sources.delete(measurement);
      await this.#saveStore(sources);
      this.#apiSources = sources;
      this.#fromApi.delete(measurement);
      this.#changed(measurement);
      return { fallback: this.#fromFiles.get(measurement)?.origin };
    });
  }

  /**
   * Reloads the config folder: all files or nothing (a bad file leaves the schemas in force).
   * @throws {SchemaError} naming the file, line and key.
   */
  reload(): Promise<{ measurements: string[] }> {
    return this.#serial(async () => {
      await this.#loadFolder();
      return { measurements: [...this.#fromFiles.keys()].sort() };
    });
  }

  /** Compiles a schema without installing it (dry runs with a proposed schema). */
  compile(measurement: string, body: unknown): Promise<ActiveSchema> {
    return this.#build(measurement, body, "test");
  }

  /**
   * Refuses a schema that stored data contradicts: a declared field stored with another type.
   * @throws {EpochError} failed_precondition (HTTP 409) naming database, field and both types.
   */
  checkAgainstStored(active: ActiveSchema): void {
    const stored = this.#options.stored;
    if (!stored) return;
    for (const { database, types } of stored.fieldTypes(active.measurement)) {
      for (const [key, rule] of Object.entries(active.schema.source.fields)) {
        const has = types.get(key);
        if (has !== undefined && has !== FIELD_TYPE_BY_NAME[rule.type]) {
          throw new EpochError(
            "failed_precondition",
            `schema contradicts stored data: field ${JSON.stringify(key)} of ` +
              `${active.measurement} is stored as ${FIELD_TYPE_NAMES[has]} in database ` +
              `${database}, the schema declares ${rule.type}`,
            {
              httpStatus: 409,
              details: { database, field: key, stored: FIELD_TYPE_NAMES[has], declared: rule.type },
            },
          );
        }
      }
    }
  }

  async #build(measurement: string, body: unknown, origin: string): Promise<ActiveSchema> {
    const parsed = MeasurementSchema.safeParse(body);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => {
        const keys = i.code === "unrecognized_keys" ? `.${(i as { keys: string[] }).keys[0]}` : "";
        return `${i.path.map(String).join(".") || "(top)"}${keys}: ${i.message}`;
      });
      throw new SchemaError(`invalid schema for ${measurement}:\n  ${problems.join("\n  ")}`);
    }
    let schema: CompiledSchema;
    try {
      schema = compileSchema(measurement, parsed.data);
    } catch (error) {
      const path = (error as { keyPath?: PropertyKey[] }).keyPath ?? [];
      throw new SchemaError(
        `invalid schema for ${measurement}: ${path.map(String).join(".")}: ${
          (error as Error).message
        }`,
      );
    }
    let steps: CompiledStep[];
    try {
      steps = await compileSteps(measurement, parsed.data.pipeline, {
        fs: this.#options.fs,
        folder: this.#options.folder,
        resources: this.#options.resources,
      });
    } catch (error) {
      throw new SchemaError(
        `invalid schema for ${measurement}: ${(error as Error).message}`,
        { details: { measurement } },
      );
    }
    return activeOf(measurement, schema, steps, origin);
  }

  async #loadFolder(): Promise<void> {
    const { folder, fs } = this.#options;
    if (!folder) return;
    if (!(await fs.stat(folder))?.isDirectory) {
      throw new SchemaError(`schema folder ${folder} does not exist or is not a folder`);
    }
    const next = new Map<string, ActiveSchema>();
    for (const name of await fs.readDir(folder)) {
      if (!/\.(ya?ml|json)$/i.test(name)) continue;
      const path = `${folder}/${name}`;
      let real: string;
      try {
        real = await resolveSchemaFile(fs, folder, name);
      } catch (error) {
        if (!(error instanceof SchemaFileError)) throw error;
        throw new SchemaError(`${path}: ${error.reason}`, { details: { file: path } });
      }
      const file = parseSchemaFile(path, new TextDecoder().decode(await fs.readFile(real)));
      for (const [measurement, schema] of file.measurements) {
        const earlier = next.get(measurement);
        if (earlier) {
          throw new SchemaError(
            `${path}: measurement ${measurement} is already declared in ${earlier.origin.slice(5)}`,
          );
        }
        let steps: CompiledStep[];
        try {
          steps = await compileSteps(measurement, schema.pipeline, {
            fs,
            folder,
            resources: this.#options.resources,
          });
        } catch (error) {
          throw new SchemaError(
            `${path}: measurements.${measurement}.${(error as Error).message}`,
            { details: { file: path } },
          );
        }
        next.set(
          measurement,
          activeOf(measurement, compileSchema(measurement, schema), steps, `file:${path}`),
        );
      }
    }
    const old = this.#fromFiles;
    this.#fromFiles = next;
    for (const m of new Set([...old.keys(), ...next.keys()])) this.#changed(m);
    for (const active of old.values()) closeSteps(active.steps);
  }

  async #loadStore(): Promise<void> {
    const path = `${this.#options.dataDir}/${STORE_FILE}`;
    if (!(await this.#options.fs.stat(path))) return;
    const text = new TextDecoder().decode(await this.#options.fs.readFile(path));
    let stored: { version: number; schemas: Record<string, MeasurementSchemaInput> };
    try {
      stored = JSON.parse(text);
    } catch (error) {
      throw new SchemaError(`${path}: not valid JSON: ${(error as Error).message}`);
    }
    if (stored.version !== STORE_VERSION) {
      throw new SchemaError(
        `${path}: unknown version ${stored.version} (expected ${STORE_VERSION})`,
      );
    }
    for (const [measurement, body] of Object.entries(stored.schemas)) {
      this.#fromApi.set(measurement, await this.#build(measurement, body, "api"));
      this.#apiSources.set(measurement, body);
    }
  }

  async #saveStore(sources: Map<string, MeasurementSchemaInput>): Promise<void> {
    const { fs, dataDir } = this.#options;
    if (!(await fs.stat(dataDir))) await fs.mkdir(dataDir);
    const body = { version: STORE_VERSION, schemas: Object.fromEntries(sources) };
    await fs.writeFileAtomic(
      `${dataDir}/${STORE_FILE}`,
      new TextEncoder().encode(JSON.stringify(body, null, 2) + "\n"),
    );
  }

  #changed(measurement: string): void {
    for (const listener of this.#listeners) listener(measurement);
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Stops script sandboxes. */
  close(): void {
    for (const a of [...this.#fromApi.values(), ...this.#fromFiles.values()]) closeSteps(a.steps);
  }
}

function activeOf(
  measurement: string,
  schema: CompiledSchema,
  steps: CompiledStep[],
  origin: string,
): ActiveSchema {
  const dl = schema.source.dead_letter;
  return {
    measurement,
    schema,
    steps,
    origin,
    deadLetter: dl === true ? `${measurement}_rejected` : dl === false ? undefined : dl,
  };
}

function closeSteps(steps: CompiledStep[]): void {
  for (const step of steps) step.close?.();
}
