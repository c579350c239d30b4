/**
 * `deno task bench:cluster-read`: what a linearizable read costs on a 3-node cluster (real
 * processes on loopback, replication factor 3, so the coordinator holds every partition): each
 * TSBS query type's median at `consistency=leader` (the ReadIndex barriers, then the read) beside
 * `consistency=any` (the same read without them), asked of a node, and the same with `--clients`
 * concurrent clients (where barriers may be shared). The difference is the barriers' price.
 *
 *   deno task bench:cluster-read [--hours 2] [--hosts 100] [--runs 15] [--clients 8] [--skip high-cpu-all]
 * @module
 */
import { generateBatches } from "./peers/workload.ts";
import { instances, QUERY_TYPES } from "./peers/queries.ts";
import { DB, loadAverage } from "./peers/systems.ts";
import { startNodes, writeRetrying as write } from "./_cluster_nodes.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && Deno.args[i + 1] ? Deno.args[i + 1] : fallback;
}

const options = {
  hosts: Number(flag("hosts", "100")),
  hours: Number(flag("hours", "2")),
  runs: Number(flag("runs", "15")),
  clients: Number(flag("clients", "8")),
  /** Query types left out (comma-separated): the slowest take minutes on a busy machine. */
  skip: new Set(flag("skip", "high-cpu-all").split(",")),
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function ask(url: string, q: string, consistency: string): Promise<number> {
  const t0 = performance.now();
  const r = await fetch(`${url}/query?${new URLSearchParams({ db: DB, q, consistency })}`);
  const body = await r.json();
  if (!r.ok || body.results?.[0]?.error) throw new Error(`${q}: ${JSON.stringify(body)}`);
  return performance.now() - t0;
}

const nodes = await startNodes(3);
const before = await loadAverage();
try {
  const url = nodes[0].url;
  await write(`${url}/query`, new URLSearchParams({ q: `CREATE DATABASE ${DB}` }));
  const { bodies } = generateBatches({
    hosts: options.hosts,
    hours: options.hours,
    batchLines: 5000,
    seed: 1,
  });
  for (const body of bodies) await write(`${url}/write?db=${DB}&precision=s`, body);
  console.log(
    `query type | leader ms | any ms | leader - any | ${options.clients} clients: leader | any`,
  );
  for (const type of QUERY_TYPES.filter((t) => !options.skip.has(t.name))) {
    const list = instances(type, options.runs, options.hosts, options.hours, 7);
    const row: number[] = [];
    for (const consistency of ["leader", "any"]) {
      await ask(url, list[0].influxql, consistency); // warm-up
      const times: number[] = [];
      for (const q of list) times.push(await ask(url, q.influxql, consistency));
      row.push(median(times));
    }
    for (const consistency of ["leader", "any"]) {
      // The clients share the instances, each asked once: a median per query under concurrency.
      const times: number[] = [];
      let next = 0;
      await Promise.all(Array.from({ length: options.clients }, async () => {
        while (next < list.length) times.push(await ask(url, list[next++].influxql, consistency));
      }));
      row.push(median(times));
    }
    const f = (x: number) => x.toFixed(2);
    console.log(
      `${type.name} | ${f(row[0])} | ${f(row[1])} | ${f(row[0] - row[1])} | ${f(row[2])} | ${
        f(row[3])
      }`,
    );
  }
} finally {
  for (const node of nodes) await node.stop();
  for (const node of nodes) await Deno.remove(node.dataDir, { recursive: true }).catch(() => {});
}
console.log(`load average before ${before}, after ${await loadAverage()}`);
