/**
 * The gateway's fetch handler. A /query made only of SELECT statements (InfluxQL or the native
 * JSON API) is planned here and read from the partitions' leaders over Connect, its partials
 * folded as a node folds its own fan-out, once a node has confirmed the caller may read those
 * databases (`credential_check.ts`). A /write or /ingest is decoded here and split by partition,
 * each part sent to its partition's leader (`partitioned_write.ts`). Every other /query,
 * /api/v1/prom/write and /api/v1/prom/read are forwarded to a live node (a remote_read, which
 * only reads, is sent again to another after a refused connection), /ping to any node, and
 * /health is answered here from a ping of every node. The gateway keeps nothing but caches (the
 * metadata, liveness marks, recent credential checks), so any number of copies can serve the same
 * cluster.
 * @module
 */
import { type Clock, EpochError, type Logger } from "../core/mod.ts";
import { type MetaView, PARTITION_HASHES, type PeerClient } from "../cluster/mod.ts";
import { configureQueries, createApp, type Handler, Metrics } from "../http/mod.ts";
import { ConnectClusterNetwork, readClusterMeta } from "../rpc/mod.ts";
import { ClusterView, likelyWriteLeader, type RoutingTable } from "./cluster_view.ts";
import type { GatewayConfig } from "./config.ts";
import { CredentialCheck } from "./credential_check.ts";
import {
  incomingResponse,
  MAX_RETRYABLE_BODY_BYTES,
  type OutgoingBody,
  outgoingRequest,
  queryBody,
  readOnlyBody,
} from "./forward.ts";
import { NodeHealth } from "./node_health.ts";
import { GatewayPartitionCache, PartitionedWriter } from "./partitioned_write.ts";
import { plannableQuery } from "./planned_query.ts";
import { RemoteStore } from "./remote_store.ts";

/** What {@linkcode createGateway} needs besides its settings. */
export interface GatewayDeps {
  clock: Clock;
  logger: Logger;
  /** @default {globalThis.fetch} */
  fetch?: typeof globalThis.fetch;
  /** Reads a node's metadata copy. @default {readClusterMeta with the configured secret} */
  readMeta?: (raftBaseUrl: string, clusterId: string) => Promise<MetaView>;
  /** Partition reads on nodes. @default {ClusterService over `fetch` with the secret} */
  peers?: (table: RoutingTable) => Pick<PeerClient, "describe" | "select" | "selectShards">;
  /** @default {setTimeout} */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Response header naming how the gateway answered a /query (`planned` here, or `forwarded`) or
 * a /write or /ingest (`split` here by partition, or `forwarded` whole to one node).
 */
export const GATEWAY_PLAN_HEADER = "x-epochnexus-gateway-plan";

/** A gateway copy: its fetch handler. */
export interface Gateway {
  fetch(request: Request): Promise<Response>;
}

/** The paths forwarded to nodes, and whether they write. */
type RequestKind = "query" | "read" | "write" | "ping" | "page";

/** The web console's page and assets: any node serves them, as read-only GETs. */
function isConsolePath(path: string): boolean {
  return path === "/" || path.startsWith("/console/");
}

const FORWARDED: Record<string, RequestKind> = {
  "/query": "query",
  "/write": "write",
  "/ingest": "write",
  "/api/v1/prom/write": "write",
  "/api/v1/prom/read": "read",
  "/ping": "ping",
};

/** How old a metadata copy must be for a read's leader hint to make the gateway read it again. */
const STALE_HINT_MIN_AGE_MS = 1000;

/** The largest /write body the gateway splits (a node's default `max_body_bytes`). */
const MAX_WRITE_BODY_BYTES = 25_000_000;

/**
 * The /ingest formats split here. Protobuf is sent whole (its message may ask for an atomic
 * write, which a node checks over the whole request), as is `?atomic=true`.
 */
const SPLIT_INGEST_TYPES = new Set([
  "text/plain",
  "application/json",
  "application/x-ndjson",
  "text/csv",
]);

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
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const peersOf = deps.peers ?? connectPeers(config, fetchFn, deps.clock);
  const credentials = new CredentialCheck({
    clock: deps.clock,
    ttlMs: config.metaTtlMs,
    send: (probe) => firstAnswer(probe),
  });
  // One query app per metadata copy: its store plans over that copy.
  const apps = new WeakMap<RoutingTable, Handler>();
  const partitions = new GatewayPartitionCache();
  const writeMetrics = new Metrics();

