/**
 * The schemas in force: those of the config folder (config/schemas/*.yaml|json, reloadable
 * without a restart) and those set through the API (kept in `<data_dir>/schemas.json`, written
 * atomically, so they survive restarts). An API schema overrides a file's schema of the same
 * measurement; deleting it brings the file's back.
 *
 * A new schema is refused when data already stored contradicts it (a field stored as float
 * declared integer): the storage engine's field types are read through {@linkcode StoredData}.
 *
 * Every file a schema names is read from inside the schema folder (schema_folder.ts). Script
 * steps own a sandbox each: the registry closes a schema's sandboxes when it is replaced
 * (re-PUT, reload), deleted, refused half-built, or the registry closes, and it keeps at most
 * `maxScripts` of them open (schemas in force and dry runs together), refusing a schema that
 * would need more before any sandbox is made.
 *
 * With a {@linkcode SchemaCatalog} (a cluster's metadata group), API schemas live there instead
 * of `<data_dir>/schemas.json`: a PUT or DELETE is validated here, then goes through the catalog,
 * and every node compiles each change it applies (a script's or lookup's file travels with the
 * schema, read here from the folder, see carried_files.ts). A `schemas.json` left from before is
 * moved into the catalog once, at open, and renamed `schemas.json.migrated`.
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
import { readCarriedFiles } from "./carried_files.ts";
import { parseSchemaFile, SchemaError } from "./schema_file.ts";
import { resolveSchemaFile, SchemaFileError } from "./schema_folder.ts";
import { type CompiledStep, compileSteps, type StepResources } from "./transform.ts";
import { type CompiledSchema, compileSchema, FIELD_TYPE_BY_NAME } from "./validate.ts";

/** The default of `max_script_sandboxes`: script sandboxes a node keeps at most. */
export const DEFAULT_MAX_SCRIPT_SANDBOXES = 8;

/**
 * The default of `max_schemas`: API schemas at once. In a cluster every one of them (with up to
 * 1 MiB of carried files) is in every node's metadata and its snapshots, so their number is
 * bounded like any other resource a client can create.
 */
export const DEFAULT_MAX_SCHEMAS = 1000;

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
  /** Script sandboxes its steps hold (one per script step). */
  scriptSandboxes: number;
}

/** An API schema as a catalog holds it: the body, and the texts of the files its steps name. */
export interface CarriedSchema {
  schema: unknown;
  files: Record<string, string>;
}

/** Where a cluster keeps its API schemas (the metadata group), shared by every node. */
export interface SchemaCatalog {
  /** The API schemas as this node's copy has them. */
  entries(): ReadonlyMap<string, CarriedSchema>;
  /**
   * Sets a schema for every node; resolves once this node's copy has it. `ifAbsent` keeps one
   * the catalog already has (a node moving its old store in).
   */
  set(measurement: string, entry: CarriedSchema, options?: { ifAbsent?: boolean }): Promise<void>;
  /** Removes a schema for every node; resolves with false when the catalog had none. */
  delete(measurement: string): Promise<boolean>;
  /** Called after this node's copy changed: one measurement, or undefined for all. */
  onChange(listener: (measurement: string | undefined) => void): void;
}

/** Options of {@linkcode SchemaRegistry}. */
export interface SchemaRegistryOptions {
  fs: FileSystem;
  /** Where API schemas are kept: `<dataDir>/schemas.json`. */
  dataDir: string;
  /** The config folder of schema files; none when absent. */
  folder?: string;
  stored?: StoredData;
  /** Script sandboxes and the most of them to keep, for pipeline steps. */
  resources?: StepResources;
  /** Where API schemas live when not in `<dataDir>/schemas.json` (a cluster's metadata). */
  catalog?: SchemaCatalog;
  /** Most API schemas at once (`max_schemas`); a PUT of one more is refused with 409. */
  maxSchemas?: number;
  /**
   * Told about a schema the catalog holds that this node cannot compile (its points are then
   * refused, rule `schema_unavailable`), or a sandbox limit a committed schema passes.
   */
  onCatalogProblem?: (measurement: string, problem: string) => void;
}

const STORE_FILE = "schemas.json";
/** What `schemas.json` becomes once moved into a catalog. */
const MIGRATED_STORE_FILE = "schemas.json.migrated";
const STORE_VERSION = 1;

