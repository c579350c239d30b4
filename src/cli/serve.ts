/**
 * `epochnexus serve`: one node on its embedded default (one node, data in a local folder),
 * configured by `EPOCHNEXUS_*` variables and an optional YAML file.
 * @module
 */
import { type Config, ConfigError, ENVIRONMENT_KEYS, loadConfig } from "../config/mod.ts";
import { backupMetadata, ClusterStore, restoreMetadata } from "../cluster/mod.ts";
import {
  type App,
  configureQueries,
  createApp,
  flushRefusalLogs,
  type Handler,
  ingestSettingsFromConfig,
  Metrics,
  processFamilies,
  refusalLogs,
  type RequestInfo,
} from "../http/mod.ts";
import { SchemaPipeline, SchemaRegistry } from "../schema/mod.ts";
import { AuthDirectory } from "../auth/mod.ts";
import {
  backgroundTimeout,
  consoleLogger,
  createScriptHost,
  denoFileSystem,
  environment,
  exit,
  fetchTrusting,
  hostName,
  httpFetch,
  lockDataDir,
  monitorEventLoop,
  onReloadSignal,
  onShutdownSignal,
  openAuditSink,
  openJsonLineLog,
  processFigures,
  randomBytes,
  readTextFile,
  serveHttp,
  systemClock,
  upgradeDialer,
} from "../runtime/mod.ts";
import { startClusterNode } from "./cluster_boot.ts";
import { metaSchemaCatalog } from "./schema_catalog.ts";
import { JobsService, Notifier, RulesSource } from "../jobs/mod.ts";
import { enforceMeasurementRetention, retentionMs } from "./measurement_retention.ts";
import { EpochError, type Logger, type UpgradeHandler } from "../core/mod.ts";

/** How long a graceful shutdown waits for open connections. */
const SHUTDOWN_GRACE_MS = 3_000;
/** Period of the schemas' per-measurement retention (deletes wait for 1/20 of it as slack). */
const MEASUREMENT_RETENTION_MS = 2_000;

/** Loads the configuration from the environment and `--config FILE`. */
export async function configFromProcess(configPath: string | undefined): Promise<Config> {
  const file = configPath
    ? { path: configPath, text: await readConfigFile(configPath) }
    : undefined;
  return loadConfig({ file, env: environment(Object.keys(ENVIRONMENT_KEYS)) });
}

async function readConfigFile(path: string): Promise<string> {
  try {
    return await readTextFile(path);
  } catch (error) {
    throw new ConfigError(`cannot read configuration file ${path}: ${(error as Error).message}`);
  }
}

