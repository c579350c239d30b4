/**
 * The gateway in front of a real three-node cluster (replication factor 3, 6 partitions) while
 * leadership moves under it: writers and a reader go through the gateway (`deno serve` with only
 * `--allow-net`) while the node leading the metadata group, then the node leading the most
 * partitions, is killed with SIGKILL and started again on its data folder (on new ports), four
 * times. The gateway's metadata copy lives ten minutes (`EPOCHNEXUS_GATEWAY_META_TTL_MS`), so
 * only what its answers tell it (a refused connection, a "not leader" with the leader's id) can
 * make it follow; and it knows one seed only, the first node, which comes back elsewhere.
 *
 * - every write the gateway acknowledged is there afterwards, and nothing unsent;
 * - every query answer through the gateway is right (each writer's series is exactly a prefix of
 *   its points, at least what was acknowledged before the query was sent and at most what was
 *   acknowledged by its answer, plus the one request in flight) or a 503 with Retry-After that
 *   names the partition or says no node answered, never a wrong or partial 200;
 * - after the last move the gateway writes and reads again within a deadline, without a restart
 *   and long before its metadata copy would expire;
 * - once leadership settles (the restarted nodes take back their preferred partitions, moves
 *   without a failure), the gateway's writes reach each partition's leader with no part handed
 *   on between nodes: it learned the new leaders from its reads' "not leader" answers.
 */
import assert from "node:assert/strict";
import { type ClusterStatus, TestCluster } from "../_cluster.ts";
import { query } from "../_server.ts";
import { AckedWriters, quantile } from "../e2e/_acked_writers.ts";
import { type GatewayProcess, startGateway } from "./_gateway.ts";

const SECRET = "gateway-moves-secret-0123456789";
const DB = "moves";
const WRITERS = 4;
const POINTS_PER_REQUEST = 40;
const PARTITIONS = 6;
const MOVES = 4;

