/**
 * `deno task bench:peers`: the same TSBS-like workload against EpochNexus, InfluxDB 1.6.7 and
 * VictoriaMetrics 1.79.5, one system at a time on this machine, then one table with every metric
 * for every system and EpochNexus's ratio to each peer. Also writes a JSON result file.
 *
 * After ingest each system settles its own way (systems.ts: flush and compaction, waited for on
 * its own counters with a deadline), then its whole data folder is measured (`du`), then the
 * queries run. Every query type's answers are summed into a checksum; when two systems' checksums
 * for a type differ, the run fails (exit 1) naming the type, its first query and both checksums.
 *
 *   deno task bench:peers [--variant default|high-cardinality|out-of-order] [--hosts 100]
 *                         [--hours 12] [--writers 2] [--batch 5000] [--runs 10]
 *                         [--systems epochnexus,influxdb,victoriametrics] [--out FILE]
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
  systems: flag("systems", "epochnexus,influxdb,victoriametrics").split(","),
  out: flag("out", "bench/results/peers.json"),
};

interface Measured {
  system: string;
  ingestValuesPerSecond: number;
  /** What the system's settle waited for, and how long. */
  settled: string;
  /** Its whole data folder after settling (du: allocated blocks), and apparent sizes. */
  bytesPerValue: number;
  apparentBytesPerValue: number;
  peakRssMiB: number;
  cpuSecondsPerMillionValues: number;
  queries: Record<string, { medianMs: number; p95Ms: number; checksum: number } | null>;
}

const STARTERS: Record<string, () => Promise<System>> = {
  epochnexus: startEpochNexus,
  influxdb: startInfluxDB,
  victoriametrics: startVictoriaMetrics,
};

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
  const r = await fetch(`${system.url}/query?${params}`);
  const body = await r.json();
  if (!r.ok || body.results?.[0]?.error) {
    throw new Error(`${system.name}: ${q.influxql}: ${JSON.stringify(body).slice(0, 300)}`);
  }
  return influxChecksum(body);
}

async function measure(
  name: string,
  bodies: Uint8Array<ArrayBuffer>[],
  points: number,
): Promise<Measured> {
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
  const values = points * 10;
  const queries: Measured["queries"] = {};
  for (const type of QUERY_TYPES) {
    const list = instances(type, options.runs, options.hosts, options.hours, 7);
    const times: number[] = [];
    let checksum = 0;
    let supported = true;
    await runQuery(system, list[0]); // warm-up
    for (const q of list) {
      const t0 = performance.now();
      const sum = await runQuery(system, q);
      times.push(performance.now() - t0);
      if (sum === undefined) {
        supported = false;
        break;
      }
      checksum += sum;
    }
    times.sort((a, b) => a - b);
    queries[type.name] = supported
      ? { medianMs: percentile(times, 0.5), p95Ms: percentile(times, 0.95), checksum }
      : null;
  }
  const stats = await processStats(system.pid);
  await system.stop();
  await system.remove();
  return {
    system: system.name,
    ingestValuesPerSecond: values / seconds,
    settled,
    bytesPerValue: bytes.allocated / values,
    apparentBytesPerValue: bytes.apparent / values,
    peakRssMiB: stats.peakRssMiB,
    cpuSecondsPerMillionValues: stats.cpuSeconds / (values / 1e6),
    queries,
  };
}

await ensurePeersInstalled(options.systems);
const { bodies, points } = generateBatches({
  hosts: options.hosts,
  hours: options.hours,
  batchLines: options.batch,
  shuffleWindow: options.shuffleWindow,
  seed: 1,
});
const results: Measured[] = [];
for (const name of options.systems) results.push(await measure(name, bodies, points));

const load = await loadAverage();
const ours = results.find((r) => r.system === "EpochNexus");
const fmt = (v: number) => v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
const rows: [string, (m: Measured) => number | undefined, "higher" | "lower"][] = [
  ["ingest values/s", (m) => m.ingestValuesPerSecond, "higher"],
  ["bytes/value on disk (du)", (m) => m.bytesPerValue, "lower"],
  ["bytes/value apparent", (m) => m.apparentBytesPerValue, "lower"],
  ["peak RSS MiB", (m) => m.peakRssMiB, "lower"],
  ["CPU s / 1M values", (m) => m.cpuSecondsPerMillionValues, "lower"],
  ...QUERY_TYPES.flatMap((t) => [
    [`${t.name} median ms`, (m: Measured) => m.queries[t.name]?.medianMs, "lower"] as const,
    [`${t.name} p95 ms`, (m: Measured) => m.queries[t.name]?.p95Ms, "lower"] as const,
  ]),
] as [string, (m: Measured) => number | undefined, "higher" | "lower"][];
const peers = results.filter((r) => r !== ours);
const header = [
  "metric",
  ...results.map((r) => r.system),
  ...peers.map((p) => `EN vs ${p.system}`),
];
const table = rows.map(([label, get, better]) => {
  const cells = results.map((r) => (get(r) === undefined ? "n/a" : fmt(get(r)!)));
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
  } values, ${options.writers} writers, batches of ${options.batch}; load average ${load}`,
);
console.log(line(header));
console.log(widths.map((w) => "-".repeat(w)).join("-|-"));
for (const row of table) console.log(line(row));
console.log("\nsettled (each system's own condition, after ingest):");
for (const r of results) console.log(`  ${r.system}: ${r.settled}`);
console.log("\nchecksums (sum of returned values per query type):");
for (const t of QUERY_TYPES) {
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
if (mismatches.length > 0) Deno.exit(1);
