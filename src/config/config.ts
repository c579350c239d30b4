/**
 * Node configuration: built-in defaults, then a YAML file (`--config FILE`), then `EPOCHNEXUS_*`
 * environment variables (the environment wins). Everything is validated with zod; an invalid
 * value stops startup with a message naming the source (file and line, or variable), the key,
 * the value seen and what is allowed.
 *
 * This room does no IO: the caller passes the file's text and the environment.
 * @module
 */
import { z } from "zod";
import { isMap, LineCounter, parseDocument } from "yaml";
import { ValidationError } from "../core/mod.ts";

const hostPort = z.string().regex(
  /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):\d{1,5}$/,
  "expected host:port, e.g. 127.0.0.1:8080 or 0.0.0.0:8080",
).refine((s) => Number(s.slice(s.lastIndexOf(":") + 1)) <= 65535, "port must be 0..65535");

const byteSize = z.union([
  z.number().int().positive(),
  z.string().regex(/^\d+\s*(B|KB|KiB|MB|MiB|GB|GiB)?$/i, "expected bytes such as 25000000 or 32MiB")
    .transform(parseByteSize),
]);

/** A list of http(s) URLs: a YAML list, or one string with commas between them. */
const urlList = z.union([
  z.array(z.string()),
  z.string().transform((text) => text.split(",").map((u) => u.trim()).filter((u) => u !== "")),
]).pipe(
  z.array(z.string().regex(/^https?:\/\/[^\s]+$/, "expected an http:// or https:// URL")),
);

const flag = z.union([
  z.boolean(),
  z.enum(["true", "false"], { message: "expected true or false" }).transform((v) => v === "true"),
]);