/** Starts a node and serves until SIGINT/SIGTERM; resolves after a clean shutdown. */
export async function serve(config: Config): Promise<void> {
  const logger = consoleLogger(config.log_level);
  // Before anything reads the folder: a second process on it would lose acknowledged writes.
  const lock = await lockDataDir(config.data_dir);
  // Both ports are bound first, answering 503 until the node is ready: a joining node must
  // know its own addresses (port 0 picks one) before it asks to join.
  const handlers: { public?: App; internal?: Handler; upgrade?: UpgradeHandler } = {};
  const starting = (_request: Request, _info?: RequestInfo) =>
    Promise.resolve(new Response("starting", { status: 503 }));
  const timeouts = {
    headerTimeoutMs: config.http_header_timeout_ms,
    idleTimeoutMs: config.http_idle_timeout_ms,
    bodyProgressTimeoutMs: config.http_body_progress_timeout_ms,
    bodyMinBytesPerSecond: config.http_body_min_bytes_per_second,
    logger,
  };
  const tls = config.tls_cert
    ? { cert: await readPem(config.tls_cert), key: await readPem(config.tls_key) }
    : undefined;
  const server = await serveHttp(
    (request, info) => (handlers.public ?? starting)(request, info),
    {
      ...splitAddress(config.bind_address),
      ...timeouts,
      tls,
      // GET /query without fetch's objects (src/http/app.ts); the fetch path while starting.
      direct: (request) => handlers.public?.direct(request),
    },
  );
  const raftServer = await serveHttp(
    (request, info) => (handlers.internal ?? starting)(request, info),
    {
      ...splitAddress(config.raft_address),
      ...timeouts,
      tls,
      // Peer streams (src/rpc/peer_stream.ts); refused while starting: peers use Connect.
      upgrade: (request) => handlers.upgrade?.(request) ?? { status: 503, body: "starting\n" },
    },
  );
  warnIfOpen(config, logger);
  const httpAddress = advertised(config.advertise_address, server);
  const raftAddress = advertised(config.raft_advertise_address, raftServer);
  // Both ports are known now (port 0 picked them), before joining and catching up, which other
  // members can only help with once they reach this node: say where it listens at once.
  logger.info("ports bound; starting", {
    http: `${server.hostname}:${server.port}`,
    raft: `${raftServer.hostname}:${raftServer.port}`,
    advertised_http: httpAddress,
    advertised_raft: raftAddress,
  });
  const ca = tls ? (config.tls_ca ? await readPem(config.tls_ca) : tls.cert) : undefined;
  const peers = ca !== undefined
    ? { scheme: "https" as const, fetch: fetchTrusting(ca), dial: upgradeDialer({ caCerts: [ca] }) }
    : { scheme: "http" as const, dial: upgradeDialer() };
  // The peer streams (both ways) end with the node, not with the process.
  let closeNetwork = () => {};
  const { node, secret } = await startClusterNode(
    config,
    logger,
    { httpAddress, raftAddress },
    (network) => {
      handlers.internal = network.fetchHandler;
      handlers.upgrade = network.upgradeHandler;
      closeNetwork = () => network.close();
    },
    peers,
  );
  const store = new ClusterStore(node, {
    clock: systemClock,
    sleep,
    maxFieldsPerMeasurement: config.max_fields_per_measurement,
  });
  await ensureDefaultDatabase(store, config.default_database, logger);
  const queryLimits = {
    timeoutMs: config.query_timeout_ms,
    maxSeries: config.max_select_series,
    maxPoints: config.max_select_points,
    maxBuckets: config.max_select_buckets,
    maxConcurrent: config.max_concurrent_queries,
    maxQueryBytes: config.max_query_bytes,
    maxMemoryBytes: config.max_query_memory_bytes,
  };
  configureQueries(store, queryLimits, () => systemClock.monotonicMs());
  // Gateways read them with the metadata and hold the SELECTs they plan to them.
  node.queryLimits = queryLimits;
  const metrics = new Metrics(() => systemClock.monotonicMs());
  // Twice a second: every stall of half a second or more shows, and an idle node wakes 2 times a
  // second for it rather than 10 (each wake-up costs ~0.13 ms of CPU).
  const eventLoop = monitorEventLoop(500);
  metrics.sampled(processFamilies({
    figures: processFigures,
    eventLoop,
    connections: () => server.connections(),
  }));
  const accessLog = config.access_log ? await openAccessLog(config.access_log) : undefined;
  // The metadata's field types (cluster-wide), not the local replicas': a node may hold only some.
  const stored = store.storedData();
  const scripts = createScriptHost({ maxSandboxes: config.max_script_sandboxes });
  const schemas = await SchemaRegistry.open({
    fs: denoFileSystem,
    dataDir: config.data_dir,
    folder: config.schema_dir || undefined,
    stored,
    resources: { scripts, maxScripts: config.max_script_sandboxes },
    // API schemas are cluster metadata: every node applies the same ones.
    catalog: metaSchemaCatalog(node),
    maxSchemas: config.max_schemas,
    onCatalogProblem: (measurement, problem) =>
      logger.error("schema from the cluster metadata not applied as is", { measurement, problem }),
  });
  onReloadSignal(() => {
    schemas.reload().then(
      ({ measurements }) => logger.info("schemas reloaded", { measurements: measurements.length }),
      (error) => logger.error("schema reload refused", { error: String(error.message ?? error) }),
    );
  });
  const rules = await RulesSource.open(denoFileSystem, config.rules_dir || undefined);
  const jobs = new JobsService({
    node,
    store,
    clock: systemClock,
    logger,
    notifier: new Notifier({
      alertmanagers: config.alertmanager_urls,
      webhooks: config.alert_webhook_urls,
      fetch: (url, init) => httpFetch(url, init),
      sleep,
      logger,
    }),
    rules,
    catchUpMs: config.cq_catchup_window_ms,
    resendDelayMs: config.alert_resend_delay_ms,
  });
  onReloadSignal(() => {
    rules.reload().then(
      ({ alerts, downsampling }) =>
        logger.info("rules reloaded", { alerts: alerts.length, downsampling: downsampling.length }),
      (error) => logger.error("rules reload refused", { error: String(error.message ?? error) }),
    );
  });
  jobs.start();
  const directory = new AuthDirectory({
    meta: { table: () => node.meta.state.users, propose: (command) => node.proposeMeta(command) },
    clock: systemClock,
    randomBytes,
  });
  // Flushed at shutdown: their summary timers do not keep the process alive.
  const gateRefusals = refusalLogs({ logger, clock: systemClock, later: backgroundTimeout });
  handlers.public = createApp({
    engine: store,
    clock: systemClock,
    refusalLogs: gateRefusals,
    logger,
    defaultDatabase: config.default_database,
    maxBodyBytes: config.max_body_bytes,
    metrics,
    accessLog: accessLog?.write,
    slowQueryMs: config.slow_query_ms,
    ingest: ingestSettingsFromConfig(config),
    cluster: {
      join: async (request) => ({ ...await node.admit(request), clusterSecret: secret }),
      status: () => node.statusWithBytes(),
      removeNode: (id) => node.removeNode(id),
      metrics: () => node.metrics(),
      backup: {
        metadata: () => backupMetadata(node, systemClock.nowMs()),
        partition: (groupId, request) => node.backupPartition(groupId, request),
        restore: (meta, selection) => restoreMetadata(node, meta, selection),
      },
    },
    jobs,
    auth: {
      enabled: config.auth_enabled,
      directory,
      audit: config.audit_log ? openAuditSink(config.audit_log) : undefined,
      clusterSecret: secret,
    },
    pipeline: new SchemaPipeline(schemas, {
      stored,
      metrics,
      deadLetters: async (db, points) => void await store.write(db, undefined, points),
      onDeadLetterError: (error) =>
        logger.warn("dead letters not written", { error: String(error) }),
    }),
  });
  logger.info("epochnexus listening", {
    http: `${server.hostname}:${server.port}`,
    https: tls !== undefined,
    auth: config.auth_enabled,
    raft: `${raftServer.hostname}:${raftServer.port}`,
    node: node.nodeId,
    cluster: node.clusterId,
    data_dir: config.data_dir,
    default_database: config.default_database,
  });
  const measurementRetention = startMeasurementRetention(node, store, schemas, logger);
  node.measurementMaxBytes = () => measurementLimits(schemas);
  onShutdownSignal(async (signal) => {
    logger.info("shutting down", { signal });
    clearInterval(measurementRetention);
    // Idle keep-alive connections can hold a graceful shutdown open; give them a moment, then
    // close regardless (every acknowledged write is already fsynced).
    const grace = setTimeout(async () => {
      logger.warn("connections still open after the grace period; stopping anyway");
      eventLoop.stop();
      await accessLog?.close();
      schemas.close();
      await jobs.stop();
      await scripts.close();
      await node.close();
      closeNetwork();
      flushRefusalLogs(gateRefusals);
      lock.release();
      exit(0);
    }, SHUTDOWN_GRACE_MS);
    await server.shutdown();
    clearTimeout(grace);
  });
  await server.finished;
  eventLoop.stop();
  await accessLog?.close();
  clearInterval(measurementRetention);
  schemas.close();
  await jobs.stop();
  await scripts.close();
  await node.close();
  closeNetwork();
  flushRefusalLogs(gateRefusals);
  // A peer stopping at the same time may never answer a request it holds open on this port, and
  // the node-to-node server waits for it; cap the wait as for the HTTP server (the node is closed
  // and every acknowledged write is fsynced by now).
  let raftGrace: ReturnType<typeof setTimeout> | undefined;
  const raftStopped = await Promise.race([
    raftServer.shutdown().then(() => true),
    new Promise<boolean>((resolve) =>
      raftGrace = setTimeout(() => resolve(false), SHUTDOWN_GRACE_MS)
    ),
  ]);
  clearTimeout(raftGrace);
  lock.release();
  logger.info("stopped");
  if (!raftStopped) {
    logger.warn("node-to-node connections still open after the grace period; stopping anyway");
    exit(0);
  }
}

