/**
 * `deno run -A bench/peers/memory.ts [--root DIR/] [--types a,b] [--runs 11]`: where the
 * bench:peers workload's peak RSS comes from. One EpochNexus server (this checkout, or the one
 * at `--root`) is fed the default workload, settles, then answers each query type; after each
 * phase one line says its resident memory (VmRSS, VmHWM) and who holds it:
 *
 * - `brk`: the C allocator's main heap. ArrayBuffers of up to ~128 KiB (decoded blocks, column
 *   arrays) live there, and what is freed inside it stays resident (only its top is returned):
 *   its size is the high-water mark of what was allocated at once, not what is held now.
 * - `v8`: V8's pages (mappings of at most 1 MiB); `heapUsed`/`heapTotal`/`external` are the
 *   server's own gauges (`/metrics`). `heapTotal - heapUsed` is garbage or slack not yet
 *   collected; `external` counts ArrayBuffers, dead ones included until a GC finds them.
 * - `arenas`: the allocator's per-thread heaps (64 MiB aligned), `other`: the rest. The first
 *   start after a code change transpiles on Deno's threads and their arenas kept ~50 MiB for the
 *   whole run; the start task's `MALLOC_ARENA_MAX=1` folds them into `brk`, where it is reused.
 *
 * Runs against `--root` (a `git archive` with its `deno install` done) compare a change.
 * @module
 */
import { generateBatches } from "./workload.ts";
import { instances, QUERY_TYPES } from "./queries.ts";
import { DB, processStats, startEpochNexus } from "./systems.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && Deno.args[i + 1] ? Deno.args[i + 1] : fallback;
}

const root = flag("root", "") || undefined;
const runs = Number(flag("runs", "11"));
const names = flag("types", QUERY_TYPES.map((t) => t.name).join(",")).split(",");
const MiB = 1024 * 1024;

/** Anonymous resident memory by holder, in MiB, from /proc/PID/smaps. */
function residentByHolder(pid: number): Record<string, number> {
  const holders: Record<string, number> = { brk: 0, v8: 0, arenas: 0, other: 0 };
  let mapping = "";
  for (const line of Deno.readTextFileSync(`/proc/${pid}/smaps`).split("\n")) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) mapping = line;
    else if (line.startsWith("Anonymous:")) {
      const kib = Number(line.split(/\s+/)[1]);
      if (kib === 0) continue;
      const [from, to] = mapping.split(" ")[0].split("-").map((x) => BigInt(`0x${x}`));
      const size = Number(to - from);
      const holder = mapping.endsWith("[heap]")
        ? "brk"
        : size <= MiB
        ? "v8"
        : from % BigInt(64 * MiB) === 0n && size <= 64 * MiB
        ? "arenas"
        : "other";
      holders[holder] += kib / 1024;
    }
  }
  return holders;
}

const system = await startEpochNexus({}, { root });

async function report(phase: string): Promise<void> {
  const status = Deno.readTextFileSync(`/proc/${system.pid}/status`);
  const kib = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  const metrics = await (await fetch(`${system.url}/metrics`)).text();
  const gauge = (name: string) => {
    const line = metrics.split("\n").find((l) => l.startsWith(`${name} `));
    return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(" ") + 1)) / MiB;
  };
  const cells = {
    rss: kib("VmRSS") / 1024,
    hwm: kib("VmHWM") / 1024,
    ...residentByHolder(system.pid),
    heapUsed: gauge("epochnexus_heap_used_bytes"),
    heapTotal: gauge("epochnexus_heap_total_bytes"),
    external: gauge("epochnexus_external_memory_bytes"),
    blockCache: gauge("epochnexus_block_cache_bytes"),
  };
  const cpu = (await processStats(system.pid)).cpuSeconds;
  console.log(
    `${phase.padEnd(22)} ${
      Object.entries(cells).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(" ")
    } (MiB), CPU ${cpu.toFixed(1)} s`,
  );
}

try {
  await report("started");
  const { bodies } = generateBatches({ hosts: 100, hours: 12, batchLines: 5000, seed: 1 });
  let next = 0;
  await Promise.all([0, 1].map(async () => {
    while (next < bodies.length) await system.write(bodies[next++]);
  }));
  await report("ingested");
  await system.settle();
  await report("settled");
  for (const type of QUERY_TYPES.filter((t) => names.includes(t.name))) {
    for (const q of instances(type, runs, 100, 12, 7)) {
      const r = await fetch(
        `${system.url}/query?${new URLSearchParams({ db: DB, q: q.influxql })}`,
      );
      await r.arrayBuffer();
    }
    await report(type.name);
  }
} finally {
  await system.stop();
  await system.remove();
}
