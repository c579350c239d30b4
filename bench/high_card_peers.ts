/**
 * High cardinality against VictoriaMetrics, in one sitting: SERIES series of one float field
 * (`hc,host=host_<i>,region=<r> v=<x>`, POINTS points each, 10 s apart) written as the same
 * line protocol to an EpochNexus server and to VictoriaMetrics (one after the other, each alone),
 * each settled its own way (peers/systems.ts). Then, interleaved, RUNS times each:
 *
 * - group: a count per series over every series. EpochNexus:
 *   `SELECT count(v) FROM hc WHERE time >= T0 AND time < T0 + 1h GROUP BY host`;
 *   VictoriaMetrics (instant query at T0 + 1h - 1 ms, so its window (t - 1h, t] holds the same
 *   points): `count_over_time(hc_v[1h])`. Both answer SERIES series of POINTS.
 * - total: one count over every series: `SELECT count(v) FROM hc WHERE <same time>` and
 *   `sum(count_over_time(hc_v[1h]))`.
 *
 * Each answer is checked (series returned, the sum of the counts), so both did the same work.
 * Memory: each process's resident set (VmRSS) after settling and after the queries, and its
 * peak (VmHWM), per series; the RSS of the fresh, empty process is printed beside it.
 *
 * Then EpochNexus is stopped (SIGTERM) and started again on its folder, twice: the time from the
 * spawn to `/ping`, and to the first complete `group` answer asked at once, then (second start)
 * asked once the storage warm-up has ended; against the same query warm.
 *
 *   SERIES=100000 POINTS=1 RUNS=5 deno run -A bench/high_card_peers.ts
 *
 * `BASELINE=<dir>` also runs the EpochNexus whose code is in `dir` (another commit, from `git
 * archive`, its `deno install` done) as "EpochNexus baseline", in the same sitting, restarts
 * included.
 * @module
 */
import { startServer } from "../tests/_server.ts";
import {
  DB,
  loadAverage,
  processStats,
  runStamp,
  startEpochNexus,
  startVictoriaMetrics,
  type System,
} from "./peers/systems.ts";

const SERIES = Number(Deno.env.get("SERIES") ?? "100000");
const POINTS = Number(Deno.env.get("POINTS") ?? "1");
const RUNS = Number(Deno.env.get("RUNS") ?? "5");
const SYSTEMS = (Deno.env.get("SYSTEMS") ?? "epochnexus,victoriametrics").split(",");
const BASELINE = Deno.env.get("BASELINE");
if (BASELINE !== undefined) SYSTEMS.push("baseline");
const T0 = 1672531200; // 2023-01-01T00:00:00Z, seconds
const iso = (s: number) => new Date(s * 1000).toISOString();
/**
 * The server runs with the default query memory budget (256 MiB), which a GROUP BY over 1M
 * series fits since its states are given back as its rows are made (coordinator.ts finish);
 * main before that needed `EPOCHNEXUS_MAX_QUERY_MEMORY_BYTES=0` (passed on when set) past
 * ~500k series. VictoriaMetrics' series limit is raised below.
 */
const BUDGET = Deno.env.get("EPOCHNEXUS_MAX_QUERY_MEMORY_BYTES");
const SERVER_ENV: Record<string, string> = BUDGET === undefined
  ? {}
  : { EPOCHNEXUS_MAX_QUERY_MEMORY_BYTES: BUDGET };
const WHERE = `time >= '${iso(T0)}' AND time < '${iso(T0 + 3600)}'`;

async function memory(pid: number): Promise<{ rssMiB: number; hwmMiB: number }> {
  const out = await new Deno.Command("cat", { args: [`/proc/${pid}/status`] }).output();
  const status = new TextDecoder().decode(out.stdout);
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  return { rssMiB: kb("VmRSS") / 1024, hwmMiB: kb("VmHWM") / 1024 };
}

function* bodies(): Generator<Uint8Array> {
  const encoder = new TextEncoder();
  for (let p = 0; p < POINTS; p++) {
    for (let from = 0; from < SERIES; from += 5000) {
      let text = "";
      for (let i = from; i < Math.min(SERIES, from + 5000); i++) {
        text += `hc,host=host_${i},region=r${i % 9} v=${(i % 1000) + p / 8} ${T0 + p * 10}\n`;
      }
      yield encoder.encode(text);
    }
  }
}

/** Series returned and the sum of their counts. */
interface Answer {
  series: number;
  sum: number;
}

async function influxql(url: string, q: string): Promise<Answer> {
  const r = await fetch(`${url}/query?${new URLSearchParams({ db: DB, q })}`);
  const body = await r.json();
  if (!r.ok || body.results?.[0]?.error) {
    throw new Error(`${q}: ${r.status} ${JSON.stringify(body).slice(0, 300)}`);
  }
  const series: { values: [string, number][] }[] = body.results?.[0]?.series ?? [];
  let sum = 0;
  for (const s of series) for (const row of s.values) sum += row[1];
  return { series: series.length, sum };
}

