/**
 * `deno task bench:gateway`: what the gateway adds to a request. A 3-node cluster and one
 * gateway under `deno serve` (real processes on loopback) hold the differential dataset; each
 * query is asked `--runs` times of a node directly and through the gateway, interleaved, and the
 * medians are printed beside each other with their ratio; the same for small writes.
 *
 *   deno task bench:gateway [--runs 30]
 * @module
 */
import { batches } from "../tests/differential/_dataset.ts";
import { raftAddress, startCluster, startGateway } from "../tests/gateway/_gateway.ts";
import { loadAverage } from "./peers/systems.ts";

const runsFlag = Deno.args.indexOf("--runs");
const RUNS = runsFlag >= 0 ? Number(Deno.args[runsFlag + 1]) : 30;
const SECRET = "gateway-bench-secret";
const DB = "bench";

const QUERIES: Record<string, string> = {
  "SHOW DATABASES": "SHOW DATABASES",
  "last point of one series": "SELECT last(usage_user) FROM cpu WHERE host = 'h1'",
  "10m means by host, 1h":
    "SELECT mean(usage_user) FROM cpu WHERE time >= '2023-03-15T00:00:00Z' " +
    "AND time < '2023-03-15T01:00:00Z' GROUP BY time(10m), host",
  "raw points, 6h of one host": "SELECT * FROM cpu WHERE host = 'h2'",
};

async function timed(url: string, init?: RequestInit): Promise<number> {
  const t0 = performance.now();
  const r = await fetch(url, init);
  const body = await r.arrayBuffer();
  const ms = performance.now() - t0;
  if (!r.ok) throw new Error(`${url}: ${r.status} ${new TextDecoder().decode(body)}`);
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const nodes = await startCluster(3, { EPOCHNEXUS_CLUSTER_SECRET: SECRET });
const gateway = await startGateway({
  EPOCHNEXUS_GATEWAY_NODES: raftAddress(nodes[0]),
  EPOCHNEXUS_CLUSTER_SECRET: SECRET,
});
try {
  const node = nodes[1].url;
  await timed(`${node}/query`, {
    method: "POST",
    body: new URLSearchParams({ q: `CREATE DATABASE ${DB}` }),
  });
  for (const batch of batches()) {
    await timed(`${node}/write?db=${DB}&precision=s`, { method: "POST", body: batch.join("\n") });
  }
  console.log(`load average before: ${await loadAverage()}; ${RUNS} runs each, interleaved`);
  console.log("| request | node (median ms) | gateway (median ms) | ratio |");
  console.log("| --- | ---: | ---: | ---: |");
  const row = (name: string, direct: number[], via: number[]) => {
    const [d, g] = [median(direct), median(via)];
    console.log(`| ${name} | ${d.toFixed(2)} | ${g.toFixed(2)} | ${(g / d).toFixed(2)} |`);
  };
  for (const [name, q] of Object.entries(QUERIES)) {
    const direct: number[] = [], via: number[] = [];
    const path = `/query?db=${DB}&q=${encodeURIComponent(q)}`;
    for (let i = 0; i < RUNS; i++) {
      direct.push(await timed(`${node}${path}`));
      via.push(await timed(`${gateway.url}${path}`));
    }
    row(name, direct, via);
  }
  const direct: number[] = [], via: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const line = (k: number) => `gw,run=${i} v=${k} ${1_700_000_000 + i * 2 + k}`;
    direct.push(
      await timed(`${node}/write?db=${DB}&precision=s`, { method: "POST", body: line(0) }),
    );
    via.push(
      await timed(`${gateway.url}/write?db=${DB}&precision=s`, { method: "POST", body: line(1) }),
    );
  }
  row("write of one point (quorum)", direct, via);
  console.log(`load average after: ${await loadAverage()}`);
} finally {
  await gateway.stop();
  await Promise.all(nodes.map((n) => n.kill9()));
}
