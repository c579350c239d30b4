/**
 * The gateway's fetch handler: /query (InfluxQL and the native JSON API), /write, /ingest and
 * /api/v1/prom/write are forwarded to a live node of the cluster, /ping to any node, and /health
 * is answered here from a ping of every node. The gateway keeps nothing but caches (the metadata
 * and liveness marks), so any number of copies can serve the same cluster.
 * @module
 */
import { type Clock, EpochError, type Logger } from "../core/mod.ts";
import type { MetaView } from "../cluster/mod.ts";
import { readClusterMeta } from "../rpc/mod.ts";
import { ClusterView, likelyWriteLeader, type RoutingTable } from "./cluster_view.ts";
import type { GatewayConfig } from "./config.ts";
import { incomingResponse, type OutgoingBody, outgoingRequest, queryBody } from "./forward.ts";
import { NodeHealth } from "./node_health.ts";

/** What {@linkcode createGateway} needs besides its settings. */
export interface GatewayDeps {
  clock: Clock;
  logger: Logger;
  /** @default {globalThis.fetch} */
  fetch?: typeof globalThis.fetch;
  /** Reads a node's metadata copy. @default {readClusterMeta with the configured secret} */
  readMeta?: (raftBaseUrl: string, clusterId: string) => Promise<MetaView>;
}

/** A gateway copy: its fetch handler. */
export interface Gateway {
  fetch(request: Request): Promise<Response>;
}

/** The paths forwarded to nodes, and whether they write. */
type RequestKind = "query" | "write" | "ping" | "page";

/** The web console's page and assets: any node serves them, as read-only GETs. */
function isConsolePath(path: string): boolean {
  return path === "/" || path.startsWith("/console/");
}

const FORWARDED: Record<string, RequestKind> = {
  "/query": "query",
  "/write": "write",
  "/ingest": "write",
  "/api/v1/prom/write": "write",
  "/ping": "ping",
};

/** Makes a gateway copy. Nothing is read until the first request. */
export function createGateway(config: GatewayConfig, deps: GatewayDeps): Gateway {
  const fetchFn = deps.fetch ?? globalThis.fetch;
  const view = new ClusterView({
    seeds: config.seeds,
    ttlMs: config.metaTtlMs,
    read: deps.readMeta ??
      ((base, clusterId) =>
        readClusterMeta(base, { secret: config.secret, clusterId, fetch: fetchFn })),
    clock: deps.clock,
    logger: deps.logger,
  });
  const health = new NodeHealth({ downMs: config.downMs, clock: deps.clock, fetch: fetchFn });

  async function forward(
    request: Request,
    url: URL,
    kind: RequestKind,
  ): Promise<Response> {
    let table: RoutingTable;
    try {
      table = await view.table();
    } catch (error) {
      return gatewayError(503, String(error instanceof Error ? error.message : error));
    }
    const body: OutgoingBody = kind === "query"
      ? await queryBody(request, url)
      : kind === "ping" || kind === "page"
      ? { retryable: true }
      : { stream: request.body ?? undefined, retryable: false };
    const preferred = kind === "write"
      ? likelyWriteLeader(table, url.searchParams.get("db") ?? "")
      : undefined;
    const failures: string[] = [];
    for await (const node of health.order(table.nodes, preferred)) {
      try {
        const answer = await fetchFn(outgoingRequest(request, url, node.http, body));
        return incomingResponse(answer, node.id);
      } catch (error) {
        if (request.signal.aborted) throw error;
        const why = `node ${node.id} (${node.http}) failed: ${errorText(error)}`;
        health.markDown(node);
        view.invalidate();
        deps.logger.warn("node connection failed", { node: node.id, error: errorText(error) });
        if (!body.retryable) {
          return gatewayError(
            502,
            `the gateway's connection to ${why}, while sending this request; ` +
              (kind === "write"
                ? "some of its points may have been written: send it again (a point written " +
                  "twice with the same series, field and time is stored once)"
                : "the request may have been applied: check before sending it again"),
          );
        }
        failures.push(why);
      }
    }
    return gatewayError(
      503,
      failures.length > 0
        ? `no cluster node answered: ${failures.join("; ")}`
        : `no cluster node is reachable (all ${table.nodes.length} failed a connection in the ` +
          `last ${config.downMs} ms)`,
    );
  }

  async function healthReport(): Promise<Response> {
    let table: RoutingTable;
    try {
      table = await view.refresh();
    } catch (error) {
      return Response.json({ status: "fail", error: errorText(error) }, { status: 503 });
    }
    const nodes = await Promise.all(table.nodes.map(async (n) => ({
      id: n.id,
      http: n.http,
      up: await health.ping(n),
    })));
    const up = nodes.filter((n) => n.up).length;
    return Response.json({
      status: up === nodes.length ? "pass" : up > 0 ? "warn" : "fail",
      clusterId: table.clusterId,
      metaIndex: table.appliedIndex,
      nodes,
    }, { status: up > 0 ? 200 : 503 });
  }

  return {
    async fetch(request) {
      const url = new URL(request.url);
      if (url.pathname === "/health") {
        if (request.method !== "GET" && request.method !== "HEAD") {
          return gatewayError(405, "use GET or HEAD", { allow: "GET, HEAD" });
        }
        return await healthReport();
      }
      const kind = FORWARDED[url.pathname] ??
        (isConsolePath(url.pathname) && (request.method === "GET" || request.method === "HEAD")
          ? "page"
          : undefined);
      if (kind === undefined) {
        return gatewayError(
          404,
          `the gateway serves ${Object.keys(FORWARDED).join(", ")}, /health and the console ` +
            `(GET /); ` +
            `${url.pathname} is served by the nodes themselves`,
        );
      }
      return await forward(request, url, kind);
    },
  };
}

function errorText(error: unknown): string {
  return error instanceof EpochError || error instanceof Error ? error.message : String(error);
}

/** An error of the gateway's own, as InfluxDB's API words errors. */
function gatewayError(status: number, message: string, headers: Record<string, string> = {}) {
  return Response.json({ error: message }, {
    status,
    headers: {
      ...(status === 503 ? { "retry-after": "1" } : {}),
      ...headers,
    },
  });
}
