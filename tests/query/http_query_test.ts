/**
 * The HTTP details of InfluxDB's /query served by EpochNexus, called with no socket: chunked
 * answers byte for byte as influxd 1.6.7 writes them, pretty printing, limits, and
 * max-concurrent-queries.
 */
import assert, { equal, ok } from "node:assert/strict";
import { type Clock, silentLogger } from "../../src/core/mod.ts";
import { createApp } from "../../src/http/mod.ts";
import { configureQueries } from "../../src/http/query_handler.ts";
import { denoFileSystem } from "../../src/runtime/mod.ts";
import { StorageEngine } from "../../src/storage/mod.ts";

const NOW_NS = 1_700_000_000_000_000_000n;
const clock: Clock = {
  nowMs: () => Number(NOW_NS / 1_000_000n),
  nowNanos: () => NOW_NS,
  monotonicMs: () => performance.now(),
};

async function setup(limits?: Parameters<typeof configureQueries>[1], maxBodyBytes = 1_000_000) {
  const dir = await Deno.makeTempDir();
  const engine = await StorageEngine.open({ dir, fs: denoFileSystem, clock, logger: silentLogger });
  await engine.createDatabase("diff");
  if (limits) configureQueries(engine, limits, () => performance.now());
  const app = createApp({
    engine,
    clock,
    logger: silentLogger,
    defaultDatabase: "diff",
    maxBodyBytes,
  });
  const lines = [];
  for (let m = 0; m < 5; m++) lines.push(`mem,host=h1 used=${m * 10240}i ${1678838400 + m * 600}`);
  for (const [h, v] of [["h1", 58.23], ["h2", 68.94], ["h3", 28.74]]) {
    lines.push(`cpu,host=${h} usage_user=${v} 1678838400`);
  }
  lines.push("cpu,host=h1 usage_user=25.63 1678838460");
  lines.push("cpu,host=h2 usage_user=45.12 1678838460");
  lines.push("cpu,host=h3 usage_user=96.32 1678838460");
  const w = await app(
    new Request("http://node/write?db=diff&precision=s", {
      method: "POST",
      body: lines.join("\n"),
    }),
  );
  assert.equal(w.status, 204, await w.text());
  const get = async (params: Record<string, string>, headers?: HeadersInit) => {
    const r = await app(
      new Request(`http://node/query?${new URLSearchParams({ db: "diff", ...params })}`, {
        headers,
      }),
    );
    return { status: r.status, text: await r.text() };
  };
  return {
    app,
    get,
    close: async () => {
      await engine.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("chunked=true answers line by line with partial flags, as influxd 1.6.7", async () => {
  const s = await setup();
  try {
    const r = await s.get({
      q: "SELECT used FROM mem LIMIT 5; SELECT count(used) FROM mem GROUP BY host; SELECT nope(x) FROM mem",
      chunked: "true",
      chunk_size: "2",
    });
    assert.equal(r.status, 200);
    // Captured from influxd 1.6.7 on the same data.
    assert.equal(
      r.text,
      `{"results":[{"statement_id":0,"series":[{"name":"mem","columns":["time","used"],"values":[["2023-03-15T00:00:00Z",0],["2023-03-15T00:10:00Z",10240]],"partial":true}],"partial":true}]}
{"results":[{"statement_id":0,"series":[{"name":"mem","columns":["time","used"],"values":[["2023-03-15T00:20:00Z",20480],["2023-03-15T00:30:00Z",30720]],"partial":true}],"partial":true}]}
{"results":[{"statement_id":0,"series":[{"name":"mem","columns":["time","used"],"values":[["2023-03-15T00:40:00Z",40960]]}]}]}
{"results":[{"statement_id":1,"series":[{"name":"mem","tags":{"host":"h1"},"columns":["time","count"],"values":[["1970-01-01T00:00:00Z",5]]}]}]}
{"results":[{"statement_id":2,"error":"undefined function nope()"}]}
`,
    );
    const g = await s.get({
      q: "SELECT usage_user FROM cpu WHERE time < '2023-03-15T00:02:00Z' GROUP BY host",
      chunked: "true",
      chunk_size: "1",
    });
    assert.equal(
      g.text,
      `{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"h1"},"columns":["time","usage_user"],"values":[["2023-03-15T00:00:00Z",58.23]],"partial":true}],"partial":true}]}
{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"h1"},"columns":["time","usage_user"],"values":[["2023-03-15T00:01:00Z",25.63]]}],"partial":true}]}
{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"h2"},"columns":["time","usage_user"],"values":[["2023-03-15T00:00:00Z",68.94]],"partial":true}],"partial":true}]}
{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"h2"},"columns":["time","usage_user"],"values":[["2023-03-15T00:01:00Z",45.12]]}],"partial":true}]}
{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"h3"},"columns":["time","usage_user"],"values":[["2023-03-15T00:00:00Z",28.74]],"partial":true}],"partial":true}]}
{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"h3"},"columns":["time","usage_user"],"values":[["2023-03-15T00:01:00Z",96.32]]}]}]}
`,
    );
    const bad = await s.get({ q: "SELECT FROM", chunked: "true" });
    assert.equal(bad.status, 400);
  } finally {
    await s.close();
  }
});

Deno.test("configured limits answer InfluxDB's texts per statement", async () => {
  const s = await setup({ maxSeries: 2 });
  try {
    const r = await s.get({ q: "SELECT usage_user FROM cpu" });
    assert.equal(
      r.text,
      '{"results":[{"statement_id":0,"error":"max-select-series limit exceeded: (3/2)"}]}\n',
    );
  } finally {
    await s.close();
  }
});

Deno.test("a CSV answer whose statement fails before any row is an error status, not empty", async () => {
  const s = await setup({ maxMemoryBytes: 1_000 });
  const csv = { accept: "application/csv" };
  try {
    // influxd 1.6.7 answers these 200 with an empty body: the failure read as "no data".
    const budget = await s.get({ q: "SELECT * FROM cpu" }, csv);
    assert.equal(budget.status, 413, budget.text);
    assert.match(
      budget.text,
      /^error\n"query memory budget exceeded: SELECT \* FROM cpu needs more than 0 MiB \(max_query_memory_bytes = 1000\); narrow .*"\n$/,
    );
    const missing = await s.get({ q: "SELECT v FROM nope.m" }, csv);
    assert.equal(missing.status, 404, missing.text);
    assert.equal(missing.text, "error\nretention policy not found: nope\n");
    // Rows already answered stay answered (200), a later failure dropped as influxd does.
    const after = await s.get({ q: "SELECT used FROM mem LIMIT 1; SELECT nope(x) FROM mem" }, csv);
    assert.equal(after.status, 200);
    assert.equal(after.text, "name,tags,time,used\nmem,,1678838400000000000,0\n");
  } finally {
    await s.close();
  }
});

/** A POST /query body of `total` bytes of a form's `q=SELECT...`, counting what was read. */
function formBody(total: number, pieceBytes = 64 * 1024) {
  let sent = 0;
  const piece = new TextEncoder().encode("q=SELECT" + "+".repeat(pieceBytes - 8));
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= total) return controller.close();
      sent += piece.length;
      controller.enqueue(piece.slice());
    },
  }, { highWaterMark: 0 });
  return { body, read: () => sent };
}

