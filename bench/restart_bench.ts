/**
 * Restart times of the real server process on a settled data folder, three ways:
 *
 * 1. warm: SIGTERM (a clean close), started again at once: the page cache holds the files;
 * 2. cold: `kill -9`, then the page cache dropped (`sync; echo 3 > /proc/sys/vm/drop_caches`,
 *    as root), then started: every file (the Deno binary and modules too) is read from disk;
 * 3. cold with a WAL to replay: more data written with idle flushing off, `kill -9` right after
 *    its last acknowledgement, page cache dropped, started: the WAL tail is replayed.
 *
 * Each start is timed from spawning the process to its first `/ping` answer (the whole start),
 * then to the first count that answers every value acknowledged (partitions re-apply their log
 * tail once they have a leader; the count is asked again until it is complete, at most 600 s).
 * Beside them, what the start logged, summed over all its partitions (restart_log.ts): a node
 * opens one storage engine per partition replica, each with its own `opened storage ... ms=`
 * line. When the page cache cannot be dropped (not root), the cold figures say so.
 *
 *   deno task bench:restart [--data cpu|series]
 *   HOURS=140 (cpu: 100 hosts x 10 fields every 10 s; 50.4M values)   SERIES=1000000 (series:
 *   that many series of one point each)
 * @module
 */
import { startServer } from "../tests/_server.ts";
import { epochNexusSettled, loadAverage, runStamp } from "./peers/systems.ts";
import { describeStartLog, type StartLogFigures, startLogFigures } from "./restart_log.ts";
import { cpuDataLines, HOURS } from "./storage_data.ts";

const DATA = Deno.args.includes("--data") ? Deno.args[Deno.args.indexOf("--data") + 1] : "cpu";
const SERIES = Number(Deno.env.get("SERIES") ?? "1000000");
const DB = "bench";
const T0_NS = 1_700_000_000_000_000_000n;
const ENV = {
  EPOCHNEXUS_FLUSH_IDLE_MS: "2000",
  EPOCHNEXUS_MAX_SERIES_PER_DATABASE: "0",
  EPOCHNEXUS_MAX_VALUES_PER_TAG: "0",
};

/** 503s answered (a partition without a leader in time) and sent again, as a client does. */
let retried = 0;

/** POSTs `body`; a 503 is sent again after its Retry-After (writes are idempotent), 10 times. */
async function post(url: string, body: string | URLSearchParams): Promise<void> {
  for (let attempt = 1;; attempt++) {
    const r = await fetch(url, { method: "POST", body });
    const text = await r.text();
    if (r.ok) return;
    if (r.status !== 503 || attempt >= 10) {
      throw new Error(`POST ${url} answered ${r.status} (try ${attempt}): ${text.slice(0, 300)}`);
    }
    retried++;
    const seconds = Math.min(5, Number(r.headers.get("retry-after") ?? "1") || 1);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  }
}

/** The data set's line protocol chunks (ns), and the WAL tail written before the last crash. */
function* mainChunks(): Generator<{ lines: string; valueCount: number }> {
  if (DATA === "cpu") {
    yield* cpuDataLines(5000);
    return;
  }
  for (let from = 0; from < SERIES; from += 5000) {
    const lines: string[] = [];
    for (let i = from; i < Math.min(SERIES, from + 5000); i++) {
      lines.push(`m,host=h${i % 1000},id=s${i} v=${i} ${T0_NS}`);
    }
    yield { lines: lines.join("\n"), valueCount: lines.length };
  }
}

/** Later points of existing series: one hour of cpu data, or 100,000 of the series again. */
function* tailChunks(): Generator<{ lines: string; valueCount: number }> {
  if (DATA === "cpu") {
    const shift = BigInt(Math.round(HOURS * 3600)) * 1_000_000_000n;
    let valuesLeft = 360 * 1000;
    for (const { lines, valueCount } of cpuDataLines(5000)) {
      if (valuesLeft <= 0) return;
      valuesLeft -= valueCount;
      const shifted = lines.split("\n").map((line) => {
        const at = line.lastIndexOf(" ");
        return `${line.slice(0, at)} ${BigInt(line.slice(at + 1)) + shift}`;
      });
      yield { lines: shifted.join("\n"), valueCount };
    }
    return;
  }
  for (let from = 0; from < Math.min(SERIES, 100_000); from += 5000) {
    const lines: string[] = [];
    for (let i = from; i < from + 5000 && i < SERIES; i++) {
      lines.push(`m,host=h${i % 1000},id=s${i} v=${-i} ${T0_NS + 1_000_000n}`);
    }
    yield { lines: lines.join("\n"), valueCount: lines.length };
  }
}

async function writeAll(
  url: string,
  chunks: Iterable<{ lines: string; valueCount: number }>,
): Promise<number> {
  let values = 0;
  for (const { lines, valueCount } of chunks) {
    await post(`${url}/write?db=${DB}&precision=ns`, lines);
    values += valueCount;
  }
  return values;
}

