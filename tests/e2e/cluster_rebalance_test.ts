/**
 * Online rebalancing between real processes (replication factor 2, 6 partitions, loopback):
 * 8 writers write to random nodes throughout while
 *
 * 1. a 4th node joins: partitions move replicas to it until it holds its share (3 of 12);
 * 2. `epochnexus cluster remove` (the real CLI) drains the 2nd node, and in the middle of that
 *    drain the 3rd node is killed with SIGKILL and started again;
 * 3. the drained node leaves the cluster.
 *
 * Every query answered during the moves counts, for each writer, at least what was acknowledged
 * before it was sent (or is a clear error, never a partial answer); after the moves no
 * acknowledged point is lost, changed or invented, and every node answers the same.
 * The join's move time and throughput are printed (the issue's figures).
 */
import assert from "node:assert/strict";
import { TestCluster } from "../_cluster.ts";
import { query, startServer } from "../_server.ts";
import { AckedWriters, checkReplicas } from "./_acked_writers.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const DB = "moves";
const WRITERS = 8;

interface Status {
  nodeId: number;
  nodes: { id: number; draining?: boolean }[];
  moves: unknown[];
  databases: { name: string; partitions: { replicas: number[]; target: number[] }[] }[];
}

async function clusterStatus(url: string): Promise<Status> {
  const r = await fetch(`${url}/api/v1/cluster`, { signal: AbortSignal.timeout(10_000) });
  if (!r.ok) throw new Error(`status: ${r.status} ${await r.text()}`);
  return await r.json();
}

/** Replicas each node id holds, over every database (the rebalancer evens these). */
function held(status: Status): Map<number, number> {
  const out = new Map<number, number>();
  for (const db of status.databases) {
    for (const p of db.partitions) {
      for (const n of p.replicas) out.set(n, (out.get(n) ?? 0) + 1);
    }
  }
  return out;
}

/** No move under way, every partition at its replica count, counts within one of each other. */
function settled(status: Status): boolean {
  const counts = status.nodes.map((n) => held(status).get(n.id) ?? 0);
  return status.moves.length === 0 &&
    // The default database was made by the founding node alone: one replica per partition.
    status.databases.every((d) =>
      d.partitions.every((p) => p.replicas.length === (d.name === DB ? 2 : p.target.length))
    ) &&
    Math.max(...counts) - Math.min(...counts) <= 1;
}

/** Counts per writer through `url`, or the error text. */
async function counts(url: string): Promise<Map<string, number> | string> {
  try {
    const r = await fetch(`${url}/query?db=${DB}`, {
      method: "POST",
      body: new URLSearchParams({ q: "SELECT count(v) FROM m GROUP BY writer" }),
      signal: AbortSignal.timeout(30_000),
    });
    const body = await r.json();
    const result = body.results?.[0];
    if (!r.ok || result?.error) return String(result?.error ?? body.error?.message ?? r.status);
    const out = new Map<string, number>();
    for (const s of result.series ?? []) out.set(s.tags.writer, Number(s.values[0][1]));
    return out;
  } catch (error) {
    return (error as Error).message;
  }
}