  /** A read showed the copy's leaders stale: read it again (at most once a second). */
  function readAgain(why: string): void {
    if (view.invalidate(STALE_HINT_MIN_AGE_MS)) {
      deps.logger.info("metadata copy stale; to be read again", { why });
    }
  }

  function appOf(table: RoutingTable): Handler {
    let app = apps.get(table);
    if (app) return app;
    const store = new RemoteStore({
      meta: table.meta,
      peers: peersOf(table),
      clock: deps.clock,
      sleep,
      onStale: readAgain,
    });
    const limits = table.meta.queryLimits;
    if (limits !== undefined) {
      // The nodes' limits, not the defaults: a SELECT planned here meets the same limit errors
      // it would on a node. Concurrency is each node's to bound (a gateway copy is one of many).
      const { maxConcurrent: _, ...perQuery } = limits;
      configureQueries(store, perQuery, () => deps.clock.monotonicMs());
    }
    app = createApp({
      engine: store,
      clock: deps.clock,
      logger: deps.logger,
      // A request naming no database is sent to a node (it has a default database).
      defaultDatabase: "",
      maxBodyBytes: MAX_RETRYABLE_BODY_BYTES,
    });
    apps.set(table, app);
    return app;
  }

  /** The first answer of a live node to a request that may be sent to any (read-only). */
  async function firstAnswer(make: (nodeBase: string) => Request): Promise<Response> {
    const table = await view.table();
    const failures: string[] = [];
    for await (const node of health.order(table.nodes)) {
      try {
        return await fetchFn(make(node.http));
      } catch (error) {
        health.markDown(node);
        view.invalidate();
        deps.logger.warn("node connection failed", { node: node.id, error: errorText(error) });
        failures.push(`node ${node.id}: ${errorText(error)}`);
      }
    }
    throw new EpochError("unavailable", `no cluster node answered: ${failures.join("; ")}`);
  }

  /**
   * Answers a read-only /query here when it can be planned over the metadata copy (refreshed
   * once when it lacks a database or policy the query names) and the caller may read; else
   * undefined, and the request is forwarded.
   */
  async function planned(
    request: Request,
    url: URL,
    body: OutgoingBody,
  ): Promise<Response | undefined> {
    if (body.stream !== undefined || !body.retryable) return undefined;
    let table: RoutingTable;
    try {
      table = await view.table();
    } catch {
      return undefined; // the forward answers the 503
    }
    let plan = plannableQuery(request, url, body.bytes, table.meta);
    if (plan === "unknown") {
      view.invalidate();
      table = await view.table().catch(() => table);
      plan = plannableQuery(request, url, body.bytes, table.meta);
    }
    if (plan === undefined || plan === "unknown") return undefined;
    if (!(await credentials.mayRead(request, url, plan.databases))) return undefined;
    const answer = await appOf(table)(
      new Request(request.url, {
        method: request.method,
        headers: request.headers,
        body: body.bytes,
        signal: request.signal,
      }),
    );
    answer.headers.set(GATEWAY_PLAN_HEADER, "planned");
    return answer;
  }

