/**
 * One request must not take a real server down or stall it (security issue #12), checked on
 * `epochnexus serve` processes with V8's heap capped at 256 MB (DENO_V8_FLAGS), so an answer
 * that would materialize gigabytes kills the process unless the memory budget stops it:
 *
 * - a GROUP BY time(1s) grid of ten million buckets, and time(1ns) over 10,000 s, with the
 *   bucket limit off, end in the memory budget's error; the process answers /ping afterwards;
 * - a 10 MB query string is refused (413) without stalling other requests;
 * - nesting 1,000 parentheses deep is a 400 parse error naming the place;
 * - a holt_winters fit over 10,000 points lets /ping through while it runs, and SIGTERM ends
 *   the process during it.
 */
import { equal, match, ok } from "node:assert/strict";
import { query, type ServerProcess, startServer, writeLines } from "../_server.ts";

const HEAP_CAP = { DENO_V8_FLAGS: "--max-old-space-size=256" };

/** The slowest of `n` /ping round trips, in ms, each bounded by a 30 s timeout. */
async function slowestPing(url: string, n: number): Promise<number> {
  let worst = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(30_000) });
    await r.body?.cancel();
    equal(r.status, 204);
    worst = Math.max(worst, performance.now() - t0);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return worst;
}

/**
 * The longest a /ping may wait behind a request that must not stall the server: 2 s, or ten
 * times the slowest of five pings with nothing else running where the machine is so loaded
 * that an idle server's pings already take hundreds of ms (a stall is many seconds).
 */
async function pingLimit(url: string): Promise<number> {
  return Math.max(2_000, 10 * await slowestPing(url, 5));
}

function alive(server: ServerProcess): Promise<boolean> {
  return Promise.race([
    server.process.status.then(() => false),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 200)),
  ]);
}

Deno.test("a ten-million-bucket answer ends in the memory budget's error, not the process", async () => {
  const server = await startServer({
    env: {
      ...HEAP_CAP,
      EPOCHNEXUS_MAX_SELECT_BUCKETS: "0", // the budget alone must hold
      EPOCHNEXUS_MAX_QUERY_MEMORY_BYTES: "64MiB",
    },
  });
  try {
    await query(server.url, "CREATE DATABASE d");
    equal((await writeLines(server.url, "d", "m v=1 1000000000")).status, 204);
    for (
      const q of [
        "SELECT mean(v) FROM m WHERE time >= 0s AND time < 10000000s GROUP BY time(1s)",
        "SELECT count(v) FROM m WHERE time >= 0s AND time < 10000s GROUP BY time(1ns)",
      ]
    ) {
      const t0 = performance.now();
      const r = await query(server.url, q, { db: "d" });
      const seconds = (performance.now() - t0) / 1000;
      match(
        r.results[0].error ?? JSON.stringify(r).slice(0, 200),
        /^query memory budget exceeded: SELECT .* needs more than 64 MiB \(max_query_memory_bytes = 67108864\)/,
      );
      ok(seconds < 60, `answered in ${seconds.toFixed(1)} s`);
      ok(await alive(server), `the server died:\n${server.logs().slice(-2000)}`);
      ok(await slowestPing(server.url, 3) < 30_000);
    }
    // The bucket limit is the first line of defence by default; here it is off and the server
    // still answers an ordinary query.
    const fine = await query(server.url, "SELECT count(v) FROM m", { db: "d" });
    equal(fine.results[0].series[0].values[0][1], 1);
  } finally {
    await server.stop();
  }
});

Deno.test("a 10 MB query is refused without stalling other requests; deep nesting is a 400", async () => {
  const server = await startServer({ env: HEAP_CAP });
  try {
    await query(server.url, "CREATE DATABASE d");
    const limit = await pingLimit(server.url);
    const huge = "SELECT v FROM m WHERE " + "v = 1 AND ".repeat(1_000_000) + "v = 1";
    const body = new URLSearchParams({ q: huge, db: "d" }).toString();
    const pending = fetch(`${server.url}/query`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body,
    }).then(async (r) => ({ status: r.status, text: await r.text() }));
    const worst = await slowestPing(server.url, 10);
    const answer = await pending;
    equal(answer.status, 413, answer.text.slice(0, 300));
    // Refused from its Content-Length (3 x 524288 + 65536), not read, decoded and re-encoded.
    match(
      answer.text,
      /query is too long: the form body is over 1638400 bytes, .*max_query_bytes \(524288\)/,
    );
    ok(worst < limit, `a /ping waited ${worst.toFixed(0)} ms behind the 10 MB query (${limit})`);

    const deep = await fetch(
      `${server.url}/query?db=d&q=${
        encodeURIComponent("SELECT v FROM m WHERE " + "(".repeat(1000) + "v = 1" + ")".repeat(1000))
      }`,
    );
    equal(deep.status, 400);
    equal(
      (await deep.json()).error,
      "error parsing query: expression nested too deeply (more than 200 levels) at line 1, char 223",
    );
  } finally {
    await server.stop();
  }
});

Deno.test("a holt_winters fit over 10,000 points lets other requests and SIGTERM through", async () => {
  const server = await startServer({ env: HEAP_CAP });
  let stopped = false;
  try {
    await query(server.url, "CREATE DATABASE d");
    const lines = [];
    for (let i = 0; i < 10_000; i++) {
      const v = Math.sin(i / 10) * 10 + i * 0.01 + ((i * 7919) % 13) / 10;
      lines.push(`m v=${v.toFixed(3)} ${i + 1}`);
    }
    equal((await writeLines(server.url, "d", lines.join("\n"), "&precision=s")).status, 204);
    const limit = await pingLimit(server.url);
    const q =
      "SELECT holt_winters(mean(v), 10, 0) FROM m WHERE time >= 1s AND time <= 10001s GROUP BY time(1s)";
    let done = false;
    const fit = query(server.url, q, { db: "d" }).catch((e) => e).finally(() => (done = true));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const worst = await slowestPing(server.url, 5);
    ok(!done, "the fit ended before the pings: the test needs it running");
    ok(
      worst < limit,
      `a /ping waited ${worst.toFixed(0)} ms behind the holt_winters fit (${limit})`,
    );
    // SIGTERM is handled during the fit: the process exits after the 3 s grace period.
    const t0 = performance.now();
    server.process.kill("SIGTERM");
    await server.process.status;
    stopped = true;
    const seconds = (performance.now() - t0) / 1000;
    ok(!done || (await fit) instanceof Error, "the fit finished before SIGTERM was handled");
    ok(seconds < 15, `SIGTERM took ${seconds.toFixed(1)} s to stop the server`);
    await fit;
  } finally {
    if (!stopped) await server.stop();
    else await server.kill9();
  }
});
