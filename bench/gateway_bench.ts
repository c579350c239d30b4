/**
 * `deno task bench:gateway`: what the gateway adds to a request. A 3-node cluster and one
 * gateway under `deno serve` (real processes on loopback) hold the differential dataset; each
 * query is asked `--runs` times of a node directly and through the gateway, interleaved, and the
 * medians are printed beside each other with their ratio; the same for small writes, and for
 * batches of 5000 points over 500 series (write throughput).
 *
 *   deno task bench:gateway [--runs 30] [--batch-runs 10] [--baseline /path/to/other/checkout/]
 *
 * `--baseline` also starts the gateway of another checkout (e.g. `git archive main` unpacked,
 * with `deno install` run in it) over the same cluster and asks it in turn with the others.
 * @module
 */
import { batches } from "../tests/differential/_dataset.ts";
import { raftAddress, startCluster, startGateway } from "../tests/gateway/_gateway.ts";
import { loadAverage } from "./peers/systems.ts";

const runsFlag = Deno.args.indexOf("--runs");
const RUNS = runsFlag >= 0 ? Number(Deno.args[runsFlag + 1]) : 30;
const batchFlag = Deno.args.indexOf("--batch-runs");
const BATCH_RUNS = batchFlag >= 0 ? Number(Deno.args[batchFlag + 1]) : 10;
const BATCH_POINTS = 5000;
const BATCH_SERIES = 500;
const baselineFlag = Deno.args.indexOf("--baseline");
const BASELINE = baselineFlag >= 0 ? Deno.args[baselineFlag + 1].replace(/\/?$/, "/") : undefined;
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
const gatewayEnv = {
  EPOCHNEXUS_GATEWAY_NODES: raftAddress(nodes[0]),
  EPOCHNEXUS_CLUSTER_SECRET: SECRET,
};
const gateway = await startGateway(gatewayEnv);
// A gateway from another checkout, over the same cluster: asked in turn with the others.
const baseline = BASELINE === undefined
  ? undefined
  : await startGateway(gatewayEnv, 30_000, BASELINE);
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
  console.log(
    "| request | node (median ms) | gateway (median ms) | ratio |" +
      (baseline ? " baseline gateway (median ms) | ratio |" : ""),
  );
  console.log("| --- | ---: | ---: | ---: |" + (baseline ? " ---: | ---: |" : ""));
  const row = (name: string, direct: number[], via: number[], old: number[] = []) => {
    const [d, g] = [median(direct), median(via)];
    const b = baseline ? ` ${median(old).toFixed(2)} | ${(median(old) / d).toFixed(2)} |` : "";
    console.log(`| ${name} | ${d.toFixed(2)} | ${g.toFixed(2)} | ${(g / d).toFixed(2)} |${b}`);
  };
  for (const [name, q] of Object.entries(QUERIES)) {
    const direct: number[] = [], via: number[] = [], old: number[] = [];
    const path = `/query?db=${DB}&q=${encodeURIComponent(q)}`;
    for (let i = 0; i < RUNS; i++) {
      direct.push(await timed(`${node}${path}`));
      via.push(await timed(`${gateway.url}${path}`));
      if (baseline) old.push(await timed(`${baseline.url}${path}`));
    }
    row(name, direct, via, old);
  }
  const direct: number[] = [], via: number[] = [], old: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const line = (k: number) => `gw,run=${i} v=${k} ${1_700_000_000 + i * 3 + k}`;
    direct.push(
      await timed(`${node}/write?db=${DB}&precision=s`, { method: "POST", body: line(0) }),
    );
    via.push(
      await timed(`${gateway.url}/write?db=${DB}&precision=s`, { method: "POST", body: line(1) }),
    );
    if (baseline) {
      old.push(
        await timed(`${baseline.url}/write?db=${DB}&precision=s`, {
          method: "POST",
          body: line(2),
        }),
      );
    }
  }
  row("write of one point (quorum)", direct, via, old);
  // Throughput: batches of many series, which fall in every partition (a node hands the parts
  // it does not lead to their leaders; the gateway sends each part to its leader itself).
  const batch = (i: number, salt: number) => {
    const out: string[] = [];
    for (let h = 0; h < BATCH_SERIES; h++) {
      for (let k = 0; k < BATCH_POINTS / BATCH_SERIES; k++) {
        out.push(`tp,host=h${h},salt=${salt} v=${h + k},n=${i}i ${1_600_000_000 + i * 100 + k}`);
      }
    }
    return out.join("\n");
  };
  const bigDirect: number[] = [], bigVia: number[] = [], bigOld: number[] = [];
  for (let i = 0; i < BATCH_RUNS; i++) {
    bigDirect.push(
      await timed(`${node}/write?db=${DB}&precision=s`, { method: "POST", body: batch(i, 0) }),
    );
    bigVia.push(
      await timed(`${gateway.url}/write?db=${DB}&precision=s`, {
        method: "POST",
        body: batch(i, 1),
      }),
    );
    if (baseline) {
      bigOld.push(
        await timed(`${baseline.url}/write?db=${DB}&precision=s`, {
          method: "POST",
          body: batch(i, 2),
        }),
      );
    }
  }
  const name = `write of ${BATCH_POINTS} points, ${BATCH_SERIES} series (quorum)`;
  row(name, bigDirect, bigVia, bigOld);
  const rate = (xs: number[]) => Math.round(BATCH_POINTS / (median(xs) / 1000));
  console.log(
    `write throughput (median batch): node ${rate(bigDirect)} points/s, gateway ` +
      `${rate(bigVia)} points/s (${(rate(bigVia) / rate(bigDirect)).toFixed(2)}x)` +
      (baseline
        ? `, baseline gateway ${rate(bigOld)} points/s ` +
          `(${(rate(bigOld) / rate(bigDirect)).toFixed(2)}x)`
        : ""),
  );
  console.log(`load average after: ${await loadAverage()}`);
} finally {
  await gateway.stop();
  await baseline?.stop();
  await Promise.all(nodes.map((n) => n.kill9()));
}
