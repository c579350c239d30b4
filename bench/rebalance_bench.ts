/**
 * `deno task bench:rebalance`: what moving replicas costs, real processes on loopback, one run
 * (issue #17's figures):
 *
 * 1. three nodes (replication factor 3, 6 partitions) take writes until `--preload` points are
 *    acknowledged; then the write latency (p50, p99) is measured for `--steady` seconds;
 * 2. a fourth node joins while the writers go on: its share of replicas moves to it. Printed:
 *    the write latency from the join until the moves are done (beside the steady state's), how
 *    long the moves took, and the snapshot bytes the nodes streamed over that time (bytes/s, and
 *    beside `rebalance_bytes_per_sec`, which caps each sending node);
 * 3. a node is killed with -9: printed, the time until every partition again has its replica
 *    count on live nodes and no move is left (`dead_node_timeout_ms` of it spent waiting).
 *
 *   deno task bench:rebalance [--writers 4] [--batch 500] [--preload 100000] [--steady 20]
 *                             [--rate 256KiB] [--dead-ms 5000] [--noise 300000] [--fields 1]
 *                             [--rf 3] [--partitions 6] [--flush-head 65536] [--kill yes]
 *
 * Heads flush at `--flush-head` bytes, so the logs are compacted and a new replica copies a
 * snapshot; the default rate is low so that snapshots this small are paced by it.
 *
 * The move speed at the default rate (tens of MiB per replica, streamed at up to 64 MiB/s):
 *
 *   deno task bench:rebalance --rf 1 --partitions 4 --noise 500000 --fields 40 --rate 64MiB
 *                             --flush-head 8MiB --preload 20000 --kill no
 *
 * (`--fields` random floats per noise point: about 8 bytes each on disk.) The streaming figure is the
 * snapshot bytes over the time in which they went out (quarter-second samples).
 * @module
 */
import { TestCluster } from "../tests/_cluster.ts";
import { query, startServer } from "../tests/_server.ts";
import { AckedWriters, quantile } from "../tests/e2e/_acked_writers.ts";
import { loadAverage } from "./peers/systems.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && Deno.args[i + 1] ? Deno.args[i + 1] : fallback;
}

const options = {
  writers: Number(flag("writers", "4")),
  batch: Number(flag("batch", "500")),
  preload: Number(flag("preload", "100000")),
  steadySeconds: Number(flag("steady", "20")),
  rate: flag("rate", "256KiB"),
  deadMs: Number(flag("dead-ms", "5000")),
  noise: Number(flag("noise", "300000")),
  fields: Number(flag("fields", "1")),
  rf: Number(flag("rf", "3")),
  partitions: Number(flag("partitions", "6")),
  flushHead: flag("flush-head", "65536"),
  kill: flag("kill", "yes") !== "no",
};

const DB = "moves";
const RF = options.rf;
const PARTITIONS = options.partitions;
/** No move for this long: the planner has nothing left to do. */
const QUIET_MS = 5_000;

interface Status {
  nodeId: number;
  metaLeader: number;
  nodes: { id: number; live?: boolean; httpAddress: string }[];
  moves: { database: string }[];
  databases: {
    name: string;
    partitions: { replicas: number[]; target: number[]; bytes?: number }[];
  }[];
}

async function status(url: string): Promise<Status> {
  const r = await fetch(`${url}/api/v1/cluster`, { signal: AbortSignal.timeout(10_000) });
  if (!r.ok) throw new Error(`status: ${r.status} ${await r.text()}`);
  return await r.json();
}

