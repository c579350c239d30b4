/**
 * Chaos on a real three-node cluster (replication factor 3, loopback): 8 writers send line
 * protocol to random nodes (each writer its own series, every acknowledged point recorded) while
 * a random node is killed with SIGKILL every 5 seconds and started again on its data folder (on
 * new ports: port 0), and queries run against random nodes. Then:
 *
 * - every query answered during the chaos was complete (each writer's count at least what was
 *   acknowledged before the query was sent) or a clear error, never a silently partial answer;
 * - no acknowledged point is lost, changed or duplicated, and nothing unsent appears;
 * - the replicas converge: every node's own replicas (read at `consistency=any`) hold the same
 *   points, partition by partition (count and SHA-256), and apply the same Raft index.
 *
 * - the kills moved leadership: some partition changed leader (counted from the nodes that say
 *   they lead), else the test proved nothing.
 *
 * 60 s of chaos in CI (12 kills: when a restart takes longer than 5 s on a loaded machine, the
 * next kill waits for it, within 3 times that); `CHAOS_SECONDS=300` for five minutes by hand,
 * `CHAOS_SEED` to replay the kill order. Each restart's catch-up time (restart to its replicas' applied index reaching what
 * the others had applied when it started) is printed.
 */
import assert from "node:assert/strict";
import { type ClusterStatus, TestCluster } from "../_cluster.ts";
import { query } from "../_server.ts";
import { AckedWriters, checkReplicas, quantile } from "./_acked_writers.ts";

const SECONDS = Number(Deno.env.get("CHAOS_SECONDS") ?? 60);
const KILL_EVERY_MS = 5_000;
const KILLS = Math.max(1, Math.round(SECONDS * 1000 / KILL_EVERY_MS));
const WRITERS = 8;
const POINTS_PER_REQUEST = 50;
const PARTITIONS = 6;
const DB = "chaos";

/** A seeded generator: the kill order and node picks of a run can be replayed. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

Deno.test({
  name: `chaos: kill -9 a random node every 5 s for ${SECONDS} s; nothing acknowledged is lost`,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const seed = Number(Deno.env.get("CHAOS_SEED") ?? Date.now() % 1_000_000);
    console.log(`chaos seed ${seed} (CHAOS_SEED=${seed} replays the kill order)`);
    const random = lcg(seed);
    const cluster = await TestCluster.start({
      env: { EPOCHNEXUS_DEFAULT_PARTITIONS: String(PARTITIONS) },
    });
    const pick = () => {
      const up = cluster.running();
      return up.length === 0 ? undefined : cluster.nodes[up[Math.floor(random() * up.length)]]?.url;
    };
    try {
      await query(cluster.url(0), `CREATE DATABASE ${DB}`);
      const writers = new AckedWriters({
        writers: WRITERS,
        database: DB,
        measurement: "chaos",
        pointsPerRequest: POINTS_PER_REQUEST,
        pickUrl: pick,
      });
      writers.start();
      let chaos = true;
      const queryMs: number[] = [];
      const queries = {
        complete: 0,
        errors: {} as Record<string, number>,
        partial: [] as string[],
      };
      const reader = (async () => {
        for (let i = 0; i < 100_000 && chaos; i++) {
          const url = pick();
          if (url === undefined) continue;
          const before = [...writers.acked];
          const sent = Date.now();
          const outcome = await countPerWriter(url);
          queryMs.push(Date.now() - sent);
          if (typeof outcome === "string") {
            queries.errors[outcome] = (queries.errors[outcome] ?? 0) + 1;
          } else {
            const short = before.flatMap((n, w) =>
              (outcome.get(`w${w}`) ?? 0) < n ? [`w${w}: ${outcome.get(`w${w}`) ?? 0} < ${n}`] : []
            );
            if (short.length > 0) queries.partial.push(`${url}: ${short.join(", ")}`);
            else queries.complete++;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      })();

      // Who leads each group, as the nodes that claim it say: the kills must move leadership.
      const leadership = new LeadershipWatch();
      const watcher = (async () => {
        for (let i = 0; i < 100_000 && chaos; i++) {
          for (const n of cluster.running()) {
            const status = await cluster.status(n).catch(() => undefined);
            if (status) leadership.observe(status, DB);
          }
          await new Promise((r) => setTimeout(r, 250));
        }
      })();

      // The chaos: kill a random node, start it again at once; measure its catch-up meanwhile.
      const restarts: { node: number; startMs: number; catchUpMs: string }[] = [];
      const catchUps: Promise<unknown>[] = [];
      // KILLS kills, one every 5 s or as soon as the last victim answers again when its restart
      // took longer (a loaded machine): the chaos is counted in kills, bounded by a deadline.
      const deadline = Date.now() + 3 * SECONDS * 1000;
      let next = Date.now() + KILL_EVERY_MS;
      for (let round = 0; round < KILLS && Date.now() < deadline; round++) {
        while (Date.now() < next) await new Promise((r) => setTimeout(r, 50));
        next = Date.now() + KILL_EVERY_MS;
        const victim = Math.floor(random() * cluster.nodes.length);
        const target = await appliedByOthers(cluster, victim);
        await cluster.kill9(victim);
        const started = Date.now();
        await cluster.restart(victim);
        const restart = { node: victim, startMs: Date.now() - started, catchUpMs: "-" };
        restarts.push(restart);
        catchUps.push(
          catchUp(cluster, victim, target, started).then((ms) => restart.catchUpMs = ms),
        );
      }
      chaos = false;
      await Promise.all([writers.stop(), reader, watcher, ...catchUps]);
      const s = writers.stats;
      console.log(
        `writes: ${s.requests} requests, ${s.acknowledged} points acknowledged, failures ` +
          `${JSON.stringify(s.failures)}; latency p50 ${
            quantile(s.latencies, 0.5).toFixed(1)
          } ms ` +
          `p99 ${quantile(s.latencies, 0.99).toFixed(1)} ms`,
      );
      console.log(
        `queries: ${queries.complete} complete, errors ${JSON.stringify(queries.errors)}, ` +
          `${queries.partial.length} partial; took p50 ${quantile(queryMs, 0.5)} ms, max ` +
          `${quantile(queryMs, 1)} ms`,
      );
      console.log(
        `leader changes observed: ${leadership.changes.partitions} in the ${PARTITIONS} ` +
          `partitions, ${leadership.changes.meta} in the metadata group`,
      );
      console.log(
        `restarts (node: ms until it answers /ping / ms until its replicas applied what the ` +
          `others had when it was killed): ${
            restarts.map((r) => `${r.node}:${r.startMs}/${r.catchUpMs}`).join(" ")
          }`,
      );

      assert.deepEqual(queries.partial, [], "a query answered without acknowledged points");
      assert.ok(queries.complete > 0, "no query answered during the chaos");
      assert.equal(restarts.length, KILLS, `kills within ${3 * SECONDS} s (restarts too slow)`);
      assert.ok(leadership.changes.partitions > 0, "no partition changed leader: no chaos");
      assert.ok(s.acknowledged >= 10 * WRITERS * POINTS_PER_REQUEST, `${s.acknowledged} acked`);

      // Quiet now: every replica applies the same log. Then each node's own replicas (read at
      // consistency=any) must hold every acknowledged point, and the same points as the others'.
      await cluster.waitConverged(DB, 60_000);
      assert.deepEqual(await checkReplicas(cluster, writers, DB), []);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${cluster.logs().slice(-30_000)}`);
    } finally {
      await cluster.stop();
    }
  },
});

/**
 * Counts leader changes: per group, the node that last said it leads (its own status naming
 * itself), and how often another node said so after it. A node's word about another's
 * leadership is not counted (it may be stale).
 */
