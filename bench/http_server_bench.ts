/**
 * What the HTTP server costs per request: the same app served by `Deno.serve` and by the
 * node:http server the node uses (src/runtime/http_server.ts), and for `/query` also with
 * the direct path (`node:http+direct`, src/runtime/plain_bridge.ts), side by side, under a load
 * generator in its own process (raw keep-alive HTTP/1.1 sockets, so the client costs little).
 * Scenarios: `GET /ping`, `POST /write` (10 lines, and 5000 lines), `GET /query` (a small
 * SELECT) and the same as a form `POST /query` (`query_post`), a Connect
 * unary `IngestService/Write` (JSON, 10 points), and `POST /ingest` of a chunked NDJSON body
 * with the handler's pauses (the case that made the choice).
 *
 *   deno run -A bench/http_server_bench.ts [seconds per run=4] [connections=16] [rounds=2]
 *   SCENARIOS=ping,query deno run -A bench/http_server_bench.ts   # a subset
 *   SCENARIOS=query SPACING_MS=2 deno run -A bench/http_server_bench.ts 6 1 3   # spaced
 *   deno run -A bench/http_server_bench.ts ab [blocks] [requests] [warmup] [query|query_post]
 *
 * Each round runs every scenario on both servers, alternating which goes first; the table
 * keeps each server's best round by server CPU per request (from /proc/PID/stat: steadier than
 * req/s on a shared machine, where the load generator competes for the same cores).
 * @module
 */
import { createApp } from "../src/http/mod.ts";
import { silentLogger } from "../src/core/mod.ts";
import { denoFileSystem, serveHttp, systemClock } from "../src/runtime/mod.ts";
import { StorageEngine } from "../src/storage/mod.ts";

const SELF = new URL(import.meta.url).pathname;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** `node:http+direct`: the node's own setup, `/query` on the direct path (plain_bridge.ts). */
type Kind = "deno.serve" | "node:http" | "node:http+direct";
const SCENARIOS = [
  "ping",
  "write",
  "write_5000",
  "query",
  "query_post",
  "connect",
  "ingest_chunked",
] as const;
/** The scenarios the direct path serves. */
const DIRECT_SCENARIOS: readonly Scenario[] = ["query", "query_post"];
type Scenario = typeof SCENARIOS[number];

/** Server process: the app on an engine in a fresh folder; prints its port. */
async function server(kind: Kind): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-http-bench-" });
  const engine = await StorageEngine.open({
    dir,
    fs: denoFileSystem,
    clock: systemClock,
    logger: silentLogger,
  });
  await engine.createDatabase("bench");
  await engine.createDatabase("epochnexus");
  const app = createApp({
    engine,
    clock: systemClock,
    logger: silentLogger,
    defaultDatabase: "epochnexus",
    maxBodyBytes: 25e6,
  });
  let seed = "";
  for (let i = 0; i < 10_000; i++) seed += `m,host=h${i % 10} v=${i} ${1_600_000_000_000 + i}\n`;
  const seeded = await app(
    new Request("http://x/write?db=bench&precision=ms", { method: "POST", body: seed }),
  );
  if (seeded.status !== 204) throw new Error(`seed write failed: ${await seeded.text()}`);
  let port: number;
  if (kind === "deno.serve") {
    const s = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (r) => app(r));
    port = s.addr.port;
  } else {
    const direct = kind === "node:http+direct" ? app.direct : undefined;
    port = (await serveHttp(app, { hostname: "127.0.0.1", port: 0, direct })).port;
  }
  console.log(`PORT ${port}`);
  // Runs until the parent kills it; the folder is removed by the parent.
  console.log(`DIR ${dir}`);
}

