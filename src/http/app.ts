/**
 * The whole HTTP surface as one `fetch(request) -> Response` function (Hono style): tests call
 * it with no socket, and `src/runtime` serves it. Routes:
 *
 * - native: `POST /ingest`, `POST /query` (JSON body), `GET /health`, `GET /metrics`
 * - InfluxDB 1.x: `POST /write`, `GET|POST /query`, `GET|HEAD /ping`
 * - the web console: `GET /` and its assets under `/console/`
 *
 * @module
 */
import {
  type Clock,
  type Logger,
  NotFoundError,
  type Point,
  ValidationError,
} from "../core/mod.ts";
import { LineProtocolCache } from "../ingest/mod.ts";
import type { JoinAnswer, JoinRequest } from "../cluster/mod.ts";
import type { QueryStore } from "../query/mod.ts";
import type { AppendOptions, EngineStats, WriteOutcome } from "../storage/mod.ts";
import { handleIngest, type IngestSettings } from "./ingest_handler.ts";
import { handleInfluxQuery, handleNativeQuery } from "./query_handler.ts";
import { handleInfluxWrite } from "./write_handler.ts";
import { handlePromWrite } from "./prom_write_handler.ts";
import { handleRpc, isRpcPath } from "./rpc_handler.ts";
import { handleSchemaApi, isSchemaRoute } from "./schema_handler.ts";
import { handleConsole, isConsoleRoute } from "./console_handler.ts";
import type { IngestPipeline } from "./write_path.ts";
import { Metrics } from "./metrics.ts";
import { INFLUX_VERSION, influxError, json, nativeError } from "./responses.ts";

/**
 * The data a node serves: a single-node storage engine, or a cluster node's store. `write`
 * reports points it did not write because their partition had no leader as `unavailable`.
 */
export interface DataStore extends QueryStore {
  hasDatabase(name: string): boolean;
  createDatabase(name: string): Promise<void>;
  write(
    database: string,
    retentionPolicy: string | undefined,
    points: Point[],
    options?: AppendOptions,
  ): Promise<WriteOutcome & { unavailable?: number }>;
  stats(): EngineStats;
}

/** What the handlers need. */
export interface AppContext {
  engine: DataStore;
  clock: Clock;
  logger: Logger;
  /** Database of the native API when a request names none. */
  defaultDatabase: string;
  /** Largest request body, after decompression. */
  maxBodyBytes: number;
  metrics: Metrics;
  /** Schemas, validation and transformations run before storage; none when absent. */
  pipeline?: IngestPipeline;
  /** Line protocol decoding caches, one per database (decoded series keys repeat). */
  lineProtocolCaches: Map<string, LineProtocolCache>;
  /** Batch sizes, stream limits and overload bounds of the write paths; defaults when absent. */
  ingest?: Partial<IngestSettings>;
  /** The node's cluster (join and status); absent for an engine without one. */
  cluster?: ClusterApi;
}

/** What the cluster routes need. */
export interface ClusterApi {
  /** Admits a node asking to join (`POST /api/v1/cluster/join`). */
  join(request: JoinRequest): Promise<JoinAnswer>;
  /** Nodes, databases and partitions with their replicas and leaders (`GET /api/v1/cluster`). */
  status(): Record<string, unknown>;
}

/** Options of {@linkcode createApp}. */
export type AppOptions = Omit<AppContext, "metrics" | "lineProtocolCaches"> & {
  metrics?: Metrics;
};

/** The line protocol cache of a database. */
export function lineProtocolCache(ctx: AppContext, database: string): LineProtocolCache {
  let cache = ctx.lineProtocolCaches.get(database);
  if (!cache) ctx.lineProtocolCaches.set(database, cache = new LineProtocolCache());
  return cache;
}

/** A request handler. */
export type Handler = (request: Request) => Promise<Response>;

/**
 * Builds the fetch handler of a node.
 *
 * @example
 * ```ts
 * const fetch = createApp({ engine, clock, logger, defaultDatabase: "epochnexus", maxBodyBytes: 25e6 });
 * const answer = await fetch(new Request("http://x/ping"));
 * answer.status; // 204
 * ```
 */
export function createApp(options: AppOptions): Handler {
  const metrics = options.metrics ?? new Metrics();
  const ctx: AppContext = { ...options, metrics, lineProtocolCaches: new Map() };
  declareMetrics(ctx);
  // Request ids: unique per process without a random source (start time + a sequence number).
  const idPrefix = Math.floor(ctx.clock.nowMs()).toString(16);
  let requests = 0;

  return async (request) => {
    const url = new URL(request.url);
    const started = ctx.clock.monotonicMs();
    let response: Response;
    let route = "other";
    try {
      [route, response] = await dispatch(ctx, request, url);
    } catch (error) {
      // Handlers answer their own errors; reaching here is a bug or an unexpected failure.
      ctx.logger.error("unhandled error", { path: url.pathname, error: String(error) });
      response = nativeError(error);
    }
    metrics.add("epochnexus_http_requests_total", { route, status: String(response.status) });
    metrics.add(
      "epochnexus_http_request_duration_seconds_total",
      { route },
      (ctx.clock.monotonicMs() - started) / 1000,
    );
    return withInfluxHeaders(response, `${idPrefix}-${(++requests).toString(16)}`);
  };
}

