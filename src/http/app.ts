/**
 * The whole HTTP surface as one `fetch(request) -> Response` function (Hono style): tests call
 * it with no socket, and `src/runtime` serves it. Routes:
 *
 * - native: `POST /ingest`, `POST /query` (JSON body), `GET /health`, `GET /metrics`
 * - InfluxDB 1.x: `POST /write`, `GET|POST /query`, `GET|HEAD /ping`
 * - the web console: `GET /` and its assets under `/console/`
 *
 * `routes.ts` lists them with who may call each; `auth_gate.ts` authenticates. `GET /query`,
 * and `POST /query` with a small form body, have a second way in, `App.direct`, for a server
 * that can answer them without fetch's `Request` and `Response` (src/runtime/plain_bridge.ts):
 * same gate, handler, metrics, headers and access log.
 *
 * @module
 */
import {
  type Clock,
  type DirectHandler,
  type FieldLayouts,
  type Logger,
  NotFoundError,
  type PlainAnswer,
  type PlainRequest,
  type Point,
} from "../core/mod.ts";
import type { Principal } from "../auth/mod.ts";
import { LineProtocolCache } from "../ingest/mod.ts";
import type { JoinAnswer, JoinRequest } from "../cluster/mod.ts";
import type { QueryStore } from "../query/mod.ts";
import type { AppendOptions, EngineStats, StorageFigures, WriteOutcome } from "../storage/mod.ts";
import type { IngestSettings } from "./ingest_handler.ts";
import type { IngestPipeline } from "./write_path.ts";
import { Metrics, type SampledFamily } from "./metrics.ts";
import { INFLUX_VERSION, nativeError } from "./responses.ts";
import { type AuthContext, passGate, type RefusalLogs, refusalLogs } from "./auth_gate.ts";
import { type Route, routeOf } from "./routes.ts";
import type { BackupApi } from "./backup_handler.ts";
import type { JobsService } from "../jobs/mod.ts";
import { type AccessSink, logAccess, logPlainAccess } from "./access_log.ts";
import { handleInfluxQueryPlain, isPlainQuery } from "./query_handler.ts";
import { declareServerMetrics } from "./server_metrics.ts";

/**
 * The data a node serves: a single-node storage engine, or a cluster node's store. `write`
 * reports points it did not write because their partition had no leader as `unavailable`.
 */
export interface DataStore extends QueryStore {
  hasDatabase(name: string): boolean;
  /**
   * {@linkcode hasDatabase}, after catching up with the cluster's metadata when this node does
   * not know the database: a node's copy may lag the node that just created it.
   */
  knowsDatabase?(name: string): Promise<boolean>;
  createDatabase(name: string): Promise<void>;
  write(
    database: string,
    retentionPolicy: string | undefined,
    points: Point[],
    options?: AppendOptions,
  ): Promise<WriteOutcome & { unavailable?: number }>;
  stats(): EngineStats;
  /** Cheap figures for `/metrics` (no compaction planning), per database. */
  figures(): StorageFigures;
  /** Bytes of each measurement's stored blocks in a database (schemas' `max_bytes`). */
  measurementBytes?(database: string): Map<string, number>;
  /** The same on the partitions' leaders, summed (a cluster); preferred when present. */
  measurementSizes?(database: string): Promise<Map<string, number>>;
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
  /**
   * Line protocol decoding caches, one per database (decoded series keys repeat); their field
   * layouts serve every format ({@linkcode fieldLayouts}).
   */
  lineProtocolCaches: Map<string, LineProtocolCache>;
  /**
   * Requests the gate refuses for missing or wrong credentials, which anyone can send: each kind
   * logged at most once per 10 s (`epochnexus_http_requests_total{status="401"}` counts them all).
   */
  refusalLogs: RefusalLogs;
  /** Writes a refusal summary when a flood stops (the runtime's `backgroundTimeout`). */
  later?: (fn: () => void, ms: number) => void;
  /** Batch sizes, stream limits and overload bounds of the write paths; defaults when absent. */
  ingest?: Partial<IngestSettings>;
  /** The node's cluster (join and status); absent for an engine without one. */
  cluster?: ClusterApi;
  /** Users, privileges and tokens; absent: no authentication and no user statements. */
  auth?: AuthContext;
  /** Continuous queries, alert rules and their schedule; absent: none. */
  jobs?: JobsService;
  /** Where the access log goes (`access_log`); absent: none. */
  accessLog?: AccessSink;
  /** Requests whose queries run this long (ms) are logged as slow (`slow_query_ms`); 0: never. */
  slowQueryMs?: number;
}