Deno.test("a /query form body past 3 x max_query_bytes is refused (413) before it is read", async () => {
  // The server's body limit (for writes) is far above what a query needs.
  const s = await setup({ maxQueryBytes: 100_000 }, 50_000_000);
  try {
    const limit = 3 * 100_000 + 65_536;
    const post = (body: ReadableStream<Uint8Array>, headers: Record<string, string>) =>
      s.app(
        new Request("http://node/query?db=diff", {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
          body,
        }),
      );
    // Declared 10 MB: refused from Content-Length, nothing read.
    const declared = formBody(10_000_000);
    const r = await post(declared.body, { "content-length": "10000000" });
    equal(r.status, 413);
    equal(
      (await r.json()).error,
      `query is too long: the form body is over ${limit} bytes, the most a query of ` +
        "max_query_bytes (100000) takes percent-encoded with 65536 bytes of other parameters",
    );
    equal(declared.read(), 0, "the declared body was read");
    // Without a length: read only until it is past the limit (one piece more at most).
    const open = formBody(10_000_000);
    const u = await post(open.body, {});
    equal(u.status, 413);
    ok(open.read() <= limit + 65_536, `${open.read()} bytes read`);
    // Multipart forms are bounded the same way.
    const multi = formBody(10_000_000);
    const m = await post(multi.body, { "content-type": "multipart/form-data; boundary=x" });
    equal(m.status, 413);
    ok(multi.read() <= limit + 65_536, `${multi.read()} bytes read (multipart)`);
    // A query within the limit, percent-encoded to near 3 bytes per byte, is answered.
    const q = "SELECT usage_user FROM cpu WHERE host = '" + "é".repeat(40_000) + "'";
    const fine = await s.app(
      new Request("http://node/query?db=diff", {
        method: "POST",
        body: new URLSearchParams({ q }),
      }),
    );
    equal(fine.status, 200, await fine.clone().text());
  } finally {
    await s.close();
  }
});

Deno.test("a multipart /query form is read with its boundary as sent; a malformed one is 400", async () => {
  const s = await setup({ maxQueryBytes: 100_000 });
  try {
    // A browser's boundary has capitals; multipart boundaries are case-sensitive.
    const boundary = "----WebKitFormBoundaryAbCdEfGh";
    const post = (body: string, type = `multipart/form-data; boundary=${boundary}`) =>
      s.app(
        new Request("http://node/query?db=diff", {
          method: "POST",
          headers: { "content-type": type },
          body,
        }),
      );
    const form = `--${boundary}\r\nContent-Disposition: form-data; name="q"\r\n\r\n` +
      `SELECT usage_user FROM cpu WHERE host = 'h2'\r\n--${boundary}--\r\n`;
    const r = await post(form);
    const text = await r.text();
    equal(r.status, 200, text);
    ok(text.includes("68.94"), text);
    const bad = await post("not a multipart body", "multipart/form-data; boundary=nothere");
    equal(bad.status, 400);
    ok((await bad.json()).error.startsWith("cannot read the multipart form body of /query"));
  } finally {
    await s.close();
  }
});
