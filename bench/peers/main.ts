/**
 * `deno task bench:peers`: the same TSBS workload against EpochNexus, InfluxDB 1.6.7 and
 * VictoriaMetrics 1.79.5 on this machine, then one table with every metric for every system
 * and EpochNexus's ratio to each peer. Also writes a JSON result file.
 *
 * Each system is started and fed alone (the others idle), settles its own way (systems.ts:
 * flush and compaction, waited for on its own counters with a deadline), then its whole data
 * folder is measured (`du`). The queries then run interleaved across the systems (per query
 * type: each system's warm-up, then run i on every system before run i + 1, the order rotating),
 * so the load of a shared machine falls on all of them alike. Per type: median and p95 latency,
 * and the server's CPU per query (its process's user + system time over the runs / runs).
 * Every query type's answers are summed into a checksum; when two systems' checksums for a type
 * differ, the run fails (exit 1) naming the type, its first query and both checksums.
 *
 *   deno task bench:peers [--variant default|high-cardinality|out-of-order] [--hosts 100]
 *                         [--hours 12] [--writers 2] [--batch 5000] [--runs 10] [--warmup 1]
 *                         [--systems epochnexus,influxdb,victoriametrics] [--types a,b]
 *                         [--baseline DIR[,DIR...]] [--post] [--out FILE]
 *
 * `--post`: the InfluxQL queries go as form POSTs (`q` and `db` in the body, as TSBS's and many
 * clients' queries) rather than GETs.
 *
 * `--warmup N`: queries of each type each system answers before its measured runs (other
 * queries than the measured ones). EpochNexus runs on V8, which optimizes a code path after
 * hundreds of calls: with the default 1, a type's first hundred queries on a fresh server cost
 * about twice its steady state (single-groupby-1-1-1: 2.3 ms CPU/query over the first 100,
 * 0.7-0.9 after 700); a larger N measures the steady state of a long-running server.
 *
 * `--baseline DIR` adds another EpochNexus checkout (e.g. `git archive main` unpacked, with its
 * `deno install` done) as one more system, "EpochNexus (baseline)": before and after a change,
 * measured in one sitting. More folders, comma-separated, add more systems named by their
 * folder ("EpochNexus (rs_vA)"): variants of one change (the start task's V8 flags), all in one
 * sitting. `--types` keeps only the named query types.
 *
 * Peers missing from the machine are installed from Debian's packages first (needs root).
 * @module
 */
import { generateBatches, VARIANTS, type WorkloadOptions } from "./workload.ts";
import { ensurePeersInstalled } from "./install.ts";
import {
  checksumMismatches,
  influxChecksum,
  instances,
  promChecksum,
  QUERY_TYPES,
} from "./queries.ts";
import {
  DB,
  diskUsage,
  loadAverage,
  processStats,
  startEpochNexus,
  startInfluxDB,
  startVictoriaMetrics,
  type System,
} from "./systems.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && Deno.args[i + 1] ? Deno.args[i + 1] : fallback;
}

const variantName = flag("variant", "default");
if (!(variantName in VARIANTS)) {
  console.error(`unknown --variant ${variantName}: use ${Object.keys(VARIANTS).join(", ")}`);
  Deno.exit(2);
}
const variant: Partial<WorkloadOptions> = VARIANTS[variantName as keyof typeof VARIANTS];
const options = {
  variant: variantName,
  hosts: Number(flag("hosts", String(variant.hosts ?? 100))),
  hours: Number(flag("hours", String(variant.hours ?? 12))),
  shuffleWindow: variant.shuffleWindow ?? 0,
  writers: Number(flag("writers", "2")),
  batch: Number(flag("batch", "5000")),
  runs: Number(flag("runs", "10")),
  warmup: Number(flag("warmup", "1")),
  systems: flag("systems", "epochnexus,influxdb,victoriametrics").split(","),
  types: flag("types", QUERY_TYPES.map((t) => t.name).join(",")).split(","),
  baseline: flag("baseline", ""),
  post: Deno.args.includes("--post"),
  out: flag("out", "bench/results/peers.json"),
};
const unknownTypes = options.types.filter((n) => !QUERY_TYPES.some((t) => t.name === n));
if (unknownTypes.length > 0) {
  console.error(`unknown --types ${unknownTypes.join(",")}: use ${QUERY_TYPES.map((t) => t.name)}`);
  Deno.exit(2);
}
const types = QUERY_TYPES.filter((t) => options.types.includes(t.name));

interface Measured {
  system: string;
  ingestValuesPerSecond: number;
  /** What the system's settle waited for, and how long. */
  settled: string;
  /** Its whole data folder after settling (du: allocated blocks), and apparent sizes. */
  bytesPerValue: number;
  apparentBytesPerValue: number;
  /** VmHWM once settled (ingest alone), and at the end (ingest and every query). */
  ingestPeakRssMiB: number;
  peakRssMiB: number;
  /** CPU of ingest and settle. */
  cpuSecondsPerMillionValues: number;
  queries: Record<
    string,
    { medianMs: number; p95Ms: number; cpuMsPerQuery: number; checksum: number } | null
  >;
  /** Query types the system failed, with its first error (the others still run). */
  failed: Record<string, string>;
}