async function promql(url: string, query: string): Promise<Answer> {
  const params = new URLSearchParams({ query, time: String(T0 + 3600 - 0.001), nocache: "1" });
  const r = await fetch(`${url}/api/v1/query?${params}`);
  const body = await r.json();
  if (!r.ok || body.status !== "success") {
    throw new Error(`${query}: ${r.status} ${JSON.stringify(body).slice(0, 300)}`);
  }
  const result: { value: [number, string] }[] = body.data.result;
  let sum = 0;
  for (const s of result) sum += Number(s.value[1]);
  return { series: result.length, sum };
}

const QUERIES = {
  group: {
    en: `SELECT count(v) FROM hc WHERE ${WHERE} GROUP BY host`,
    vm: "count_over_time(hc_v[1h])",
    expect: { series: SERIES, sum: SERIES * POINTS },
  },
  total: {
    en: `SELECT count(v) FROM hc WHERE ${WHERE}`,
    vm: "sum(count_over_time(hc_v[1h]))",
    expect: { series: 1, sum: SERIES * POINTS },
  },
} as const;
type QueryName = keyof typeof QUERIES;

function ask(system: System, name: QueryName): Promise<Answer> {
  const q = QUERIES[name];
  return system.name.startsWith("Victoria") ? promql(system.url, q.vm) : influxql(system.url, q.en);
}

