/**
 * Every route of the HTTP app, with who may call it. `createApp` dispatches through this table
 * only, so a route cannot exist without its access rule, and the authorization matrix test
 * (`tests/auth/matrix_test.ts`) enumerates it and fails on a route without a row.
 *
 * | access | who |
 * |---|---|
 * | public | anyone (`/ping`, `/health`: load balancers and probes; the console's page and assets, which
 * hold no data and must load before its sign-in) |
 * | user | any authenticated caller |
 * | admin | an admin user or an admin token |
 * | read | READ on the database the request names |
 * | write | WRITE on the database the request names |
 * | query | per statement, after parsing (`auth/access.ts`) |
 * | rpc | per call: WRITE on the database of each ingest call |
 * | join | an admin, or a node presenting the cluster secret |
 * @module
 */
import type { Principal } from "../auth/mod.ts";
import { NotFoundError, ValidationError, VERSION } from "../core/mod.ts";
import type { AppContext } from "./app.ts";
import { handleIngest } from "./ingest_handler.ts";
import { handleJoin } from "./join_handler.ts";
import { handleInfluxQuery, handleNativeQuery } from "./query_handler.ts";
import { handleInfluxWrite } from "./write_handler.ts";
import { handlePromWrite } from "./prom_write_handler.ts";
import { handlePromRead } from "./prom_read_handler.ts";
import { handleRpc, isRpcPath } from "./rpc_handler.ts";
import { handleSchemaApi, isSchemaRoute } from "./schema_handler.ts";
import { handleTokens, isTokenRoute } from "./token_handler.ts";
import { handleExport, isExportRoute } from "./export_handler.ts";
import { handleBackup, isBackupRoute } from "./backup_handler.ts";
import {
  handleAlertRules,
  handleAlerts,
  isAlertRulesRoute,
  isAlertsRoute,
} from "./alerts_handler.ts";
import { handleConsole, isConsoleRoute } from "./console_handler.ts";
import { INFLUX_VERSION, influxError, json, nativeError } from "./responses.ts";

/** Who may call a route. */
export type RouteAccess =
  | { kind: "public" }
  | { kind: "user" }
  | { kind: "admin" }
  | { kind: "read"; database: (ctx: AppContext, url: URL) => string }
  | { kind: "write"; database: (ctx: AppContext, url: URL) => string }
  | { kind: "query" }
  | { kind: "rpc" }
  | { kind: "join" };

/** A route: its metrics label, the paths it answers, its access rule and its handler. */
export interface Route {
  name: string;
  matches(path: string): boolean;
  /** Errors in InfluxDB 1.x's shape (`{"error": "..."}`), else the native shape. */
  influx: boolean;
  access: RouteAccess;
  /** Answers the request; the label is `name` unless it returns another. */
  handle(
    ctx: AppContext,
    request: Request,
    url: URL,
    principal: Principal,
  ): Promise<Response | [string, Response]>;
  /** Methods and paths the matrix test calls it with (one is enough). */
  example: { method: string; path: string; body?: string; contentType?: string };
}

const exact = (path: string) => (p: string) => p === path;
const CLUSTER_NODE_PATH = /^\/api\/v1\/cluster\/nodes\/(\d{1,9})$/;
const dbParam = (_ctx: AppContext, url: URL) => url.searchParams.get("db") ?? "";
const dbOrDefault = (ctx: AppContext, url: URL) =>
  url.searchParams.get("db") || ctx.defaultDatabase;

