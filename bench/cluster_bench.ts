/**
 * `deno task bench:cluster`: the peers' default workload (bench/peers) on one node and on three
 * (replication factor 3), real processes on loopback, in one run:
 *
 * - ingest values/s and the CPU seconds per million values of every node together;
 * - bytes sent between nodes per value (the nodes' own counters);
 * - write latency per request (p50, p99) at the default consistency (quorum);
 * - each TSBS query type's median on 3 nodes beside 1;
 * - the time a node killed with -9 while writes go on needs, after its restart, to apply all its
 *   partitions' leaders had committed.
 *
 *   deno task bench:cluster [--hours 12] [--hosts 100] [--writers 2] [--batch 5000] [--runs 10]
 *                           [--down-batches 40]
 * @module
 */
import { generateBatches } from "./peers/workload.ts";
import { influxChecksum, instances, QUERY_TYPES } from "./peers/queries.ts";
import { DB, loadAverage, processStats } from "./peers/systems.ts";
import { type ServerProcess, startServer } from "../tests/_server.ts";
import { startNodes, writeRetrying } from "./_cluster_nodes.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && Deno.args[i + 1] ? Deno.args[i + 1] : fallback;
}

const options = {
  hosts: Number(flag("hosts", "100")),
  hours: Number(flag("hours", "12")),
  writers: Number(flag("writers", "2")),
  batch: Number(flag("batch", "5000")),
  runs: Number(flag("runs", "10")),
  downBatches: Number(flag("down-batches", "40")),
};

