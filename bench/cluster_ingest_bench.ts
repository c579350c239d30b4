/**
 * `deno task bench:cluster-ingest`: the CPU that replication costs. The peers' workload is
 * ingested (nothing else) by one node and by three (replication factor 3), real processes on
 * loopback; the figure is CPU seconds per million values of all nodes together, and the 3 / 1
 * ratio. The ratio moves with the machine's load, so a change is measured against a baseline
 * checkout in the same sitting, runs interleaved:
 *
 *   deno task bench:cluster-ingest [--baseline /path/to/other/checkout/] [--rounds 2]
 *                                  [--hours 4] [--hosts 100] [--writers 2] [--batch 5000]
 *                                  [--prof DIR] [--env KEY=value,...] [--only 1|3]
 *                                  [--idle SECONDS]
 *
 * `--idle SECONDS` measures no ingest: the CPU of an idle 3-node cluster (one database, its
 * partitions' heartbeats and nothing else) over that many seconds, CPU s per s of all nodes.
 *
 * `--prof DIR` starts every node with `--cpu-prof`: each writes its profile (Chrome DevTools
 * format) to DIR/<tree>-<nodes>-<round>/node<i>/ when it stops. V8 samples wall time: on a loaded
 * machine a syscall that hands the CPU to a peer process looks costly; trust shares, not seconds.
 * @module
 */
import { generateBatches } from "./peers/workload.ts";
import { DB, loadAverage, processStats } from "./peers/systems.ts";
import { type ServerProcess, startServer } from "../tests/_server.ts";
import { waitForMetaVoters, writeRetrying } from "./_cluster_nodes.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && Deno.args[i + 1] ? Deno.args[i + 1] : fallback;
}

const options = {
  baseline: flag("baseline", ""),
  rounds: Number(flag("rounds", "2")),
  hosts: Number(flag("hosts", "100")),
  hours: Number(flag("hours", "4")),
  writers: Number(flag("writers", "2")),
  batch: Number(flag("batch", "5000")),
  prof: flag("prof", ""),
  /** More settings of every node: `KEY=value,KEY=value`. */
  env: flag("env", ""),
  /** Measure only this many nodes (1 or 3), for a quick look. */
  only: Number(flag("only", "0")),
  /** Measure an idle 3-node cluster over this many seconds instead of an ingest. */
  idle: Number(flag("idle", "0")),
};

const ENV: Record<string, string> = {
  EPOCHNEXUS_FLUSH_IDLE_MS: "2000",
  EPOCHNEXUS_MAX_SERIES_PER_DATABASE: "0",
  ...Object.fromEntries(
    options.env.split(",").filter((kv) => kv.includes("=")).map((kv) => kv.split("=", 2)),
  ),
};

