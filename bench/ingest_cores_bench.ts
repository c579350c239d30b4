/**
 * `deno task bench:ingest-cores [--cpus 0,0-1] [--writers 2,64] [--hours 6] [--batch-lines 5000]
 * [--systems epochnexus,influxdb,victoriametrics,baseline] [--baseline-root DIR/]
 * [--env KEY=VALUE,...] [--format lp|json|ndjson|prom]`: ingest scaling with
 * cores and concurrent writers, EpochNexus against InfluxDB 1.6.7 and VictoriaMetrics in the
 * same run (#15 item 4).
 *
 * For each CPU set and writer count, each system is started fresh, every thread of its process
 * pinned to the CPU set with `taskset -a -p -c` (threads made later inherit the mask), and fed
 * the bench:peers workload (`hours` of 100 hosts x 10 fields every 10 s, `batch-lines` lines per
 * body, seconds precision) by W concurrent writers over /write. A 429, 500 or 503 is retried
 * after 50 ms and counted. Printed per run: values/s, the server's CPU seconds, its peak RSS
 * (VmHWM: a fresh process per run, so its peak is this ingest's) and a sampled peak of the RSS
 * every 100 ms (to check VmHWM against), and retries. Every write answered 2xx is durable
 * (EpochNexus answers after the fsync of its group commit), so values/s at 64 writers is the
 * acknowledged-durable rate. The bench client is not pinned: it shares the machine.
 *
 * `--format` sends the same points in another format: `json` / `ndjson` to EpochNexus's
 * `/ingest` (the peers do not speak it), `prom` as snappy-compressed remote_write (a series per
 * host and field, one value per sample) to `/api/v1/prom/write` (InfluxDB's and EpochNexus's)
 * or `/api/v1/write` (VictoriaMetrics'). The values are the same in every format, so CPU s per
 * value compares formats and checkouts.
 * @module
 */
import snappy from "snappyjs";
import { generateBatches } from "./peers/workload.ts";
import { jsonRecord, promBody } from "./_format_bodies.ts";
import { parseLineProtocol } from "../src/ingest/mod.ts";
import {
  loadAverage,
  processStats,
  runStamp,
  startEpochNexus,
  startInfluxDB,
  startVictoriaMetrics,
  type System,
} from "./peers/systems.ts";
import { DB } from "./peers/systems.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && Deno.args[i + 1] !== undefined ? Deno.args[i + 1] : fallback;
}

const cpuSets = flag("cpus", "0,0-1").split(",");
const writerCounts = flag("writers", "2,64").split(",").map(Number);
const hours = Number(flag("hours", "6"));
const batchLines = Number(flag("batch-lines", "5000"));
const systems = flag("systems", "epochnexus,influxdb,victoriametrics").split(",");
const env = Object.fromEntries(
  flag("env", "").split(",").filter((kv) => kv.includes("=")).map((kv) => kv.split("=", 2)),
);
// Another checkout (its folder, ending in /) as system `baseline`: an A/B in the same sitting.
const baselineRoot = flag("baseline-root", "");
const STARTERS: Record<string, () => Promise<System>> = {
  epochnexus: () => startEpochNexus(env),
  baseline: () => startEpochNexus(env, { root: baselineRoot, name: "EpochNexus baseline" }),
  influxdb: startInfluxDB,
  victoriametrics: () => startVictoriaMetrics(),
};
for (const s of systems) if (!STARTERS[s]) throw new Error(`unknown system ${s}`);

const format = flag("format", "lp");
const { bodies: lpBodies, points } = generateBatches({ hosts: 100, hours, batchLines, seed: 1 });
const values = points * 10;
const bodies = lpBodies.map((body) => inFormat(body, format));

/** A line-protocol body of the workload in `format` (see the module doc). */
function inFormat(body: Uint8Array<ArrayBuffer>, format: string): Uint8Array<ArrayBuffer> {
  if (format === "lp") return body;
  const decoded = parseLineProtocol(body, { defaultTime: { ms: 0, subMs: 0 }, precision: "s" });
  const enc = new TextEncoder();
  switch (format) {
    case "json":
      return enc.encode(`[${decoded.points.map(jsonRecord).join(",")}]`);
    case "ndjson":
      return enc.encode(decoded.points.map(jsonRecord).join("\n") + "\n");
    case "prom":
      return (snappy as { compress(b: Uint8Array): Uint8Array<ArrayBuffer> }).compress(
        promBody(decoded.points),
      );
  }
  throw new Error(`unknown format ${format} (lp, json, ndjson, prom)`);
}

/** Where `system` takes a body of `format`, and its headers. */
function target(system: System): { path: string; headers: Record<string, string> } {
  switch (format) {
    case "json":
    case "ndjson":
      if (!system.name.startsWith("EpochNexus")) throw new Error(`${system.name}: no ${format}`);
      return {
        path: `/ingest?db=${DB}&precision=s`,
        headers: {
          "content-type": format === "json" ? "application/json" : "application/x-ndjson",
        },
      };
    case "prom":
      return {
        path: system.name.startsWith("VictoriaMetrics")
          ? "/api/v1/write"
          : `/api/v1/prom/write?db=${DB}`,
        headers: { "content-type": "application/x-protobuf", "content-encoding": "snappy" },
      };
  }
  return { path: `/write?db=${DB}&precision=s`, headers: {} };
}

