/**
 * `deno task bench:cluster-read`: what a linearizable read costs on a 3-node cluster against a
 * lone node (real processes on loopback). The same data is loaded into a lone node and into 3
 * nodes with replication factor 3 (so a coordinator holds every partition, leading about a third
 * of them); each TSBS query type's median is measured at `consistency=leader` (the read barriers,
 * then the read) on the lone node, and on the 3 nodes asked through the first node (the metadata
 * leader) and through the second (a metadata follower); beside it `consistency=any` on the first
 * (the same read without barriers), and each with `--clients` concurrent clients. Ratios are
 * 3 nodes over the lone node.
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

/** Starts `n` nodes, loads the workload through the first, runs `fn`, stops them. */
async function withCluster(n: number, fn: (urls: string[]) => Promise<void>): Promise<void> {
  const nodes = await startNodes(n);
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
    await fn(nodes.map((node) => node.url));
  } finally {
    for (const node of nodes) await node.stop();
    for (const node of nodes) await Deno.remove(node.dataDir, { recursive: true }).catch(() => {});
  }
}

/** Median ms of the instances asked one after another, and asked by `clients` at once. */
async function measure(url: string, list: { influxql: string }[], consistency: string) {
  await ask(url, list[0].influxql, consistency); // warm-up
  const alone: number[] = [];
  for (const q of list) alone.push(await ask(url, q.influxql, consistency));
  // The clients share the instances, each asked once: a median per query under concurrency.
  const together: number[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: options.clients }, async () => {
    while (next < list.length) together.push(await ask(url, list[next++].influxql, consistency));
  }));
  return { alone: median(alone), together: median(together) };
}

const types = QUERY_TYPES.filter((t) => !options.skip.has(t.name));
const lists = types.map((type) => instances(type, options.runs, options.hosts, options.hours, 7));
type Row = { alone: number; together: number };
const lone: Row[] = [];
const three: { first: Row; second: Row; any: Row }[] = [];
const before = await loadAverage();
await withCluster(1, async ([url]) => {
  for (const list of lists) lone.push(await measure(url, list, "leader"));
});
const between = await loadAverage();
await withCluster(3, async ([first, second]) => {
  for (const list of lists) {
    three.push({
      first: await measure(first, list, "leader"),
      second: await measure(second, list, "leader"),
      any: await measure(first, list, "any"),
    });
  }
});
const f = (x: number) => x.toFixed(2);
const r = (x: number, y: number) => (x / y).toFixed(2);
console.log(
  `query type | 1 node ms | 3 nodes via 1st ms | 3/1 | via 2nd ms | 3/1 | 3 nodes any ms | ` +
    `${options.clients} clients: 1 node | 3 via 1st | 3/1`,
);
for (let i = 0; i < types.length; i++) {
  const [one, { first, second, any }] = [lone[i], three[i]];
  console.log(
    `${types[i].name} | ${f(one.alone)} | ${f(first.alone)} | ${r(first.alone, one.alone)} | ` +
      `${f(second.alone)} | ${r(second.alone, one.alone)} | ${f(any.alone)} | ` +
      `${f(one.together)} | ${f(first.together)} | ${r(first.together, one.together)}`,
  );
}
console.log(
  `load average before ${before}, between (1 node done) ${between}, after ${await loadAverage()}`,
);