async function openAccessLog(target: string) {
  try {
    return await openJsonLineLog(target);
  } catch (error) {
    throw new ConfigError(`cannot open access_log ${target}: ${(error as Error).message}`);
  }
}

/**
 * Schemas' per-measurement retention, every MEASUREMENT_RETENTION_MS on the metadata leader (one
 * node deletes for the cluster; the deletes go through every partition's log).
 */
function startMeasurementRetention(
  node: { meta: { isLeader(): boolean } },
  store: ClusterStore,
  schemas: SchemaRegistry,
  logger: Logger,
): ReturnType<typeof setInterval> {
  let running = false;
  return setInterval(() => {
    if (running || !node.meta.isLeader()) return;
    const retentions = new Map<string, number>();
    for (const m of schemas.measurements()) {
      const retention = schemas.describe(m).schema.retention;
      if (retention !== undefined) retentions.set(m, retentionMs(retention));
    }
    if (retentions.size === 0) return;
    running = true;
    enforceMeasurementRetention(store, retentions, systemClock.nowMs())
      .catch((error) => logger.warn("measurement retention failed", { error: String(error) }))
      .finally(() => running = false);
  }, MEASUREMENT_RETENTION_MS);
}

/** Schemas' `max_bytes` by measurement. */
function measurementLimits(schemas: SchemaRegistry): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of schemas.measurements()) {
    const max = schemas.describe(m).schema.max_bytes;
    if (max !== undefined) out.set(m, max);
  }
  return out;
}

