/**
 * `/query` answers over a socket equal the app's own answers (the fetch handler called with no
 * socket): status, the headers clients read, and the body byte for byte, for a table of
 * requests that take every way out of the bridge (a small answer of known length read whole, a
 * streamed answer, no body); and the access log counts the bytes that went out. Each table is
 * served twice: through the fetch bridge only, and with the app's direct path for `GET /query`
 * and form `POST /query` (src/runtime/plain_bridge.ts), whose answers must also carry the same
 * headers, all of them, as the fetch bridge's.
 */
import assert from "node:assert/strict";
import { type Clock, silentLogger } from "../../src/core/mod.ts";
import { type App, createApp } from "../../src/http/mod.ts";
import { denoFileSystem, serveHttp } from "../../src/runtime/mod.ts";
import { StorageEngine } from "../../src/storage/mod.ts";
import { authApp } from "../auth/_app.ts";

const NOW_NS = 1_700_000_000_000_000_000n;
const clock: Clock = {
  nowMs: () => Number(NOW_NS / 1_000_000n),
  nowNanos: () => NOW_NS,
  monotonicMs: () => performance.now(),
};

/** The headers a client may read; the rest (date, request ids, framing) differ by nature. */
const COMPARED = ["content-type", "www-authenticate", "allow", "x-influxdb-version"];

interface Answer {
  status: number;
  headers: Record<string, string | null>;
  body: Uint8Array;
}

async function answerOf(response: Response): Promise<Answer> {
  const headers: Record<string, string | null> = {};
  for (const name of COMPARED) headers[name] = response.headers.get(name);
  return { status: response.status, headers, body: new Uint8Array(await response.arrayBuffer()) };
}

/** A request and the status the app answers it with. */
type Call = { path: string; init?: RequestInit; status: number };

/** Headers that differ between any two answers: the time, and the request's own id. */
const PER_ANSWER = new Set(["date", "request-id", "x-request-id"]);

/** Every header of a served answer but {@linkcode PER_ANSWER}, in the order received. */
function allHeaders(response: Response): [string, string][] {
  return [...response.headers].filter(([name]) => !PER_ANSWER.has(name));
}

/** Whether a call should take the direct path: a `/query` GET, or a POST of a plain form. */
function takesDirect({ path, init }: Call): boolean {
  if (!path.startsWith("/query")) return false;
  const method = init?.method ?? "GET";
  if (method === "GET") return true;
  const headers = new Headers(init?.headers);
  const type = headers.get("content-type") ?? "";
  return method === "POST" && !type.startsWith("application/json") &&
    !type.startsWith("multipart/") && !headers.has("content-encoding") &&
    !(init?.body instanceof ReadableStream) && !(init?.body instanceof FormData);
}

/**
 * Each call answered by the app with no socket, through a server with the fetch bridge only,
 * and through one with the direct path: the three equal, and the two servers' headers equal.
 * Every `GET /query` and form `POST /query` must have taken the direct path, and nothing else.
 */
async function compareServed(app: App, calls: Call[]): Promise<void> {
  const bridged = await serveHttp((request) => app(request), { hostname: "127.0.0.1", port: 0 });
  let taken = 0;
  const direct = await serveHttp((request) => app(request), {
    hostname: "127.0.0.1",
    port: 0,
    direct: (request) => {
      const answer = app.direct(request);
      if (answer !== undefined) taken++;
      return answer;
    },
  });
  try {
    for (const call of calls) {
      const { path, init, status } = call;
      const own = await answerOf(await app(new Request(`http://node${path}`, init)));
      const what = `${init?.method ?? "GET"} ${path} ${init?.body ?? ""}`;
      assert.equal(own.status, status, `${what}: ${new TextDecoder().decode(own.body)}`);
      const heads: [string, string][][] = [];
      for (const server of [bridged, direct]) {
        const before = taken;
        const wire = await fetch(`http://127.0.0.1:${server.port}${path}`, init);
        if (server === direct) {
          assert.equal(taken - before, takesDirect(call) ? 1 : 0, `${what}: direct path taken`);
        }
        heads.push(allHeaders(wire));
        const length = wire.headers.get("content-length");
        const served = await answerOf(wire);
        assert.equal(served.status, own.status, what);
        assert.deepEqual(served.headers, own.headers, what);
        assert.deepEqual(served.body, own.body, what);
        // A declared length is the true one (a HEAD answer declares none).
        if (length !== null && init?.method !== "HEAD") {
          assert.equal(Number(length), served.body.byteLength, `${what}: content-length`);
        }
      }
      assert.deepEqual(heads[1], heads[0], `${what}: headers, direct path against the bridge`);
    }
  } finally {
    await bridged.shutdown();
    await direct.shutdown();
  }
}

