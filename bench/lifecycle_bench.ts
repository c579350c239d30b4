/**
 * Figures of the data lifecycle on a real server process:
 *
 * 1. export: `runExport` (as `epochnexus export` runs it) of the whole data set as line protocol,
 *    values/s and MB/s of output;
 * 2. backup and restore: `runBackup` of the node (first full, then incremental with nothing
 *    changed), `runRestore` into an empty node, MB/s of segment bytes;
 * 3. the cost on ingest of continuous queries and alert rules: points/s written by four
 *    writers for a fixed time with no jobs, with 10 CQs (1 s buckets, RESAMPLE FOR 10 s) and 10
 *    alert rules (every 1 s) reading the measurement being written, and with no jobs again;
 * 4. notification latency: a write that makes a rule's condition true (for: 0s, every: 1s) until
 *    Prometheus Alertmanager lists the alert as active (its API v2), five times.
 *
 *   deno task bench:lifecycle          VALUES=5000000 (values in the data set, 10 a line)
 *   INGEST_SECONDS=15 (each ingest phase)
 *   PHASES=data,jobs,alerts (which parts run: data = export, backup, restore)
 *   CPU_PROF_DIR=DIR (the servers run with --cpu-prof into DIR; run the bench itself with
 *   `deno run --cpu-prof` for the client side of export, backup and restore)
 * @module
 */
import { runExport } from "../src/cli/export_command.ts";
import { runBackup } from "../src/cli/backup_command.ts";
import { runRestore } from "../src/cli/restore_command.ts";
import { query, type ServerProcess, startServer } from "../tests/_server.ts";
import { startAlertmanager } from "../tests/_alertmanager.ts";
import { loadAverage } from "./peers/systems.ts";

const VALUES = Number(Deno.env.get("VALUES") ?? "5000000");
const INGEST_SECONDS = Number(Deno.env.get("INGEST_SECONDS") ?? "15");
const PHASES = new Set((Deno.env.get("PHASES") ?? "data,jobs,alerts").split(","));
const CPU_PROF_DIR = Deno.env.get("CPU_PROF_DIR");
const SERVER_FLAGS = CPU_PROF_DIR ? ["--cpu-prof", `--cpu-prof-dir=${CPU_PROF_DIR}`] : [];
const LINES_PER_BATCH = 5000;
const T0_MS = 1_700_000_000_000;
const ENV = { EPOCHNEXUS_FLUSH_IDLE_MS: "2000" };
const quiet = () => {};

async function post(url: string, body: string): Promise<void> {
  const r = await fetch(url, { method: "POST", body });
  const text = await r.text();
  if (!r.ok) throw new Error(`POST ${url} answered ${r.status}: ${text.slice(0, 300)}`);
}

/** Line `i` of the data set: 100 hosts, 10 fields, a line per host every 10 s. */
function line(i: number): string {
  const host = i % 100;
  const t = T0_MS + Math.floor(i / 100) * 10_000;
  let fields = "";
  for (let f = 0; f < 10; f++) fields += `${f ? "," : ""}f${f}=${(i * 7 + f * 13) % 1000}.5`;
  return `cpu,host=h${host},rack=r${host % 10} ${fields} ${t}`;
}

async function load(url: string): Promise<void> {
  const lines = VALUES / 10;
  for (let start = 0; start < lines; start += LINES_PER_BATCH) {
    const batch: string[] = [];
    for (let i = start; i < Math.min(lines, start + LINES_PER_BATCH); i++) batch.push(line(i));
    await post(`${url}/write?db=bench&precision=ms`, batch.join("\n"));
  }
}

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) total += await folderBytes(path);
    else if (e.isFile) total += (await Deno.stat(path)).size;
  }
  return total;
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(1);

