/**
 * `epochnexus serve`: one node on its embedded default (one node, data in a local folder),
 * configured by `EPOCHNEXUS_*` variables and an optional YAML file.
 * @module
 */
import { type Config, ConfigError, ENVIRONMENT_KEYS, loadConfig } from "../config/mod.ts";
import {
  configureQueries,
  createApp,
  ingestSettingsFromConfig,
  Metrics,
  storedDataOf,
} from "../http/mod.ts";
import { SchemaPipeline, SchemaRegistry } from "../schema/mod.ts";
import {
  consoleLogger,
  createScriptHost,
  denoFileSystem,
  environment,
  exit,
  onReloadSignal,
  onShutdownSignal,
  readTextFile,
  serveHttp,
  systemClock,
} from "../runtime/mod.ts";
import { StorageEngine } from "../storage/mod.ts";

/** How long a graceful shutdown waits for open connections. */
const SHUTDOWN_GRACE_MS = 3_000;

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
  const engine = await StorageEngine.open({
    dir: config.data_dir,
    fs: denoFileSystem,
    clock: systemClock,
    logger,
    walSegmentBytes: config.wal_segment_bytes,
    flushHeadBytes: config.flush_head_bytes,
    flushIdleMs: config.flush_idle_ms,
    blockValues: config.segment_block_values,
    compactionCpuShare: config.compaction_cpu_share,
    maxSeriesPerDatabase: config.max_series_per_database,
    maxValuesPerTag: config.max_values_per_tag,
  });
  if (!engine.hasDatabase(config.default_database)) {
    await engine.createDatabase(config.default_database);
  }
  configureQueries(engine, {
    timeoutMs: config.query_timeout_ms,
    maxSeries: config.max_select_series,
    maxPoints: config.max_select_points,
    maxBuckets: config.max_select_buckets,
    maxConcurrent: config.max_concurrent_queries,
    maxQueryBytes: config.max_query_bytes,
    maxMemoryBytes: config.max_query_memory_bytes,
  }, () => systemClock.monotonicMs());
  const metrics = new Metrics();
  const stored = storedDataOf(engine);
  const schemas = await SchemaRegistry.open({
    fs: denoFileSystem,
    dataDir: config.data_dir,
    folder: config.schema_dir || undefined,
    stored,
    resources: { scripts: createScriptHost() },
  });
  onReloadSignal(() => {
    schemas.reload().then(
      ({ measurements }) => logger.info("schemas reloaded", { measurements: measurements.length }),
      (error) => logger.error("schema reload refused", { error: String(error.message ?? error) }),
    );
  });
  const app = createApp({
    engine,
    clock: systemClock,
    logger,
    defaultDatabase: config.default_database,
    maxBodyBytes: config.max_body_bytes,
    metrics,
    ingest: ingestSettingsFromConfig(config),
    pipeline: new SchemaPipeline(schemas, {
      stored,
      metrics,
      deadLetters: async (db, points) => void await engine.write(db, undefined, points),
      onDeadLetterError: (error) =>
        logger.warn("dead letters not written", { error: String(error) }),
    }),
  });
  const colon = config.bind_address.lastIndexOf(":");
  const hostname = config.bind_address.slice(0, colon).replace(/^\[|\]$/g, "") || "0.0.0.0";
  const port = Number(config.bind_address.slice(colon + 1));
  const server = await serveHttp(app, { hostname, port });
  logger.info("epochnexus listening", {
    http: `${server.hostname}:${server.port}`,
    data_dir: config.data_dir,
    default_database: config.default_database,
  });
  onShutdownSignal(async (signal) => {
    logger.info("shutting down", { signal });
    // Idle keep-alive connections can hold a graceful shutdown open; give them a moment, then
    // close regardless (every acknowledged write is already fsynced).
    const grace = setTimeout(async () => {
      logger.warn("connections still open after the grace period; stopping anyway");
      await engine.close();
      exit(0);
    }, SHUTDOWN_GRACE_MS);
    await server.shutdown();
    clearTimeout(grace);
  });
  await server.finished;
  schemas.close();
  await engine.close();
  logger.info("stopped");
}
