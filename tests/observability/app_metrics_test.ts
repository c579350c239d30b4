/**
 * What `/metrics`, the access log and the slow-query log say about real requests, in-process (no
 * socket): a storage engine with its write-ahead log, the schema pipeline, a clock whose
 * monotonic reading advances 5 ms per look (so every statement "takes" time, deterministically).
 */
import assert from "node:assert/strict";
import { type Clock, type Logger, VERSION } from "../../src/core/mod.ts";
import { createApp, Metrics } from "../../src/http/mod.ts";
import { configureQueries } from "../../src/http/mod.ts";
import { denoFileSystem } from "../../src/runtime/mod.ts";
import { SchemaPipeline, SchemaRegistry } from "../../src/schema/mod.ts";
import { StorageEngine } from "../../src/storage/mod.ts";
import { parseExposition, valueOf } from "../_prom_text.ts";

const NOW_NS = 1_700_000_000_000_000_000n;
const NOW_MS = Number(NOW_NS / 1_000_000n);

async function setup(options: { slowQueryMs?: number } = {}) {
  let mono = 0;
  const clock: Clock = {
    nowMs: () => NOW_MS,
    nowNanos: () => NOW_NS,
    monotonicMs: () => (mono += 5),
  };
  const lines: string[] = [];
  const logger: Logger = {
    info: () => {},
    warn: (m, f) => lines.push(`warn ${m} ${JSON.stringify(f)}`),
    error: (m, f) => lines.push(`error ${m} ${JSON.stringify(f)}`),
  };
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-obs-" });
  const engine = await StorageEngine.open({ dir, fs: denoFileSystem, clock, logger });
  await engine.createDatabase("epochnexus");
  const metrics = new Metrics(() => clock.monotonicMs());
  const registry = await SchemaRegistry.open({ fs: denoFileSystem, dataDir: dir });
  await registry.put("cpu", { fields: { usage: { type: "float", max: 100 } } });
  configureQueries(engine, { maxSeries: 2 }, () => clock.monotonicMs());
  const access: Record<string, unknown>[] = [];
  const app = createApp({
    engine,
    clock,
    logger,
    defaultDatabase: "epochnexus",
    maxBodyBytes: 1_000_000,
    metrics,
    pipeline: new SchemaPipeline(registry, { metrics }),
    accessLog: (record) => access.push(record),
    slowQueryMs: options.slowQueryMs ?? 0,
  });
  const call = async (path: string, init?: RequestInit) => {
    const r = await app(new Request(`http://node${path}`, init), { remoteAddr: "10.1.2.3:4567" });
    return { status: r.status, headers: r.headers, text: await r.text() };
  };
  const scrape = async () => parseExposition((await call("/metrics")).text);
  return {
    call,
    scrape,
    lines,
    access,
    close: async () => {
      await engine.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("/metrics: points by format and reason (a schema rejection is `schema`, not field_type), batches, fsyncs", async () => {
  const { call, scrape, close } = await setup();
  try {
    // /write: 2 written, 1 does not parse, 1 breaks the schema, 1 conflicts with a field type.
    const w = await call("/write?db=epochnexus", {
      method: "POST",
      body: 'cpu usage=1 1\ncpu usage=2 2\ncpu usage= 3\ncpu usage=500 4\nmem v=1 5\nmem v="s" 6',
    });
    assert.equal(w.status, 400, w.text);
    const j = await call("/ingest", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body:
        '[{"measurement":"mem","value":2,"timestamp":7},{"measurement":"cpu","fields":{"usage":101}}]',
    });
    assert.equal(j.status, 400, j.text);
    const e = await scrape();
    const lp = { format: "line_protocol" };
    assert.equal(valueOf(e, "epochnexus_points_written_total", lp), 3);
    assert.equal(valueOf(e, "epochnexus_points_rejected_total", { ...lp, reason: "parse" }), 1);
    assert.equal(valueOf(e, "epochnexus_points_rejected_total", { ...lp, reason: "schema" }), 1);
    assert.equal(
      valueOf(e, "epochnexus_points_rejected_total", { ...lp, reason: "field_type" }),
      1,
    );
    assert.equal(valueOf(e, "epochnexus_points_written_total", { format: "json" }), 1);
    assert.equal(
      valueOf(e, "epochnexus_points_rejected_total", { format: "json", reason: "schema" }),
      1,
    );
    assert.equal(
      valueOf(e, "epochnexus_schema_rejections_total", { measurement: "cpu", rule: "field_max" }),
      2,
    );
    assert.ok(valueOf(e, "epochnexus_write_bytes_total", { ...lp, outcome: "partial" })! > 50);
    assert.equal(valueOf(e, "epochnexus_write_batch_points_count", lp), 1);
    assert.equal(valueOf(e, "epochnexus_write_batch_points_bucket", { ...lp, le: "4" }), 0);
    assert.equal(valueOf(e, "epochnexus_write_batch_points_bucket", { ...lp, le: "16" }), 1);
    // The single-node engine's WAL: one group commit per batch written.
    assert.ok(valueOf(e, "epochnexus_wal_fsync_seconds_count")! >= 2);
    assert.equal(valueOf(e, "epochnexus_database_series", { database: "epochnexus" }), 2);
    assert.equal(valueOf(e, "epochnexus_head_values", { database: "epochnexus" }), 4);
    assert.ok(valueOf(e, "epochnexus_head_bytes")! > 0);
    assert.equal(valueOf(e, "epochnexus_segments", { database: "epochnexus" }), 0);
  } finally {
    await close();
  }
});

Deno.test("/metrics: statements by kind, limits hit, queries running; the slow-query log hides passwords", async () => {
  const { call, scrape, lines, close } = await setup({ slowQueryMs: 1 });
  try {
    await call("/write?db=epochnexus", {
      method: "POST",
      body: "m,h=a v=1 1\nm,h=b v=1 1\nm,h=c v=1 1",
    });
    const q = (text: string) =>
      call(`/query?db=epochnexus&q=${encodeURIComponent(text)}`, { method: "POST" });
    assert.match((await q("SELECT * FROM m")).text, /max-select-series limit exceeded/);
    assert.equal((await q("SHOW MEASUREMENTS; SHOW DATABASES")).status, 200);
    // This app has no user directory: the statement fails, and is still timed and logged.
    assert.match((await q("CREATE USER bob WITH PASSWORD 'hunter2'")).text, /not supported/);
    const e = await scrape();
    assert.equal(valueOf(e, "epochnexus_query_duration_seconds_count", { kind: "select" }), 1);
    assert.equal(
      valueOf(e, "epochnexus_query_duration_seconds_count", { kind: "show_measurements" }),
      1,
    );
    assert.equal(valueOf(e, "epochnexus_query_duration_seconds_count", { kind: "create_user" }), 1);
    assert.equal(
      valueOf(e, "epochnexus_query_limits_hit_total", { limit: "max_select_series" }),
      1,
    );
    assert.equal(valueOf(e, "epochnexus_queries_running"), 0);
    assert.equal(valueOf(e, "epochnexus_queries_total", { outcome: "error" }), 2);
    assert.equal(valueOf(e, "epochnexus_queries_total", { outcome: "ok" }), 2);
    const slow = lines.filter((l) => l.startsWith("warn slow query"));
    assert.equal(slow.length, 3, lines.join("\n"));
    assert.match(slow[1], /"statements":\["show_measurements \d+ ms","show_databases \d+ ms"\]/);
    assert.match(slow[2], /CREATE USER bob WITH PASSWORD \[REDACTED\]/);
    assert.doesNotMatch(lines.join("\n"), /hunter2/);
  } finally {
    await close();
  }
});

Deno.test("the access log: one record per request, body bytes to the end, no query string, the database", async () => {
  const { call, access, close } = await setup();
  try {
    await call("/write?db=epochnexus&u=admin&p=secret", { method: "POST", body: "m v=1 1" });
    const native = await call("/query", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "SELECT * FROM m", db: "epochnexus" }),
    });
    // Streamed: one line per statement, written as each finishes.
    const q = encodeURIComponent("SELECT * FROM m; SELECT * FROM m; SHOW DATABASES");
    const chunked = await call(`/query?db=epochnexus&chunked=true&q=${q}`);
    assert.equal(chunked.text.trim().split("\n").length, 3);
    await call("/nowhere");
    assert.equal(access.length, 4);
    const [write, query, streamed, missing] = access;
    assert.equal(streamed.bytes_out, new TextEncoder().encode(chunked.text).length);
    assert.deepEqual(
      { ...write, duration_ms: 0, request_id: "" },
      {
        method: "POST",
        path: "/write",
        status: 204,
        duration_ms: 0,
        bytes_in: null,
        bytes_out: 0,
        remote: "10.1.2.3:4567",
        database: "epochnexus",
        user: "anonymous",
        route: "write",
        request_id: "",
      },
    );
    assert.ok((write.duration_ms as number) > 0);
    assert.equal(query.route, "query_native");
    assert.equal(query.database, "epochnexus"); // from the JSON body
    assert.equal(query.bytes_out, new TextEncoder().encode(native.text).length);
    assert.equal(missing.status, 404);
    assert.equal(missing.user, null);
    assert.doesNotMatch(JSON.stringify(access), /secret|SELECT/);
  } finally {
    await close();
  }
});

Deno.test("/health names EpochNexus's version (deno.json's), and the InfluxDB release it answers as", async () => {
  const { call, close } = await setup();
  try {
    const denoJson = JSON.parse(
      await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
    );
    assert.equal(VERSION, denoJson.version);
    const health = await call("/health");
    const body = JSON.parse(health.text);
    assert.equal(body.version, VERSION);
    assert.equal(body.influxdb_compatibility, "1.6.7");
    assert.equal(health.headers.get("x-influxdb-version"), "1.6.7");
  } finally {
    await close();
  }
});