async function exportAndBackup(server: ServerProcess): Promise<void> {
  const scratch = await Deno.makeTempDir({ prefix: "epochnexus-lifecycle-bench-" });
  try {
    const exported = await runExport({
      url: server.url,
      db: "bench",
      format: "lp",
      out: `${scratch}/bench.lp`,
      progress: false,
      print: quiet,
    });
    console.log(
      `export lp: ${exported.values} values, ${mb(exported.bytes)} MB in ` +
        `${exported.seconds.toFixed(2)} s: ${
          (exported.values / exported.seconds / 1e6).toFixed(2)
        }` +
        ` M values/s, ${mb(exported.bytes / exported.seconds)} MB/s`,
    );
    const full = await runBackup({
      url: server.url,
      out: `${scratch}/backup`,
      progress: false,
      print: quiet,
    });
    const bytes = full.receivedBytes + full.linkedBytes;
    console.log(
      `backup (full): ${mb(full.receivedBytes)} MB received in ${full.seconds.toFixed(2)} s: ` +
        `${mb(full.receivedBytes / full.seconds)} MB/s, ` +
        `${(VALUES / full.seconds / 1e6).toFixed(2)} M values/s (folder ${
          mb(await folderBytes(`${scratch}/backup`))
        } MB)`,
    );
    const again = await runBackup({
      url: server.url,
      out: `${scratch}/backup`,
      progress: false,
      print: quiet,
    });
    console.log(
      `backup (incremental, nothing new): ${mb(again.receivedBytes)} MB received, ` +
        `${mb(again.linkedBytes)} MB linked, ${again.seconds.toFixed(2)} s`,
    );
    // The first full backup's time holds the flush of what was still in memory; a second one
    // into an empty folder is the transfer alone (barrier, stream, checks, fsyncs).
    const flushed = await runBackup({
      url: server.url,
      out: `${scratch}/backup-again`,
      progress: false,
      print: quiet,
    });
    console.log(
      `backup (full, nothing left to flush): ${mb(flushed.receivedBytes)} MB received in ` +
        `${flushed.seconds.toFixed(2)} s: ${mb(flushed.receivedBytes / flushed.seconds)} MB/s, ` +
        `${(VALUES / flushed.seconds / 1e6).toFixed(2)} M values/s`,
    );
    const target = await startServer({ env: ENV, denoFlags: SERVER_FLAGS });
    try {
      const restored = await runRestore({
        url: target.url,
        from: `${scratch}/backup`,
        progress: false,
        print: quiet,
      });
      console.log(
        `restore into an empty node: ${restored.values} values, ${mb(restored.bytes)} MB of ` +
          `segments in ${restored.seconds.toFixed(2)} s: ${
            mb(restored.bytes / restored.seconds)
          } MB/s, ` +
          `${(restored.values / restored.seconds / 1e6).toFixed(2)} M values/s (backup ${
            mb(bytes)
          } MB)`,
      );
    } finally {
      await target.stop();
    }
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
}

/** Points/s four writers reach in INGEST_SECONDS, writing "now" into `db`. */
async function ingestRate(url: string, db: string): Promise<number> {
  const until = Date.now() + INGEST_SECONDS * 1000;
  let points = 0;
  const writer = async (w: number) => {
    for (let round = 0; round < 1_000_000 && Date.now() < until; round++) {
      const now = Date.now();
      const lines: string[] = [];
      for (let k = 0; k < 1000; k++) {
        lines.push(`load,host=w${w}h${k % 50} v=${k}i ${now}${String(k).padStart(6, "0")}`);
      }
      await post(`${url}/write?db=${db}`, lines.join("\n"));
      points += lines.length;
    }
  };
  await Promise.all([0, 1, 2, 3].map(writer));
  return points / INGEST_SECONDS;
}

async function jobsCost(server: ServerProcess): Promise<void> {
  const phase = async (db: string, jobs: boolean) => {
    await query(server.url, `CREATE DATABASE ${db}`);
    if (jobs) {
      for (let i = 0; i < 10; i++) {
        await query(
          server.url,
          `CREATE CONTINUOUS QUERY cq${i} ON ${db} RESAMPLE EVERY 1s FOR 10s BEGIN ` +
            `SELECT mean(v), max(v) INTO load_1s_${i} FROM load GROUP BY time(1s), host END`,
        );
        const r = await fetch(`${server.url}/api/v1/alert-rules/${db}_rule${i}`, {
          method: "PUT",
          body: JSON.stringify({
            database: db,
            query: "SELECT max(v) AS v FROM load WHERE time > now() - 10s GROUP BY host",
            condition: `v > ${2000 + i}`,
            every: "1s",
          }),
        });
        await r.body?.cancel();
      }
    }
    const rate = await ingestRate(server.url, db);
    console.log(
      `ingest ${jobs ? "with 10 CQs + 10 alert rules" : "with no jobs"}: ${
        Math.round(rate)
      } points/s`,
    );
    if (jobs) {
      // What one round of the schedule costs: the last run of each CQ and evaluation of each rule.
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      const cqMs = [...metrics.matchAll(/epochnexus_cq_last_run_duration_seconds\{[^}]*\} (\S+)/g)]
        .reduce((n, m) => n + Number(m[1]) * 1000, 0);
      const rules = (await (await fetch(`${server.url}/api/v1/alerts`)).json()).rules;
      const ruleMs = rules.reduce(
        (n: number, r: { evaluationMs: number }) => n + r.evaluationMs,
        0,
      );
      console.log(
        `one round of the schedule: 10 CQ runs ${cqMs.toFixed(0)} ms, 10 rule evaluations ` +
          `${ruleMs} ms (every second, on the metadata leader)`,
      );
      for (let i = 0; i < 10; i++) {
        await query(server.url, `DROP CONTINUOUS QUERY cq${i} ON ${db}`);
        const r = await fetch(`${server.url}/api/v1/alert-rules/${db}_rule${i}`, {
          method: "DELETE",
        });
        await r.body?.cancel();
      }
    }
    return rate;
  };
  const a = await phase("plain1", false);
  const b = await phase("jobs1", true);
  const c = await phase("plain2", false);
  console.log(
    `cost of the jobs on ingest: ${(100 * (1 - b / ((a + c) / 2))).toFixed(1)} % fewer points/s`,
  );
}