/** What the cluster routes need. */
export interface ClusterApi {
  /** Admits a node asking to join (`POST /api/v1/cluster/join`). */
  join(request: JoinRequest): Promise<JoinAnswer>;
  /** Nodes, databases and partitions with their replicas and leaders (`GET /api/v1/cluster`). */
  status(): Record<string, unknown> | Promise<Record<string, unknown>>;
  /** Starts draining a node: its replicas move away, then it leaves (`DELETE .../nodes/<id>`). */
  removeNode?(id: number): Promise<void>;
  /** The node's Raft and network figures, read at each scrape of `/metrics`. */
  metrics?(): SampledFamily[];
  /** Backup and restore (`/api/v1/backup`, `/api/v1/restore`). */
  backup?: BackupApi;
}

/** Options of {@linkcode createApp}. */
export type AppOptions = Omit<AppContext, "metrics" | "lineProtocolCaches" | "refusalLogs"> & {
  metrics?: Metrics;
  /** The databases' write caches, when the caller looks at them (a test); new ones when absent. */
  lineProtocolCaches?: Map<string, LineProtocolCache>;
  /** The gate's refusal logs, when the caller flushes them at shutdown (`serve`). */
  refusalLogs?: RefusalLogs;
};

/** The line protocol cache of a database. */
export function lineProtocolCache(ctx: AppContext, database: string): LineProtocolCache {
  let cache = ctx.lineProtocolCaches.get(database);
  if (!cache) {
    forgetDroppedDatabases(ctx);
    ctx.lineProtocolCaches.set(database, cache = new LineProtocolCache());
  }
  return cache;
}

/**
 * Drops the write caches (series keys, field layouts) of databases that no longer exist: after
 * DROP DATABASE here, and before a new database's cache is made (one dropped through another
 * node), so they are bounded by the databases that exist rather than all ever written to.
 */
export function forgetDroppedDatabases(ctx: AppContext): void {
  for (const database of [...ctx.lineProtocolCaches.keys()]) {
    if (!ctx.engine.hasDatabase(database)) ctx.lineProtocolCaches.delete(database);
  }
}

/**
 * The shared field layouts of a database's writes, whatever their format (those of its line
 * protocol cache): every request's points of the same fields share one layout (bounded).
 */
export function fieldLayouts(ctx: AppContext, database: string): FieldLayouts {
  return lineProtocolCache(ctx, database).layouts;
}

/** What the server knows of a request beyond the request itself. */
export interface RequestInfo {
  /** The client's address, `host:port`. */
  remoteAddr?: string;
}

/** A request handler. */
export type Handler = (request: Request, info?: RequestInfo) => Promise<Response>;

/**
 * The app: its fetch handler, and `direct`, which answers a `GET /query`, or a `POST /query`
 * whose small form body the server read, without fetch objects (the server's direct path; every
 * other request returns undefined and takes the fetch path).
 */