  /**
   * Answers a /write or /ingest here, split by partition, when its database (and policy) is in
   * the metadata copy (read again once when not), the nodes report its hash, and the caller may
   * write there; else undefined, and the request is forwarded whole. The node's own handler
   * decodes and answers (InfluxDB's and the native API's statuses and messages, line numbers
   * of the caller's body), with a store whose writes go to the partitions' leaders.
   */
  async function splitWrite(request: Request, url: URL): Promise<Response | undefined> {
    const database = url.searchParams.get("db") ?? "";
    if (request.method !== "POST" || database === "") return undefined;
    if (url.pathname === "/ingest") {
      const type = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
      const atomic = url.searchParams.get("atomic");
      if (
        !SPLIT_INGEST_TYPES.has(type) || (atomic !== null && atomic !== "" && atomic !== "false")
      ) {
        return undefined;
      }
    } else if (url.pathname !== "/write") return undefined;
    const rp = url.searchParams.get("rp") || undefined;
    const known = (t: RoutingTable) => {
      const db = t.meta.databases.find((d) => d.name === database);
      return db && (rp === undefined || db.retentionPolicies.some((p) => p.name === rp))
        ? db
        : undefined;
    };
    let table: RoutingTable;
    try {
      table = await view.table();
    } catch {
      return undefined; // the forward answers the 503
    }
    if (known(table) === undefined) {
      view.invalidate();
      table = await view.table().catch(() => table);
    }
    const db = known(table);
    if (db === undefined || !PARTITION_HASHES.includes(db.hash)) return undefined;
    if (!(await credentials.mayWrite(request, url, url.pathname, database))) return undefined;
    const writer = new PartitionedWriter({
      table,
      caller: {
        authorization: request.headers.get("authorization"),
        user: url.searchParams.get("u") || null,
        password: url.searchParams.get("p"),
      },
      fetch: fetchFn,
      partitions,
      isDown: (node) => health.isMarkedDown(node),
      stale: (node, why) => {
        if (node !== undefined) health.markDown(node);
        // At most once a second, as for reads: every write during an election says so.
        view.invalidate(STALE_HINT_MIN_AGE_MS);
        deps.logger.warn("write part not sent; metadata to be read again", { why });
      },
    });
    const store = new RemoteStore({
      meta: table.meta,
      peers: peersOf(table),
      clock: deps.clock,
      sleep,
      write: (d, r, points) => writer.write(d, r, points),
    });
    const app = createApp({
      engine: store,
      clock: deps.clock,
      logger: deps.logger,
      defaultDatabase: "",
      maxBodyBytes: MAX_WRITE_BODY_BYTES,
      metrics: writeMetrics,
    });
    const answer = await app(request);
    answer.headers.set(GATEWAY_PLAN_HEADER, "split");
    return answer;
  }

  async function forward(
    request: Request,
    url: URL,
    kind: RequestKind,
    body: OutgoingBody,
  ): Promise<Response> {
    let table: RoutingTable;
    try {
      table = await view.table();
    } catch (error) {
      return gatewayError(503, String(error instanceof Error ? error.message : error));
    }
    const preferred = kind === "write"
      ? likelyWriteLeader(table, url.searchParams.get("db") ?? "")
      : undefined;
    const failures: string[] = [];
    for await (const node of health.order(table.nodes, preferred)) {
      try {
        const answer = await fetchFn(outgoingRequest(request, url, node.http, body));
        const response = incomingResponse(answer, node.id);
        if (kind === "query" || kind === "write") {
          response.headers.set(GATEWAY_PLAN_HEADER, "forwarded");
        }
        return response;
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
      if (kind === "query") {
        const body = await queryBody(request, url);
        return await planned(request, url, body) ?? await forward(request, url, kind, body);
      }
      if (kind === "read") return await forward(request, url, kind, await readOnlyBody(request));
      if (kind === "write") {
        const split = await splitWrite(request, url);
        if (split !== undefined) return split;
      }
      return await forward(
        request,
        url,
        kind,
        kind === "ping" || kind === "page"
          ? { retryable: true }
          : { stream: request.body ?? undefined, retryable: false },
      );
    },
  };
}

/** Partition reads over ClusterService, one client per member, carrying the cluster secret. */
function connectPeers(
  config: GatewayConfig,
  fetchFn: typeof globalThis.fetch,
  clock: Clock,
): (table: RoutingTable) => Pick<PeerClient, "describe" | "select" | "selectShards"> {
  let network: ConnectClusterNetwork | undefined;
  let clusterId = "";
  return (table) => {
    if (network === undefined || clusterId !== table.clusterId) {
      clusterId = table.clusterId;
      // Node id 0: a caller that is no member (nodes check the cluster id and secret only).
      network = new ConnectClusterNetwork({
        clusterId: table.clusterId,
        nodeId: 0,
        secret: config.secret,
        fetch: fetchFn,
        clock,
      });
    }
    for (const n of table.nodes) network.setPeer(n.id, n.raft);
    return network.peers;
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
