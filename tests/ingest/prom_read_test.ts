/**
 * Prometheus remote_read through the fetch handler: what remote_write and /write stored, read
 * back by label matchers with Prometheus' meaning (anchored RE2 regexes, `=""` for an absent
 * label, `__name__` matched across measurements), inclusive time bounds, the query limits, and
 * bad input. The request is also encoded by buf from the published remote.proto, and the
 * answer decoded by buf, so the wire code is checked against an independent encoder.
 */
import assert from "node:assert/strict";
import snappy from "snappyjs";
import { DEFAULT_QUERY_LIMITS } from "../../src/query/mod.ts";
import { configureQueries, MAX_READ_QUERIES } from "../../src/http/mod.ts";
import {
  compressSnappy,
  decodePromReadResponse,
  encodePromReadRequest,
  type LabelMatcher,
  type PromReadRequest,
  uncompressSnappy,
} from "../../src/ingest/mod.ts";
import { setup } from "./_app.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const BUF =
  `${ROOT}node_modules/.deno/@bufbuild+buf-linux-x64@1.75.0/node_modules/@bufbuild/buf-linux-x64/bin/buf`;
const compress = (snappy as { compress(b: Uint8Array): Uint8Array<ArrayBuffer> }).compress;

// up{job=api,instance=a} 1 @1s, 2 @2s; up{job=api,instance=b} 3 @1s; up{job=db} 4 @1s (no
// instance); up_total{job=api} 5 @1s; node_load1{job=""} is written without job.
const LINES = [
  "up,job=api,instance=a value=1 1000000000",
  "up,job=api,instance=a value=2 2000000000",
  "up,job=api,instance=b value=3 1000000000",
  "up,job=db value=4 1000000000",
  "up_total,job=api value=5 1000000000",
  "node_load1 value=0.25 1500000000",
].join("\n");

const m = (type: LabelMatcher["type"], name: string, value: string): LabelMatcher => ({
  type,
  name,
  value,
});

async function node() {
  const n = await setup();
  const w = await n.post("/write?db=epochnexus", "text/plain", LINES);
  assert.equal(w.status, 204, w.text);
  const read = async (request: PromReadRequest, path = "/api/v1/prom/read") => {
    const r = await n.app(
      new Request(`http://node${path}`, {
        method: "POST",
        headers: { "content-encoding": "snappy", "content-type": "application/x-protobuf" },
        body: compressSnappy(encodePromReadRequest(request)),
      }),
    );
    const body = new Uint8Array(await r.arrayBuffer());
    if (r.status !== 200) {
      return { status: r.status, error: JSON.parse(new TextDecoder().decode(body)) };
    }
    assert.equal(r.headers.get("content-type"), "application/x-protobuf");
    assert.equal(r.headers.get("content-encoding"), "snappy");
    return { status: 200, results: decodePromReadResponse(uncompressSnappy(body, 1 << 24)) };
  };
  /** The series one query selects, as `name{k=v,...}: t=v ...` lines. */
  const select = async (matchers: LabelMatcher[], startMs = 0, endMs = 10_000) => {
    const r = await read({ queries: [{ startMs, endMs, matchers }], acceptedResponseTypes: [0] });
    assert.equal(r.status, 200, JSON.stringify(r.error));
    return r.results![0].map((s) =>
      `${s.labels.map((l) => `${l.name}=${l.value}`).join(",")}: ${
        s.timestampsMs.map((t, i) => `${t}=${s.values[i]}`).join(" ")
      }`
    ).sort();
  };
  return { ...n, read, select };
}

