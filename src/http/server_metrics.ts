/**
 * The families a node exposes at `/metrics`, declared in one place: HTTP requests, writes
 * (`write_metrics.ts`), queries, storage (read from the data store at each scrape, in one
 * pass), and the cluster's Raft figures. The process's own (memory, CPU, event loop) are
 * `process_metrics.ts`, registered by whoever runs the process.
 * @module
 */
import { LATENCY_BUCKETS } from "../core/mod.ts";
import type { DatabaseFigures } from "../storage/mod.ts";
import type { AppContext } from "./app.ts";
import type { SampledFamily } from "./metrics.ts";
import { writeBytesReserved } from "./ingest_handler.ts";
import { runningQueries } from "./query_handler.ts";
import { declareWriteMetrics } from "./write_metrics.ts";

/** Declares every family of {@linkcode createApp}'s metrics. */
export function declareServerMetrics(ctx: AppContext): void {
  const m = ctx.metrics;
  m.counter("epochnexus_http_requests_total", "HTTP requests by route and status.");
  m.histogram(
    "epochnexus_http_request_duration_seconds",
    "Time to answer an HTTP request (until its answer starts), by route.",
    LATENCY_BUCKETS,
  );
  declareWriteMetrics(m);
  m.gauge(
    "epochnexus_write_bytes_reserved",
    "Bytes the write requests in flight hold now, counted against max_queued_write_bytes " +
      "(a streamed body: one read and its batches).",
    () => writeBytesReserved(ctx),
  );
  m.counter("epochnexus_queries_total", "Query statements executed, by outcome.");
  m.histogram(
    "epochnexus_query_duration_seconds",
    "Time to run a statement, by kind (select, show_measurements, create_database ...).",
    LATENCY_BUCKETS,
  );
  m.counter(
    "epochnexus_queries_killed_total",
    "Queries stopped before their end: by KILL QUERY (kill_query), query_timeout_ms (timeout), or their client going away (client_gone).",
  );
  m.counter(
    "epochnexus_query_limits_hit_total",
    "Statements or requests refused by a query limit (max_select_series, max_query_bytes ...).",
  );
  m.gauge("epochnexus_queries_running", "Queries running now.", () => runningQueries(ctx));
  m.sampled(() => storageFamilies(ctx));
  const cluster = ctx.cluster;
  if (cluster?.metrics) m.sampled(() => cluster.metrics!() as SampledFamily[]);
  const jobs = ctx.jobs;
  if (jobs) m.sampled(() => jobs.metrics() as SampledFamily[]);
}

/** Storage at the moment of the scrape: one call of the store's `figures()`. */
function storageFamilies(ctx: AppContext): SampledFamily[] {
  const f = ctx.engine.figures();
  const perDb = (
    name: string,
    help: string,
    value: (d: DatabaseFigures) => number,
  ): SampledFamily => ({
    name,
    help,
    type: "gauge",
    samples: [...f.databases].map(([database, d]) => ({ labels: { database }, value: value(d) })),
  });
  let series = 0, values = 0;
  for (const d of f.databases.values()) {
    series += d.series;
    values += d.headValues + d.segmentValues;
  }
  const lookups = f.cacheHits + f.cacheMisses;
  const one = (
    name: string,
    help: string,
    type: "counter" | "gauge",
    value: number,
  ): SampledFamily => ({ name, help, type, samples: [{ labels: {}, value }] });
  const families: SampledFamily[] = [
    one("epochnexus_databases", "Databases.", "gauge", f.databases.size),
    one("epochnexus_series", "Series held.", "gauge", series),
    one("epochnexus_values", "Values held, in heads and segments.", "gauge", values),
    one(
      "epochnexus_head_bytes",
      "Estimated bytes of the in-memory heads (flush_head_bytes compares with it).",
      "gauge",
      f.headBytes,
    ),
    perDb("epochnexus_database_series", "Series, by database.", (d) => d.series),
    perDb(
      "epochnexus_head_values",
      "Values in the in-memory heads, by database.",
      (d) => d.headValues,
    ),
    perDb("epochnexus_segments", "Segment files, by database.", (d) => d.segments),
    perDb(
      "epochnexus_segment_bytes",
      "Bytes of segment files, by database.",
      (d) => d.segmentBytes,
    ),
    one("epochnexus_flushes_total", "Flushes of heads to segments.", "counter", f.flushes),
    one(
      "epochnexus_compactions_total",
      "Compaction steps (segments merged).",
      "counter",
      f.compactions,
    ),
    {
      name: "epochnexus_flush_duration_seconds",
      help: "How long a flush of heads to segments took.",
      type: "histogram",
      histograms: [{ labels: {}, histogram: f.flushSeconds }],
    },
    {
      name: "epochnexus_compaction_duration_seconds",
      help: "How long a compaction step took (its CPU share's pauses included).",
      type: "histogram",
      histograms: [{ labels: {}, histogram: f.compactionSeconds }],
    },
    one(
      "epochnexus_block_cache_hits_total",
      "Block cache lookups that found the decoded block.",
      "counter",
      f.cacheHits,
    ),
    one(
      "epochnexus_block_cache_misses_total",
      "Block cache lookups that decoded the block.",
      "counter",
      f.cacheMisses,
    ),
    one(
      "epochnexus_block_cache_hit_ratio",
      "Hits over lookups of the block cache since start (0 before any lookup).",
      "gauge",
      lookups === 0 ? 0 : f.cacheHits / lookups,
    ),
    one(
      "epochnexus_block_cache_bytes",
      "Bytes of decoded blocks the block cache holds (its bound: block_cache_bytes).",
      "gauge",
      f.cacheBytes ?? 0,
    ),
  ];
  if (f.logFsyncSeconds) {
    families.push({
      name: "epochnexus_wal_fsync_seconds",
      help: "How long each group commit's fdatasync of the write-ahead log took.",
      type: "histogram",
      histograms: [{ labels: {}, histogram: f.logFsyncSeconds }],
    });
  }
  return families;
}