/** The routes, in match order. */
export const ROUTES: readonly Route[] = [
  {
    name: "ping",
    matches: exact("/ping"),
    influx: true,
    access: { kind: "public" },
    example: { method: "GET", path: "/ping" },
    handle: (_ctx, request, url) => {
      if (request.method !== "GET" && request.method !== "HEAD") {
        return Promise.resolve(methodNotAllowed("GET, HEAD"));
      }
      if (url.searchParams.get("verbose") === "true") {
        return Promise.resolve(json({ version: INFLUX_VERSION }, 200));
      }
      return Promise.resolve(new Response(null, { status: 204 }));
    },
  },
  {
    name: "health",
    matches: exact("/health"),
    influx: false,
    access: { kind: "public" },
    example: { method: "GET", path: "/health" },
    handle: (ctx) => Promise.resolve(health(ctx)),
  },
  {
    name: "metrics",
    matches: exact("/metrics"),
    influx: false,
    access: { kind: "user" },
    example: { method: "GET", path: "/metrics" },
    handle: (ctx) =>
      Promise.resolve(
        new Response(ctx.metrics.render(), {
          headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
        }),
      ),
  },
  {
    name: "write",
    matches: exact("/write"),
    influx: true,
    access: { kind: "write", database: dbParam },
    example: { method: "POST", path: "/write?db=db1", body: "m v=1 1" },
    handle: (ctx, request, url) => {
      if (request.method !== "POST") return Promise.resolve(influxMethodError("POST"));
      return handleInfluxWrite(ctx, request, url);
    },
  },
  {
    name: "ingest",
    matches: exact("/ingest"),
    influx: false,
    access: { kind: "write", database: dbOrDefault },
    example: { method: "POST", path: "/ingest?db=db1", body: "m v=1 1", contentType: "text/plain" },
    handle: (ctx, request, url) => {
      if (request.method !== "POST") return Promise.resolve(methodNotAllowed("POST"));
      return handleIngest(ctx, request, url);
    },
  },
  {
    name: "query",
    matches: exact("/query"),
    influx: true,
    access: { kind: "query" },
    example: { method: "GET", path: "/query?db=db1&q=SELECT+*+FROM+m" },
    handle: async (ctx, request, url, principal) => {
      const method = request.method;
      if (method !== "GET" && method !== "POST") return influxMethodError("GET, POST");
      const type = request.headers.get("content-type") ?? "";
      if (method === "POST" && type.toLowerCase().startsWith("application/json")) {
        return ["query_native", await handleNativeQuery(ctx, request, url, principal)];
      }
      return await handleInfluxQuery(ctx, request, url, principal);
    },
  },
  {
    name: "cluster",
    matches: exact("/api/v1/cluster"),
    influx: false,
    access: { kind: "admin" },
    example: { method: "GET", path: "/api/v1/cluster" },
    handle: async (ctx, request) => {
      if (request.method !== "GET") return methodNotAllowed("GET");
      if (!ctx.cluster) return nativeError(new NotFoundError("no cluster"));
      return json(await ctx.cluster.status());
    },
  },
  {
    name: "cluster_join",
    matches: exact("/api/v1/cluster/join"),
    influx: false,
    access: { kind: "join" },
    example: { method: "POST", path: "/api/v1/cluster/join", body: "{}" },
    handle: (ctx, request) => {
      if (request.method !== "POST") return Promise.resolve(methodNotAllowed("POST"));
      return handleJoin(ctx, request);
    },
  },
  {
    name: "cluster_nodes",
    matches: (p) => CLUSTER_NODE_PATH.test(p),
    influx: false,
    access: { kind: "admin" },
    example: { method: "DELETE", path: "/api/v1/cluster/nodes/2" },
    handle: async (ctx, request, url) => {
      if (request.method !== "DELETE") return methodNotAllowed("DELETE");
      if (!ctx.cluster?.removeNode) return nativeError(new NotFoundError("no cluster"));
      const id = Number(CLUSTER_NODE_PATH.exec(url.pathname)![1]);
      try {
        await ctx.cluster.removeNode(id);
      } catch (error) {
        return nativeError(error);
      }
      // Accepted: the node's replicas move away, then it leaves (GET /api/v1/cluster shows it).
      return json({ node: id, draining: true }, 202);
    },
  },
  {
    name: "prom_write",
    matches: exact("/api/v1/prom/write"),
    influx: false,
    access: { kind: "write", database: dbOrDefault },
    example: { method: "POST", path: "/api/v1/prom/write?db=db1", body: "" },
    handle: (ctx, request, url) => {
      if (request.method !== "POST") return Promise.resolve(methodNotAllowed("POST"));
      return handlePromWrite(ctx, request, url);
    },
  },
  {
    name: "prom_read",
    matches: exact("/api/v1/prom/read"),
    influx: false,
    access: { kind: "read", database: dbOrDefault },
    example: { method: "POST", path: "/api/v1/prom/read?db=db1", body: "" },
    handle: (ctx, request, url, principal) => {
      if (request.method !== "POST") return Promise.resolve(methodNotAllowed("POST"));
      return handlePromRead(ctx, request, url, principal);
    },
  },
  {
    name: "tokens",
    matches: isTokenRoute,
    influx: false,
    access: { kind: "admin" },
    example: { method: "GET", path: "/api/v1/tokens" },
    handle: (ctx, request, url, principal) => handleTokens(ctx, request, url, principal),
  },
  {
    name: "rpc",
    matches: isRpcPath,
    influx: false,
    access: { kind: "rpc" },
    example: {
      method: "POST",
      path: "/epochnexus.ingest.v1.IngestService/Write",
      body: '{"database":"db1","points":[]}',
      contentType: "application/json",
    },
    handle: (ctx, request, url, principal) => handleRpc(ctx, request, url, principal),
  },
  {
    name: "schemas",
    matches: isSchemaRoute,
    influx: false,
    access: { kind: "admin" },
    example: { method: "GET", path: "/api/v1/schemas" },
    handle: (ctx, request, url) => handleSchemaApi(ctx, request, url),
  },
  {
    name: "export",
    matches: isExportRoute,
    influx: false,
    access: { kind: "read", database: dbParam },
    example: { method: "GET", path: "/api/v1/export?db=db1" },
    handle: (ctx, request, url) => handleExport(ctx, request, url),
  },
  {
    name: "backup",
    matches: isBackupRoute,
    influx: false,
    access: { kind: "admin" },
    example: { method: "GET", path: "/api/v1/backup" },
    handle: (ctx, request, url) => handleBackup(ctx, request, url),
  },
  {
    name: "alerts",
    matches: isAlertsRoute,
    influx: false,
    access: { kind: "user" },
    example: { method: "GET", path: "/api/v1/alerts" },
    handle: (ctx, request) => handleAlerts(ctx, request),
  },
  {
    name: "alert_rules",
    matches: isAlertRulesRoute,
    influx: false,
    access: { kind: "admin" },
    example: { method: "GET", path: "/api/v1/alert-rules" },
    handle: (ctx, request, url) => handleAlertRules(ctx, request, url),
  },
  {
    name: "console",
    matches: isConsoleRoute,
    influx: false,
    access: { kind: "public" },
    example: { method: "GET", path: "/" },
    handle: (_ctx, request, url) => Promise.resolve(handleConsole(request, url)),
  },
];

/** The route answering `path`, if any. */
export function routeOf(path: string): Route | undefined {
  return ROUTES.find((r) => r.matches(path));
}

function health(ctx: AppContext): Response {
  const stats = ctx.engine.stats();
  return json({
    status: "pass",
    name: "epochnexus",
    message: "ready for queries and writes",
    version: VERSION,
    // The InfluxDB release whose 1.x API this one answers as (also X-Influxdb-Version).
    influxdb_compatibility: INFLUX_VERSION,
    ...stats,
  });
}

/** 405 in the native shape with `Allow`. */
export function methodNotAllowed(allow: string): Response {
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