Deno.test("remote_read: label matchers keep Prometheus' meaning", async () => {
  const { select, close } = await node();
  try {
    const upA = "__name__=up,instance=a,job=api: 1000=1 2000=2";
    const upB = "__name__=up,instance=b,job=api: 1000=3";
    const upDb = "__name__=up,job=db: 1000=4";
    const upTotal = "__name__=up_total,job=api: 1000=5";
    const load = "__name__=node_load1: 1500=0.25";
    assert.deepEqual(await select([m("EQ", "__name__", "up")]), [upA, upB, upDb]);
    assert.deepEqual(await select([m("EQ", "__name__", "up"), m("EQ", "job", "api")]), [upA, upB]);
    assert.deepEqual(await select([m("EQ", "__name__", "up"), m("NEQ", "job", "api")]), [upDb]);
    // Anchored: "ap" does not match "api"; "ap.*" does.
    assert.deepEqual(await select([m("EQ", "__name__", "up"), m("RE", "job", "ap")]), []);
    assert.deepEqual(await select([m("EQ", "__name__", "up"), m("RE", "job", "ap.*")]), [upA, upB]);
    assert.deepEqual(await select([m("EQ", "__name__", "up"), m("NRE", "job", "ap.*")]), [upDb]);
    // ="" : absent (or empty); !="" : present; =~"" matches the absent label too.
    assert.deepEqual(await select([m("EQ", "__name__", "up"), m("EQ", "instance", "")]), [upDb]);
    assert.deepEqual(await select([m("EQ", "__name__", "up"), m("NEQ", "instance", "")]), [
      upA,
      upB,
    ]);
    assert.deepEqual(await select([m("EQ", "__name__", "up"), m("RE", "instance", "a|")]), [
      upA,
      upDb,
    ]);
    // __name__ by regex across measurements, anchored; NEQ and NRE over the listing.
    assert.deepEqual(await select([m("RE", "__name__", "up.*")]), [upA, upB, upDb, upTotal]);
    assert.deepEqual(await select([m("RE", "__name__", "up_?t")]), []);
    assert.deepEqual(await select([m("NEQ", "__name__", "up"), m("EQ", "job", "api")]), [upTotal]);
    assert.deepEqual(await select([m("NRE", "__name__", "up.*")]), [load]);
    assert.deepEqual(await select([m("RE", "__name__", ".+"), m("EQ", "job", "")]), [load]);
    // A measurement that is not there, and contradicting name matchers: no series.
    assert.deepEqual(await select([m("EQ", "__name__", "nope")]), []);
    assert.deepEqual(await select([m("EQ", "__name__", "up"), m("NEQ", "__name__", "up")]), []);
  } finally {
    await close();
  }
});

Deno.test("remote_read: both ends of the time range are included, in milliseconds", async () => {
  const { select, read, close } = await node();
  try {
    const name = m("EQ", "__name__", "up");
    const job = m("EQ", "instance", "a");
    assert.deepEqual(await select([name, job], 1000, 2000), [
      "__name__=up,instance=a,job=api: 1000=1 2000=2",
    ]);
    assert.deepEqual(await select([name, job], 1001, 2000), [
      "__name__=up,instance=a,job=api: 2000=2",
    ]);
    assert.deepEqual(await select([name, job], 1000, 1999), [
      "__name__=up,instance=a,job=api: 1000=1",
    ]);
    assert.deepEqual(await select([name, job], 2001, 5000), []);
    assert.deepEqual(await select([name, job], 2000, 1000), []);
    // Two queries, two results, in order.
    const two = await read({
      queries: [
        { startMs: 0, endMs: 1500, matchers: [name, job] },
        { startMs: 1500, endMs: 3000, matchers: [name, job] },
      ],
      acceptedResponseTypes: [],
    });
    assert.deepEqual(two.results!.map((r) => r.map((s) => s.values)), [[[1]], [[2]]]);
  } finally {
    await close();
  }
});

Deno.test("remote_read: bad input answers 400 or 404 saying what and why", async () => {
  const { app, read, close } = await node();
  try {
    const post = async (body: Uint8Array<ArrayBuffer>, path = "/api/v1/prom/read") => {
      const r = await app(new Request(`http://node${path}`, { method: "POST", body }));
      return { status: r.status, message: (await r.json()).error.message as string };
    };
    const notSnappy = await post(Uint8Array.of(5, 0xff, 0xff));
    assert.equal(notSnappy.status, 400);
    assert.match(notSnappy.message, /malformed snappy data/);
    // A header declaring 4 GiB: refused before anything is allocated, named as what it is.
    const bomb = await post(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f, 0, 1, 2));
    assert.equal(bomb.status, 413);
    assert.match(bomb.message, /^remote_read request too large: it expands to 4294967295 bytes/);
    const badProto = await post(compress(Uint8Array.of(0x0a, 0x09, 1)));
    assert.equal(badProto.status, 400);
    assert.match(badProto.message, /malformed protobuf remote_read ReadRequest at byte 2/);
    const q = (matchers: LabelMatcher[]) => ({
      queries: [{ startMs: 0, endMs: 1, matchers }],
      acceptedResponseTypes: [0],
    });
    const badRe = await read(q([m("EQ", "__name__", "up"), m("RE", "job", "(")]));
    assert.equal(badRe.status, 400);
    assert.match(
      badRe.error.error.message,
      /query 1: matcher job=~"\(": invalid regular expression/,
    );
    const badName = await read(q([m("RE", "__name__", "[a-")]));
    assert.equal(badName.status, 400);
    const noDb = await read(q([m("EQ", "__name__", "up")]), "/api/v1/prom/read?db=nope");
    assert.equal(noDb.status, 404);
    assert.match(noDb.error.error.message, /database not found: nope/);
    const chunks = await read({ ...q([m("EQ", "__name__", "up")]), acceptedResponseTypes: [1] });
    assert.equal(chunks.status, 400);
    assert.match(chunks.error.error.message, /only the SAMPLES response type/);
  } finally {
    await close();
  }
});

