/**
 * Ingest throughput over HTTPS beside plain HTTP, on real server processes (the node's
 * node:http server, src/runtime/http_server.ts): 4 clients each POST line-protocol bodies of
 * 5,000 points to /write on keep-alive connections; the same load on a plain node and on a node
 * with tls_cert/tls_key (a P-256 certificate made by openssl), alternating, best of the rounds.
 *
 *   deno run -A bench/tls_ingest.ts [bodies per client=40] [rounds=2]
 * @module
 */
import { startServer } from "../tests/_server.ts";
import { makeCertificates } from "../tests/auth/_certs.ts";

const BODIES = Number(Deno.args[0] ?? 40);
const ROUNDS = Number(Deno.args[1] ?? 2);
const CLIENTS = 4;
const POINTS = 5_000;

function body(client: number, n: number): string {
  const lines: string[] = [];
  const base = 1_700_000_000_000_000_000n + BigInt((client * BODIES + n) * POINTS);
  for (let i = 0; i < POINTS; i++) {
    lines.push(
      `cpu,host=h${i % 100},client=c${client} usage=${i * 0.5},idle=${i}i ${base + BigInt(i)}`,
    );
  }
  return lines.join("\n");
}

async function load(mode: "http" | "https", caPem: string, certFile: string, keyFile: string) {
  const env: Record<string, string> = { EPOCHNEXUS_DEFAULT_DATABASE: "bench" };
  if (mode === "https") {
    Object.assign(env, { EPOCHNEXUS_TLS_CERT: certFile, EPOCHNEXUS_TLS_KEY: keyFile });
  }
  const server = await startServer({ env, caPem: mode === "https" ? caPem : undefined });
  try {
    const bodies = Array.from(
      { length: CLIENTS },
      (_, c) => Array.from({ length: BODIES }, (_, n) => body(c, n)),
    );
    const bytes = bodies.flat().reduce((sum, b) => sum + b.length, 0);
    const started = performance.now();
    await Promise.all(bodies.map(async (mine) => {
      for (const b of mine) {
        const r = await server.fetch(`${server.url}/write?db=bench`, { method: "POST", body: b });
        if (r.status !== 204) throw new Error(`write: ${r.status} ${await r.text()}`);
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    return {
      pointsPerSecond: (CLIENTS * BODIES * POINTS) / seconds,
      mbPerSecond: bytes / 1e6 / seconds,
    };
  } finally {
    await server.stop();
  }
}

const certs = await makeCertificates();
const best = {
  http: { pointsPerSecond: 0, mbPerSecond: 0 },
  https: { pointsPerSecond: 0, mbPerSecond: 0 },
};
for (let round = 0; round < ROUNDS; round++) {
  const order: ("http" | "https")[] = round % 2 === 0 ? ["http", "https"] : ["https", "http"];
  for (const mode of order) {
    const r = await load(mode, certs.caPem, certs.certFile, certs.keyFile);
    console.log(
      `round ${round + 1} ${mode}: ${Math.round(r.pointsPerSecond)} points/s, ${
        r.mbPerSecond.toFixed(1)
      } MB/s`,
    );
    if (r.pointsPerSecond > best[mode].pointsPerSecond) best[mode] = r;
  }
}
await Deno.remove(certs.dir, { recursive: true });
const ratio = best.https.pointsPerSecond / best.http.pointsPerSecond;
console.log(
  `best: http ${Math.round(best.http.pointsPerSecond)} points/s (${
    best.http.mbPerSecond.toFixed(1)
  } MB/s), ` +
    `https ${Math.round(best.https.pointsPerSecond)} points/s (${
      best.https.mbPerSecond.toFixed(1)
    } MB/s), ` +
    `https/http = ${ratio.toFixed(2)}; ${CLIENTS} clients × ${BODIES} bodies × ${POINTS} points`,
);