const STARTERS: Record<string, () => Promise<System>> = {
  epochnexus: () => startEpochNexus(),
  influxdb: startInfluxDB,
  victoriametrics: startVictoriaMetrics,
};
for (const [i, dir] of options.baseline.split(",").filter((d) => d !== "").entries()) {
  const root = dir.endsWith("/") ? dir : dir + "/";
  const key = i === 0 ? "baseline" : `baseline${i + 1}`;
  const name = i === 0 ? "EpochNexus (baseline)" : `EpochNexus (${root.split("/").at(-2)})`;
  STARTERS[key] = () => startEpochNexus({}, { root, name });
  if (!options.systems.includes(key)) options.systems.splice(1 + i, 0, key);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

async function runQuery(system: System, q: ReturnType<typeof instances>[number]) {
  if (system.name.startsWith("Victoria")) {
    if (!q.promql) return undefined;
    const params = new URLSearchParams({
      query: q.promql.query,
      start: String(q.promql.start),
      end: String(q.promql.end),
      step: q.promql.step,
      nocache: "1",
    });
    const r = await fetch(`${system.url}/api/v1/query_range?${params}`);
    const body = await r.json();
    if (!r.ok) throw new Error(`${system.name}: ${JSON.stringify(body).slice(0, 300)}`);
    return promChecksum(body);
  }
  const params = new URLSearchParams({ db: DB, q: q.influxql });
  const r = options.post
    ? await fetch(`${system.url}/query`, { method: "POST", body: params }) // a form body
    : await fetch(`${system.url}/query?${params}`);
  const body = await r.json();
  if (!r.ok || body.results?.[0]?.error) {
    throw new Error(`${system.name}: ${q.influxql}: ${JSON.stringify(body).slice(0, 300)}`);
  }
  return influxChecksum(body);
}

/** Starts a system, feeds it the workload alone and lets it settle. */
async function ingest(name: string, bodies: Uint8Array<ArrayBuffer>[], points: number) {
  const system = await STARTERS[name]();
  console.error(`${system.name}: ingesting ${points} points with ${options.writers} writers`);
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: options.writers }, async () => {
    while (next < bodies.length) await system.write(bodies[next++]);
  }));
  const seconds = (performance.now() - started) / 1000;
  const settled = await system.settle();
  console.error(`${system.name}: ${settled}`);
  const bytes = await diskUsage(system.dataPaths);
  const stats = await processStats(system.pid);
  const values = points * 10;
  const measured: Measured = {
    system: system.name,
    ingestValuesPerSecond: values / seconds,
    settled,
    bytesPerValue: bytes.allocated / values,
    apparentBytesPerValue: bytes.apparent / values,
    ingestPeakRssMiB: stats.peakRssMiB,
    peakRssMiB: stats.peakRssMiB,
    cpuSecondsPerMillionValues: stats.cpuSeconds / (values / 1e6),
    queries: {},
    failed: {},
  };
  return { system, measured };
}

/** Runs every query type on every system, interleaved (see the module's comment). */
async function runQueries(running: { system: System; measured: Measured }[]) {
  for (const type of types) {
    const list = instances(type, options.runs, options.hosts, options.hours, 7);
    const supported = running.map(({ system }) =>
      !system.name.startsWith("Victoria") || !!list[0].promql
    );
    const times = running.map(() => [] as number[]);
    const checksums = running.map(() => 0);
    const cpuBefore: number[] = [];
    const failed = running.map(() => false);
    // A system that fails a query (an error answer) is out of this type; the run goes on and
    // ends in failure.
    const attempt = async (s: number, q: (typeof list)[number]) => {
      try {
        return await runQuery(running[s].system, q);
      } catch (error) {
        failed[s] = true;
        running[s].measured.failed[type.name] = String(error).slice(0, 500);
        console.error(`FAILED ${type.name} on ${running[s].system.name}: ${error}`);
        return undefined;
      }
    };
    const warmups = options.warmup <= 1
      ? list.slice(0, 1)
      : instances(type, options.warmup, options.hosts, options.hours, 8);
    for (let s = 0; s < running.length; s++) {
      if (supported[s]) { for (const q of warmups) await attempt(s, q); }
      cpuBefore.push((await processStats(running[s].system.pid)).cpuSeconds);
    }
    for (let i = 0; i < list.length; i++) {
      for (let k = 0; k < running.length; k++) {
        const s = (i + k) % running.length;
        if (!supported[s] || failed[s]) continue;
        const t0 = performance.now();
        const sum = await attempt(s, list[i]);
        times[s].push(performance.now() - t0);
        checksums[s] += sum ?? 0;
      }
    }
    for (let s = 0; s < running.length; s++) {
      const cpu = (await processStats(running[s].system.pid)).cpuSeconds - cpuBefore[s];
      const sorted = times[s].sort((a, b) => a - b);
      running[s].measured.queries[type.name] = supported[s] && !failed[s]
        ? {
          medianMs: percentile(sorted, 0.5),
          p95Ms: percentile(sorted, 0.95),
          cpuMsPerQuery: (cpu * 1000) / list.length,
          checksum: checksums[s],
        }
        : null;
    }
    console.error(`queries: ${type.name} done`);
  }
}