/** One request of a scenario, as raw bytes. */
function requestBytes(scenario: Scenario, n: number): Uint8Array {
  const post = (path: string, type: string, body: string) =>
    enc.encode(
      `POST ${path} HTTP/1.1\r\nhost: bench\r\ncontent-type: ${type}\r\n` +
        `content-length: ${enc.encode(body).length}\r\n\r\n${body}`,
    );
  switch (scenario) {
    case "ping":
      return enc.encode("GET /ping HTTP/1.1\r\nhost: bench\r\n\r\n");
    case "write": {
      let body = "";
      for (let i = 0; i < 10; i++) body += `m,host=h${i} v=${n + i} ${1_700_000_000 + n}${i}\n`;
      return post("/write?db=bench&precision=ms", "text/plain", body);
    }
    case "write_5000": {
      // A Telegraf-sized batch (~400 KB): the server's cost per request is mostly decoding.
      let body = "";
      for (let i = 0; i < 5000; i++) {
        body += `cpu,host=h${i % 100},region=r${i % 4} usage_user=${i % 97}.5,usage_system=` +
          `${i % 13}.25,procs=${i % 300}i ${1_700_000_000_000 + n * 5000 + i}\n`;
      }
      return post("/write?db=bench&precision=ms", "text/plain", body);
    }
    case "query":
      return enc.encode(
        `GET /query?db=bench&q=${
          encodeURIComponent("SELECT last(v) FROM m WHERE host = 'h1'")
        } HTTP/1.1\r\nhost: bench\r\n\r\n`,
      );
    case "query_post": // the same query as a form body
      return post(
        "/query",
        "application/x-www-form-urlencoded",
        new URLSearchParams({ db: "bench", q: "SELECT last(v) FROM m WHERE host = 'h1'" })
          .toString(),
      );
    case "connect": {
      const points = Array.from({ length: 10 }, (_, i) => ({
        measurement: "rpc",
        tags: [{ key: "host", value: `h${i}` }],
        fields: [{ key: "v", floatValue: n + i }],
        timeUnixNano: String(1_700_000_000_000_000_000n + BigInt(n * 10 + i)),
      }));
      return post(
        "/epochnexus.ingest.v1.IngestService/Write",
        "application/json",
        JSON.stringify({ database: "bench", points }),
      );
    }
    default:
      throw new Error(`BUG: ${scenario} is not a small request`);
  }
}

/** Reads one HTTP/1.1 answer (Content-Length or chunked) from `conn`; returns its status. */
class AnswerReader {
  #buf = new Uint8Array(1 << 16);
  #len = 0;
  constructor(private conn: Deno.Conn) {}