/** The sum of a metric's samples on one node (0 when it does not answer). */
async function metric(url: string, name: string): Promise<number> {
  try {
    const r = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
    let sum = 0;
    for (const line of (await r.text()).split("\n")) {
      if (line.startsWith(name) && /[ {]/.test(line[name.length])) {
        sum += Number(line.slice(line.lastIndexOf(" ") + 1));
      }
    }
    return sum;
  } catch {
    return 0;
  }
}

/** Replicas each node holds in the bench's database. */
function held(s: Status): Map<number, number> {
  const out = new Map<number, number>();
  const db = s.databases.find((d) => d.name === DB);
  for (const p of db?.partitions ?? []) {
    for (const n of p.replicas) out.set(n, (out.get(n) ?? 0) + 1);
  }
  return out;
}

/** No move of the database under way and each of its partitions at RF replicas, none on `gone`. */
function settled(s: Status, gone?: number): boolean {
  const db = s.databases.find((d) => d.name === DB);
  return !s.moves.some((m) => m.database === DB) && db !== undefined &&
    db.partitions.every((p) =>
      p.replicas.length === RF && p.target.length === RF && !p.replicas.includes(gone ?? -1)
    );
}

const ms = (v: number) => v.toFixed(1);

/** Waits (10 min at most) for `check`, naming the moves and holdings on the way and on failure. */
async function waitLogged(what: string, check: () => Promise<[boolean, Status]>): Promise<void> {
  let last = "";
  let shown = performance.now();
  await cluster.waitFor(what, 600_000, async () => {
    const [done, s] = await check();
    last = JSON.stringify({ held: [...held(s)], moves: s.moves });
    if (!done && performance.now() - shown > 30_000) {
      shown = performance.now();
      console.log(`  waiting for ${what}: ${last}`);
    }
    return done;
  }).catch((error) => {
    throw new Error(`${error.message}; last status ${last}\n${cluster.logs().slice(-20_000)}`);
  });
}

const env = {
  EPOCHNEXUS_REPLICATION_FACTOR: String(RF),
  EPOCHNEXUS_DEFAULT_PARTITIONS: String(PARTITIONS),
  EPOCHNEXUS_MAX_MOVES: "2",
  // Small heads: flushes compact the logs, so a new replica copies a snapshot (files).
  EPOCHNEXUS_FLUSH_HEAD_BYTES: options.flushHead,
  EPOCHNEXUS_REBALANCE_BYTES_PER_SEC: options.rate,
  EPOCHNEXUS_DEAD_NODE_TIMEOUT_MS: String(options.deadMs),
  EPOCHNEXUS_MAX_SERIES_PER_DATABASE: "0",
};

console.log(`bench:rebalance ${JSON.stringify(options)}; load ${await loadAverage()}`);
const cluster = await TestCluster.start({ env });
// Interrupted: the nodes are stopped, not left running.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => {
    cluster.stop().finally(() => Deno.exit(130));
  });
}
const pick = () => {
  const up = cluster.running();
  return up.length === 0 ? undefined : cluster.url(up[Math.floor(Math.random() * up.length)]);
};
const writers = new AckedWriters({
  writers: options.writers,
  database: DB,
  measurement: "m",
  pointsPerRequest: options.batch,
  pickUrl: pick,
});
/** Where the writers were at one moment. */
interface Mark {
  at: number;
  latencies: number;
  points: number;
}
const mark = (): Mark => ({
  at: performance.now(),
  latencies: writers.stats.latencies.length,
  points: writers.stats.acknowledged,
});

/**
 * The write latencies (ms) of requests acknowledged while `during` ran (up to the mark it
 * returns, if any), and the points per second.
 */
async function window(during: () => Promise<Mark | void>) {
  const from = mark();
  const to = (await during()) ?? mark();
  const seconds = (to.at - from.at) / 1000;
  const latencies = writers.stats.latencies.slice(from.latencies, to.latencies);
  return {
    seconds,
    requests: latencies.length,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    pointsPerSecond: (to.points - from.points) / seconds,
  };
}
/**
 * `--noise` points of random values (8 bytes each that no codec shrinks), so that the replicas
 * hold enough bytes for a snapshot's streaming to be measured; the writers' own points compress
 * to almost nothing.
 */