async function storedValues(url: string): Promise<number> {
  const q = DATA === "cpu" ? "SELECT count(*) FROM cpu" : "SELECT count(v) FROM m";
  const r = await fetch(`${url}/query?${new URLSearchParams({ db: DB, q })}`);
  const body = await r.json();
  const row: unknown[] = body.results?.[0]?.series?.[0]?.values?.[0] ?? [];
  return row.slice(1).reduce((a: number, v) => a + Number(v), 0);
}

/** sync, then drop the page cache (a shell: Deno wants --allow-all to write /proc itself). */
async function dropPageCache(): Promise<boolean> {
  const out = await new Deno.Command("sh", {
    args: ["-c", "sync && echo 3 > /proc/sys/vm/drop_caches"],
    stderr: "piped",
  }).output();
  if (!out.success) {
    console.error(`page cache not dropped: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return out.success;
}

type Server = Awaited<ReturnType<typeof startServer>>;

/** A start: seconds to its first /ping, to its first count answering every value, its log. */
interface Start {
  server: Server;
  pingSeconds: number;
  completeSeconds: number;
  log: StartLogFigures;
}

/**
 * Starts the server on `dataDir` and times it from the spawn: to its first /ping (the whole
 * start, Deno included), then to the first count that answers all `values` (a partition re-applies
 * its log tail once it has a leader, after the start); what the start logged, summed over every
 * partition.
 */
async function timedStart(
  dataDir: string,
  env: Record<string, string>,
  values?: number,
): Promise<Start> {
  const t0 = performance.now();
  const server = await startServer({ dataDir, env: { ...ENV, ...env }, timeoutMs: 600_000 });
  const pingSeconds = (performance.now() - t0) / 1000;
  let last = "not asked";
  while (values !== undefined) {
    try {
      const stored = await storedValues(server.url);
      if (stored === values) break;
      last = `${stored} values of ${values}`;
    } catch (error) {
      last = (error as Error).message;
    }
    if (performance.now() - t0 > 600_000) {
      await server.kill9();
      throw new Error(`no complete count within 600 s after the start; last: ${last}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const completeSeconds = (performance.now() - t0) / 1000;
  return { server, pingSeconds, completeSeconds, log: startLogFigures(server.logs()) };
}

function describe(label: string, start: Start): string {
  return `${label}: ${start.pingSeconds.toFixed(2)} s to /ping, ${
    start.completeSeconds.toFixed(2)
  } s to a complete count; ${describeStartLog(start.log)}`;
}

const dataDir = await Deno.makeTempDir({ prefix: "epochnexus-restart-" });
const results: string[] = [];
let server: Server | undefined;
try {
  ({ server } = await timedStart(dataDir, {}));
  await post(`${server.url}/query`, new URLSearchParams({ q: `CREATE DATABASE ${DB}` }));
  const t0 = performance.now();
  let values = await writeAll(server.url, mainChunks());
  console.error(
    `wrote ${values} values in ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s; ${await epochNexusSettled(
      server.url,
    )}`,
  );

  await server.stop();
  let start = await timedStart(dataDir, {}, values);
  server = start.server;
  results.push(describe("warm (SIGTERM, page cache kept)", start));

  await server.kill9();
  let dropped = await dropPageCache();
  start = await timedStart(dataDir, {}, values);
  server = start.server;
  results.push(
    describe(`cold (kill -9, ${dropped ? "page cache dropped" : "page cache NOT dropped"})`, start),
  );

  // The WAL tail: idle flushing off, so the tail stays in the log until the crash (the node
  // still flushes the partitions that hold its oldest log segment past 4 MiB of log: the
  // entries left to replay are printed).
  await server.stop();
  ({ server } = await timedStart(dataDir, { EPOCHNEXUS_FLUSH_IDLE_MS: "0" }));
  const tail = await writeAll(server.url, tailChunks());
  values += tail;
  await server.kill9();
  dropped = await dropPageCache();
  start = await timedStart(dataDir, { EPOCHNEXUS_FLUSH_IDLE_MS: "0" }, values);
  server = start.server;
  results.push(
    describe(
      `cold with ${tail} values written since (kill -9, ${
        dropped ? "page cache dropped" : "page cache NOT dropped"
      })`,
      start,
    ),
  );
  await server.stop();
  server = undefined;

  console.log(
    `restart bench, ${DATA}: ${values - tail} values settled in segments` +
      `${
        DATA === "cpu" ? ` (HOURS=${HOURS})` : ` (SERIES=${SERIES})`
      }; ${retried} writes answered 503 and sent again; load ${await loadAverage()}; ${await runStamp()}`,
  );
  for (const r of results) console.log(`  ${r}`);
} finally {
  await server?.kill9();
  await Deno.remove(dataDir, { recursive: true }).catch(() => {});
}
