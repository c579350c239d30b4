/**
 * The HTTP surface, called with no socket: every route, and every kind of bad input with its
 * status and message, checking that the valid part of a request is still written.
 */
import assert from "node:assert/strict";
import { type Clock, silentLogger } from "../core/mod.ts";
import { denoFileSystem } from "../runtime/mod.ts";
import { StorageEngine } from "../storage/mod.ts";
import { createApp } from "./app.ts";

const NOW_NS = 1_700_000_000_000_000_000n;
const fixedClock: Clock = {
  nowMs: () => Number(NOW_NS / 1_000_000n),
  nowNanos: () => NOW_NS,
  monotonicMs: () => performance.now(),
};

async function setup(maxBodyBytes = 1_000_000) {
  const engine = await StorageEngine.open({
    dir: await Deno.makeTempDir(),
    fs: denoFileSystem,
    clock: fixedClock,
    logger: silentLogger,
  });
  await engine.createDatabase("epochnexus");
  const app = createApp({
    engine,
    clock: fixedClock,
    logger: silentLogger,
    defaultDatabase: "epochnexus",
    maxBodyBytes,
  });
  const call = async (path: string, init?: RequestInit) => {
    const r = await app(new Request(`http://node${path}`, init));
    const text = await r.text();
    const isJson = (r.headers.get("content-type") ?? "").includes("json");
    return {
      status: r.status,
      headers: r.headers,
      text,
      json: isJson && text ? JSON.parse(text) : null,
    };
  };
  const q = (query: string, db = "epochnexus", extra = "") =>
    call(`/query?db=${db}&q=${encodeURIComponent(query)}${extra}`, { method: "POST" });
  return { engine, call, q, close: () => engine.close() };
}

const SEED_INGEST =
  '{"timestamp": 1678886400, "measurement": "cpu_usage", "value": 0.75, "tags": {"host": "server1", "region": "us-east"}}';

Deno.test("the seed's ingest and query examples work as written", async () => {
  const { call, close } = await setup();
  const ingest = await call("/ingest", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: SEED_INGEST,
  });
  assert.equal(ingest.status, 200, ingest.text);
  assert.deepEqual(ingest.json, { accepted: 1, rejected: 0 });
  const query = await call("/query", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      query: "SELECT mean(value) FROM cpu_usage WHERE host = 'server1' AND time > now() - 1000d",
    }),
  });
  assert.equal(query.status, 200, query.text);
  assert.equal(query.json.results[0].series[0].values[0][1], 0.75);
  await close();
});

Deno.test("/ping answers 204 with InfluxDB's version header; HEAD too", async () => {
  const { call, close } = await setup();
  for (const method of ["GET", "HEAD"]) {
    const r = await call("/ping", { method });
    assert.equal(r.status, 204);
    assert.equal(r.headers.get("x-influxdb-version"), "1.6.7");
    assert.ok(r.headers.get("request-id"));
  }
  await close();
});

Deno.test("/write: 204, then data is queryable with exact nanoseconds", async () => {
  const { call, q, close } = await setup();
  await q("CREATE DATABASE telegraf");
  const w = await call("/write?db=telegraf", {
    method: "POST",
    body: "cpu,host=a usage=1.5,cores=8i 1678886400123456789\n",
  });
  assert.equal(w.status, 204, w.text);
  const r = await q("SELECT usage, cores FROM cpu", "telegraf", "&epoch=ns");
  assert.equal(r.text.includes("1678886400123456789"), true, r.text);
  await close();
});

Deno.test("/write: a bad line gives a partial write naming it, and the good lines are kept", async () => {
  const { call, q, close } = await setup();
  const w = await call("/write?db=epochnexus", {
    method: "POST",
    body: "cpu v=1 1000000000\ncpu v= 2000000000\ncpu v=3 3000000000\n",
  });
  assert.equal(w.status, 400);
  assert.match(w.json.error, /^partial write: unable to parse 'cpu v= 2000000000': .*line 2/);
  const r = await q("SELECT count(v) FROM cpu");
  assert.equal(r.json.results[0].series[0].values[0][1], 2);
  await close();
});

Deno.test("/write: field type conflict is a partial write with dropped=1", async () => {
  const { call, close } = await setup();
  await call("/write?db=epochnexus", { method: "POST", body: "m v=1 1" });
  const w = await call("/write?db=epochnexus", { method: "POST", body: "m v=2i 2\nm v=3 3" });
  assert.equal(w.status, 400);
  assert.equal(
    w.json.error,
    'partial write: field type conflict: input field "v" on measurement "m" is type integer, already exists as type float dropped=1',
  );
  await close();
});

Deno.test("/write: unknown database 404, missing db 400, bad precision 400", async () => {
  const { call, close } = await setup();
  const missing = await call("/write?db=nope", { method: "POST", body: "m v=1" });
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.json, { error: 'database not found: "nope"' });
  const noDb = await call("/write", { method: "POST", body: "m v=1" });
  assert.equal(noDb.status, 400);
  assert.deepEqual(noDb.json, { error: "database is required" });
  const precision = await call("/write?db=epochnexus&precision=years", {
    method: "POST",
    body: "m v=1",
  });
  assert.equal(precision.status, 400);
  await close();
});

