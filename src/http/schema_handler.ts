/**
 * The schema API:
 *
 * - `GET /api/v1/schemas`: every measurement with a schema and where it comes from;
 * - `GET|PUT|DELETE /api/v1/schemas/{measurement}`: one schema (PUT takes JSON or YAML; it is
 *   refused with 409 when stored data contradicts it, 400 naming the key when invalid);
 * - `POST /api/v1/schemas/reload`: reloads the config folder (SIGHUP does the same);
 * - `POST /api/v1/pipelines/{measurement}/test`: a dry run. The body is
 *   `{"points": [native JSON points] | "line protocol", "schema"?: {proposed schema}, "db"?}`;
 *   the answer says what would be stored, rejected (with the rule) and dropped, writing nothing.
 *
 * Also {@linkcode storedDataOf}: what the storage engine tells the schema registry.
 * @module
 */
import { parse as parseYaml } from "yaml";
import {
  EpochError,
  type FieldType,
  instantFromNanos,
  nanosString,
  NotFoundError,
  type Point,
  ValidationError,
} from "../core/mod.ts";
import { decodeJsonPoints, parseLineProtocol } from "../ingest/mod.ts";
import { SchemaPipeline, type StoredData } from "../schema/mod.ts";
import type { AppContext } from "./app.ts";
import { readBody } from "./body.ts";
import { json, nativeError } from "./responses.ts";

const SCHEMAS = "/api/v1/schemas";
const PIPELINES = "/api/v1/pipelines/";
const MIN_NS = -9223372036854775806n;
const MAX_NS = 9223372036854775806n;

/** Whether a path belongs to the schema API. */
export function isSchemaRoute(path: string): boolean {
  return path === SCHEMAS || path.startsWith(`${SCHEMAS}/`) || path.startsWith(PIPELINES);
}

/** The parts of the storage engine the registry reads (field types and series keys). */
export interface SchemaStorageView {
  databases(): string[];
  retentionPolicies(database: string): { name: string }[];
  shards(database: string, retentionPolicy: string, minNs: bigint, maxNs: bigint): {
    fieldTypes(measurement: string): Map<string, FieldType>;
    series(measurement: string): readonly { key: string }[];
  }[];
}

/** What the storage engine tells the schema registry about stored data. */
export function storedDataOf(engine: SchemaStorageView): StoredData {
  const shardsOf = (database: string) =>
    engine.retentionPolicies(database).flatMap((rp) =>
      engine.shards(database, rp.name, MIN_NS, MAX_NS)
    );
  return {
    fieldTypes(measurement) {
      const out: { database: string; types: Map<string, FieldType> }[] = [];
      for (const database of engine.databases()) {
        const types = new Map<string, FieldType>();
        for (const shard of shardsOf(database)) {
          for (const [k, t] of shard.fieldTypes(measurement)) types.set(k, t);
        }
        if (types.size > 0) out.push({ database, types });
      }
      return out;
    },
    seriesKeys(database, measurement) {
      if (!engine.databases().includes(database)) return [];
      const keys = new Set<string>();
      for (const shard of shardsOf(database)) {
        for (const s of shard.series(measurement)) keys.add(s.key);
      }
      return keys;
    },
  };
}

/**
 * How long a schema GET waits for its `bytes`. In a cluster they are counted by every
 * partition's leader, and a partition between leaders keeps the count waiting up to the
 * partition call timeout (10 s), then fails it: the schema itself is this node's to tell.
 */
export const STORED_BYTES_WAIT_MS = 2_000;

/**
 * Bytes of a measurement's stored blocks per database where it has any (what `max_bytes`
 * limits), when the store tells: in a cluster, as the partitions' leaders count them. When they
 * cannot be counted within {@linkcode STORED_BYTES_WAIT_MS}, why (the schema is answered without).
 */
async function storedBytes(
  ctx: AppContext,
  measurement: string,
): Promise<{ bytes?: Record<string, number>; bytesUnavailable?: string }> {
  const store = ctx.engine;
  if (!store.measurementBytes && !store.measurementSizes) return {};
  const count = async () => {
    const out: Record<string, number> = {};
    for (const database of store.databases()) {
      const sizes = store.measurementSizes
        ? await store.measurementSizes(database)
        : store.measurementBytes!(database);
      const n = sizes.get(measurement);
      if (n) out[database] = n;
    }
    return out;
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`not counted within ${STORED_BYTES_WAIT_MS} ms`)),
      STORED_BYTES_WAIT_MS,
    );
  });
  try {
    return { bytes: await Promise.race([count(), late]) };
  } catch (error) {
    const why = (error as Error).message;
    ctx.logger.warn("schema GET answered without its stored bytes", { measurement, why });
    return { bytesUnavailable: why };
  } finally {
    clearTimeout(timer);
  }
}