async function notificationLatency(): Promise<void> {
  const am = await startAlertmanager(
    "route:\n  receiver: none\nreceivers:\n  - name: none\n",
  );
  const server = await startServer({
    env: {
      ...ENV,
      EPOCHNEXUS_ALERTMANAGER_URLS: am.url,
      EPOCHNEXUS_ALERT_RESEND_DELAY_MS: "60000",
    },
  });
  try {
    await query(server.url, "CREATE DATABASE alerts");
    const r = await fetch(`${server.url}/api/v1/alert-rules/Hot`, {
      method: "PUT",
      body: JSON.stringify({
        database: "alerts",
        query: "SELECT last(temp) AS temp FROM room WHERE time > now() - 1h GROUP BY room",
        condition: "temp > 30",
        for: "0s",
        every: "1s",
      }),
    });
    await r.body?.cancel();
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      await post(`${server.url}/write?db=alerts`, `room,room=r${i} temp=35`);
      const deadline = started + 30_000;
      for (;;) {
        const inAm = await (await fetch(`${am.url}/api/v2/alerts`)).json();
        if (inAm.some((a: { labels: { room: string } }) => a.labels.room === `r${i}`)) break;
        if (Date.now() > deadline) throw new Error(`alert r${i} never reached Alertmanager`);
        await new Promise((r) => setTimeout(r, 10));
      }
      latencies.push(Date.now() - started);
    }
    latencies.sort((a, b) => a - b);
    console.log(
      `condition written -> active in Alertmanager (for 0s, every 1s): ` +
        `${latencies.join(", ")} ms (median ${latencies[2]} ms)`,
    );
  } finally {
    await server.stop();
    await am.stop();
  }
}

console.log(`load average before: ${await loadAverage()}`);
const server = await startServer({ env: ENV, denoFlags: SERVER_FLAGS });
try {
  await query(server.url, "CREATE DATABASE bench");
  const loadStarted = Date.now();
  await load(server.url);
  console.log(`loaded ${VALUES} values in ${((Date.now() - loadStarted) / 1000).toFixed(1)} s`);
  if (PHASES.has("data")) await exportAndBackup(server);
  if (PHASES.has("jobs")) await jobsCost(server);
} finally {
  await server.stop();
}
if (PHASES.has("alerts")) await notificationLatency();
console.log(`load average after: ${await loadAverage()}`);