async function writeNoise(): Promise<void> {
  const perRequest = 5_000;
  const t0 = 1_600_000_000_000;
  for (let done = 0; done < options.noise; done += perRequest) {
    const lines = Array.from({ length: Math.min(perRequest, options.noise - done) }, (_, i) => {
      // Every digit (a value of few decimals is stored scaled, in fewer bytes).
      const fields = Array.from({ length: options.fields }, (_, f) => `v${f}=${Math.random()}`);
      return `noise,host=h${(done + i) % 60} ${fields.join(",")} ${t0 + done + i}000000`;
    });
    const body = lines.join("\n");
    // A partition without a leader for a moment (503): the same points again (stored once).
    for (let attempt = 1;; attempt++) {
      const r = await fetch(`${cluster.url(0)}/write?db=${DB}`, {
        method: "POST",
        body,
        signal: AbortSignal.timeout(60_000),
      });
      const text = await r.text();
      if (r.status === 204) break;
      if (r.status !== 503 || attempt >= 30) throw new Error(`noise write: ${r.status} ${text}`);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
}

const snapshotBytes = async () => {
  let sum = 0;
  for (const i of cluster.running()) {
    sum += await metric(cluster.url(i), "epochnexus_raft_snapshot_bytes_sent_total");
  }
  return sum;
};

/** Kills a node with -9 and prints the time until every partition is back at RF live replicas. */
async function repairAfterKill(): Promise<void> {
  const victim = 1;
  const victimId = cluster.ids[victim];
  const killedAt = performance.now();
  await cluster.kill9(victim);
  await waitLogged("full replication without the dead node", async () => {
    const s = await status(cluster.url(0));
    return [settled(s, victimId), s];
  });
  const repairSeconds = (performance.now() - killedAt) / 1000;
  console.log(
    `node ${victimId} killed: every partition back at ${RF} live replicas in ` +
      `${repairSeconds.toFixed(1)} s (dead_node_timeout_ms ${options.deadMs} of it, ` +
      `${(repairSeconds - options.deadMs / 1000).toFixed(1)} s of moves); ` +
      `load ${await loadAverage()}`,
  );
}

try {
  await query(cluster.url(0), `CREATE DATABASE ${DB}`);
  // The default database (made by the founding node alone, one replica per partition, no data)
  // would otherwise take the new node's whole share: the planner evens counts over databases.
  await query(cluster.url(0), "DROP DATABASE epochnexus");
  await writeNoise();
  writers.start();
  await cluster.waitFor(
    `${options.preload} points acknowledged`,
    600_000,
    () => Promise.resolve(writers.stats.acknowledged >= options.preload),
  );
  const steady = await window(() =>
    new Promise((r) => setTimeout(r, options.steadySeconds * 1000))
  );
  console.log(
    `steady (3 nodes): ${steady.requests} writes in ${steady.seconds.toFixed(1)} s, ` +
      `${steady.pointsPerSecond.toFixed(0)} points/s, p50 ${ms(steady.p50)} ms, ` +
      `p99 ${ms(steady.p99)} ms; load ${await loadAverage()}`,
  );

  // 2. A fourth node joins: the moves run under the writers.
  const bytesBefore = await snapshotBytes();
  // The snapshot bytes streamed per second, sampled about every second: the fastest second
  // shows whether the throttle holds (it caps each sending node).
  // Sampled about every quarter second: the fastest second (over samples at least a second
  // apart) shows whether the throttle holds (it caps each sending node); the span in which bytes
  // went out (from the sample before the first rise to the last rise) gives the streaming rate.
  const samples = [{ at: performance.now(), bytes: bytesBefore }];
  let peakBytesPerSecond = 0;
  let streaming: { from: number; to: number } | undefined;
  const sampleRate = async () => {
    const last = samples[samples.length - 1];
    if (performance.now() - last.at < 250) return;
    const next = { at: performance.now(), bytes: await snapshotBytes() };
    samples.push(next);
    const secondAgo = samples.findLast((x) => next.at - x.at >= 1_000);
    if (secondAgo) {
      const rate = (next.bytes - secondAgo.bytes) / ((next.at - secondAgo.at) / 1000);
      peakBytesPerSecond = Math.max(peakBytesPerSecond, rate);
    }
    if (next.bytes > last.bytes) streaming = { from: streaming?.from ?? last.at, to: next.at };
  };
  let fourthId = 0;
  // Joins through the metadata leader: a follower registers the node but refuses to add it to
  // the metadata group ("does not lead the metadata group"), and the joiner does not follow.
  const { metaLeader, nodes } = await status(cluster.url(0));
  const joinAt = nodes.find((n) => n.id === metaLeader)?.httpAddress ??
    `127.0.0.1:${cluster.node(0).port}`;
  const move = await window(async () => {
    const fourth = await startServer({
      // Its default database is the bench's: a node makes its default database when missing (on
      // the least loaded nodes: all on itself), which would take its whole share.
      env: { ...env, EPOCHNEXUS_JOIN_ADDRESS: joinAt, EPOCHNEXUS_DEFAULT_DATABASE: DB },
      timeoutMs: 120_000,
    });
    cluster.nodes.push(fourth);
    cluster.dataDirs.push(fourth.dataDir);
    fourthId = (await status(fourth.url)).nodeId;
    // The planner evens replica counts over every database (the default one included), so
    // the new node's share of this one is not known in advance: the moves are done when none
    // has been under way for a few maintenance passes (1 s each).
    let quiet: Mark | undefined;
    await waitLogged("the moves to the new node to end", async () => {
      await sampleRate();
      const s = await status(cluster.url(0));
      if (!settled(s) || (held(s).get(fourthId) ?? 0) === 0) quiet = undefined;
      else quiet ??= mark();
      return [quiet !== undefined && performance.now() - quiet.at >= QUIET_MS, s];
    });
    return quiet;
  });
  const after = await status(cluster.url(0));
  const moved = held(after).get(fourthId) ?? 0;
  const movedBytes = (after.databases.find((d) => d.name === DB)?.partitions ?? [])
    .filter((p) => p.replicas.includes(fourthId)).map((p) => (p.bytes ?? 0) / 1048576);
  const bytes = (await snapshotBytes()) - bytesBefore;
  const streamSeconds = streaming ? (streaming.to - streaming.from) / 1000 : 0;
  console.log(
    `during the moves: ${move.requests} writes in ${move.seconds.toFixed(1)} s, ` +
      `${move.pointsPerSecond.toFixed(0)} points/s, p50 ${ms(move.p50)} ms, ` +
      `p99 ${ms(move.p99)} ms (${(move.p99 / steady.p99).toFixed(2)}x steady; goal <= 2x); ` +
      `load ${await loadAverage()}`,
  );
  console.log(
    `moves: ${moved} replicas to the new node in ${move.seconds.toFixed(1)} s (from its start), ` +
      `${(bytes / 1048576).toFixed(2)} MiB of snapshots streamed, ` +
      `${(bytes / move.seconds / 1048576).toFixed(2)} MiB/s over the moves, fastest second ` +
      `${(peakBytesPerSecond / 1048576).toFixed(2)} MiB/s ` +
      `(rebalance_bytes_per_sec ${options.rate} per sending node)`,
  );
  console.log(
    `moved replicas' sizes ${movedBytes.map((b) => b.toFixed(1)).join(", ")} MiB; bytes went ` +
      `out over ${streamSeconds.toFixed(2)} s (0.25 s samples): ` +
      `${(bytes / Math.max(streamSeconds, 0.25) / 1048576).toFixed(2)} MiB/s while streaming`,
  );

  // 3. A node dies: its replicas are made again on the others (unless `--kill no`).
  if (options.kill) await repairAfterKill();
} finally {
  await writers.stop();
  console.log(
    `writers: ${writers.stats.acknowledged} points acknowledged in ${writers.stats.requests} ` +
      `requests, failures ${JSON.stringify(writers.stats.failures)}`,
  );
  await cluster.stop();
}