async function readPem(path: string): Promise<string> {
  try {
    return await readTextFile(path);
  } catch (error) {
    throw new ConfigError(`cannot read TLS file ${path}: ${(error as Error).message}`);
  }
}

/** InfluxDB starts open too; say so loudly when the open API faces a network. */
function warnIfOpen(config: Config, logger: ReturnType<typeof consoleLogger>): void {
  const warning = openApiWarning(config);
  if (warning) logger.warn(warning, { bind_address: config.bind_address });
}

/** The warning a node logs at start when it listens beyond loopback without authentication. */
export function openApiWarning(
  config: Pick<Config, "auth_enabled" | "bind_address">,
): string | undefined {
  if (config.auth_enabled) return undefined;
  const host = splitAddress(config.bind_address).hostname;
  if (host === "localhost" || host === "::1" || host.startsWith("127.")) return undefined;
  return "authentication is off and the HTTP API listens beyond loopback: anyone who reaches " +
    "it can read, write and drop every database; set auth_enabled (and tls_cert, tls_key)";
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function splitAddress(address: string): { hostname: string; port: number } {
  const colon = address.lastIndexOf(":");
  const hostname = address.slice(0, colon).replace(/^\[|\]$/g, "") || "0.0.0.0";
  return { hostname, port: Number(address.slice(colon + 1)) };
}

/**
 * The address other nodes reach a server at: the configured one, else the bound one, with a
 * wildcard host replaced by this machine's name.
 */
function advertised(configured: string, bound: { hostname: string; port: number }): string {
  if (configured) return configured;
  const wildcard = bound.hostname === "0.0.0.0" || bound.hostname === "::";
  const host = wildcard ? hostName() : bound.hostname;
  return `${host.includes(":") ? `[${host}]` : host}:${bound.port}`;
}

/**
 * Creates the default database unless the metadata has it. A node that just joined may not have
 * heard the metadata leader yet (a busy leader, a slow link): it asks again for about a minute
 * before it gives up, rather than exiting after the first ten seconds.
 */
async function ensureDefaultDatabase(
  store: ClusterStore,
  name: string,
  logger: Logger,
): Promise<void> {
  for (let attempt = 1;; attempt++) {
    try {
      if (!store.hasDatabase(name)) await store.createDatabase(name);
      return;
    } catch (error) {
      const unavailable = error instanceof EpochError && error.code === "unavailable";
      if (!unavailable || attempt >= 6) throw error;
      logger.warn("the metadata leader is not reached yet; asking again", {
        attempt,
        error: String(error),
      });
    }
  }
}