async function openApp(accessLog?: (record: Record<string, unknown>) => void) {
  const engine = await StorageEngine.open({
    dir: await Deno.makeTempDir({ prefix: "epochnexus-served-" }),
    fs: denoFileSystem,
    clock,
    logger: silentLogger,
  });
  await engine.createDatabase("db");
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++) {
    lines.push(`cpu,host=h${i % 7} usage=${i * 0.5},idle=${i} ${1_600_000_000 + i * 10}`);
  }
  const app = createApp({
    engine,
    clock,
    logger: silentLogger,
    defaultDatabase: "db",
    maxBodyBytes: 1_000_000,
    accessLog,
  });
  const written = await app(
    new Request("http://node/write?db=db&precision=s", { method: "POST", body: lines.join("\n") }),
  );
  assert.equal(written.status, 204, await written.text());
  return { app, close: () => engine.close() };
}

/** A form POST of `values`. */
function post(values: Record<string, string>, headers: Record<string, string> = {}): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(values).toString(),
  };
}

function formData(values: Record<string, string>): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(values)) form.set(k, v);
  return form;
}

async function gzip(text: string): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const RANGE = "time >= 1600000000s AND time < 1600030000s";
const query = (q: string, extra = "") => `/query?db=db&q=${encodeURIComponent(q)}${extra}`;

Deno.test("served /query answers equal the app's: small, pretty, CSV, chunked, streamed, errors", async () => {
  const { app, close } = await openApp();
  try {
    const small = `SELECT max(usage) FROM cpu WHERE host = 'h1' AND ${RANGE} GROUP BY time(1h)`;
    await compareServed(app, [
      { path: query(small), status: 200 },
      { path: query(small, "&epoch=ms"), status: 200 },
      { path: query(small, "&pretty=true"), status: 200 },
      { path: query(small), init: { headers: { accept: "application/csv" } }, status: 200 },
      { path: query("SELECT usage FROM cpu", "&chunked=true&chunk_size=500"), status: 200 },
      // Larger than one 64 KiB chunk: streamed, chunked framing on the wire.
      { path: query("SELECT * FROM cpu"), status: 200 },
      { path: query("SELECT FROM WHERE"), status: 400 }, // the parser's message
      { path: query("SELECT usage FROM cpu", "&consistency=sometimes"), status: 400 },
      { path: "/query?db=db", status: 400 }, // missing q
      { path: query(small, "&params=%7Bnot"), status: 400 }, // bad params JSON
      { path: query(small, "&chunk_size=-1&chunked=true"), status: 400 },
      { path: query("SELECT usage FROM nosuch"), status: 200 }, // an empty result
      { path: query("SELECT usage FROM cpu", "&db=nodb"), status: 200 }, // a statement error
      { path: query("SHOW DATABASES"), status: 200 },
      { path: "/query", init: post({ db: "db", q: small }), status: 200 },
      { path: "/query?db=db", init: post({ q: small, epoch: "s" }), status: 200 },
      // The body's values win over the URL's.
      { path: query("SELECT * FROM cpu", "&epoch=ms"), init: post({ q: small }), status: 200 },
      { path: query(small), init: post({}), status: 200 }, // an empty body: the URL's
      { path: query(small), init: { method: "POST" }, status: 200 }, // no body at all
      { path: "/query", init: post({ db: "db", q: small, pretty: "true" }), status: 200 },
      {
        path: "/query",
        init: post({ db: "db", q: small }, { accept: "application/csv" }),
        status: 200,
      },
      {
        path: "/query",
        init: post({ db: "db", q: "SELECT usage FROM cpu", chunked: "true", chunk_size: "900" }),
        status: 200,
      },
      { path: "/query", init: post({ db: "db", q: "SELECT * FROM cpu" }), status: 200 },
      { path: "/query", init: post({ db: "db", q: "SELECT FROM WHERE" }), status: 400 },
      { path: "/query", init: post({ db: "db" }), status: 400 }, // missing q
      {
        path: "/query",
        init: post({
          db: "db",
          q: "SELECT usage FROM cpu WHERE host = $h AND usage > $u",
          params: JSON.stringify({ h: "h3", u: 1490 }),
        }),
        status: 200,
      },
      // Non-ASCII: the body is UTF-8 (an identifier and a string in the statement).
      {
        path: "/query",
        init: post({ db: "db", q: "SELECT usage AS \"ü→\" FROM cpu WHERE host = 'ä' " }),
        status: 200,
      },
      // A statement that changes data is fine over POST; here it creates a database.
      { path: "/query", init: post({ q: "CREATE DATABASE made" }), status: 200 },
      // Any other type of body is read as a form too, as influxd does.
      {
        path: "/query",
        init: { method: "POST", headers: { "content-type": "text/plain" }, body: `q=${small}` },
        status: 200,
      },
      // The fetch path's own: the native JSON query, multipart, gzip, a body of unknown length.
      {
        path: "/query",
        init: {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ db: "db", query: small }),
        },
        status: 200,
      },
      {
        path: "/query",
        init: { method: "POST", body: formData({ db: "db", q: small }) },
        status: 200,
      },
      {
        path: "/query",
        init: {
          method: "POST",
          headers: {
            "content-type": "application/x-www-form-urlencoded",
            "content-encoding": "gzip",
          },
          body: await gzip(new URLSearchParams({ db: "db", q: small }).toString()),
        },
        status: 200,
      },
      {
        path: "/query?db=db",
        init: {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          // A new stream for each of the three requests.
          get body() {
            return ReadableStream.from([
              new TextEncoder().encode(`q=${encodeURIComponent(small)}`),
            ]);
          },
        },
        status: 200,
      },
      { path: "/ping", status: 204 },
      { path: "/ping", init: { method: "HEAD" }, status: 204 },
    ]);
  } finally {
    await close();
  }
});