async function dispatch(ctx: AppContext, request: Request, url: URL): Promise<[string, Response]> {
  const method = request.method;
  switch (url.pathname) {
    case "/ping":
      if (method !== "GET" && method !== "HEAD") return ["ping", methodNotAllowed("GET, HEAD")];
      if (url.searchParams.get("verbose") === "true") {
        return ["ping", json({ version: INFLUX_VERSION }, 200)];
      }
      return ["ping", new Response(null, { status: 204 })];
    case "/health":
      return ["health", health(ctx)];
    case "/metrics":
      return [
        "metrics",
        new Response(ctx.metrics.render(), {
          headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
        }),
      ];
    case "/write":
      if (method !== "POST") return ["write", influxMethodError("POST")];
      return ["write", await handleInfluxWrite(ctx, request, url)];
    case "/ingest":
      if (method !== "POST") return ["ingest", methodNotAllowed("POST")];
      return ["ingest", await handleIngest(ctx, request, url)];
    case "/query": {
      if (method !== "GET" && method !== "POST") return ["query", influxMethodError("GET, POST")];
      const type = request.headers.get("content-type") ?? "";
      if (method === "POST" && type.toLowerCase().startsWith("application/json")) {
        return ["query_native", await handleNativeQuery(ctx, request, url)];
      }
      return ["query", await handleInfluxQuery(ctx, request, url)];
    }
    case "/api/v1/cluster":
      if (method !== "GET") return ["cluster", methodNotAllowed("GET")];
      if (!ctx.cluster) return ["cluster", nativeError(new NotFoundError("no cluster"))];
      return ["cluster", json(ctx.cluster.status())];
    case "/api/v1/cluster/join":
      if (method !== "POST") return ["cluster", methodNotAllowed("POST")];
      return ["cluster", await handleJoin(ctx, request)];
    case "/api/v1/prom/write":
      if (method !== "POST") return ["prom_write", methodNotAllowed("POST")];
      return ["prom_write", await handlePromWrite(ctx, request, url)];
    default:
      if (isRpcPath(url.pathname)) return ["rpc", await handleRpc(ctx, request, url)];
      if (isSchemaRoute(url.pathname)) return ["schemas", await handleSchemaApi(ctx, request, url)];
      if (isConsoleRoute(url.pathname)) return ["console", handleConsole(request, url)];
      return ["other", nativeError(new NotFoundError(`no route for ${method} ${url.pathname}`))];
  }
}

async function handleJoin(ctx: AppContext, request: Request): Promise<Response> {
  if (!ctx.cluster) return nativeError(new NotFoundError("this node runs no cluster"));
  let body: Partial<JoinRequest>;
  try {
    body = await request.json();
  } catch (error) {
    return nativeError(new ValidationError(`join request is not JSON: ${error}`));
  }
  const { httpAddress, raftAddress, version, clusterId } = body;
  if (
    typeof httpAddress !== "string" || typeof raftAddress !== "string" ||
    typeof version !== "string" || typeof clusterId !== "string"
  ) {
    return nativeError(
      new ValidationError(
        "join request needs httpAddress, raftAddress, version and clusterId strings",
      ),
    );
  }
  try {
    return json(await ctx.cluster.join({ httpAddress, raftAddress, version, clusterId }));
  } catch (error) {
    return nativeError(error);
  }
}

function health(ctx: AppContext): Response {
  const stats = ctx.engine.stats();
  return json({
    status: "pass",
    name: "epochnexus",
    message: "ready for queries and writes",
    version: INFLUX_VERSION,
    ...stats,
  });
}

function methodNotAllowed(allow: string): Response {
  const error = new ValidationError(`method not allowed: use ${allow}`, { httpStatus: 405 });
  const response = nativeError(error);
  response.headers.set("allow", allow);
  return response;
}

function influxMethodError(allow: string): Response {
  const response = influxError(
    new ValidationError("method not allowed", { httpStatus: 405 }),
  );
  response.headers.set("allow", allow);
  return response;
}

function withInfluxHeaders(response: Response, requestId: string): Response {
  response.headers.set("x-influxdb-version", INFLUX_VERSION);
  response.headers.set("x-influxdb-build", "OSS");
  response.headers.set("request-id", requestId);
  response.headers.set("x-request-id", requestId);
  return response;
}

function declareMetrics(ctx: AppContext): void {
  const m = ctx.metrics;
  m.counter("epochnexus_http_requests_total", "HTTP requests by route and status.");
  m.counter(
    "epochnexus_http_request_duration_seconds_total",
    "Time spent answering HTTP requests, by route.",
  );
  m.counter("epochnexus_points_written_total", "Points acknowledged as durable.");
  m.counter("epochnexus_points_rejected_total", "Points refused, by reason.");
  m.counter("epochnexus_queries_total", "Query statements executed, by outcome.");
  m.gauge("epochnexus_series", "Series held in memory.", () => ctx.engine.stats().series);
  m.gauge("epochnexus_values", "Values held in memory.", () => ctx.engine.stats().values);
  m.gauge("epochnexus_databases", "Databases.", () => ctx.engine.stats().databases);
}