/** The validated configuration of a node. */
export const ConfigSchema = z.strictObject({
  /** Where the node keeps its data. */
  data_dir: z.string().min(1).default("/tmp/epochnexus_data"),
  /** HTTP API address. */
  bind_address: hostPort.default("0.0.0.0:8080"),
  /** Raft (cluster) address. */
  raft_address: hostPort.default("0.0.0.0:9000"),
  /** An existing node to join (its HTTP address); empty to found a new cluster (or restart). */
  join_address: z.union([hostPort, z.literal("")]).default(""),
  /** The HTTP address other nodes and clients reach this node at; "" = the bound address. */
  advertise_address: z.union([hostPort, z.literal("")]).default(""),
  /** The node-to-node address other nodes reach this node at; "" = the bound raft address. */
  raft_advertise_address: z.union([hostPort, z.literal("")]).default(""),
  /** Cluster: partitions of a new database (0 = max(4, 2 × nodes)), fixed at creation. */
  default_partitions: z.coerce.number().int().min(0).max(4096).default(0),
  /** Cluster: replicas of each partition of a new database (0 = min(3, nodes)). */
  replication_factor: z.coerce.number().int().min(0).max(7).default(0),
  /** Cluster: how a new database places series in partitions. */
  partition_hash: z.enum(["fnv1a64", "xxhash64"]).default("fnv1a64"),
  /** Cluster: voters of the metadata group; other nodes follow as learners. */
  meta_voters: z.coerce.number().int().refine((v) => v === 3 || v === 5, "must be 3 or 5")
    .default(3),
  /** Cluster: a node unheard of this long is lost, and its replicas are made again elsewhere. */
  dead_node_timeout_ms: z.coerce.number().int().min(1000).default(300_000),
  /** Cluster: partitions that may be moving replicas at once (join, loss, drain); 0 = no moves. */
  max_moves: z.coerce.number().int().min(0).max(64).default(2),
  /** Cluster: snapshot bytes a node sends per second (moves, lagging replicas); 0 = unbounded. */
  rebalance_bytes_per_sec: z.union([z.literal(0), z.literal("0").transform(() => 0), byteSize])
    .default(64 * 1024 * 1024),
  /** The database of the native API (`/ingest`, `/query` without a db). */
  default_database: z.string().min(1).max(255).default("epochnexus"),
  /** Largest accepted request body (after decompression), in bytes. InfluxDB's default. */
  max_body_bytes: byteSize.default(25_000_000),
  /** WAL segment size. */
  wal_segment_bytes: byteSize.default(64 * 1024 * 1024),
  /** Storage: the heads are flushed to segment files past this size. */
  flush_head_bytes: byteSize.default(25 * 1024 * 1024),
  /** Storage: the heads are flushed after this many ms without writes (0 = never). */
  flush_idle_ms: z.coerce.number().int().nonnegative().default(600_000),
  /** Storage: values per segment block. */
  segment_block_values: z.coerce.number().int().min(1).max(1 << 20).default(1000),
  /** Storage: the share of one CPU background compaction may use, in (0, 1]. */
  compaction_cpu_share: z.coerce.number().gt(0).max(1).default(0.25),
  /** Storage: most series per database (0 = unlimited), as InfluxDB's max-series-per-database. */
  max_series_per_database: z.coerce.number().int().nonnegative().default(1_000_000),
  /** Storage: most values per tag key (0 = unlimited), as InfluxDB's max-values-per-tag. */
  max_values_per_tag: z.coerce.number().int().nonnegative().default(100_000),
  /**
   * Storage: most fields per measurement (0 = unlimited); a point naming new fields past it is
   * refused (partial write), the rest of the body is kept.
   */
  max_fields_per_measurement: z.coerce.number().int().nonnegative().default(10_000),
  /**
   * Storage: bytes a database may hold (segments and cold objects; 0 = no limit); past it the
   * oldest shard groups are dropped. Policies have their own (MAX_BYTES).
   */
  max_bytes_per_database: z.union([z.literal(0), byteSize]).default(0),
  /**
   * Storage: where shard groups past their policy's COLD_AFTER go. "" = none (nothing moves);
   * a folder (`/mnt/cold`); or S3-compatible storage as `http(s)://host:port/bucket[/prefix]`.
   */
  cold_store: z.union([
    z.literal(""),
    z.string().regex(/^\//, "expected an absolute folder path or an http(s):// URL"),
    z.string().regex(
      /^https?:\/\/[^/]+\/[^/]+(\/.*)?$/,
      "expected http(s)://host:port/bucket[/prefix]",
    ),
  ]).default(""),
  /** Storage: S3 region of cold_store. */
  cold_store_region: z.string().min(1).default("us-east-1"),
  /** Storage: S3 access key id of cold_store. */
  cold_store_access_key_id: z.string().default(""),
  /** Storage: S3 secret access key of cold_store. */
  cold_store_secret_access_key: z.string().default(""),
  /**
   * Storage: bytes of decoded blocks the node's block cache holds (values and times, a block of
   * 1000 floats 8-24 KB), shared by every partition replica of the node.
   */
  block_cache_bytes: byteSize.default(64 * 1024 * 1024),
  /** Storage: decoded values the cold segments' own block cache holds. */
  cold_block_cache_values: z.coerce.number().int().min(1).default(1_000_000),
  /** Log level. */
  log_level: z.enum(["debug", "info", "warn", "error"]).default("info"),
  /** Folder of schema files (*.yaml, *.json), reloadable without a restart; "" for none. */
  schema_dir: z.string().default(""),
  /**
   * Schemas: most script sandboxes (child processes or Workers) at once, schemas in force and
   * dry runs together; a script schema beyond it is refused with 409. Each child is limited to
   * a 128 MiB V8 heap and 896 MiB of data (measured peak ~380 MB resident, idle ~35 MB).
   */
  max_script_sandboxes: z.coerce.number().int().min(1).max(1024).default(8),
  /**
   * Schemas: most measurements with an API schema; a PUT for one more is refused with 409. In a
   * cluster each is in every node's metadata (with up to 1 MiB of files).
   */
  max_schemas: z.coerce.number().int().min(1).max(1_000_000).default(1000),
  /** Queries: longest run in ms before `query-timeout limit exceeded` (0 = none). */
  query_timeout_ms: z.coerce.number().int().nonnegative().default(0),
  // Query limits: defaults no dashboard reaches (Grafana asks for about a point per pixel) that
  // still keep one query from taking the server down (issue #12). Kept equal to
  // DEFAULT_QUERY_LIMITS in src/query/limits.ts (a test keeps them in step).
  /** Queries: most series (per shard) one SELECT may read (0 = unlimited), as max-select-series. */
  max_select_series: z.coerce.number().int().nonnegative().default(1_000_000),
  /** Queries: most points one SELECT may read (0 = unlimited), as max-select-point. */
  max_select_points: z.coerce.number().int().nonnegative().default(1_000_000_000),
  /** Queries: most GROUP BY time buckets of one SELECT (0 = unlimited), as max-select-buckets. */
  max_select_buckets: z.coerce.number().int().nonnegative().default(1_000_000),
  /** Queries: longest query text of one request, in bytes (0 = unlimited); longer is refused. */
  max_query_bytes: z.union([z.literal(0), byteSize]).default(512 * 1024),
  /**
   * Queries: memory one query may hold (buckets, rows, points kept for median, percentile ...),
   * in bytes (0 = unlimited); past it the query fails with an error naming the budget.
   */
  max_query_memory_bytes: z.union([z.literal(0), byteSize]).default(256 * 1024 * 1024),
  /** Queries: most running at once, more are refused with 429 (0 = unlimited). */
  max_concurrent_queries: z.coerce.number().int().nonnegative().default(0),
  /** Ingest: points per committed batch of a streamed write. */
  ingest_batch_points: z.coerce.number().int().min(1).default(5000),
  /** Ingest: body bytes per committed batch (the in-flight budget of one streamed write). */
  ingest_batch_bytes: byteSize.default(8 * 1024 * 1024),
  /** Ingest: largest streamed body (NDJSON, CSV, line protocol on /ingest), after gunzip. */
  max_stream_bytes: byteSize.default(64 * 1024 ** 3),
  /** Ingest: longest NDJSON or line-protocol line, or CSV record. */
  max_line_bytes: byteSize.default(1024 * 1024),
  /** Ingest: write requests served at once; more get 429 with Retry-After. */
  max_concurrent_writes: z.coerce.number().int().min(1).default(64),
  /** Ingest: bytes all write requests may hold at once; more get 429 with Retry-After. */
  max_queued_write_bytes: byteSize.default(256 * 1024 * 1024),
  /** HTTP: ms for a request line and its headers to arrive (then 408 and the connection closes). */
  http_header_timeout_ms: z.coerce.number().int().min(1).default(10_000),
  /** HTTP: ms a keep-alive connection may sit without a request before it is closed. */
  http_idle_timeout_ms: z.coerce.number().int().min(1).default(120_000),
  /**
   * HTTP: longest ms the server waits on a client mid-request (for body bytes, or for it to read
   * the answer) before closing the connection, so a stalled upload frees its write slot.
   */
  http_body_progress_timeout_ms: z.coerce.number().int().min(1).default(30_000),
  /** HTTP: least average bytes/s of a client while the server waits on it (0 = no minimum). */
  http_body_min_bytes_per_second: z.coerce.number().int().nonnegative().default(500),
  /**
   * Security: require credentials (users, privileges, API tokens), as InfluxDB's auth-enabled.
   * Off by default; the first user must then be an admin made with CREATE USER.
   */
  auth_enabled: flag.default(false),
  /**
   * Security: the secret every node-to-node call presents. "" = generated when the cluster is
   * founded and handed to joining nodes (kept in cluster.json); set, it must be the same on
   * every node (at least 16 characters).
   */
  cluster_secret: z.union([z.literal(""), z.string().min(16, "at least 16 characters")])
    .default(""),
  /**
   * Security: what a joining node presents to the node at join_address when that node requires
   * authentication: `user:password` of an admin, or an admin API token.
   */
  join_token: z.string().default(""),
  /** Security: PEM certificate file: HTTPS on the HTTP and node-to-node ports ("" = plain). */
  tls_cert: z.string().default(""),
  /** Security: PEM private key file of tls_cert. */
  tls_key: z.string().default(""),
  /**
   * Security: PEM file of the CA (or the certificate itself) other nodes' certificates must
   * chain to for node-to-node HTTPS; "" = tls_cert (one certificate shared by the cluster).
   */
  tls_ca: z.string().default(""),
  /** Security: audit log of admin and destructive statements: a file path, "stderr", or "" (off). */
  audit_log: z.string().default(""),
  /**
   * Jobs: folder of rules files (*.yaml, *.yml, *.json: alert rules and downsampling),
   * reloadable without a restart (SIGHUP); "" for none. Keep the same files on every node: the
   * metadata leader runs its own.
   */
  rules_dir: z.string().default(""),
  /** Jobs: Alertmanager base URLs alerts are sent to (API v2). */
  alertmanager_urls: urlList.default([]),
  /** Jobs: webhook URLs alert changes (firing, resolved) are posted to. */
  alert_webhook_urls: urlList.default([]),
  /** Jobs: how often a firing alert is sent to Alertmanager again, in ms (its alerts expire). */
  alert_resend_delay_ms: z.coerce.number().int().min(1000).default(60_000),
  /**
   * Jobs: how far back (ms) a continuous query's run reaches to cover intervals missed while no
   * node ran the schedule (a cluster down, a leader change).
   */
  cq_catchup_window_ms: z.coerce.number().int().nonnegative().default(6 * 3_600_000),
  /**
   * Observability: access log, one JSON line per request (method, path without its query
   * string, status, duration, bytes, client, database, user): a file path, "stderr", or "" (off).
   */
  access_log: z.string().default(""),
  /** Observability: a request whose queries run this many ms or more is logged (0 = never). */
  slow_query_ms: z.coerce.number().int().nonnegative().default(10_000),
}).refine((c) => (c.tls_cert === "") === (c.tls_key === ""), {
  message: "tls_cert and tls_key are set together",
  path: ["tls_key"],
});

/** A node's configuration. */
export type Config = z.infer<typeof ConfigSchema>;

/**
 * Environment variable -> configuration key: every key `k` is `EPOCHNEXUS_<K in upper case>`
 * (the seed's EPOCHNEXUS_DATA_DIR, _BIND_ADDRESS, _RAFT_ADDRESS, _JOIN_ADDRESS among them).
 * deno.json's start and cli tasks grant exactly these (a test keeps them in step).
 */
export const ENVIRONMENT_KEYS: Readonly<Record<string, keyof Config>> = Object.fromEntries(
  Object.keys(ConfigSchema.shape).map((key) => [`EPOCHNEXUS_${key.toUpperCase()}`, key]),
) as Record<string, keyof Config>;

/** Parses `32MiB`, `25MB`, `1024` into bytes. */
export function parseByteSize(text: string): number {
  const m = /^(\d+)\s*([a-z]*)$/i.exec(text.trim());
  if (!m) throw new ValidationError(`invalid byte size ${JSON.stringify(text)}`);
  const unit = m[2].toLowerCase();
  const factor: Record<string, number> = {
    "": 1,
    b: 1,
    kb: 1e3,
    kib: 1024,
    mb: 1e6,
    mib: 1024 ** 2,
    gb: 1e9,
    gib: 1024 ** 3,
  };
  if (!(unit in factor)) {
    throw new ValidationError(`invalid byte size unit ${JSON.stringify(m[2])}`);
  }
  return Number(m[1]) * factor[unit];
}

/** Where the configuration file came from, for error messages. */
export interface ConfigFile {
  path: string;
  text: string;
}

/** An invalid configuration: names the source, key, value and what is allowed. */
export class ConfigError extends ValidationError {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/**
 * Builds the configuration from an optional YAML file and the environment.
 *
 * @example
 * ```ts
 * const config = loadConfig({ env: { EPOCHNEXUS_BIND_ADDRESS: "127.0.0.1:8086" } });
 * config.bind_address; // "127.0.0.1:8086"
 * ```
 * @throws {ConfigError} naming file and line (or variable), key, value and the rule broken.
 */
export function loadConfig(
  sources: { file?: ConfigFile; env?: Record<string, string | undefined> } = {},
): Config {
  const merged: Record<string, unknown> = {};
  const origin = new Map<string, string>();
  if (sources.file) {
    const { values, where } = readYaml(sources.file);
    for (const [k, v] of Object.entries(values)) {
      merged[k] = v;
      origin.set(k, where(k));
    }
  }
  for (const [variable, key] of Object.entries(ENVIRONMENT_KEYS)) {
    const value = sources.env?.[variable];
    if (value === undefined) continue;
    merged[key] = value;
    origin.set(key, `environment variable ${variable}`);
  }
  const result = ConfigSchema.safeParse(merged);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const key = String(issue.path[0] ?? "");
    const source = origin.get(key) ?? (sources.file ? sources.file.path : "configuration");
    if (issue.code === "unrecognized_keys") {
      const keys = (issue as { keys: string[] }).keys;
      const at = origin.get(keys[0]) ?? source;
      return `${at}: unknown key ${keys.map((k) => JSON.stringify(k)).join(", ")} ` +
        `(allowed: ${Object.keys(ConfigSchema.shape).join(", ")})`;
    }
    return `${source}: ${key} = ${JSON.stringify(merged[key])}: ${issue.message}`;
  });
  throw new ConfigError(`invalid configuration:\n  ${problems.join("\n  ")}`);
}

/** Parses the YAML file, keeping the line of every top-level key for error messages. */
function readYaml(file: ConfigFile): {
  values: Record<string, unknown>;
  where: (key: string) => string;
} {
  const lines = new LineCounter();
  const doc = parseDocument(file.text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = lines.linePos(e.pos[0]);
    throw new ConfigError(
      `${file.path}:${pos.line}:${pos.col}: invalid YAML: ${e.message.split("\n")[0]}`,
    );
  }
  if (doc.contents === null) return { values: {}, where: () => file.path };
  if (!isMap(doc.contents)) {
    throw new ConfigError(`${file.path}:1: the configuration must be a mapping of key: value`);
  }
  const lineOf = new Map<string, number>();
  for (const item of doc.contents.items) {
    const key = String((item.key as { value?: unknown })?.value ?? item.key);
    const range = (item.key as { range?: [number, number, number] })?.range;
    if (range) lineOf.set(key, lines.linePos(range[0]).line);
  }
  return {
    values: (doc.toJS() ?? {}) as Record<string, unknown>,
    where: (key) => `${file.path}:${lineOf.get(key) ?? 1}`,
  };
}