/** Pins every thread of `pid` to `cpus`. */
async function pin(pid: number, cpus: string): Promise<void> {
  const out = await new Deno.Command("taskset", {
    args: ["-a", "-p", "-c", cpus, String(pid)],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`taskset failed: ${new TextDecoder().decode(out.stderr)}`);
}

/** The resident set of `pid` now, in MiB. */
async function rssMiB(pid: number): Promise<number> {
  const out = await new Deno.Command("cat", { args: [`/proc/${pid}/status`] }).output();
  const text = new TextDecoder().decode(out.stdout);
  return Number(/VmRSS:\s+(\d+) kB/.exec(text)?.[1] ?? 0) / 1024;
}

/**
 * Writes one body, retrying 429/500/503 and a connection the server closed (under a load of 20
 * on two cores every server here drops some of 64 connections) after 50 ms (at most 200 times).
 * Writes are idempotent, so a body retried after a lost answer stores nothing twice.
 */
async function write(system: System, body: Uint8Array<ArrayBuffer>): Promise<number> {
  const { path, headers } = target(system);
  for (let retries = 0; retries < 200; retries++) {
    let r: Response;
    try {
      r = await fetch(`${system.url}${path}`, { method: "POST", body, headers });
    } catch (error) {
      if (!(error instanceof TypeError)) throw error; // fetch failed: the connection closed
      await new Promise((done) => setTimeout(done, 50));
      continue;
    }
    const text = await r.text();
    if (r.ok) return retries;
    if (r.status !== 429 && r.status !== 500 && r.status !== 503) {
      throw new Error(`write answered ${r.status}: ${text.slice(0, 300)}`);
    }
    await new Promise((done) => setTimeout(done, 50));
  }
  throw new Error("write: still refused after 200 retries");
}

interface Result {
  rate: number;
  cpu: number;
  hwm: number;
  sampled: number;
  retries: number;
  /** EpochNexus: the peaks of its V8 heap in use, heap reserved and external memory (MiB). */
  heap?: { used: number; total: number; external: number };
}

/** EpochNexus's heap gauges (/metrics) in MiB. */
async function heapGauges(url: string): Promise<{ used: number; total: number; external: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const gauge = (name: string) =>
    Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? NaN) / 2 ** 20;
  return {
    used: gauge("epochnexus_heap_used_bytes"),
    total: gauge("epochnexus_heap_total_bytes"),
    external: gauge("epochnexus_external_memory_bytes"),
  };
}

async function run(system: System, writers: number): Promise<Result> {
  let next = 0, retries = 0, sampled = 0, running = true;
  let heap: Result["heap"];
  const sampler = (async () => {
    for (let i = 0; running && i < 100_000; i++) {
      sampled = Math.max(sampled, await rssMiB(system.pid));
      if (system.name.startsWith("EpochNexus")) {
        // A sample lost to a refused connection is skipped, not the run.
        const g = await heapGauges(system.url).catch(() => undefined);
        if (g !== undefined) {
          heap = {
            used: Math.max(heap?.used ?? 0, g.used),
            total: Math.max(heap?.total ?? 0, g.total),
            external: Math.max(heap?.external ?? 0, g.external),
          };
        }
      }
      await new Promise((done) => setTimeout(done, 100));
    }
  })();
  const before = (await processStats(system.pid)).cpuSeconds;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (next < bodies.length) retries += await write(system, bodies[next++]);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  running = false;
  await sampler;
  const stats = await processStats(system.pid);
  return {
    rate: values / seconds,
    cpu: stats.cpuSeconds - before,
    hwm: stats.peakRssMiB,
    sampled,
    retries,
    heap,
  };
}

console.log(
  `${await runStamp()}; load ${await loadAverage()}; ${values} values in ${bodies.length} ` +
    `bodies of ${batchLines} lines (format ${format}); env ${JSON.stringify(env)}`,
);
console.log(
  "cpus\twriters\tsystem\tM values/s\tx of EpochNexus\tCPU s\tCPU us/value\tpeak RSS MiB (sampled)\tretries\tEpochNexus heap",
);
for (const cpus of cpuSets) {
  for (const writers of writerCounts) {
    const rows: (Result & { name: string })[] = [];
    for (const name of systems) {
      const system = await STARTERS[name]();
      try {
        await pin(system.pid, cpus);
        rows.push({ name: system.name, ...await run(system, writers) });
      } finally {
        await system.stop();
        await system.remove();
      }
    }
    const ours = rows.find((r) => r.name === "EpochNexus")?.rate ?? NaN;
    for (const r of rows) {
      console.log(
        [
          cpus,
          writers,
          r.name,
          (r.rate / 1e6).toFixed(3),
          (r.rate / ours).toFixed(2),
          r.cpu.toFixed(1),
          ((r.cpu / values) * 1e6).toFixed(2),
          `${r.hwm.toFixed(0)} (${r.sampled.toFixed(0)})`,
          r.retries,
          r.heap === undefined
            ? ""
            : `heap used ${r.heap.used.toFixed(0)}, reserved ${r.heap.total.toFixed(0)}, external ${
              r.heap.external.toFixed(0)
            } MiB (peaks)`,
        ].join("\t"),
      );
    }
  }
}
console.log(`load ${await loadAverage()}`);
