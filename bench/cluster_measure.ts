/**
 * Figures of a real 3-node cluster on loopback (replication factor 3), measured by hand:
 *
 *   npx deno@2.9.6 run -A bench/cluster_measure.ts latency [seconds=30] [writers=8] [points=50]
 *     (`deno task bench:cluster` runs it for 20 s: about a minute in all)
 *     write latency at quorum: `writers` clients each POST /write `points` points to a random
 *     node, back to back; p50/p90/p99/max and throughput; the same against one node for scale.
 *
 *   npx deno@2.9.6 run -A bench/cluster_measure.ts catchup [down seconds=20] [flush bytes]
 *     a node killed with SIGKILL while 8 writers go on for `down seconds`, then started again:
 *     the time until it answers /ping, and until every replica on it has applied what the
 *     others had applied when it started (the leaders' commit then). With `flush bytes` (say
 *     1048576) the others flush and compact their Raft logs while it is down, so it needs
 *     entries they no longer keep (a snapshot).
 *
 * Prints one line per figure, with the load average.
 * @module
 */
import { TestCluster } from "../tests/_cluster.ts";
import { query } from "../tests/_server.ts";
import { AckedWriters, quantile } from "../tests/e2e/_acked_writers.ts";

const [mode = "latency", ...args] = Deno.args;
const loadAverage = () => Deno.loadavg().map((l) => l.toFixed(1)).join(" ");

async function latency(seconds: number, writers: number, points: number) {
  for (const system of ["3 nodes", "1 node"]) {
    const cluster = await TestCluster.start({ size: system === "1 node" ? 1 : 3 });
    try {
      await query(cluster.url(0), "CREATE DATABASE bench");
      let k = 0;
      const w = new AckedWriters({
        writers,
        database: "bench",
        measurement: "m",
        pointsPerRequest: points,
        pickUrl: () => cluster.url(k++ % cluster.nodes.length),
      });
      const load = loadAverage();
      w.start();
      await new Promise((r) => setTimeout(r, seconds * 1000));
      await w.stop();
      const l = w.stats.latencies;
      console.log(
        `${system}, ${writers} writers x ${points} points, ${seconds} s: ${l.length} writes, ` +
          `${(w.stats.acknowledged / seconds).toFixed(0)} points/s; latency ms p50 ` +
          `${quantile(l, 0.5).toFixed(1)} p90 ${quantile(l, 0.9).toFixed(1)} p99 ` +
          `${quantile(l, 0.99).toFixed(1)} max ${quantile(l, 1).toFixed(1)}; failures ` +
          `${JSON.stringify(w.stats.failures)}; load average ${load} -> ${loadAverage()}`,
      );
    } finally {
      await cluster.stop();
    }
  }
}

async function catchup(downSeconds: number, flushBytes: string | undefined) {
  const env: Record<string, string> = flushBytes ? { EPOCHNEXUS_FLUSH_HEAD_BYTES: flushBytes } : {};
  const cluster = await TestCluster.start({ env });
  try {
    await query(cluster.url(0), "CREATE DATABASE bench");
    let k = 0;
    const w = new AckedWriters({
      writers: 8,
      database: "bench",
      measurement: "m",
      pointsPerRequest: 50,
      pickUrl: () => cluster.nodes[k++ % 2]?.url, // the two that stay up
    });
    w.start();
    await new Promise((r) => setTimeout(r, 2000));
    await cluster.kill9(2);
    const ackedAtKill = w.stats.acknowledged;
    await new Promise((r) => setTimeout(r, downSeconds * 1000));
    // What the others have applied now: the restarted node must reach it.
    const target = new Map<number, number>();
    for (const [group, nodes] of await cluster.applied("bench")) {
      target.set(group, Math.max(...nodes.values()));
    }
    const missed = w.stats.acknowledged - ackedAtKill;
    const started = performance.now();
    await cluster.restart(2);
    const answered = performance.now() - started;
    let caughtUp = -1;
    let last = "";
    for (let i = 0; i < 1200; i++) {
      const db = (await cluster.status(2)).databases.find((d) => d.name === "bench");
      last = JSON.stringify(
        db?.partitions.map((p) => [p.groupId, p.applied, target.get(p.groupId)]),
      );
      if (db?.partitions.every((p) => (p.applied ?? 0) >= (target.get(p.groupId) ?? 0))) {
        caughtUp = performance.now() - started;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await w.stop();
    console.log(
      `catch-up after ${downSeconds} s down (${missed} points written meanwhile` +
        `${flushBytes ? `, flush_head_bytes ${flushBytes}` : ""}): answers /ping after ` +
        `${answered.toFixed(0)} ms, replicas caught up after ` +
        `${
          caughtUp < 0
            ? `more than 120 s (group, applied, target: ${last})`
            : `${caughtUp.toFixed(0)} ms`
        }` +
        `; load average ${loadAverage()}`,
    );
    if (caughtUp < 0) {
      console.log(
        cluster.logs().split("\n").filter((l) => /warn|error/.test(l)).slice(-15).join("\n"),
      );
    }
  } finally {
    await cluster.stop();
  }
}

if (mode === "latency") {
  await latency(Number(args[0] ?? 30), Number(args[1] ?? 8), Number(args[2] ?? 50));
} else if (mode === "catchup") {
  await catchup(Number(args[0] ?? 20), args[1]);
} else {
  console.error(`unknown mode ${mode}: use latency or catchup`);
  Deno.exit(2);
}
