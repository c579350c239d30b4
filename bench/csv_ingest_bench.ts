/**
 * CSV ingest, decoder alone (`decodeCsvStream`, bytes in memory to batches, 256 KiB chunks as
 * the HTTP body arrives) and whole (`POST /ingest` through the node's fetch handler into the
 * storage engine), on two bodies:
 *
 * - `square`: 10,000 points of `cpu` (time, measurement, host, region, count, up, usage), the
 *   data of ingest_formats_bench.ts;
 * - `ragged`: a 4-column header and 100,000 short rows of 1 to 3 cells (issue #12: csv-parse
 *   built an error object for each row whose width differed from the first's; every row here
 *   is refused by record number, so the POST answers 400 with them all).
 *
 * Each case: the best of `rounds` (3) rounds, a round repeating runs until they used 300 ms of
 * thread CPU (at most 50 runs; bounded on a slow old parser too). Prints CPU and wall ms per run
 * (on a shared machine wall time is mostly the wait for a core, so compare CPU) and the load
 * average. To compare with an older tree, copy this file into its bench/ and run both.
 *
 *   npx deno@2.9.6 run --allow-all bench/csv_ingest_bench.ts [rounds]
 * @module
 */
import process from "node:process";
import { decodeCsvStream } from "../src/ingest/mod.ts";
import { openIngestApp } from "./_ingest_app.ts";

const threadCpu = (process as unknown as {
  threadCpuUsage(previous?: { user: number; system: number }): { user: number; system: number };
}).threadCpuUsage;

const ROUNDS = Number(Deno.args[0] ?? 3);
const T0 = 1_700_000_000_000;
const defaultTime = { ms: T0, subMs: 0 };
const enc = new TextEncoder();

const N = 10_000;
const square = enc.encode(
  "time,measurement,host,region,count,up,usage\n" +
    Array.from(
      { length: N },
      (_, i) =>
        `${BigInt(T0 + i) * 1_000_000n + 123_456n},cpu,h${i % 100},r${i % 4},${i},` +
        `${i % 3 !== 0},${(i % 1000) / 8}`,
    ).join("\n") + "\n",
);
const RAGGED_ROWS = 100_000;
const SHORT_ROWS = ["c", "1,2", "cpu,a,1"];
const ragged = enc.encode(
  "time,measurement,host,v\n" +
    Array.from({ length: RAGGED_ROWS }, (_, i) => SHORT_ROWS[i % 3]).join("\n") + "\n",
);

function streamOf(bytes: Uint8Array, chunk = 256 * 1024): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.subarray(at, at += chunk));
    },
  });
}

/** Points and refused rows of a decode. */
async function decode(body: Uint8Array, tags: string[]): Promise<[number, number]> {
  let points = 0, errors = 0;
  for await (const b of decodeCsvStream(streamOf(body), { defaultTime, tags })) {
    points += b.points.length;
    errors += b.errors.length;
  }
  return [points, errors];
}

const { app, engine, dir } = await openIngestApp("epochnexus-bench-csv-", T0);
async function post(query: string, body: Uint8Array, status: number): Promise<void> {
  const r = await app(
    new Request(`http://node/ingest?${query}`, {
      method: "POST",
      headers: { "content-type": "text/csv" },
      body: body.slice(),
    }),
  );
  const text = await r.text();
  if (r.status !== status) throw new Error(`BUG: ${r.status} (expected ${status}): ${text}`);
}

const cases: [string, () => Promise<unknown>][] = [
  ["decode square 10k points", async () => {
    const [p] = await decode(square, ["host", "region"]);
    if (p !== N) throw new Error(`BUG: ${p} points`);
  }],
  ["decode ragged 100k rows", async () => {
    const [p, e] = await decode(ragged, ["host"]);
    if (p !== 0 || e !== RAGGED_ROWS) throw new Error(`BUG: ${p} points, ${e} errors`);
  }],
  ["POST /ingest square 10k points", () => post("tags=host,region", square, 200)],
  ["POST /ingest ragged 100k rows", () => post("tags=host", ragged, 400)],
];

/**
 * CPU and wall ms per run of `f`: runs repeated until they used `budgetMs` of CPU (the thread
 * CPU clock ticks in 10 ms), at most 50.
 */
async function perRun(f: () => Promise<unknown>, budgetMs = 300): Promise<[number, number]> {
  const t0 = performance.now(), c0 = threadCpu();
  let runs = 0, cpu = 0;
  while (runs < 50 && cpu < budgetMs) {
    await f();
    runs++;
    const c = threadCpu(c0);
    cpu = (c.user + c.system) / 1000;
  }
  return [cpu / runs, (performance.now() - t0) / runs];
}

const load = () => Deno.loadavg().map((l) => l.toFixed(2)).join(" ");
console.log(`csv ingest bench: best of ${ROUNDS} rounds, load average ${load()}`);
console.log("| case | CPU ms/run | wall ms/run | CPU µs/row |\n| --- | ---: | ---: | ---: |");
try {
  for (const [name, run] of cases) {
    await run(); // warm-up
    let cpu = Infinity, wall = Infinity;
    for (let r = 0; r < ROUNDS; r++) {
      const [c, w] = await perRun(run);
      cpu = Math.min(cpu, c);
      wall = Math.min(wall, w);
    }
    const rows = name.includes("ragged") ? RAGGED_ROWS : N;
    console.log(
      `| ${name} | ${cpu.toFixed(1)} | ${wall.toFixed(1)} | ${(cpu * 1000 / rows).toFixed(2)} |`,
    );
  }
} finally {
  await engine.close();
  await Deno.remove(dir, { recursive: true });
}
console.log(`load average at the end ${load()}`);