export type App = Handler & { direct: DirectHandler };

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
export function createApp(options: AppOptions): App {
  const metrics = options.metrics ?? new Metrics();
  const ctx: AppContext = {
    ...options,
    metrics,
    lineProtocolCaches: options.lineProtocolCaches ?? new Map(),
    refusalLogs: options.refusalLogs ?? refusalLogs(options),
  };
  declareServerMetrics(ctx);
  // Request ids: unique per process without a random source (start time + a sequence number).
  const idPrefix = Math.floor(ctx.clock.nowMs()).toString(16);
  let requests = 0;

  /** Counts, labels and logs an answer (both paths). */
  function finish<A extends Response | PlainAnswer>(
    request: Request | PlainRequest,
    url: URL,
    remote: string | undefined,
    started: number,
    answer: Dispatched<A>,
  ): A {
    const { route, response } = answer;
    const seconds = (ctx.clock.monotonicMs() - started) / 1000;
    metrics.add("epochnexus_http_requests_total", { route, status: String(response.status) });
    metrics.observe("epochnexus_http_request_duration_seconds", { route }, seconds);
    const requestId = `${idPrefix}-${(++requests).toString(16)}`;
    if (!(response instanceof Response)) {
      Object.assign(response.headers, influxHeaders(requestId));
      if (!ctx.accessLog) return response;
      const user = answer.principal?.name;
      const entry = { request, url, route, remote, user, requestId, started };
      logPlainAccess(response, entry, ctx.accessLog, ctx.clock);
      return response;
    }
    for (const [name, value] of Object.entries(influxHeaders(requestId))) {
      response.headers.set(name, value);
    }
    if (!ctx.accessLog) return response;
    return logAccess(
      response,
      { request, url, route, remote, user: answer.principal?.name, requestId, started },
      ctx.accessLog,
      ctx.clock,
    ) as A;
  }

  const fetch: Handler = async (request, info) => {
    const url = new URL(request.url);
    const started = ctx.clock.monotonicMs();
    let answer: Dispatched<Response>;
    try {
      answer = await dispatch(ctx, request, url, info);
    } catch (error) {
      // Handlers answer their own errors; reaching here is a bug or an unexpected failure.
      answer = unhandled(ctx, url, error);
    }
    return finish(request, url, info?.remoteAddr, started, answer);
  };

  const query = routeOf("/query")!;
  const direct: DirectHandler = (request) => {
    if (request.url.pathname !== "/query" || !isPlainQuery(ctx, request)) return undefined;
    const started = ctx.clock.monotonicMs();
    return answerQueryPlain(ctx, query, request).then(
      (answer) => finish(request, request.url, request.remoteAddr, started, answer),
    );
  };
  return Object.assign(fetch, { direct });
}

/** A request's route label, answer, and caller (when the gate let it through). */
interface Dispatched<A = Response> {
  route: string;
  response: A;
  principal?: Principal;
}

function unhandled(ctx: AppContext, url: URL, error: unknown): Dispatched<Response> {
  ctx.logger.error("unhandled error", { path: url.pathname, error: String(error) });
  return { route: "other", response: nativeError(error) };
}

/** `/query` on the direct path: the gate, then the query; as `dispatch` would. */
async function answerQueryPlain(
  ctx: AppContext,
  route: Route,
  request: PlainRequest,
): Promise<Dispatched<Response | PlainAnswer>> {
  const url = request.url;
  try {
    const gate = await passGate(ctx, route, request, { url, remoteAddr: request.remoteAddr });
    if ("response" in gate) return { route: route.name, response: gate.response };
    const principal = gate.principal;
    return {
      route: route.name,
      response: await handleInfluxQueryPlain(ctx, request, principal),
      principal,
    };
  } catch (error) {
    return unhandled(ctx, url, error);
  }
}

async function dispatch(
  ctx: AppContext,
  request: Request,
  url: URL,
  info: RequestInfo | undefined,
): Promise<Dispatched> {
  const route = routeOf(url.pathname);
  if (!route) {
    return {
      route: "other",
      response: nativeError(new NotFoundError(`no route for ${request.method} ${url.pathname}`)),
    };
  }
  const gate = await passGate(ctx, route, request, { url, remoteAddr: info?.remoteAddr });
  if ("response" in gate) return { route: route.name, response: gate.response };
  const principal = gate.principal;
  const answer = await route.handle(ctx, request, url, principal);
  return Array.isArray(answer)
    ? { route: answer[0], response: answer[1], principal }
    : { route: route.name, response: answer, principal };
}

/** The headers every answer carries (InfluxDB's, and the request's id). */
function influxHeaders(requestId: string): Record<string, string> {
  return {
    "x-influxdb-version": INFLUX_VERSION,
    "x-influxdb-build": "OSS",
    "request-id": requestId,
    "x-request-id": requestId,
  };
}