  async #more(): Promise<void> {
    if (this.#len === this.#buf.length) {
      const bigger = new Uint8Array(this.#buf.length * 2);
      bigger.set(this.#buf);
      this.#buf = bigger;
    }
    const n = await this.conn.read(this.#buf.subarray(this.#len));
    if (n === null) throw new Error("connection closed mid-answer");
    this.#len += n;
  }

  #take(n: number): void {
    this.#buf.copyWithin(0, n, this.#len);
    this.#len -= n;
  }

  async read(): Promise<number> {
    let end: number;
    while ((end = dec.decode(this.#buf.subarray(0, this.#len)).indexOf("\r\n\r\n")) < 0) {
      await this.#more();
    }
    const head = dec.decode(this.#buf.subarray(0, end));
    this.#take(end + 4);
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (length) {
      while (this.#len < Number(length[1])) await this.#more();
      this.#take(Number(length[1]));
    } else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
      while (true) {
        let line: number;
        while ((line = dec.decode(this.#buf.subarray(0, this.#len)).indexOf("\r\n")) < 0) {
          await this.#more();
        }
        const size = parseInt(dec.decode(this.#buf.subarray(0, line)), 16);
        while (this.#len < line + 2 + size + 2) await this.#more();
        this.#take(line + 2 + size + 2);
        if (size === 0) break;
      }
    }
    return status;
  }
}

/**
 * `SPACING_MS=2`: each connection waits this long after each answer, as bench:peers spaces its
 * queries (a server that is never saturated: the fixed cost per request is what is measured).
 */
const SPACING_MS = Number(Deno.env.get("SPACING_MS") ?? 0);

/** Load process: `connections` keep-alive sockets, one request in flight each, `seconds` long. */
async function load(port: number, scenario: Scenario, connections: number, seconds: number) {
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  const until = performance.now() + seconds * 1000;
  let n = 0;
  await Promise.all(Array.from({ length: connections }, async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const reader = new AnswerReader(conn);
    try {
      while (performance.now() < until) {
        const bytes = requestBytes(scenario, n++);
        const started = performance.now();
        for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
        const status = await reader.read();
        latencies.push(performance.now() - started);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (SPACING_MS > 0) await new Promise((r) => setTimeout(r, SPACING_MS));
      }
    } finally {
      conn.close();
    }
  }));
  latencies.sort((a, b) => a - b);
  const q = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  console.log(
    `RESULT ${
      JSON.stringify({
        rps: latencies.length / seconds,
        p50: q(0.5),
        p99: q(0.99),
        statuses: Object.fromEntries(statuses),
      })
    }`,
  );
}

/** The chunked NDJSON body with ingest's pauses: 128 MiB sent by fetch (chunked). */
async function ingestChunked(port: number): Promise<void> {
  const total = 128 << 20;
  const lineBytes = 128;
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= total) return controller.close();
      const chunk = new Uint8Array(256 << 10).fill(0x20);
      for (let at = 0; at < chunk.length; at += lineBytes) {
        const i = (sent + at) / lineBytes;
        enc.encodeInto(
          `{"measurement":"nd","tags":{"h":"h${i % 100}"},"value":${i}}`,
          chunk.subarray(at),
        );
        chunk[at + lineBytes - 1] = 0x0a;
      }
      sent += chunk.length;
      controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
  const started = performance.now();
  const answer = await fetch(`http://127.0.0.1:${port}/ingest?db=bench`, {
    method: "POST",
    headers: { "content-type": "application/x-ndjson" },
    body,
  });
  const text = await answer.text();
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `RESULT ${
      JSON.stringify({
        rps: total / 1e6 / seconds,
        p50: seconds * 1000,
        p99: seconds * 1000,
        statuses: { [answer.status]: 1 },
        text: text.slice(0, 80),
      })
    }`,
  );
}

/** CPU seconds (user + system) the process has used, from /proc/PID/stat. */
async function cpuSecondsOf(pid: number): Promise<number> {
  const fields = (await Deno.readTextFile(`/proc/${pid}/stat`)).split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks
}

async function rssOf(pid: number): Promise<number> {
  const out = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(pid)] }).output();
  return Number(dec.decode(out.stdout).trim()) * 1024;
}

function child(args: string[], onLine?: (line: string) => void) {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SELF, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines: string[] = [];
  const pump = (async () => {
    let rest = "";
    for await (const chunk of process.stdout) {
      rest += dec.decode(chunk, { stream: true });
      let nl;
      while ((nl = rest.indexOf("\n")) >= 0) {
        const line = rest.slice(0, nl);
        rest = rest.slice(nl + 1);
        lines.push(line);
        onLine?.(line);
      }
    }
  })();
  return { process, lines, pump };
}

async function measure(kind: Kind, scenario: Scenario, connections: number, seconds: number) {
  let port = 0;
  let dir = "";
  let listening!: () => void;
  const ready = new Promise<void>((r) => (listening = r));
  const srv = await child(["server", kind], (line) => {
    if (line.startsWith("PORT ")) port = Number(line.slice(5));
    if (line.startsWith("DIR ")) (dir = line.slice(4)), listening();
  });
  await ready;
  try {
    let peak = await rssOf(srv.process.pid);
    const sampler = setInterval(async () => {
      peak = Math.max(peak, await rssOf(srv.process.pid).catch(() => 0));
    }, 100);
    const args = scenario === "ingest_chunked"
      ? ["ingest", String(port)]
      : ["load", String(port), scenario, String(connections), String(seconds)];
    const cpuBefore = await cpuSecondsOf(srv.process.pid);
    const gen = await child(args);
    await gen.process.status;
    await gen.pump;
    const cpu = await cpuSecondsOf(srv.process.pid) - cpuBefore;
    clearInterval(sampler);
    const line = gen.lines.find((l) => l.startsWith("RESULT "));
    if (!line) throw new Error(`no result from the load generator for ${kind} ${scenario}`);
    const result = JSON.parse(line.slice(7));
    const requests = Object.values(result.statuses as Record<string, number>)
      .reduce((a, b) => a + b, 0);
    // Server CPU per request: steadier than req/s on a shared machine.
    return { ...result, peakRss: peak, cpuUsPerRequest: (cpu * 1e6) / requests };
  } finally {
    srv.process.kill("SIGKILL");
    await srv.process.status;
    await srv.pump;
    if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

async function main() {
  const seconds = Number(Deno.args[0] ?? 4);
  const connections = Number(Deno.args[1] ?? 16);
  const rounds = Number(Deno.args[2] ?? 2);
  const kinds: Kind[] = ["deno.serve", "node:http", "node:http+direct"];
  const only = Deno.env.get("SCENARIOS")?.split(",");
  const scenarios = SCENARIOS.filter((s) => !only || only.includes(s));
  // deno-lint-ignore no-explicit-any
  const best = new Map<string, any>();
  for (let round = 0; round < rounds; round++) {
    for (const scenario of scenarios) {
      const order = (round % 2 === 0 ? [...kinds] : [...kinds].reverse())
        .filter((k) => k !== "node:http+direct" || DIRECT_SCENARIOS.includes(scenario));
      for (const kind of order) {
        const r = await measure(kind, scenario, connections, seconds);
        const key = `${scenario} ${kind}`;
        if (!best.has(key) || best.get(key).cpuUsPerRequest > r.cpuUsPerRequest) best.set(key, r);
        console.error(`round ${round + 1} ${key}: ${JSON.stringify(r)}`);
      }
    }
  }
  const load = dec.decode(
    (await new Deno.Command("cat", { args: ["/proc/loadavg"] }).output()).stdout,
  );
  console.log(
    `\n${connections} connections, ${seconds} s per run, best of ${rounds}; load ${load.trim()}`,
  );
  console.log(
    "| scenario | server | server CPU µs/request | req/s (MB/s for ingest) | p50 ms | p99 ms | " +
      "peak RSS MB |",
  );
  console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
  for (const scenario of scenarios) {
    const base = best.get(`${scenario} deno.serve`);
    for (const kind of kinds) {
      const r = best.get(`${scenario} ${kind}`);
      if (r === undefined) continue; // the direct path serves queries only
      const ratio = (x: number, y: number) =>
        kind !== "deno.serve" ? ` (${(x / y).toFixed(2)}x)` : "";
      console.log(
        `| ${scenario} | ${kind} | ${r.cpuUsPerRequest.toFixed(0)}${
          ratio(r.cpuUsPerRequest, base.cpuUsPerRequest)
        } | ${r.rps.toFixed(1)}${ratio(r.rps, base.rps)} | ${r.p50.toFixed(2)} | ${
          r.p99.toFixed(2)
        } | ${(r.peakRss / 1e6).toFixed(0)} |`,
      );
    }
  }
}

/** Starts a server child of `kind`; its process, port and folder. */
async function startChild(kind: Kind) {
  let port = 0;
  let dir = "";
  let listening!: () => void;
  const ready = new Promise<void>((r) => (listening = r));
  const srv = child(["server", kind], (line) => {
    if (line.startsWith("PORT ")) port = Number(line.slice(5));
    if (line.startsWith("DIR ")) (dir = line.slice(4)), listening();
  });
  await ready;
  return {
    kind,
    pid: srv.process.pid,
    port,
    async stop() {
      srv.process.kill("SIGKILL");
      await srv.process.status;
      await srv.pump;
      if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * `ab [blocks=12] [requests=500] [warmup=2000] [scenario=query]`: `GET /query` (or the form
 * `POST /query` of `query_post`) on node:http with and without the direct path, both servers started once and warmed, then measured in alternating blocks
 * of spaced requests (`SPACING_MS`, default 2) on one keep-alive connection each: load that
 * drifts during the run falls on both alike. Prints each one's server CPU per request
 * (median and range of the blocks) and the ratio of the medians.
 */
async function alternate(
  blocks: number,
  perBlock: number,
  warmup: number,
  scenario: Scenario,
) {
  const spacing = Deno.env.get("SPACING_MS") === undefined ? 2 : SPACING_MS;
  const servers: Awaited<ReturnType<typeof startChild>>[] = [];
  for (const kind of ["node:http", "node:http+direct"] as const) {
    servers.push(await startChild(kind));
  }
  try {
    const conns = await Promise.all(servers.map(async (s) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
      return { conn, reader: new AnswerReader(conn) };
    }));
    let n = 0;
    const ask = async (i: number) => {
      const bytes = requestBytes(scenario, n++);
      for (let at = 0; at < bytes.length;) at += await conns[i].conn.write(bytes.subarray(at));
      const status = await conns[i].reader.read();
      if (status !== 200) throw new Error(`${servers[i].kind}: HTTP ${status}`);
    };
    for (let k = 0; k < warmup; k++) for (let i = 0; i < servers.length; i++) await ask(i);
    const perRequest: number[][] = servers.map(() => []);
    for (let b = 0; b < blocks; b++) {
      const order = b % 2 === 0 ? [0, 1] : [1, 0];
      for (const i of order) {
        const before = await cpuSecondsOf(servers[i].pid);
        for (let k = 0; k < perBlock; k++) {
          await ask(i);
          if (spacing > 0) await new Promise((r) => setTimeout(r, spacing));
        }
        perRequest[i].push((await cpuSecondsOf(servers[i].pid) - before) * 1e6 / perBlock);
      }
    }
    for (const { conn } of conns) conn.close();
    const load = dec.decode(
      (await new Deno.Command("cat", { args: ["/proc/loadavg"] }).output()).stdout,
    ).trim();
    console.log(
      `${scenario}, ${blocks} alternating blocks of ${perBlock} requests spaced ${spacing} ms ` +
        `after ${warmup} warm-up requests each; load ${load}`,
    );
    const medians = perRequest.map((xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]);
    for (const [i, s] of servers.entries()) {
      const xs = perRequest[i];
      console.log(
        `${s.kind.padEnd(18)} server CPU µs/request: median ${medians[i].toFixed(0)}, ` +
          `range ${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}`,
      );
    }
    console.log(`direct / bridge: ${(medians[1] / medians[0]).toFixed(2)}x`);
  } finally {
    for (const s of servers) await s.stop();
  }
}

const [mode, ...rest] = Deno.args;
if (mode === "server") await server(rest[0] as Kind);
else if (mode === "ab") {
  const scenario = (rest[3] ?? "query") as Scenario;
  if (!DIRECT_SCENARIOS.includes(scenario)) throw new Error(`ab: use ${DIRECT_SCENARIOS}`);
  await alternate(Number(rest[0] ?? 12), Number(rest[1] ?? 500), Number(rest[2] ?? 2000), scenario);
} else if (mode === "load") {
  await load(Number(rest[0]), rest[1] as Scenario, Number(rest[2]), Number(rest[3]));
} else if (mode === "ingest") await ingestChunked(Number(rest[0]));
else await main();