/** Answers the schema API. */
export async function handleSchemaApi(
  ctx: AppContext,
  request: Request,
  url: URL,
): Promise<Response> {
  try {
    const pipeline = ctx.pipeline instanceof SchemaPipeline ? ctx.pipeline : undefined;
    if (!pipeline) {
      throw new EpochError("unimplemented", "schemas are not enabled on this node", {
        httpStatus: 501,
      });
    }
    const registry = pipeline.registry;
    const method = request.method;
    const path = url.pathname;
    if (path.startsWith(PIPELINES)) {
      const rest = path.slice(PIPELINES.length);
      if (!rest.endsWith("/test") || rest.length <= 5) {
        throw new NotFoundError(`no route for ${method} ${path}`);
      }
      if (method !== "POST") return methodNotAllowed("POST");
      return await dryRun(ctx, pipeline, decodeURIComponent(rest.slice(0, -5)), request);
    }
    if (path === SCHEMAS || path === `${SCHEMAS}/`) {
      if (method !== "GET") return methodNotAllowed("GET");
      return json({
        schemas: registry.measurements().map((m) => ({
          measurement: m,
          origin: registry.describe(m).origin,
        })),
      });
    }
    const name = decodeURIComponent(path.slice(SCHEMAS.length + 1));
    if (name === "reload") {
      if (method !== "POST") return methodNotAllowed("POST");
      const { measurements } = await registry.reload();
      ctx.logger.info("schemas reloaded", { measurements: measurements.length });
      return json({ reloaded: true, measurements });
    }
    if (name === "" || name.includes("/")) {
      throw new NotFoundError(`no route for ${method} ${path}`);
    }
    switch (method) {
      case "GET": {
        const { origin, schema } = registry.describe(name);
        return json({ measurement: name, origin, schema, ...await storedBytes(ctx, name) });
      }
      case "PUT": {
        const body = await readSchemaBody(ctx, request);
        const { schema } = await registry.put(name, body);
        ctx.logger.info("schema set", { measurement: name });
        return json({ measurement: name, origin: "api", schema });
      }
      case "DELETE": {
        const { fallback } = await registry.delete(name);
        return json({ measurement: name, deleted: true, now_in_force: fallback ?? null });
      }
      default:
        return methodNotAllowed("GET, PUT, DELETE");
    }
  } catch (error) {
    if (!(error instanceof EpochError)) {
      ctx.logger.error("schema API failed", { error: String(error) });
    }
    return nativeError(error);
  }
}

async function readSchemaBody(ctx: AppContext, request: Request): Promise<unknown> {
  const type = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  const text = new TextDecoder().decode(await readBody(request, ctx.maxBodyBytes));
  try {
    if (type.includes("yaml")) return parseYaml(text);
    return JSON.parse(text);
  } catch (error) {
    throw new ValidationError(
      `invalid schema body (${type || "application/json"}): ${(error as Error).message}`,
    );
  }
}

async function dryRun(
  ctx: AppContext,
  pipeline: SchemaPipeline,
  measurement: string,
  request: Request,
): Promise<Response> {
  const text = new TextDecoder().decode(await readBody(request, ctx.maxBodyBytes));
  const type = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  const defaultTime = instantFromNanos(ctx.clock.nowNanos());
  let points: Point[];
  let decodeErrors: unknown[];
  let database = ctx.defaultDatabase;
  let proposed;
  if (type !== "application/json" && !text.trimStart().startsWith("{")) {
    const decoded = parseLineProtocol(new TextEncoder().encode(text), { defaultTime });
    points = decoded.points;
    decodeErrors = decoded.errors;
  } else {
    let body: { points?: unknown; schema?: unknown; db?: unknown };
    try {
      body = JSON.parse(text);
    } catch (error) {
      throw new ValidationError(`invalid JSON body: ${(error as Error).message}`);
    }
    if (body === null || typeof body !== "object" || body.points === undefined) {
      throw new ValidationError(
        'expected {"points": [...] or "line protocol", "schema"?: {...}, "db"?: "..."}',
      );
    }
    if (typeof body.db === "string") database = body.db;
    if (typeof body.points === "string") {
      const decoded = parseLineProtocol(new TextEncoder().encode(body.points), { defaultTime });
      points = decoded.points;
      decodeErrors = decoded.errors;
    } else {
      const decoded = decodeJsonPoints(JSON.stringify(body.points), { defaultTime });
      points = decoded.points;
      decodeErrors = decoded.errors;
    }
    if (body.schema !== undefined) {
      proposed = await pipeline.registry.compile(measurement, body.schema);
    }
  }
  let result;
  try {
    result = await pipeline.dryRun(database, points, proposed);
  } finally {
    // The proposed schema's sandboxes end with the dry run, whatever happened in it.
    if (proposed) pipeline.registry.discard(proposed);
  }
  return json({
    measurement,
    stored: result.points.map(pointJson),
    rejected: result.rejected.map((r) => ({
      index: r.index,
      measurement: r.measurement,
      rule: r.violation.rule,
      key: r.violation.key,
      expected: r.violation.expected,
      got: r.violation.got,
      reason: r.reason,
    })),
    dropped: result.dropped,
    decode_errors: decodeErrors,
  });
}

function pointJson(p: Point): Record<string, unknown> {
  return {
    measurement: p.measurement,
    tags: Object.fromEntries(p.tags.map((t) => [t.key, t.value])),
    fields: Object.fromEntries(
      p.fields.map((f) => [f.key, typeof f.value === "bigint" ? f.value.toString() : f.value]),
    ),
    timestamp: nanosString(p.timeMs, p.timeSubMs),
  };
}

function methodNotAllowed(allow: string): Response {
  const response = nativeError(
    new ValidationError(`method not allowed: use ${allow}`, { httpStatus: 405 }),
  );
  response.headers.set("allow", allow);
  return response;
}
