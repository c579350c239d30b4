/**
 * A node of a three-node cluster killed with SIGKILL and started again on its data folder, with
 * port 0 as in every test, comes back on other ports: it must tell the cluster its new addresses
 * (the others would send to the old ones and it would hear nothing), then serve writes and
 * queries and catch up on what it missed.
 */
import assert from "node:assert/strict";
import { TestCluster } from "../_cluster.ts";
import { query, writeLines } from "../_server.ts";

const T0 = 1_700_000_000_000_000_000n;

const lines = (from: number, n: number) =>
  Array.from(
    { length: n },
    (_, i) => `m,s=s${(from + i) % 7} v=${from + i} ${T0 + BigInt(from + i)}`,
  )
    .join("\n");

Deno.test({
  name: "a node restarted on new ports announces them, serves, and catches up",
  sanitizeResources: false,
  fn: async () => {
    const cluster = await TestCluster.start();
    try {
      const [a, c] = [0, 2];
      await query(cluster.url(a), "CREATE DATABASE r");
      assert.equal((await writeLines(cluster.url(c), "r", lines(0, 100))).status, 204);
      await cluster.kill9(c);
      // Missed while down.
      for (let k = 1; k <= 4; k++) {
        assert.equal((await writeLines(cluster.url(a), "r", lines(k * 100, 100))).status, 204);
      }
      const before = (await cluster.status(a)).nodes.find((n) => n.id === cluster.ids[c])!;
      const started = Date.now();
      const again = await cluster.restart(c);
      const address = `127.0.0.1:${again.raftPort}`;
      assert.notEqual(before.raftAddress, address, "port 0 gave the restarted node a new port");
      await cluster.waitFor("the others know its new address", 20_000, async () => {
        for (const i of [0, 1]) {
          const me = (await cluster.status(i)).nodes.find((n) => n.id === cluster.ids[c]);
          if (me?.raftAddress !== address || me.httpAddress !== `127.0.0.1:${again.port}`) {
            return false;
          }
        }
        return true;
      });
      // It serves: a write through it commits, a read through it sees every acknowledged point.
      assert.equal((await writeLines(again.url, "r", lines(500, 100))).status, 204);
      const answer = await query(again.url, "SELECT count(v) FROM m", { db: "r" });
      assert.equal(answer.results[0].series?.[0].values[0][1], 600, JSON.stringify(answer));
      await cluster.waitConverged("r", 30_000);
      assert.match(again.logs(), /announced new addresses to the cluster/);
      console.log(`restart to converged replicas: ${Date.now() - started} ms`);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${cluster.logs().slice(-20_000)}`);
    } finally {
      await cluster.stop();
    }
  },
});