class LeadershipWatch {
  readonly changes = { partitions: 0, meta: 0 };
  readonly #last = new Map<string, number>();

  observe(status: ClusterStatus, database: string): void {
    if (status.metaLeader === status.nodeId) this.#saw("meta", status.nodeId);
    const db = status.databases.find((d) => d.name === database);
    for (const p of db?.partitions ?? []) {
      if (p.applied !== undefined && p.leader === status.nodeId) {
        this.#saw(`partition ${p.groupId}`, status.nodeId);
      }
    }
  }

  #saw(group: string, leader: number): void {
    const last = this.#last.get(group);
    this.#last.set(group, leader);
    if (last === undefined || last === leader) return;
    if (group === "meta") this.changes.meta++;
    else this.changes.partitions++;
  }
}

/** `SELECT count(v) ... GROUP BY writer` at leader consistency: counts, or why there are none. */
async function countPerWriter(url: string): Promise<Map<string, number> | string> {
  let r: Response;
  try {
    r = await fetch(`${url}/query`, {
      method: "POST",
      body: new URLSearchParams({
        db: DB,
        q: "SELECT count(v) FROM chaos GROUP BY writer",
      }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch {
    return "connection lost";
  }
  const text = await r.text();
  if (r.status !== 200) return `HTTP ${r.status}`;
  const result = JSON.parse(text).results[0];
  if (result.error) return `statement error: ${String(result.error).replace(/\d+/g, "N")}`;
  const counts = new Map<string, number>();
  for (const s of result.series ?? []) counts.set(s.tags.writer, s.values[0][1]);
  return counts;
}

/** What the other nodes' replicas have applied, per group (the most of them). */
async function appliedByOthers(cluster: TestCluster, victim: number): Promise<Map<number, number>> {
  const target = new Map<number, number>();
  for (const [group, nodes] of await cluster.applied(DB)) {
    for (const [i, applied] of nodes) {
      if (i !== victim) target.set(group, Math.max(target.get(group) ?? 0, applied));
    }
  }
  return target;
}

/**
 * Polls node `i` (just restarted) until every replica on it has applied at least `target` of its
 * group; resolves with the ms since `started` (its process was started), or why not.
 */
async function catchUp(
  cluster: TestCluster,
  i: number,
  target: Map<number, number>,
  started: number,
): Promise<string> {
  const node = cluster.nodes[i];
  for (let k = 0; k < 1_000 && Date.now() - started < 30_000; k++) {
    if (cluster.nodes[i] !== node) return "killed again";
    const status = await cluster.status(i).catch(() => undefined);
    const db = status?.databases.find((d) => d.name === DB);
    if (db?.partitions.every((p) => (p.applied ?? 0) >= (target.get(p.groupId) ?? 0))) {
      return String(Date.now() - started);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return "> 30 s";
}
