/**
 * A network partition between real processes: three nodes (replication factor 3) whose
 * node-to-node traffic goes through fault-injecting TCP proxies (each node advertises its
 * proxy). Node 3 is cut off from nodes 1 and 2 both ways while writers keep writing to the
 * majority. Then:
 *
 * - the majority keeps acknowledging writes;
 * - the minority refuses writes with 503 + Retry-After, naming the lines not written, and those
 *   points never appear, not even after the partition heals;
 * - the minority answers a query at `consistency=leader` with an error naming the partition, and
 *   at `consistency=any` from its own (stale) replicas;
 * - after healing, the minority writes again, the replicas converge, and no acknowledged point
 *   is lost.
 */
import assert from "node:assert/strict";
import { TestCluster } from "../_cluster.ts";
import { FaultProxy } from "../_fault_proxy.ts";
import { query } from "../_server.ts";
import { AckedWriters, checkReplicas } from "./_acked_writers.ts";

const DB = "part";
const MINORITY = 2;

Deno.test({
  name: "partition: the minority refuses writes with 503, the majority writes, all converges",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const pids: number[] = [];
    const proxies = [0, 1, 2].map(() => FaultProxy.start(() => pids));
    const cluster = await TestCluster.start({
      env: { EPOCHNEXUS_DEFAULT_PARTITIONS: "4" },
      nodeEnv: (i) => ({ EPOCHNEXUS_RAFT_ADVERTISE_ADDRESS: `127.0.0.1:${proxies[i].port}` }),
      onBound: (i, bound) => {
        pids[i] = bound.pid;
        proxies[i].setTarget(bound.raftPort);
      },
    }).catch(async (error) => {
      await Promise.all(proxies.map((p) => p.close()));
      throw error;
    });
    const majority = [0, 1];
    let writers: AckedWriters | undefined;
    try {
      const status = await cluster.status(0);
      assert.deepEqual(
        status.nodes.map((n) => n.raftAddress).sort(),
        proxies.map((p) => `127.0.0.1:${p.port}`).sort(),
        "every node is reached through its proxy",
      );
      await query(cluster.url(0), `CREATE DATABASE ${DB}`);
      // The probe's measurement, field and shard group exist before the cut: a write of new
      // series needs no metadata change, only the partitions' leaders.
      const init = await fetch(`${cluster.url(0)}/write?db=${DB}`, {
        method: "POST",
        body: `probe,n=init v=0 ${1_700_000_000e9}`,
      });
      assert.equal(init.status, 204, await init.text());
      let turn = 0;
      const acked = new AckedWriters({
        writers: 4,
        database: DB,
        measurement: "part",
        pointsPerRequest: 20,
        pickUrl: () => cluster.nodes[majority[turn++ % majority.length]]?.url,
      });
      writers = acked;
      acked.start();
      await cluster.waitFor(
        "writes acknowledged before the partition",
        30_000,
        () => Promise.resolve(acked.stats.acknowledged >= 400),
      );

      // Cut node 3 off, both ways.
      await Promise.all([
        proxies[MINORITY].cut(majority.map((i) => pids[i])),
        ...majority.map((i) => proxies[i].cut([pids[MINORITY]])),
      ]);
      const ackedAtCut = acked.stats.acknowledged;

      // The minority: no leader for any partition, so a write is refused, naming its lines.
      const minority = cluster.url(MINORITY);
      const probe = Array.from(
        { length: 5 },
        (_, i) => `probe,n=${i} v=${i} ${1_700_000_000e9 + i}`,
      )
        .join("\n");
      // One request: the minority looks for leaders (up to 10 s) and must then refuse it.
      const refused = await fetch(`${minority}/write?db=${DB}`, { method: "POST", body: probe });
      const body = await refused.text();
      assert.equal(refused.status, 503, body);
      assert.equal(refused.headers.get("retry-after"), "1", body);
      const error = JSON.parse(body).error as string;
      assert.match(error, /^\d+ points not written: their partition has no leader, retry/);
      for (let line = 1; line <= 5; line++) {
        assert.match(error, new RegExp(`line ${line}: not written: partition \\d of ${DB}`));
      }
      // Reads on the minority: a clear error at leader consistency, its own replicas at any.
      const leaderRead = await query(minority, "SELECT count(v) FROM part", { db: DB });
      assert.match(String(leaderRead.results[0].error), /partition group \d+ cannot confirm/);
      const anyRead = await query(minority, "SELECT count(v) FROM part", {
        db: DB,
        consistency: "any",
      });
      assert.ok(anyRead.results[0].series[0].values[0][1] > 0, JSON.stringify(anyRead));

      // The majority kept writing meanwhile.
      await cluster.waitFor(
        "the majority acknowledges writes while cut off",
        30_000,
        () => Promise.resolve(acked.stats.acknowledged >= ackedAtCut + 400),
      );

      for (const p of proxies) p.heal();
      await cluster.waitFor("the healed minority writes again", 60_000, async () => {
        const r = await fetch(`${minority}/write?db=${DB}`, {
          method: "POST",
          body: `healed v=1 ${1_700_000_000e9}`,
        });
        await r.body?.cancel();
        return r.status === 204;
      });
      await acked.stop();
      await cluster.waitConverged(DB, 60_000);
      assert.deepEqual(await checkReplicas(cluster, acked, DB), []);
      // The refused points were never written anywhere.
      for (const i of cluster.running()) {
        const probes = await query(cluster.url(i), "SHOW SERIES FROM probe", {
          db: DB,
          consistency: "any",
        });
        assert.deepEqual(probes.results[0].series[0].values, [["probe,n=init"]], `node ${i}`);
      }
      console.log(
        `partition: ${acked.stats.acknowledged} points acknowledged (${
          acked.stats.acknowledged - ackedAtCut
        } during or after the cut), failures ${JSON.stringify(acked.stats.failures)}`,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${cluster.logs().slice(-30_000)}`);
    } finally {
      await writers?.stop();
      await cluster.stop();
      await Promise.all(proxies.map((p) => p.close()));
    }
  },
});
