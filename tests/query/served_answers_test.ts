/**
 * `/query` answers over a socket equal the app's own answers (the fetch handler called with no
 * socket): status, the headers clients read, and the body byte for byte, for a table of
 * requests that take every way out of the bridge (a small answer of known length read whole, a
 * streamed answer, no body); and the access log counts the bytes that went out. Each table is
 * served twice: through the fetch bridge only, and with the app's direct path for `GET /query`
 * (src/runtime/plain_bridge.ts), whose answers must also carry the same headers, all of them,
 * as the fetch bridge's.
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

/**
 * Each call answered by the app with no socket, through a server with the fetch bridge only,
 * and through one with the direct path: the three equal, and the two servers' headers equal.
 * Every `GET /query` must have taken the direct path.
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
    let gets = 0;
    for (const { path, init, status } of calls) {
      const own = await answerOf(await app(new Request(`http://node${path}`, init)));
      const what = `${init?.method ?? "GET"} ${path}`;
      assert.equal(own.status, status, `${what}: ${new TextDecoder().decode(own.body)}`);
      if ((init?.method ?? "GET") === "GET" && path.startsWith("/query")) gets++;
      const heads: [string, string][][] = [];
      for (const server of [bridged, direct]) {
        const wire = await fetch(`http://127.0.0.1:${server.port}${path}`, init);
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
    assert.equal(taken, gets, "every GET /query took the direct path");
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
      {
        path: "/query",
        init: {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ db: "db", q: small }).toString(),
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