await ensurePeersInstalled(options.systems.filter((s) => !s.startsWith("baseline")));
const { bodies, points } = generateBatches({
  hosts: options.hosts,
  hours: options.hours,
  batchLines: options.batch,
  shuffleWindow: options.shuffleWindow,
  seed: 1,
});
const running: { system: System; measured: Measured }[] = [];
try {
  for (const name of options.systems) running.push(await ingest(name, bodies, points));
  await runQueries(running);
  for (const r of running) r.measured.peakRssMiB = (await processStats(r.system.pid)).peakRssMiB;
} finally {
  for (const { system } of running) {
    await system.stop();
    await system.remove();
  }
}
const results = running.map((r) => r.measured);

const load = await loadAverage();
const ours = results.find((r) => r.system === "EpochNexus");
const fmt = (v: number) => v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
const rows: [string, (m: Measured) => number | undefined, "higher" | "lower"][] = [
  ["ingest values/s", (m) => m.ingestValuesPerSecond, "higher"],
  ["bytes/value on disk (du)", (m) => m.bytesPerValue, "lower"],
  ["bytes/value apparent", (m) => m.apparentBytesPerValue, "lower"],
  ["peak RSS MiB, ingest", (m) => m.ingestPeakRssMiB, "lower"],
  ["peak RSS MiB, whole run", (m) => m.peakRssMiB, "lower"],
  ["CPU s / 1M values (ingest)", (m) => m.cpuSecondsPerMillionValues, "lower"],
  ...types.flatMap((t) => [
    [`${t.name} median ms`, (m: Measured) => m.queries[t.name]?.medianMs, "lower"] as const,
    [`${t.name} p95 ms`, (m: Measured) => m.queries[t.name]?.p95Ms, "lower"] as const,
    [`${t.name} CPU ms/query`, (m: Measured) => m.queries[t.name]?.cpuMsPerQuery, "lower"] as const,
  ]),
] as [string, (m: Measured) => number | undefined, "higher" | "lower"][];
const peers = results.filter((r) => r !== ours);
const header = [
  "metric",
  ...results.map((r) => r.system),
  ...peers.map((p) => `EN vs ${p.system}`),
];
const table = rows.map(([label, get, better]) => {
  const cells = results.map((r) =>
    get(r) !== undefined
      ? fmt(get(r)!)
      : Object.keys(r.failed).some((t) => label.startsWith(t + " "))
      ? "FAILED"
      : "n/a"
  );
  const ratios = peers.map((p) => {
    const a = ours && get(ours), b = get(p);
    if (a === undefined || b === undefined || !a || !b) return "n/a";
    const ratio = better === "higher" ? a / b : b / a;
    return `${ratio.toFixed(2)}x ${ratio >= 1 ? "better" : "worse"}`;
  });
  return [label, ...cells, ...ratios];
});
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join(" | ");
console.log(
  `workload ${options.variant}: ${options.hosts} hosts x ${options.hours} h, ${points} points, ${
    points * 10
  } values, ${options.writers} writers, batches of ${options.batch}, ${options.runs} runs per ` +
    `query type after ${options.warmup} warm-up queries; load average ${load}`,
);
console.log(line(header));
console.log(widths.map((w) => "-".repeat(w)).join("-|-"));
for (const row of table) console.log(line(row));
console.log("\nsettled (each system's own condition, after ingest):");
for (const r of results) console.log(`  ${r.system}: ${r.settled}`);
console.log("\nchecksums (sum of returned values per query type):");
for (const t of types) {
  console.log(
    `  ${t.name}: ${
      results.map((r) => `${r.system}=${r.queries[t.name]?.checksum.toFixed(4) ?? "n/a"}`).join(
        "  ",
      )
    }`,
  );
}
await Deno.mkdir(options.out.slice(0, options.out.lastIndexOf("/")) || ".", { recursive: true });
await Deno.writeTextFile(options.out, JSON.stringify({ options, load, results }, null, 2));
console.log(`\nresults written to ${options.out}`);

// The same queries must give the same answers: a system that answers differently did other
// work, so its timings do not compare.
const mismatches = checksumMismatches(results, (type) => {
  const q = instances(type, 1, options.hosts, options.hours, 7)[0];
  return `${options.runs} runs; first: ${q.influxql}${
    q.promql ? ` | PromQL ${q.promql.query}` : ""
  }`;
});
for (const m of mismatches) console.error(`CHECKSUM MISMATCH ${m}`);
for (const r of results) {
  for (const [type, error] of Object.entries(r.failed)) {
    console.error(`FAILED ${type} on ${r.system}: ${error}`);
  }
}
if (mismatches.length > 0 || results.some((r) => Object.keys(r.failed).length > 0)) Deno.exit(1);