Deno.test("remote_read: a label named like a field or time is a label, absent here", async () => {
  // `value` is the field remote_write stores and `time` InfluxQL's time column: neither is a
  // tag, so as labels they are absent ("") and match as Prometheus would, not compared as the
  // field (which matched nothing) or refused ("time and StringLiteral are not compatible").
  const { select, close } = await node();
  try {
    const upA = "__name__=up,instance=a,job=api: 1000=1 2000=2";
    const upB = "__name__=up,instance=b,job=api: 1000=3";
    const upDb = "__name__=up,job=db: 1000=4";
    const up = m("EQ", "__name__", "up");
    for (const label of ["value", "time"]) {
      assert.deepEqual(await select([up, m("NEQ", label, "1")]), [upA, upB, upDb], label);
      assert.deepEqual(await select([up, m("EQ", label, "")]), [upA, upB, upDb], label);
      assert.deepEqual(await select([up, m("EQ", label, "1")]), [], label);
      assert.deepEqual(await select([up, m("RE", label, "1|2")]), [], label);
      assert.deepEqual(await select([up, m("NRE", label, ".+")]), [upA, upB, upDb], label);
    }
  } finally {
    await close();
  }
});

Deno.test("remote_read: a tag named __name__ does not give a series a second name", async () => {
  // Line protocol may write a tag `__name__`; the measurement is the series' only name.
  const { post, select, close } = await node();
  try {
    const w = await post(
      "/write?db=epochnexus",
      "text/plain",
      "named,__name__=fake,k=v value=7 1000000000",
    );
    assert.equal(w.status, 204, w.text);
    assert.deepEqual(await select([m("EQ", "__name__", "named")]), ["__name__=named,k=v: 1000=7"]);
  } finally {
    await close();
  }
});

Deno.test("remote_read: one memory budget bounds the answer of all the queries of a request", async () => {
  // Each query alone fits the budget; the answer the handler holds for all of them must too,
  // or a few KB of repeated queries make the server hold (and encode) gigabytes.
  const n = await node();
  try {
    configureQueries(
      n.engine,
      { ...DEFAULT_QUERY_LIMITS, maxMemoryBytes: 64 * 1024 },
      () => performance.now(),
    );
    const query = { startMs: 0, endMs: 10_000, matchers: [m("EQ", "__name__", "up")] };
    const one = await n.read({ queries: [query], acceptedResponseTypes: [0] });
    assert.equal(one.status, 200, JSON.stringify(one));
    const many = await n.read({
      queries: Array(MAX_READ_QUERIES).fill(query),
      acceptedResponseTypes: [0],
    });
    assert.equal(many.status, 413, `status ${many.status}`);
    assert.match(many.error.error.message, /query memory budget exceeded: remote_read query \d+/);
    assert.match(many.error.error.message, /max_query_memory_bytes = 65536/);
  } finally {
    await n.close();
  }
});

Deno.test("remote_read: the query limits and memory budget apply, with a 413 naming them", async () => {
  const n = await node();
  try {
    configureQueries(n.engine, { ...DEFAULT_QUERY_LIMITS, maxPoints: 2 }, () => performance.now());
    const r = await n.read({
      queries: [{ startMs: 0, endMs: 10_000, matchers: [m("EQ", "__name__", "up")] }],
      acceptedResponseTypes: [0],
    });
    assert.equal(r.status, 413, JSON.stringify(r));
    assert.match(r.error.error.message, /remote_read query 1: max-select-point limit/);
    configureQueries(
      n.engine,
      { ...DEFAULT_QUERY_LIMITS, maxMemoryBytes: 64 },
      () => performance.now(),
    );
    const budget = await n.read({
      queries: [{ startMs: 0, endMs: 10_000, matchers: [m("RE", "__name__", ".+")] }],
      acceptedResponseTypes: [0],
    });
    assert.equal(budget.status, 413, JSON.stringify(budget));
    assert.match(budget.error.error.message, /query memory budget exceeded/);
  } finally {
    await n.close();
  }
});