Deno.test("served /query refusals equal the app's: 401 without credentials, 405 for a change over GET", async () => {
  const { app, close } = await authApp({ enabled: true, users: true });
  try {
    const basic = { authorization: `Basic ${btoa("admin:admin-pw")}` };
    await compareServed(app, [
      { path: query("SHOW DATABASES"), status: 401 },
      {
        path: query("SHOW DATABASES"),
        init: { headers: { authorization: "Basic !!" } },
        status: 401,
      },
      { path: query("SHOW DATABASES"), init: { headers: basic }, status: 200 },
      { path: query("DROP DATABASE db1"), init: { headers: basic }, status: 405 },
      { path: query("SHOW DATABASES", "&u=admin&p=admin-pw"), status: 200 },
      { path: query("SHOW DATABASES", "&u=admin&p=wrong"), status: 401 },
      { path: "/query", init: post({ q: "DROP DATABASE db1" }, basic), status: 200 },
      { path: "/query?u=admin&p=wrong", init: post({ q: "SHOW DATABASES" }), status: 401 },
      { path: "/query", init: post({ q: "SHOW DATABASES" }), status: 401 },
      {
        path: query("SHOW DATABASES"),
        init: { headers: { authorization: "Token admin:admin-pw" } },
        status: 200,
      },
      {
        path: query("SHOW DATABASES"),
        init: { headers: { authorization: "Bearer no-such-token" } },
        status: 401,
      },
    ]);
  } finally {
    await close();
  }
});

/** Sends `head` (request line and headers) on a new connection; the answer's status and body. */
async function rawAnswer(port: number, head: string): Promise<{ status: number; body: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(`${head}Connection: close\r\n\r\n`));
    const text = await new Response(conn.readable).text(); // ends when the server closes
    const [top, body] = text.split("\r\n\r\n", 2);
    return { status: Number(top.split(" ")[1]), body };
  } catch (error) {
    conn.close();
    throw error;
  }
}