/** The schemas of a node. Call {@linkcode SchemaRegistry.open} to build one. */
export class SchemaRegistry {
  readonly #options: SchemaRegistryOptions;
  #fromFiles = new Map<string, ActiveSchema>();
  #fromApi = new Map<string, ActiveSchema>();
  #apiSources = new Map<string, MeasurementSchemaInput>();
  /** With a catalog: the JSON of the catalog entry each API schema was compiled from. */
  #compiledFrom = new Map<string, string>();
  #listeners: ((measurement: string) => void)[] = [];
  /**
   * Script sandboxes open: counted when a schema is let through the budget (before any await,
   * so concurrent PUTs, reloads and dry runs cannot all pass), uncounted when they are closed.
   */
  #openSandboxes = 0;
  /** Measurements whose schema this node has proposed to the catalog and not yet seen applied. */
  #proposing = new Map<string, number>();
  #closed = false;
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
    try {
      await registry.#loadFolder();
      const catalog = options.catalog;
      if (catalog) {
        catalog.onChange((m) => {
          // Applied from the metadata group's apply: nothing may escape as an unhandled error.
          registry.#serial(() => registry.#syncCatalog(m)).catch((error) =>
            options.onCatalogProblem?.(m ?? "(all)", String((error as Error)?.message ?? error))
          );
        });
        await registry.#migrateStore(catalog);
        await registry.#serial(() => registry.#syncCatalog(undefined));
      } else {
        await registry.#loadStore();
      }
    } catch (error) {
      registry.close();
      throw error;
    }
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
   * stored data, then writes the store atomically before it takes effect; the schema it
   * replaces has its sandboxes stopped.
   * @throws {SchemaError} for an invalid body or a file it may not read; EpochError
   * failed_precondition when stored data contradicts it; resource_exhausted (409) when its
   * scripts would pass `maxScripts`, or a new measurement's schema would pass `maxSchemas`.
   */
  put(measurement: string, body: unknown): Promise<{ schema: MeasurementSchema }> {
    const catalog = this.#options.catalog;
    if (catalog) return this.#putInCatalog(catalog, measurement, body);
    return this.#serial(async () => {
      this.#checkSchemaCount(measurement, this.#apiSources);
      const replaced = this.#fromApi.get(measurement);
      const active = await this.#build(measurement, body, "api", replaced?.scriptSandboxes ?? 0);
      const sources = new Map(this.#apiSources);
      sources.set(measurement, body as MeasurementSchemaInput);
      try {
        this.checkAgainstStored(active);
        await this.#saveStore(sources);
      } catch (error) {
        this.#release(active);
        throw error;
      }
      this.#apiSources = sources;
      this.#fromApi.set(measurement, active);
      this.#changed(measurement);
      if (replaced) this.#release(replaced);
      return { schema: active.schema.source };
    });
  }

  /**
   * Removes a measurement's API schema (its config file's schema, if any, applies again).
   * @throws {NotFoundError} when the API holds none; EpochError failed_precondition when the
   * schema comes from a config file only.
   */
  delete(measurement: string): Promise<{ fallback?: string }> {
    const catalog = this.#options.catalog;
    if (catalog) return this.#deleteInCatalog(catalog, measurement);
    return this.#serial(async () => {
      if (!this.#fromApi.has(measurement)) this.#refuseDelete(measurement);
      const sources = new Map(this.#apiSources);
      sources.delete(measurement);
      await this.#saveStore(sources);
      const deleted = this.#fromApi.get(measurement)!;
      this.#apiSources = sources;
      this.#fromApi.delete(measurement);
      this.#changed(measurement);
      this.#release(deleted);
      return { fallback: this.#fromFiles.get(measurement)?.origin };
    });
  }

  /**
   * Refuses a schema for a measurement that has none in `current` when `current`, with the new
   * measurements this node is still proposing, is full. The catalog's count is this node's copy:
   * two nodes racing for the last place can both pass, past the limit by the number of nodes
   * at most.
   */
  #checkSchemaCount(measurement: string, current: ReadonlyMap<string, unknown>): void {
    const max = this.#options.maxSchemas ?? DEFAULT_MAX_SCHEMAS;
    if (current.has(measurement) || this.#proposing.has(measurement)) return;
    let count = current.size;
    for (const m of this.#proposing.keys()) if (!current.has(m)) count++;
    if (count < max) return;
    throw new EpochError(
      "resource_exhausted",
      `no schema set for ${measurement}: ${count} measurements have an API schema, the ` +
        `most this node allows (max_schemas = ${max}); delete one or raise max_schemas`,
      { httpStatus: 409, details: { schemas: count, max_schemas: max } },
    );
  }

  /** Why a measurement without an API schema cannot be deleted. */
  #refuseDelete(measurement: string): never {
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

  /**
   * PUT with a catalog: validated and compiled here as without one (the files it names read from
   * this node's folder, checked against this node's stored data), then proposed with the files'
   * texts; once this node's copy has it, it is compiled from the entry like on every node.
   */
  async #putInCatalog(
    catalog: SchemaCatalog,
    measurement: string,
    body: unknown,
  ): Promise<{ schema: MeasurementSchema }> {
    let counted = false;
    try {
      return await this.#proposeInCatalog(catalog, measurement, body, () => counted = true);
    } finally {
      const n = this.#proposing.get(measurement) ?? 0;
      if (counted && n <= 1) this.#proposing.delete(measurement);
      else if (counted) this.#proposing.set(measurement, n - 1);
    }
  }

  async #proposeInCatalog(
    catalog: SchemaCatalog,
    measurement: string,
    body: unknown,
    onCounted: () => void,
  ): Promise<{ schema: MeasurementSchema }> {
    const entry = await this.#serial(async () => {
      this.#checkSchemaCount(measurement, catalog.entries());
      // Counted from here to the end of its proposal, which runs outside the queue: concurrent
      // PUTs see it.
      this.#proposing.set(measurement, (this.#proposing.get(measurement) ?? 0) + 1);
      onCounted();
      const parsed = this.#parse(measurement, body);
      let files: Record<string, string>;
      try {
        files = await readCarriedFiles(this.#options.fs, this.#options.folder, parsed.pipeline);
      } catch (error) {
        throw new SchemaError(`invalid schema for ${measurement}: ${(error as Error).message}`, {
          details: { measurement },
        });
      }
      const replaced = this.#fromApi.get(measurement);
      const active = await this.#build(measurement, body, "api", replaced?.scriptSandboxes ?? 0, {
        files,
      });
      try {
        this.checkAgainstStored(active);
      } finally {
        // Compiled to be checked only: every node (this one too) compiles the committed entry.
        this.#release(active);
      }
      return { schema: body, files };
    });
    await catalog.set(measurement, entry);
    await this.#serial(() => this.#syncCatalog(measurement));
    return { schema: this.#parse(measurement, body) };
  }

  /** DELETE with a catalog: the catalog decides whether there was one; every node follows. */
  async #deleteInCatalog(
    catalog: SchemaCatalog,
    measurement: string,
  ): Promise<{ fallback?: string }> {
    if (!catalog.entries().has(measurement) || !(await catalog.delete(measurement))) {
      this.#refuseDelete(measurement);
    }
    await this.#serial(() => this.#syncCatalog(measurement));
    return { fallback: this.#fromFiles.get(measurement)?.origin };
  }

  /**
   * Brings the API schemas in force in line with the catalog (one measurement, or all): a new or
   * changed entry is compiled from its body and carried files, a removed one stopped. A
   * committed schema is never refused here: past the sandbox limit it is counted anyway (the
   * sandbox host still bounds the children), and one that does not compile on this node refuses
   * every point of its measurement rather than let them through unchecked.
   */
  async #syncCatalog(measurement: string | undefined): Promise<void> {
    const catalog = this.#options.catalog;
    if (!catalog || this.#closed) return;
    const entries = catalog.entries();
    const names = measurement === undefined
      ? new Set([...entries.keys(), ...this.#fromApi.keys()])
      : [measurement];
    for (const name of names) {
      const entry = entries.get(name);
      const installed = this.#fromApi.get(name);
      if (!entry) {
        if (!installed) continue;
        this.#fromApi.delete(name);
        this.#apiSources.delete(name);
        this.#compiledFrom.delete(name);
        this.#changed(name);
        this.#release(installed);
        continue;
      }
      const json = JSON.stringify(entry);
      if (installed && this.#compiledFrom.get(name) === json) continue;
      let active: ActiveSchema;
      try {
        active = await this.#build(name, entry.schema, "api", installed?.scriptSandboxes ?? 0, {
          files: entry.files,
          committed: true,
        });
      } catch (error) {
        const problem = (error as Error).message;
        this.#options.onCatalogProblem?.(name, problem);
        active = refusingSchema(name, problem);
      }
      this.#fromApi.set(name, active);
      this.#apiSources.set(name, entry.schema as MeasurementSchemaInput);
      this.#compiledFrom.set(name, json);
      this.#changed(name);
      if (installed) this.#release(installed);
    }
  }

  /**
   * Moves a `schemas.json` of this node (from before schemas were cluster metadata) into the
   * catalog: each schema the catalog lacks is set (another node's, already there, wins), with
   * the files it names read from the folder; then the file is renamed, so it happens once.
   * @throws {SchemaError} for a stored schema that is no longer valid (start fails, naming it).
   */
  async #migrateStore(catalog: SchemaCatalog): Promise<void> {
    const { fs, dataDir, folder } = this.#options;
    const stored = await this.#readStore();
    if (!stored) return;
    const path = `${dataDir}/${STORE_FILE}`;
    for (const [measurement, body] of Object.entries(stored)) {
      if (catalog.entries().has(measurement)) continue;
      let files: Record<string, string>;
      try {
        files = await readCarriedFiles(fs, folder, this.#parse(measurement, body).pipeline);
      } catch (error) {
        throw new SchemaError(`${path}: ${(error as Error).message}`, { details: { measurement } });
      }
      await catalog.set(measurement, { schema: body, files }, { ifAbsent: true });
    }
    await fs.rename(path, `${dataDir}/${MIGRATED_STORE_FILE}`);
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

  /**
   * Compiles a schema without installing it (dry runs with a proposed schema). Its sandboxes
   * count against `maxScripts` until the caller gives it back with
   * {@linkcode SchemaRegistry.discard}, which it must do (in a `finally`).
   * @throws as {@linkcode SchemaRegistry.put}, but never for stored data.
   */
  compile(measurement: string, body: unknown): Promise<ActiveSchema> {
    return this.#build(measurement, body, "test", 0);
  }

  /** Stops the sandboxes of a schema from {@linkcode SchemaRegistry.compile}. */
  discard(active: ActiveSchema): void {
    this.#release(active);
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

  /**
   * Validates and compiles an API (or dry-run) schema. `freed` is the number of sandboxes the
   * schema it replaces gives back: a replacement at the limit is fine.
   */
  async #build(
    measurement: string,
    body: unknown,
    origin: string,
    freed: number,
    carried: { files?: Record<string, string>; committed?: boolean } = {},
  ): Promise<ActiveSchema> {
    const parsed = this.#parse(measurement, body);
    let schema: CompiledSchema;
    try {
      schema = compileSchema(measurement, parsed);
    } catch (error) {
      const path = (error as { keyPath?: PropertyKey[] }).keyPath ?? [];
      throw new SchemaError(
        `invalid schema for ${measurement}: ${path.map(String).join(".")}: ${
          (error as Error).message
        }`,
      );
    }
    const reserved = this.#reserve(`schema ${measurement}`, [parsed], freed, carried.committed);
    let steps: CompiledStep[];
    try {
      steps = await compileSteps(measurement, parsed.pipeline, {
        fs: this.#options.fs,
        folder: this.#options.folder,
        files: carried.files,
        resources: this.#options.resources,
      });
    } catch (error) {
      this.#openSandboxes -= reserved;
      throw new SchemaError(
        `invalid schema for ${measurement}: ${(error as Error).message}`,
        { details: { measurement } },
      );
    }
    return activeOf(measurement, schema, steps, origin);
  }

  /** Validates a schema body. @throws {SchemaError} listing every problem with its key. */
  #parse(measurement: string, body: unknown): MeasurementSchema {
    const parsed = MeasurementSchema.safeParse(body);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => {
        const keys = i.code === "unrecognized_keys" ? `.${(i as { keys: string[] }).keys[0]}` : "";
        return `${i.path.map(String).join(".") || "(top)"}${keys}: ${i.message}`;
      });
      throw new SchemaError(`invalid schema for ${measurement}:\n  ${problems.join("\n  ")}`);
    }
    return parsed.data;
  }

  /**
   * Counts the script sandboxes `schemas` will open, refusing them, before any is made, when
   * they would take the open sandboxes past `maxScripts`; `freed` are those the schemas they
   * replace give back (so a replacement at the limit is fine). Returns the number counted.
   * @throws {EpochError} resource_exhausted (HTTP 409) naming the first step that does not fit;
   * `where(i)` names the schema of `schemas[i]`. A `committed` schema (the catalog's) is counted
   * and never refused: the sandbox host still bounds the children it starts.
   */
  #reserve(
    where: string | ((index: number) => string),
    schemas: readonly MeasurementSchema[],
    freed: number,
    committed = false,
  ): number {
    const max = this.#options.resources?.maxScripts ?? DEFAULT_MAX_SCRIPT_SANDBOXES;
    let n = this.#openSandboxes - freed;
    for (const [s, schema] of schemas.entries()) {
      for (const [i, step] of schema.pipeline.entries()) {
        if (!("script" in step)) continue;
        if (n >= max) {
          const name = typeof where === "string" ? where : where(s);
          if (committed) {
            this.#options.onCatalogProblem?.(
              name,
              `pipeline.${i}.script: ${n + 1} script sandboxes in use, past ` +
                `max_script_sandboxes = ${max}; the sandbox host refuses scripts beyond it`,
            );
            n++;
            continue;
          }
          throw new EpochError(
            "resource_exhausted",
            `${name}: pipeline.${i}.script: refused: ${n} script sandboxes are in use, the ` +
              `most this node allows (max_script_sandboxes = ${max}); delete a script schema ` +
              "or raise max_script_sandboxes",
            { httpStatus: 409, details: { in_use: n, max_script_sandboxes: max } },
          );
        }
        n++;
      }
    }
    const counted = n - (this.#openSandboxes - freed);
    this.#openSandboxes += counted;
    return counted;
  }

  /** Stops a schema's sandboxes and uncounts them. */
  #release(active: ActiveSchema): void {
    for (const step of active.steps) step.close?.();
    this.#openSandboxes -= active.scriptSandboxes;
  }

  /**
   * Loads the config folder: every schema file is parsed and the scripts' budget checked before
   * any step is compiled; a failure closes what was compiled and leaves the schemas in force.
   * Then the new schemas take over and the old ones' sandboxes are stopped.
   */
  async #loadFolder(): Promise<void> {
    const { folder, fs } = this.#options;
    if (!folder) return;
    if (!(await fs.stat(folder))?.isDirectory) {
      throw new SchemaError(`schema folder ${folder} does not exist or is not a folder`);
    }
    const declared = new Map<string, { path: string; schema: MeasurementSchema }>();
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
        const earlier = declared.get(measurement);
        if (earlier) {
          throw new SchemaError(
            `${path}: measurement ${measurement} is already declared in ${earlier.path}`,
          );
        }
        declared.set(measurement, { path, schema });
      }
    }
    let freed = 0;
    for (const a of this.#fromFiles.values()) freed += a.scriptSandboxes;
    const entries = [...declared];
    const reserved = this.#reserve(
      (i) => `${entries[i][1].path}: measurements.${entries[i][0]}`,
      entries.map(([, d]) => d.schema),
      freed,
    );
    const next = new Map<string, ActiveSchema>();
    try {
      for (const [measurement, { path, schema }] of declared) {
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
    } catch (error) {
      // What was compiled is closed; the sandboxes of the schema that failed closed themselves.
      for (const active of next.values()) for (const step of active.steps) step.close?.();
      this.#openSandboxes -= reserved;
      throw error;
    }
    const old = this.#fromFiles;
    this.#fromFiles = next;
    for (const m of new Set([...old.keys(), ...next.keys()])) this.#changed(m);
    for (const active of old.values()) this.#release(active);
  }

  async #loadStore(): Promise<void> {
    const stored = await this.#readStore();
    for (const [measurement, body] of Object.entries(stored ?? {})) {
      this.#fromApi.set(measurement, await this.#build(measurement, body, "api", 0));
      this.#apiSources.set(measurement, body);
    }
  }

  /** The schemas of `<dataDir>/schemas.json`; undefined when there is none. */
  async #readStore(): Promise<Record<string, MeasurementSchemaInput> | undefined> {
    const path = `${this.#options.dataDir}/${STORE_FILE}`;
    if (!(await this.#options.fs.stat(path))) return undefined;
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
    return stored.schemas;
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

  /** Stops every script sandbox of the schemas in force (shutdown). */
  close(): void {
    // The schemas stay in force (a write arriving now is still checked; its script fails).
    if (this.#closed) return;
    this.#closed = true;
    for (const a of [...this.#fromApi.values(), ...this.#fromFiles.values()]) this.#release(a);
  }
}

/**
 * A schema this node could not compile from the catalog: its measurement's points are refused
 * (rule `schema_unavailable`, with the reason) instead of stored unchecked.
 */
function refusingSchema(measurement: string, problem: string): ActiveSchema {
  const violation = {
    rule: "schema_unavailable",
    key: "schema",
    expected: "a schema this node can compile",
    got: problem,
  };
  return activeOf(
    measurement,
    compileSchema(measurement, MeasurementSchema.parse({})),
    [{ name: "schema#0", point: () => violation }],
    "api",
  );
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
    scriptSandboxes: schema.source.pipeline.filter((step) => "script" in step).length,
  };
}