async function startCluster(n: number, root: string | undefined, prof: string | undefined) {
  const denoFlags = (i: number) =>
    prof === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${prof}/node${i}`];
  const first = await startServer({ env: ENV, root, denoFlags: denoFlags(0) });
  const nodes = [first];
  for (let i = 1; i < n; i++) {
    nodes.push(
      await startServer({
        env: { ...ENV, EPOCHNEXUS_JOIN_ADDRESS: `127.0.0.1:${first.port}` },
        root,
        denoFlags: denoFlags(i),
      }),
    );
  }
  await waitForMetaVoters(first.url, n);
  return nodes;
}

interface Run {
  cpuSecondsPerMillionValues: number;
  perNode: number[];
  valuesPerSecond: number;
  retries: number;
}

async function ingest(
  n: number,
  root: string | undefined,
  prof: string | undefined,
  bodies: Uint8Array<ArrayBuffer>[],
  values: number,
): Promise<Run> {
  const nodes: ServerProcess[] = await startCluster(n, root, prof);
  const url = nodes[0].url;
  await writeRetrying(`${url}/query`, new URLSearchParams({ q: `CREATE DATABASE ${DB}` }));
  // Let the partitions elect their preferred leaders before the clock starts.
  await new Promise((r) => setTimeout(r, 3000));
  const cpuBefore = await Promise.all(
    nodes.map(async (x) => (await processStats(x.process.pid)).cpuSeconds),
  );
  let retries = 0, next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: options.writers }, async () => {
    while (next < bodies.length) {
      const body = bodies[next++];
      await writeRetrying(`${url}/write?db=${DB}&precision=s`, body, () => retries++);
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  const perNode = await Promise.all(
    nodes.map(async (x, i) => (await processStats(x.process.pid)).cpuSeconds - cpuBefore[i]),
  );
  for (const node of nodes) await node.stop();
  for (const node of nodes) await Deno.remove(node.dataDir, { recursive: true }).catch(() => {});
  const cpu = perNode.reduce((a, b) => a + b, 0);
  return {
    cpuSecondsPerMillionValues: cpu / (values / 1e6),
    perNode,
    valuesPerSecond: values / seconds,
    retries,
  };
}

/** CPU seconds per second of an idle 3-node cluster (all nodes) over `seconds`. */
async function idle(root: string | undefined, seconds: number): Promise<number> {
  const nodes: ServerProcess[] = await startCluster(3, root, undefined);
  await writeRetrying(`${nodes[0].url}/query`, new URLSearchParams({ q: `CREATE DATABASE ${DB}` }));
  await new Promise((r) => setTimeout(r, 3000));
  const cpu = async () => {
    const each = await Promise.all(nodes.map((x) => processStats(x.process.pid)));
    return each.reduce((a, b) => a + b.cpuSeconds, 0);
  };
  const before = await cpu();
  const started = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const used = (await cpu()) - before;
  const elapsed = (performance.now() - started) / 1000;
  for (const node of nodes) await node.stop();
  for (const node of nodes) await Deno.remove(node.dataDir, { recursive: true }).catch(() => {});
  return used / elapsed;
}

const trees: [string, string | undefined][] = options.baseline
  ? [["baseline", options.baseline], ["this", undefined]]
  : [["this", undefined]];

if (options.idle > 0) {
  console.log("round | tree | load | idle 3 nodes CPU s/s");
  for (let round = 1; round <= options.rounds; round++) {
    for (const [name, root] of trees) {
      const load = await loadAverage();
      console.log(`${round} | ${name} | ${load} | ${(await idle(root, options.idle)).toFixed(3)}`);
    }
  }
  Deno.exit(0);
}

const { bodies, points } = generateBatches({
  hosts: options.hosts,
  hours: options.hours,
  batchLines: options.batch,
  seed: 1,
});
const values = points * 10;
console.log(`${values} values, ${bodies.length} bodies, ${options.writers} writers`);
console.log(
  "round | tree | load | 1 node CPU s/1M | 3 nodes CPU s/1M (per node) | 3/1 | values/s 1 / 3",
);
for (let round = 1; round <= options.rounds; round++) {
  for (const [name, root] of trees) {
    const load = await loadAverage();
    const prof = (n: number) => options.prof ? `${options.prof}/${name}-${n}-${round}` : undefined;
    const skipped = {
      cpuSecondsPerMillionValues: NaN,
      perNode: [],
      valuesPerSecond: NaN,
      retries: 0,
    };
    const one = options.only === 3 ? skipped : await ingest(1, root, prof(1), bodies, values);
    const three = options.only === 1 ? skipped : await ingest(3, root, prof(3), bodies, values);
    console.log(
      `${round} | ${name} | ${load} | ${one.cpuSecondsPerMillionValues.toFixed(2)} | ${
        three.cpuSecondsPerMillionValues.toFixed(2)
      } (${three.perNode.map((c) => c.toFixed(1)).join(" ")} s) | ${
        (three.cpuSecondsPerMillionValues / one.cpuSecondsPerMillionValues).toFixed(2)
      } | ${one.valuesPerSecond.toFixed(0)} / ${three.valuesPerSecond.toFixed(0)}${
        one.retries + three.retries ? ` (retries ${one.retries + three.retries})` : ""
      }`,
    );
  }
}