Deno.test("the direct path reads header names in any case and joins repeated headers, as the bridge", async () => {
  const { app, close } = await authApp({ enabled: true, users: true });
  const servers = [
    await serveHttp((request) => app(request), { hostname: "127.0.0.1", port: 0 }),
    await serveHttp((request) => app(request), {
      hostname: "127.0.0.1",
      port: 0,
      direct: app.direct,
    }),
  ];
  try {
    const target = query("SHOW DATABASES");
    const basic = `Basic ${btoa("admin:admin-pw")}`;
    const heads: [string, number][] = [
      [`GET ${target} HTTP/1.1\r\nHost: x\r\nAUTHORIZATION: ${basic}\r\n`, 200],
      // Joined, the two credentials are no valid Basic value.
      [
        `GET ${target} HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic}\r\nauthorization: ${basic}\r\n`,
        401,
      ],
      // CSV is found in the second Accept header.
      [
        `GET ${target} HTTP/1.1\r\nHost: x\r\nAccept: text/plain\r\nACCEPT: text/csv\r\nAuthorization: ${basic}\r\n`,
        200,
      ],
      [`GET ${target} HTTP/1.1\r\nHost: bad host\r\nAuthorization: ${basic}\r\n`, 400],
    ];
    for (const [head, status] of heads) {
      const [bridged, direct] = await Promise.all(servers.map((s) => rawAnswer(s.port, head)));
      assert.equal(bridged.status, status, `${head}: ${bridged.body}`);
      assert.deepEqual(direct, bridged, head);
    }
    assert.match((await rawAnswer(servers[1].port, heads[2][0])).body, /^name,tags,name\r?\n/);
  } finally {
    for (const s of servers) await s.shutdown();
    await close();
  }
});

for (const path of ["bridge", "direct"] as const) {
  Deno.test(`the access log counts the bytes a served /query answer sent (${path})`, async () => {
    const records: Record<string, unknown>[] = [];
    const { app, close } = await openApp((record) => records.push(record));
    const server = await serveHttp((request) => app(request), {
      hostname: "127.0.0.1",
      port: 0,
      direct: path === "direct" ? app.direct : undefined,
    });
    // A client of its own, closed before the shutdown: a kept-alive connection of the shared
    // pool, after the tests above, held node:http's close for 3 minutes (Deno 2.9.6).
    const client = Deno.createHttpClient({});
    try {
      records.length = 0; // the write's
      for (
        const q of [
          `SELECT max(usage) FROM cpu WHERE ${RANGE} GROUP BY time(1h)`,
          "SELECT * FROM cpu",
          "SELECT FROM WHERE",
        ]
      ) {
        const answer = await fetch(`http://127.0.0.1:${server.port}${query(q)}`, { client });
        const bytes = (await answer.arrayBuffer()).byteLength;
        const deadline = Date.now() + 10_000;
        while (records.length === 0 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 5));
        }
        const record = records.shift();
        assert.equal(record?.bytes_out, bytes, q);
        assert.equal(record?.status, answer.status, q);
        assert.equal(record?.method, "GET", q);
        assert.equal(record?.path, "/query", q);
        assert.equal(record?.database, "db", q);
        assert.equal(record?.route, "query", q);
        assert.equal(record?.bytes_in, null, q);
        assert.equal(record?.aborted, undefined, q);
      }
      // A form POST names its database in the body (a client such as TSBS sends it so).
      for (const q of ["SELECT * FROM cpu", "SELECT FROM WHERE"]) {
        const body = new URLSearchParams({ q, db: "db" }).toString();
        const answer = await fetch(`http://127.0.0.1:${server.port}/query`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body,
          client,
        });
        await answer.arrayBuffer();
        const deadline = Date.now() + 10_000;
        while (records.length === 0 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 5));
        }
        const record = records.shift();
        assert.equal(record?.method, "POST", q);
        assert.equal(record?.status, answer.status, q);
        assert.equal(record?.bytes_in, body.length, q);
        assert.equal(record?.database, "db", `POST ${q}: the database`);
      }
    } finally {
      client.close();
      await server.shutdown();
      await close();
    }
  });
}

Deno.test("the direct path counts /query requests and their statuses in /metrics", async () => {
  const { app, close } = await openApp();
  const server = await serveHttp((request) => app(request), {
    hostname: "127.0.0.1",
    port: 0,
    direct: app.direct,
  });
  try {
    const ok = `SELECT max(usage) FROM cpu WHERE ${RANGE}`;
    for (const q of [ok, ok, "SELECT FROM WHERE"]) {
      await (await fetch(`http://127.0.0.1:${server.port}${query(q)}`)).arrayBuffer();
    }
    const text = await (await app(new Request("http://node/metrics"))).text();
    assert.match(text, /epochnexus_http_requests_total\{route="query",status="200"\} 2\n/);
    assert.match(text, /epochnexus_http_requests_total\{route="query",status="400"\} 1\n/);
  } finally {
    await server.shutdown();
    await close();
  }
});
