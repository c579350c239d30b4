/**
 * `deno run -A bench/peers/profile.ts --types single-groupby-1-1-1 [--loops 200] [--hosts 100]
 * [--hours 12] [--distinct 10] [--out DIR] [--deno-flags "--v8-flags=..."]`: the bench:peers workload on one EpochNexus server started with
 * `--cpu-prof`, then each named query type in a loop, and the server stopped (SIGTERM, so it
 * writes its profile). Prints the top functions by self time over the whole run and the CPU
 * per query of each type; the `.cpuprofile` (Chrome DevTools format) stays in DIR.
 * @module
 */
import { generateBatches } from "./workload.ts";
import { instances, QUERY_TYPES } from "./queries.ts";
import { DB, processStats, startEpochNexus } from "./systems.ts";
import { startServer } from "../../tests/_server.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && Deno.args[i + 1] ? Deno.args[i + 1] : fallback;
}

const hosts = Number(flag("hosts", "100"));
const hours = Number(flag("hours", "12"));
const loops = Number(flag("loops", "200"));
// How many different queries of each type the loop cycles through: bench:peers runs each of
// its `--runs` queries once (cold parse, plan and blocks); 10 mostly measures warm caches.
const distinct = Number(flag("distinct", "10"));
const names = flag("types", "single-groupby-1-1-1").split(",");
const extraFlags = flag("deno-flags", "").split(" ").filter((f) => f !== "");
const out = flag("out", await Deno.makeTempDir({ prefix: "epochnexus-prof-" }));
const types = names.map((n) => {
  const t = QUERY_TYPES.find((q) => q.name === n);
  if (t === undefined) throw new Error(`unknown query type ${n}`);
  return t;
});

// Ingest on a server without the profiler, then the same data folder served by one with it:
// the profile holds the queries (and a start-up), not the ingest.
const loader = await startEpochNexus();
const { bodies } = generateBatches({ hosts, hours, batchLines: 5000, seed: 1 });
for (const body of bodies) await loader.write(body);
console.error(await loader.settle());
await loader.stop();
const server = await startServer({
  dataDir: loader.dataDir,
  denoFlags: [`--cpu-prof`, `--cpu-prof-dir=${out}`, ...extraFlags],
});
const system = { url: server.url, pid: server.process.pid, stop: () => server.stop() };
for (const type of types) {
  const list = instances(type, distinct, hosts, hours, 7);
  const before = (await processStats(system.pid)).cpuSeconds;
  const t0 = performance.now();
  for (let i = 0; i < loops; i++) {
    const q = list[i % list.length];
    const r = await fetch(`${system.url}/query?${new URLSearchParams({ db: DB, q: q.influxql })}`);
    await r.arrayBuffer();
    if (!r.ok) throw new Error(`${type.name}: HTTP ${r.status}`);
  }
  const wall = (performance.now() - t0) / loops;
  const cpu = ((await processStats(system.pid)).cpuSeconds - before) * 1000 / loops;
  const rss = (await processStats(system.pid)).peakRssMiB;
  console.log(
    `${type.name}: ${wall.toFixed(2)} ms/query wall, ${cpu.toFixed(2)} ms/query server CPU, ` +
      `peak RSS ${rss.toFixed(0)} MiB`,
  );
}
await system.stop();
await Deno.remove(loader.dataDir, { recursive: true });

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
for await (const entry of Deno.readDir(out)) {
  if (!entry.name.endsWith(".cpuprofile")) continue;
  const profile = JSON.parse(await Deno.readTextFile(`${out}/${entry.name}`)) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const nameOf = (n: ProfileNode) => {
    const f = n.callFrame;
    return `${f.functionName || "(anonymous)"} ${f.url.replace(/^.*\/src\//, "src/")}:${
      f.lineNumber + 1
    }`;
  };
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const byFile = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const n = byId.get(profile.samples[i])!;
    const dt = profile.timeDeltas[i] ?? 0;
    const name = nameOf(n);
    // Idle and the syscalls that hand the CPU to the client are wall time, not work.
    if (name.startsWith("(idle)")) continue;
    self.set(name, (self.get(name) ?? 0) + dt);
    const file = n.callFrame.url.replace(/^.*\/src\//, "src/") || name;
    byFile.set(file, (byFile.get(file) ?? 0) + dt);
    total += dt;
    const seen = new Set<string>();
    for (let id: number | undefined = n.id; id !== undefined; id = parent.get(id)) {
      const key = nameOf(byId.get(id)!);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + dt);
    }
  }
  const top = (m: Map<string, number>, n: number) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, n)
      .map(([k, v]) => `  ${(100 * v / total).toFixed(1).padStart(5)}%  ${k}`).join("\n");
  console.log(`\n${out}/${entry.name}: ${(total / 1000).toFixed(0)} ms sampled (idle excluded)`);
  console.log(`top self time:\n${top(self, 40)}`);
  console.log(`top inclusive time:\n${top(inclusive, 60)}`);
  console.log(`by file:\n${top(byFile, 30)}`);
}