function check(system: string, name: QueryName, got: Answer): void {
  const want = QUERIES[name].expect;
  if (got.series !== want.series || got.sum !== want.sum) {
    throw new Error(`${system} ${name}: ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  }
}

interface Row {
  system: System;
  emptyRssMiB: number;
  writeSeconds: number;
  settled: string;
  settledRssMiB: number;
  times: Record<QueryName, number[]>;
  /** The server's CPU (user + system, 10 ms ticks) per run: less load-bound than the times. */
  cpu: Record<QueryName, number[]>;
  endRssMiB: number;
  hwmMiB: number;
}

/**
 * EpochNexus started again on its folder: spawn to `/ping`, then (after the storage warm-up
 * ended, when `waitForWarmUp`: every `opened storage` log line has its `warmed storage`) the
 * first complete `group` answer, and three more.
 */
async function restart(
  ours: Row,
  warmMs: number,
  waitForWarmUp: boolean,
  root?: string,
): Promise<string> {
  const spawned = performance.now();
  const server = await startServer({
    dataDir: ours.system.dataDir,
    root,
    env: {
      EPOCHNEXUS_MAX_SERIES_PER_DATABASE: "0",
      EPOCHNEXUS_MAX_VALUES_PER_TAG: "0",
      ...SERVER_ENV,
    },
    timeoutMs: 120_000,
  });
  try {
    const pinged = performance.now();
    let warmUp = "not waited for";
    if (waitForWarmUp) {
      const count = (re: RegExp) => (server.logs().match(re) ?? []).length;
      for (let i = 0; i < 6000; i++) {
        if (count(/warmed storage/g) >= count(/opened storage/g)) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const ms = [...server.logs().matchAll(/warmed storage[^\n]* ms=(\d+)/g)].map((m) => +m[1]);
      warmUp = `ended ${((performance.now() - pinged) / 1000).toFixed(2)} s after /ping ` +
        `(${ms.length} engines, longest ${Math.max(0, ...ms)} ms)`;
    }
    const cpu = async () => (await processStats(server.process.pid)).cpuSeconds * 1000;
    const askedCpu = await cpu();
    const asked = performance.now();
    // Partitions re-apply their log tail once they have a leader: ask until complete.
    let answer: Answer = { series: 0, sum: 0 };
    for (let tries = 0; tries < 600; tries++) {
      try {
        answer = await influxql(server.url, QUERIES.group.en);
        if (answer.series === SERIES && answer.sum === SERIES * POINTS) break;
      } catch { /* a partition without a leader yet */ }
      await new Promise((r) => setTimeout(r, 200));
    }
    const first = performance.now();
    const firstCpu = await cpu() - askedCpu;
    check("EpochNexus after restart", "group", answer);
    const again: number[] = [], againCpu: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now(), c0 = await cpu();
      check("EpochNexus after restart", "group", await influxql(server.url, QUERIES.group.en));
      again.push(performance.now() - t0);
      againCpu.push(await cpu() - c0);
    }
    return `${ours.system.name} restart${
      waitForWarmUp ? ", query after the warm-up" : ""
    }: spawn to ` +
      `/ping ${((pinged - spawned) / 1000).toFixed(2)} s; warm-up ${warmUp}; first complete ` +
      `group answer ${((first - asked) / 1000).toFixed(2)} s after asking (server CPU ${
        firstCpu.toFixed(0)
      } ms); then ${again.map((t) => t.toFixed(0)).join(" ")} ms (CPU ${
        againCpu.map((t) => t.toFixed(0)).join(" ")
      } ms; warm before the restart: ${warmMs.toFixed(0)} ms); load ${await loadAverage()}`;
  } finally {
    await server.stop();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const stamp = await runStamp();
const rows: Row[] = [];
try {
  for (const name of SYSTEMS) {
    const system = name === "victoriametrics"
      ? await startVictoriaMetrics(30_000, [
        "-search.maxUniqueTimeseries=10000000",
        // Its default (30 s) cut the 1M-series count_over_time at load 8.
        "-search.maxQueryDuration=300s",
      ])
      : name === "baseline"
      ? await startEpochNexus(SERVER_ENV, {
        root: BASELINE!.endsWith("/") ? BASELINE : `${BASELINE}/`,
        name: "EpochNexus baseline",
      })
      : await startEpochNexus(SERVER_ENV);
    const emptyRssMiB = (await memory(system.pid)).rssMiB;
    const t0 = performance.now();
    for (const body of bodies()) await system.write(body as Uint8Array<ArrayBuffer>);
    const writeSeconds = (performance.now() - t0) / 1000;
    const settled = await system.settle();
    console.error(`${system.name}: written in ${writeSeconds.toFixed(1)} s; ${settled}`);
    rows.push({
      system,
      emptyRssMiB,
      writeSeconds,
      settled,
      settledRssMiB: (await memory(system.pid)).rssMiB,
      times: { group: [], total: [] },
      cpu: { group: [], total: [] },
      endRssMiB: 0,
      hwmMiB: 0,
    });
  }
  for (const name of Object.keys(QUERIES) as QueryName[]) {
    for (const row of rows) check(row.system.name, name, await ask(row.system, name)); // warm-up
    for (let i = 0; i < RUNS; i++) {
      for (let k = 0; k < rows.length; k++) {
        const row = rows[(i + k) % rows.length];
        const c0 = (await processStats(row.system.pid)).cpuSeconds;
        const t0 = performance.now();
        check(row.system.name, name, await ask(row.system, name));
        row.times[name].push(performance.now() - t0);
        row.cpu[name].push(((await processStats(row.system.pid)).cpuSeconds - c0) * 1000);
      }
    }
  }
  for (const row of rows) {
    const m = await memory(row.system.pid);
    row.endRssMiB = m.rssMiB;
    row.hwmMiB = m.hwmMiB;
  }
  console.log(
    `${SERIES} series x ${POINTS} point(s), ${RUNS} runs; ${stamp}; load ${await loadAverage()}`,
  );
  const perSeries = (mib: number) => `${((mib * 2 ** 20) / SERIES).toFixed(0)} B`;
  for (const row of rows) {
    console.log(
      `${row.system.name}: written ${row.writeSeconds.toFixed(1)} s; RSS empty ${
        row.emptyRssMiB.toFixed(0)
      } MiB, settled ${row.settledRssMiB.toFixed(0)} MiB (${
        perSeries(row.settledRssMiB)
      }/series), after queries ${row.endRssMiB.toFixed(0)} MiB (${
        perSeries(row.endRssMiB)
      }/series), peak ${row.hwmMiB.toFixed(0)} MiB (${perSeries(row.hwmMiB)}/series); ` +
        `group median ${median(row.times.group).toFixed(0)} ms (${
          row.times.group.map((t) => t.toFixed(0)).join(" ")
        }), CPU median ${median(row.cpu.group).toFixed(0)} ms; total median ${
          median(row.times.total).toFixed(0)
        } ms (${row.times.total.map((t) => t.toFixed(0)).join(" ")}), CPU median ${
          median(row.cpu.total).toFixed(0)
        } ms`,
    );
  }
  const peer = rows.find((r) => r.system.name.startsWith("Victoria"));
  for (const a of peer === undefined ? [] : rows.filter((r) => r !== peer)) {
    const b = peer!;
    const ratio = (x: number, y: number) => `${(x / y).toFixed(2)}x`;
    console.log(
      `${a.system.name} / ${b.system.name}: RSS after queries ${
        ratio(a.endRssMiB, b.endRssMiB)
      }, peak ${ratio(a.hwmMiB, b.hwmMiB)}, group ${
        ratio(median(a.times.group), median(b.times.group))
      } (CPU ${ratio(median(a.cpu.group), median(b.cpu.group))}), total ${
        ratio(median(a.times.total), median(b.times.total))
      } (CPU ${ratio(median(a.cpu.total), median(b.cpu.total))}); RSS settled ${
        ratio(a.settledRssMiB, b.settledRssMiB)
      }`,
    );
  }
  for (const ours of rows.filter((r) => r.system.name.startsWith("EpochNexus"))) {
    if (Deno.env.get("RESTART") === "0") break;
    const warm = median(ours.times.group);
    await ours.system.stop();
    const root = ours.system.name === "EpochNexus" ? undefined : `${BASELINE!.replace(/\/$/, "")}/`;
    for (const waitForWarmUp of [false, true]) {
      console.log(await restart(ours, warm, waitForWarmUp, root));
    }
  }
} finally {
  for (const { system } of rows) {
    await system.stop().catch(() => {});
    await system.remove();
  }
}