interface Measured {
  nodes: number;
  ingestValuesPerSecond: number;
  cpuSecondsPerMillionValues: number;
  bytesBetweenNodesPerValue: number;
  writeP50Ms: number;
  writeP99Ms: number;
  queries: Record<string, { medianMs: number; checksum: number }>;
  catchUpSeconds?: number;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

async function post(url: string, body: BodyInit): Promise<Response> {
  const r = await fetch(url, { method: "POST", body });
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  await r.body?.cancel();
  return r;
}

let writeRetries = 0;

/** Writes a batch through leader changes (bench/_cluster_nodes.ts), counting retries. */
function write(url: string, body: BodyInit): Promise<void> {
  return writeRetrying(url, body, () => writeRetries++);
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(name) && /[ {]/.test(line[name.length])) {
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return sum;
}

/** Waits until node `i` has applied, in every partition it holds, what was committed anywhere. */
async function catchUp(nodes: ServerProcess[], i: number): Promise<void> {
  const deadline = Date.now() + 300_000;
  const commits = new Map<number, number>();
  for (const [k, node] of nodes.entries()) {
    if (k === i) continue;
    const s = await (await fetch(`${node.url}/api/v1/cluster`)).json();
    for (const db of s.databases) {
      for (const p of db.partitions) {
        if (p.commit !== undefined) {
          commits.set(p.groupId, Math.max(commits.get(p.groupId) ?? 0, p.commit));
        }
      }
    }
  }
  while (Date.now() < deadline) {
    const s = await (await fetch(`${nodes[i].url}/api/v1/cluster`)).json();
    const behind = s.databases.flatMap((
      db: { partitions: { groupId: number; applied?: number }[] },
    ) =>
      db.partitions.filter((p) =>
        p.applied !== undefined && p.applied < (commits.get(p.groupId) ?? 0)
      )
    );
    if (behind.length === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the restarted node did not catch up within 300 s");
}

async function measure(
  n: number,
  bodies: Uint8Array<ArrayBuffer>[],
  points: number,
): Promise<Measured> {
  const nodes = await startNodes(n);
  const url = nodes[0].url;
  await post(`${url}/query`, new URLSearchParams({ q: `CREATE DATABASE ${DB}` }));
  console.error(`${n} node(s): ingesting ${points} points with ${options.writers} writers`);
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: options.writers }, async () => {
    while (next < bodies.length) {
      const body = bodies[next++];
      const t0 = performance.now();
      await write(`${url}/write?db=${DB}&precision=s`, body);
      latencies.push(performance.now() - t0);
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  const values = points * 10;
  let cpu = 0;
  for (const node of nodes) cpu += (await processStats(node.process.pid)).cpuSeconds;
  let sent = 0;
  for (const node of nodes) sent += await metric(node.url, "epochnexus_cluster_sent_bytes_total");
  latencies.sort((a, b) => a - b);
  const queries: Measured["queries"] = {};
  for (const type of QUERY_TYPES) {
    const list = instances(type, options.runs, options.hosts, options.hours, 7);
    const times: number[] = [];
    let checksum = 0;
    for (const [k, q] of [list[0], ...list].entries()) {
      const t0 = performance.now();
      const r = await fetch(`${url}/query?${new URLSearchParams({ db: DB, q: q.influxql })}`);
      const body = await r.json();
      if (!r.ok || body.results?.[0]?.error) {
        throw new Error(`${q.influxql}: ${JSON.stringify(body)}`);
      }
      if (k > 0) {
        times.push(performance.now() - t0); // the first is a warm-up
        checksum += influxChecksum(body);
      }
    }
    times.sort((a, b) => a - b);
    queries[type.name] = { medianMs: percentile(times, 0.5), checksum };
  }
  let catchUpSeconds: number | undefined;
  if (n > 1) {
    // Kill the last node, write on, restart it, time how long it takes to catch up.
    const victim = nodes[n - 1];
    await victim.kill9();
    const extra = generateBatches({
      hosts: options.hosts,
      hours: 1,
      batchLines: options.batch,
      seed: 99,
    })
      .bodies.slice(0, options.downBatches);
    for (const body of extra) await write(`${url}/write?db=${DB}&precision=s`, body);
    const t0 = performance.now();
    nodes[n - 1] = await startServer({
      dataDir: victim.dataDir,
      env: { EPOCHNEXUS_FLUSH_IDLE_MS: "2000", EPOCHNEXUS_MAX_SERIES_PER_DATABASE: "0" },
    });
    await catchUp(nodes, n - 1);
    catchUpSeconds = (performance.now() - t0) / 1000;
  }
  for (const node of nodes) await node.stop();
  for (const node of nodes) await Deno.remove(node.dataDir, { recursive: true }).catch(() => {});
  return {
    nodes: n,
    ingestValuesPerSecond: values / seconds,
    cpuSecondsPerMillionValues: cpu / (values / 1e6),
    bytesBetweenNodesPerValue: sent / values,
    writeP50Ms: percentile(latencies, 0.5),
    writeP99Ms: percentile(latencies, 0.99),
    queries,
    catchUpSeconds,
  };
}

const { bodies, points } = generateBatches({
  hosts: options.hosts,
  hours: options.hours,
  batchLines: options.batch,
  seed: 1,
});
const before = await loadAverage();
const one = await measure(1, bodies, points);
const three = await measure(3, bodies, points);
const after = await loadAverage();
const fmt = (x: number | undefined, d = 2) => (x === undefined ? "-" : x.toFixed(d));
const rows: [string, string, string, string][] = [
  [
    "ingest values/s",
    fmt(one.ingestValuesPerSecond, 0),
    fmt(three.ingestValuesPerSecond, 0),
    fmt(three.ingestValuesPerSecond / one.ingestValuesPerSecond),
  ],
  [
    "CPU s / 1M values (all nodes)",
    fmt(one.cpuSecondsPerMillionValues),
    fmt(three.cpuSecondsPerMillionValues),
    fmt(three.cpuSecondsPerMillionValues / one.cpuSecondsPerMillionValues),
  ],
  [
    "bytes between nodes / value",
    fmt(one.bytesBetweenNodesPerValue),
    fmt(three.bytesBetweenNodesPerValue),
    "-",
  ],
  [
    "write p50 ms",
    fmt(one.writeP50Ms),
    fmt(three.writeP50Ms),
    fmt(three.writeP50Ms / one.writeP50Ms),
  ],
  [
    "write p99 ms",
    fmt(one.writeP99Ms),
    fmt(three.writeP99Ms),
    fmt(three.writeP99Ms / one.writeP99Ms),
  ],
  ...QUERY_TYPES.map((t): [string, string, string, string] => [
    `${t.name} median ms`,
    fmt(one.queries[t.name].medianMs),
    fmt(three.queries[t.name].medianMs),
    fmt(three.queries[t.name].medianMs / one.queries[t.name].medianMs),
  ]),
  ["killed node catch-up s", "-", fmt(three.catchUpSeconds), "-"],
];
console.log(`load average before ${before}, after ${after}`);
console.log(`write retries (503, dropped proposal, forward cut 408): ${writeRetries}`);
console.log("metric | 1 node | 3 nodes (RF 3) | 3 / 1");
for (const r of rows) console.log(r.join(" | "));
for (const t of QUERY_TYPES) {
  if (one.queries[t.name].checksum !== three.queries[t.name].checksum) {
    console.error(
      `checksum mismatch for ${t.name}: ${one.queries[t.name].checksum} vs ${
        three.queries[t.name].checksum
      }`,
    );
    Deno.exit(1);
  }
}