Deno.test({
  name: "rebalancing: a node joins, a node is removed, a node is killed mid-move; nothing lost",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const env = {
      EPOCHNEXUS_REPLICATION_FACTOR: "2",
      EPOCHNEXUS_DEFAULT_PARTITIONS: "6",
      EPOCHNEXUS_MAX_MOVES: "2",
      // Small heads: flushes compact the logs, so a joining replica copies a snapshot.
      EPOCHNEXUS_FLUSH_HEAD_BYTES: "262144",
    };
    const cluster = await TestCluster.start({ env });
    const pick = () => {
      const up = cluster.running();
      return up.length === 0 ? undefined : cluster.url(up[Math.floor(Math.random() * up.length)]);
    };
    const writers = new AckedWriters({
      writers: WRITERS,
      database: DB,
      measurement: "m",
      pointsPerRequest: 100,
      pickUrl: pick,
    });
    let reading = true;
    const queries = { complete: 0, errors: 0, partial: [] as string[] };
    const reader = (async () => {
      for (let i = 0; i < 100_000 && reading; i++) {
        const url = pick();
        if (url === undefined) continue;
        const before = [...writers.acked];
        const outcome = await counts(url);
        if (typeof outcome === "string") {
          queries.errors++;
          continue;
        }
        const short = before.flatMap((n, w) =>
          (outcome.get(`w${w}`) ?? 0) < n ? [`w${w}: ${outcome.get(`w${w}`) ?? 0} < ${n}`] : []
        );
        if (short.length > 0) queries.partial.push(short.join(", "));
        else queries.complete++;
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    try {
      await query(cluster.url(0), `CREATE DATABASE ${DB}`);
      writers.start();
      await cluster.waitFor(
        "some points acknowledged",
        60_000,
        () => Promise.resolve(writers.stats.acknowledged >= 20_000),
      );

      // 1. A fourth node joins and receives its share.
      const joinedAt = Date.now();
      const fourth = await startServer({
        env: { ...env, EPOCHNEXUS_JOIN_ADDRESS: `127.0.0.1:${cluster.node(0).port}` },
        timeoutMs: 60_000,
      });
      cluster.nodes.push(fourth);
      cluster.dataDirs.push(fourth.dataDir);
      const fourthId = (await clusterStatus(fourth.url)).nodeId;
      let last = "";
      await cluster.waitFor("the new node to hold its share of replicas", 180_000, async () => {
        const status = await clusterStatus(cluster.url(0));
        last = JSON.stringify({ held: [...held(status)], moves: status.moves });
        return settled(status) && (held(status).get(fourthId) ?? 0) >= 2;
      }).catch((error) => {
        throw new Error(`${error.message}; last status ${last}\n${cluster.logs().slice(-20_000)}`);
      });
      const moveSeconds = (Date.now() - joinedAt) / 1000;
      console.log(
        `join: ${held(await clusterStatus(cluster.url(0))).get(fourthId)} replicas moved to the ` +
          `new node in ${moveSeconds.toFixed(1)} s, ` +
          `${writers.stats.acknowledged} points acknowledged so far`,
      );

      // 2. The CLI drains the second node; the third is killed in the middle of it.
      const removed = (await clusterStatus(cluster.url(1))).nodeId;
      const remove = new Deno.Command(Deno.execPath(), {
        args: [
          "task",
          "--cwd",
          ROOT,
          "cli",
          "cluster",
          "remove",
          String(removed),
          "--url",
          cluster.url(0),
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      await cluster.waitFor("the drain to start moving", 60_000, async () => {
        const status = await clusterStatus(cluster.url(0));
        return status.moves.length > 0;
      });
      await cluster.kill9(2);
      await new Promise((r) => setTimeout(r, 3000));
      await cluster.restart(2);
      const out = await remove;
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, text);
      assert.match(text, new RegExp(`node ${removed} has left the cluster`));
      await cluster.waitFor("the moves to settle", 180_000, async () => {
        const status = await clusterStatus(cluster.url(0));
        last = JSON.stringify({ held: [...held(status)], moves: status.moves });
        return settled(status) && !status.nodes.some((n) => n.id === removed) &&
          [...held(status).keys()].every((id) => id !== removed);
      }).catch((error) => {
        throw new Error(`${error.message}; last status ${last}\n${cluster.logs().slice(-20_000)}`);
      });
    } finally {
      reading = false;
      await writers.stop();
      await reader;
    }
    try {
      // The drained node is out of the cluster: stop it, then check the three that remain.
      const drained = cluster.running().find((i) => i === 1);
      if (drained !== undefined) await cluster.kill9(drained);
      console.log(
        `writers: ${writers.stats.acknowledged} points acknowledged in ${writers.stats.requests} ` +
          `requests, failures ${
            JSON.stringify(writers.stats.failures)
          }; queries during the moves: ` +
          `${queries.complete} complete, ${queries.errors} errors, ${queries.partial.length} partial`,
      );
      assert.deepEqual(queries.partial, [], "a query answered without acknowledged points");
      assert.ok(queries.complete > 0, "no query was answered during the moves");
      // Each partition's two replicas apply the same index (RF 2: not every node holds each).
      await cluster.waitFor("the replicas to converge", 120_000, async () => {
        const groups = await cluster.applied(DB);
        return groups.size === 6 &&
          [...groups.values()].every((nodes) =>
            nodes.size === 2 && new Set(nodes.values()).size === 1
          );
      });
      assert.deepEqual(await checkReplicas(cluster, writers, DB), []);
    } finally {
      await cluster.stop();
    }
  },
});