Deno.test({
  name: "gateway: leadership moves under it (kill -9 and restart); nothing acknowledged lost, " +
    "no wrong answer",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const cluster = await TestCluster.start({
      env: {
        EPOCHNEXUS_CLUSTER_SECRET: SECRET,
        EPOCHNEXUS_DEFAULT_PARTITIONS: String(PARTITIONS),
      },
    });
    let gateway: GatewayProcess | undefined;
    try {
      await query(cluster.url(0), `CREATE DATABASE ${DB}`);
      gateway = await startGateway({
        EPOCHNEXUS_GATEWAY_NODES: `127.0.0.1:${cluster.node(0).raftPort}`,
        EPOCHNEXUS_CLUSTER_SECRET: SECRET,
        EPOCHNEXUS_GATEWAY_META_TTL_MS: "600000",
        EPOCHNEXUS_GATEWAY_DOWN_MS: "500",
      });
      const g = gateway.url;
      const writers = new AckedWriters({
        writers: WRITERS,
        database: DB,
        measurement: "m",
        pointsPerRequest: POINTS_PER_REQUEST,
        pickUrl: () => g,
        timeoutMs: 30_000,
      });
      writers.start();
      let moving = true;
      const answers = { right: 0, errors: {} as Record<string, number>, wrong: [] as string[] };
      const reader = (async () => {
        for (let i = 0; i < 100_000 && moving; i++) {
          const before = [...writers.acked];
          const outcome = await readThrough(g);
          const after = [...writers.acked];
          if (typeof outcome === "string") {
            if (outcome.startsWith("wrong")) answers.wrong.push(outcome);
            else answers.errors[outcome] = (answers.errors[outcome] ?? 0) + 1;
          } else {
            const wrong = judge(outcome, before, after);
            if (wrong.length > 0) answers.wrong.push(wrong.join(", "));
            else answers.right++;
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      })();

      /** Waits until writes and right answers went through since `acked`/`right`. */
      const progress = (what: string, acked: number, right: number) =>
        cluster.waitFor(
          what,
          60_000,
          () => Promise.resolve(writers.stats.acknowledged > acked && answers.right > right),
        ).catch((error) => {
          // Wrong answers keep the count of right ones still: name them.
          throw new Error(`${error.message}; wrong answers: ${answers.wrong.slice(0, 5)}`);
        });
      const moved = { meta: 0, partitions: 0 };
      for (let round = 0; round < MOVES; round++) {
        // Traffic has run through the gateway since the last move.
        const acked = writers.stats.acknowledged, right = answers.right;
        await progress(`round ${round}: writes and reads through the gateway`, acked, right);
        const status = await cluster.status(cluster.running()[0]);
        const victim = round % 2 === 0
          ? cluster.ids.indexOf(status.metaLeader)
          : mostLeading(status, cluster.ids);
        const leadersBefore = leaders(status);
        await cluster.kill9(victim);
        // The others elect leaders for what it led, while traffic goes on through the gateway.
        await cluster.waitFor(
          `round ${round}: new leaders without node ${victim}`,
          60_000,
          async () => {
            const s = await cluster.status(cluster.running()[0]);
            const now = leaders(s);
            const gone = cluster.ids[victim];
            return s.metaLeader !== gone && s.metaLeader > 0 &&
              [...now.values()].every((l) => l !== gone && l > 0);
          },
        );
        const after = leaders(await cluster.status(cluster.running()[0]));
        for (const [group, leader] of after) {
          if (group === "meta" && leader !== leadersBefore.get(group)) moved.meta++;
          else if (group !== "meta" && leader !== leadersBefore.get(group)) moved.partitions++;
        }
        await cluster.restart(victim);
      }
      // After the last move: the gateway writes and reads again, with no restart of its own and
      // its metadata copy far from expiring.
      const acked = writers.stats.acknowledged, right = answers.right;
      await progress("writes and reads through the gateway after the last move", acked, right);
      // Leadership settles (the restarted nodes take back their preferred leaderships); the
      // reader's Describes, asked of the leader only, are refused "not leader" by the old ones,
      // naming the new: the gateway reads its copy again, and its writes then reach each
      // partition's leader with no hop between nodes (a 10-minute TTL would not do it).
      let handedOn = -1;
      await cluster.waitFor(
        "a write through the gateway with no part handed on",
        90_000,
        async () => {
          const before = await partsHandedOn(cluster);
          const r = await fetch(`${g}/write?db=${DB}&precision=s`, {
            method: "POST",
            body: Array.from({ length: 60 }, (_, i) => `probe,k=k${i} v=1 ${1_700_000_000 + i}`)
              .join("\n") + "\n",
          });
          await r.body?.cancel();
          handedOn = (await partsHandedOn(cluster)) - before;
          return r.status === 204 && handedOn === 0;
        },
      ).catch((error) => {
        throw new Error(`${error.message}; last: ${handedOn} parts handed on by a node`);
      });
      moving = false;
      await Promise.all([writers.stop(), reader]);

      const s = writers.stats;
      console.log(
        `gateway under moving leaders: ${s.acknowledged} points acknowledged in ${s.requests} ` +
          `requests, failures ${JSON.stringify(s.failures)}, p99 ${
            quantile(s.latencies, 0.99).toFixed(0)
          } ms; queries ${answers.right} right, errors ${JSON.stringify(answers.errors)}, ` +
          `${answers.wrong.length} wrong; leaders moved: metadata ${moved.meta}, partitions ` +
          `${moved.partitions}`,
      );
      assert.deepEqual(answers.wrong, [], "a query through the gateway answered wrong");
      assert.ok(moved.meta > 0, "the metadata group's leadership never moved");
      assert.ok(moved.partitions > 0, "no partition's leadership moved");
      for (const [status] of Object.entries(s.failures)) {
        // A write not acknowledged is a clear refusal: 503 (retry), never a 4xx/500/502.
        assert.ok(status === "503", `a write through the gateway failed with ${status}`);
      }
      // Every acknowledged point is there, read through the gateway and at every node.
      await cluster.waitConverged(DB, 60_000);
      for (const url of [g, ...cluster.running().map((i) => cluster.url(i))]) {
        for (let w = 0; w < WRITERS; w++) {
          assert.deepEqual(writers.check(w, await writers.rows(url, w)), [], url);
        }
      }
    } catch (error) {
      throw new Error(
        `${(error as Error).message}\n--- gateway\n${gateway?.logs().slice(-10_000)}\n` +
          cluster.logs().slice(-30_000),
      );
    } finally {
      await Promise.all([gateway?.stop(), cluster.stop()]);
    }
  },
});

/** Parts of writes the nodes handed to another node (they did not lead the partition). */
async function partsHandedOn(cluster: TestCluster): Promise<number> {
  let total = 0;
  for (const i of cluster.running()) {
    const text = await (await fetch(`${cluster.url(i)}/metrics`)).text();
    const m = /^epochnexus_partition_writes_total\{to="peer"\} (\d+)/m.exec(text);
    total += Number(m?.[1] ?? 0);
  }
  return total;
}

/** Per writer: count, min and max of its values, as the gateway answered. */
type Figures = Map<number, { count: number; min: number; max: number }>;

/**
 * `SELECT count(v), min(v), max(v) ... GROUP BY writer` through the gateway: the figures, or the
 * kind of error it answered (a string), or "wrong ..." when the answer is neither.
 */
async function readThrough(gateway: string): Promise<Figures | string> {
  let r: Response;
  try {
    r = await fetch(`${gateway}/query`, {
      method: "POST",
      body: new URLSearchParams({
        db: DB,
        q: "SELECT count(v), min(v), max(v) FROM m GROUP BY writer",
      }),
      signal: AbortSignal.timeout(60_000),
    });
  } catch (error) {
    return `wrong: the gateway's connection failed (${error})`;
  }
  const text = await r.text();
  if (r.status !== 200) {
    // A clear error: 503, Retry-After, and what could not answer.
    const clear = r.status === 503 && r.headers.get("retry-after") !== null &&
      /partition \d+|no cluster node/.test(text);
    return clear
      ? `503 ${/partition \d+/.test(text) ? "naming the partition" : "no node"}`
      : `wrong: HTTP ${r.status} ${text.slice(0, 300)}`;
  }
  const result = JSON.parse(text).results[0];
  if (result.error) return `wrong: a 200 with a statement error: ${result.error}`;
  const figures: Figures = new Map();
  for (const series of result.series ?? []) {
    const [, count, min, max] = series.values[0];
    figures.set(Number(String(series.tags.writer).slice(1)), { count, min, max });
  }
  return figures;
}

/**
 * What is wrong with an answer: each writer's series must be exactly its first `count` points
 * (values `seq + w/10`, distinct times), with `before[w] <= count <= after[w] + one request`.
 */
function judge(figures: Figures, before: number[], after: number[]): string[] {
  const wrong: string[] = [];
  for (let w = 0; w < before.length; w++) {
    const f = figures.get(w) ?? { count: 0, min: NaN, max: NaN };
    if (f.count < before[w]) wrong.push(`w${w}: ${f.count} points < ${before[w]} acknowledged`);
    if (f.count > after[w] + POINTS_PER_REQUEST) {
      wrong.push(`w${w}: ${f.count} points > ${after[w]} acknowledged + one request`);
    }
    if (f.count > 0) {
      const close = (a: number, b: number) => Math.abs(a - b) < 1e-6;
      if (
        !close(f.min, AckedWriters.value(w, 0)) || !close(f.max, AckedWriters.value(w, f.count - 1))
      ) {
        wrong.push(`w${w}: ${f.count} points from ${f.min} to ${f.max}: not a prefix`);
      }
    }
  }
  return wrong;
}

/** Who leads the metadata group and each partition of the database, as `status` says. */
function leaders(status: ClusterStatus): Map<string, number> {
  const out = new Map<string, number>([["meta", status.metaLeader]]);
  const db = status.databases.find((d) => d.name === DB);
  for (const p of db?.partitions ?? []) out.set(`partition ${p.index}`, p.leader);
  return out;
}

/** The position of the node leading the most partitions of the database. */
function mostLeading(status: ClusterStatus, ids: number[]): number {
  const counts = new Map<number, number>();
  const db = status.databases.find((d) => d.name === DB);
  for (const p of db?.partitions ?? []) counts.set(p.leader, (counts.get(p.leader) ?? 0) + 1);
  const [top] = [...counts].filter(([id]) => id > 0).sort((a, b) => b[1] - a[1]);
  return ids.indexOf(top[0]);
}