Deno.test("remote_read: a request of more than MAX_READ_QUERIES queries is a 413 before any runs", async () => {
  // 10,000 queries matching everything are 260 KB of request: answering them all took 35 s of
  // server time before the memory budget stopped them.
  const n = await node();
  try {
    const query = { startMs: 0, endMs: 10_000, matchers: [m("RE", "__name__", ".+")] };
    const most = await n.read({
      queries: Array(MAX_READ_QUERIES).fill(query),
      acceptedResponseTypes: [0],
    });
    assert.equal(most.status, 200, JSON.stringify(most.error));
    assert.equal(most.results!.length, MAX_READ_QUERIES);
    let shardLookups = 0;
    const shards = n.engine.shards.bind(n.engine);
    n.engine.shards = (...args: Parameters<typeof shards>) => (shardLookups++, shards(...args));
    const tooMany = await n.read({
      queries: Array(10_000).fill(query),
      acceptedResponseTypes: [0],
    });
    assert.equal(tooMany.status, 413, `status ${tooMany.status}`);
    assert.equal(
      tooMany.error.error.message,
      `remote_read request has 10000 queries; at most ${MAX_READ_QUERIES} are answered in one ` +
        "request (Prometheus sends one): send them in several requests",
    );
    assert.equal(shardLookups, 0, "no query runs");
  } finally {
    await n.close();
  }
});

Deno.test("remote_read: query_timeout_ms bounds the whole request, not each query", async () => {
  // Every query takes ~5 ms (a slow shard lookup), far below the timeout; 100 of them do not.
  const n = await node();
  try {
    const timeoutMs = 150;
    configureQueries(n.engine, { ...DEFAULT_QUERY_LIMITS, timeoutMs }, () => performance.now());
    const shards = n.engine.shards.bind(n.engine);
    n.engine.shards = (...args: Parameters<typeof shards>) => {
      const until = performance.now() + 5;
      while (performance.now() < until) { /* a slow disk */ }
      return shards(...args);
    };
    const query = { startMs: 0, endMs: 10_000, matchers: [m("EQ", "__name__", "up")] };
    const one = await n.read({ queries: [query], acceptedResponseTypes: [0] });
    assert.equal(one.status, 200, JSON.stringify(one.error));
    const started = performance.now();
    const r = await n.read({
      queries: Array(MAX_READ_QUERIES).fill(query),
      acceptedResponseTypes: [0],
    });
    const took = performance.now() - started;
    assert.equal(r.status, 504, `status ${r.status} after ${took.toFixed(0)} ms`);
    assert.match(r.error.error.message, /^remote_read query \d+: query-timeout limit exceeded$/);
    assert.equal(r.error.error.limit, "query_timeout");
    assert.ok(took < timeoutMs + 250, `answered after ${took.toFixed(0)} ms`);
  } finally {
    await n.close();
  }
});

/** Runs buf convert between the published protos' binary and JSON forms. */
async function bufConvert(type: string, input: Uint8Array, from: string, to: string) {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/in.${from}`, input);
    const out = await new Deno.Command(BUF, {
      args: [
        "convert",
        ".",
        "--type",
        type,
        "--from",
        `${dir}/in.${from}#format=${from === "json" ? "json" : "binpb"}`,
        "--to",
        `${dir}/out.${to}#format=${to === "json" ? "json" : "binpb"}`,
      ],
      cwd: `${ROOT}tests/ingest/testdata`,
    }).output();
    if (out.code !== 0) throw new Error(new TextDecoder().decode(out.stderr));
    return await Deno.readFile(`${dir}/out.${to}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("remote_read: a buf-encoded ReadRequest is answered with what buf decodes", async () => {
  const { app, close } = await node();
  try {
    const request = await bufConvert(
      "prometheus.ReadRequest",
      new TextEncoder().encode(JSON.stringify({
        queries: [{
          startTimestampMs: "0",
          endTimestampMs: "1500",
          matchers: [
            { type: "EQ", name: "__name__", value: "up" },
            { type: "RE", name: "job", value: "a.i" },
          ],
          hints: { stepMs: "1000", func: "rate", startMs: "0", endMs: "1500" },
        }],
        acceptedResponseTypes: ["SAMPLES"],
      })),
      "json",
      "binpb",
    );
    const r = await app(
      new Request("http://node/api/v1/prom/read", { method: "POST", body: compress(request) }),
    );
    assert.equal(r.status, 200);
    const body = uncompressSnappy(new Uint8Array(await r.arrayBuffer()), 1 << 20);
    const json = JSON.parse(
      new TextDecoder().decode(await bufConvert("prometheus.ReadResponse", body, "binpb", "json")),
    );
    assert.deepEqual(json, {
      results: [{
        timeseries: [
          {
            labels: [
              { name: "__name__", value: "up" },
              { name: "instance", value: "a" },
              { name: "job", value: "api" },
            ],
            samples: [{ value: 1, timestamp: "1000" }],
          },
          {
            labels: [
              { name: "__name__", value: "up" },
              { name: "instance", value: "b" },
              { name: "job", value: "api" },
            ],
            samples: [{ value: 3, timestamp: "1000" }],
          },
        ],
      }],
    });
  } finally {
    await close();
  }
});