Deno.test("/write: bodies over the limit are 413, also when gzip expands past it", async () => {
  const { call, close } = await setup(1000);
  const big = await call("/write?db=epochnexus", { method: "POST", body: "m v=1\n".repeat(500) });
  assert.equal(big.status, 413);
  const bomb = new Uint8Array(
    await new Response(
      new Blob(["m v=1\n".repeat(10_000)]).stream().pipeThrough(new CompressionStream("gzip")),
    ).arrayBuffer(),
  );
  assert.ok(bomb.length < 1000);
  const gz = await call("/write?db=epochnexus", {
    method: "POST",
    headers: { "content-encoding": "gzip" },
    body: bomb,
  });
  assert.equal(gz.status, 413);
  await close();
});

Deno.test("/write: gzip bodies are accepted", async () => {
  const { call, q, close } = await setup();
  const body = new Uint8Array(
    await new Response(
      new Blob(["g v=1 1\ng v=2 2\n"]).stream().pipeThrough(new CompressionStream("gzip")),
    ).arrayBuffer(),
  );
  const w = await call("/write?db=epochnexus", {
    method: "POST",
    headers: { "content-encoding": "gzip" },
    body,
  });
  assert.equal(w.status, 204, w.text);
  assert.equal((await q("SELECT count(v) FROM g")).json.results[0].series[0].values[0][1], 2);
  await close();
});

Deno.test("/ingest: malformed JSON is 400 with line and column", async () => {
  const { call, close } = await setup();
  const r = await call("/ingest", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: '[\n  {"measurement": "m", "value": 1},\n  {"measurement": }\n]',
  });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, "invalid_argument");
  assert.equal(r.json.error.line, 3);
  assert.ok(r.json.error.column > 0);
  await close();
});

Deno.test("/ingest: bad records are reported by index, the valid ones written", async () => {
  const { call, q, close } = await setup();
  const r = await call("/ingest", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify([
      { measurement: "m", value: 1, timestamp: 1 },
      { value: 2 },
      { measurement: "m", fields: {} },
      { measurement: "m", value: [1, 2] },
      { measurement: "m", value: 3, timestamp: "not a time" },
      { measurement: "m", value: 4, timestamp: 1e30 },
      { measurement: "m", value: 5, timestamp: 2, tags: { host: 7 } },
      { measurement: "m", value: 6, timestamp: 3 },
    ]),
  });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.accepted, 2);
  assert.equal(r.json.error.rejected, 6);
  assert.equal(r.json.error.errors.length, 6);
  assert.equal((await q("SELECT count(value) FROM m")).json.results[0].series[0].values[0][1], 2);
  await close();
});

Deno.test("/ingest: unsupported content type is 415 listing the accepted ones", async () => {
  const { call, close } = await setup();
  const r = await call("/ingest", {
    method: "POST",
    headers: { "content-type": "application/xml" },
    body: "<x/>",
  });
  assert.equal(r.status, 415);
  assert.match(r.json.error.message, /application\/json/);
  await close();
});

Deno.test("/query: parse errors are 400 in InfluxDB's shape", async () => {
  const { q, close } = await setup();
  const r = await q("SELECT FROM cpu");
  assert.equal(r.status, 400);
  assert.match(r.json.error, /^error parsing query: found FROM, expected .* at line 1, char 8$/);
  await close();
});

Deno.test("/query: unknown functions and databases are statement errors with 200", async () => {
  const { q, close } = await setup();
  const unknownFn = await q("SELECT foo(v) FROM cpu");
  assert.equal(unknownFn.status, 200);
  assert.deepEqual(unknownFn.json, {
    results: [{ statement_id: 0, error: "undefined function foo()" }],
  });
  const unknownDb = await q("SELECT v FROM cpu", "nope");
  assert.deepEqual(unknownDb.json, {
    results: [{ statement_id: 0, error: "database not found: nope" }],
  });
  await close();
});

Deno.test("/query: an empty result is {statement_id:0}; missing q is 400", async () => {
  const { call, q, close } = await setup();
  assert.deepEqual((await q("SELECT v FROM nothing_here")).json, {
    results: [{ statement_id: 0 }],
  });
  const missing = await call("/query?db=epochnexus");
  assert.equal(missing.status, 400);
  assert.deepEqual(missing.json, { error: 'missing required parameter "q"' });
  await close();
});

Deno.test("/metrics counts writes and requests in Prometheus text", async () => {
  const { call, close } = await setup();
  await call("/write?db=epochnexus", { method: "POST", body: "m v=1 1\nm v=2 2" });
  const r = await call("/metrics");
  assert.match(r.text, /^epochnexus_points_written_total\{format="line_protocol"\} 2$/m);
  assert.match(r.text, /^epochnexus_http_requests_total\{route="write",status="204"\} 1$/m);
  await close();
});
