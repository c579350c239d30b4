/**
 * Server CPU spent on a query after its client left (issue #15). Two real `epochnexus serve`
 * processes, this checkout and a baseline checkout (`--base <dir>/`, e.g. `git archive main`
 * with node_modules), get the same few long series; each query is sent, its client aborts after
 * 100 ms, and the CPU the server then spends (utime + stime from /proc/<pid>/stat) over the next
 * 2.5 s and the time until SHOW QUERIES is empty are recorded. Runs alternate between the two.
 *
 * deno run -A bench/abandoned_query_bench.ts --base /tmp/main/ [--series 4 --points 250000 --runs 3]
 * @module
 */
import { type ServerProcess, startServer, writeLines } from "../tests/_server.ts";
import { arg } from "./_args.ts";

const BASE = arg("base", "");
const SERIES = Number(arg("series", "4"));
const POINTS = Number(arg("points", "250000"));
const RUNS = Number(arg("runs", "3"));
const TICKS_PER_SECOND = 100; // USER_HZ on Linux
const WATCH_MS = 2_500;

const QUERIES: Record<string, string> = {
  "group by time(10s)": "SELECT mean(v), max(u) FROM m GROUP BY time(10s), host",
  "median by host": "SELECT median(v) FROM m GROUP BY host",
  "derivative": "SELECT derivative(v) FROM m GROUP BY host",
  "raw CSV": "SELECT * FROM m WHERE host = 'h0'",
};

function cpuSeconds(pid: number): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

async function fill(server: ServerProcess): Promise<void> {
  await fetch(`${server.url}/query`, {
    method: "POST",
    body: new URLSearchParams({ q: "CREATE DATABASE db" }),
  }).then((r) => r.text());
  const step = Math.max(1, Math.floor(20_000 / SERIES));
  for (let p0 = 0; p0 < POINTS; p0 += step) {
    const lines: string[] = [];
    for (let s = 0; s < SERIES; s++) {
      for (let p = p0; p < Math.min(POINTS, p0 + step); p++) {
        lines.push(`m,host=h${s} v=${(p % 97) + 0.5},u=${p}i ${1_600_000_000 + p}`);
      }
    }
    const r = await writeLines(server.url, "db", lines.join("\n"), "&precision=s");
    if (r.status !== 204) throw new Error(r.body);
  }
}

async function running(server: ServerProcess): Promise<number> {
  const r = await fetch(`${server.url}/query?q=SHOW+QUERIES`);
  const j = await r.json();
  return (j.results[0].series?.[0].values?.length ?? 1) - 1; // SHOW QUERIES lists itself
}

/** One abandoned query: CPU seconds after the abort, and ms until the registry was empty. */
async function abandon(server: ServerProcess, q: string): Promise<[number, number]> {
  const pid = server.process.pid;
  const client = new AbortController();
  const headers = q.startsWith("SELECT *") ? { accept: "application/csv" } : undefined;
  const answer = fetch(`${server.url}/query?db=db&q=${encodeURIComponent(q)}`, {
    headers,
    signal: client.signal,
  }).then((r) => r.arrayBuffer()).catch(() => {});
  await new Promise((r) => setTimeout(r, 100));
  client.abort();
  await answer;
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  let emptyMs = NaN;
  for (let i = 0; i < 100 && performance.now() - t0 < WATCH_MS; i++) {
    if ((await running(server)) === 0) {
      emptyMs = performance.now() - t0;
      break;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  await new Promise((r) => setTimeout(r, Math.max(0, WATCH_MS - (performance.now() - t0))));
  return [cpuSeconds(pid) - cpu0, emptyMs];
}

const load = () => Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
const servers: [string, ServerProcess][] = [["branch", await startServer()]];
if (BASE) servers.push(["base", await startServer({ root: BASE })]);
try {
  for (const [, s] of servers) await fill(s);
  console.log(`${SERIES} series x ${POINTS} points; load ${load()}`);
  for (const [name, q] of Object.entries(QUERIES)) {
    const out: Record<string, string[]> = {};
    for (let run = 0; run < RUNS; run++) {
      for (const [label, s] of servers) {
        const [cpu, ms] = await abandon(s, q);
        (out[label] ??= []).push(`${cpu.toFixed(2)}s/${isNaN(ms) ? ">2500" : ms.toFixed(0)}ms`);
      }
    }
    for (const [label, runs] of Object.entries(out)) {
      console.log(
        `${name.padEnd(20)} ${label.padEnd(6)} cpu after abort/registry empty: ${runs.join("  ")}`,
      );
    }
    console.log(`  load ${load()}`);
  }
} finally {
  for (const [, s] of servers) await s.stop();
}
