/**
 * In a cluster where no node holds every partition (replication factor 1 over three nodes),
 * SHOW RETENTION POLICIES and the schema API report the database's whole size, as the
 * partitions' leaders count it, through whichever node is asked, not that node's share.
 */
import assert from "node:assert/strict";
import { TestCluster } from "../_cluster.ts";
import { query, writeLines } from "../_server.ts";

const DB = "z";
const HOUR_MS = 3_600_000;

/** Policy bytes as `SHOW RETENTION POLICIES` on node `i` answers them. */
async function policyBytes(cluster: TestCluster, i: number): Promise<number> {
  const answer = await query(cluster.url(i), `SHOW RETENTION POLICIES ON ${DB}`);
  const series = answer.results[0].series?.[0];
  if (!series) throw new Error(`node ${i}: ${JSON.stringify(answer)}`);
  const column = series.columns.indexOf("bytes");
  assert.ok(column > 0, `the bytes column: ${JSON.stringify(series.columns)}`);
  return series.values[0][column];
}

/** `cpu`'s bytes as `GET /api/v1/schemas/cpu` on node `i` answers them. */
async function measurementBytes(cluster: TestCluster, i: number): Promise<number> {
  const r = await fetch(`${cluster.url(i)}/api/v1/schemas/cpu`);
  const body = await r.json();
  assert.equal(r.status, 200, JSON.stringify(body));
  return body.bytes?.[DB] ?? 0;
}

Deno.test({
  name: "e2e: every node reports the cluster's sizes of a policy and a measurement",
  sanitizeResources: false,
  fn: async () => {
    const cluster = await TestCluster.start({
      env: {
        EPOCHNEXUS_FLUSH_IDLE_MS: "300",
        EPOCHNEXUS_DEFAULT_PARTITIONS: "6",
        EPOCHNEXUS_REPLICATION_FACTOR: "1",
      },
    });
    try {
      await query(cluster.url(0), `CREATE DATABASE ${DB}`);
      const answer = await query(
        cluster.url(0),
        `ALTER RETENTION POLICY autogen ON ${DB} MAX_BYTES 1000000000`,
      );
      assert.equal(answer.results[0].error, undefined, JSON.stringify(answer));
      const put = await fetch(`${cluster.url(0)}/api/v1/schemas/cpu`, {
        method: "PUT",
        body: JSON.stringify({ max_bytes: 1_000_000_000 }),
      });
      assert.equal(put.status, 200, await put.text());
      const status = await cluster.status(0);
      const partitions = status.databases.find((d) => d.name === DB)!.partitions;
      for (const id of cluster.ids) {
        assert.ok(
          partitions.some((p) => !p.replicas.includes(id)),
          `node ${id} lacks some partition: ${JSON.stringify(partitions)}`,
        );
      }
      // Two hours of 24 hosts, an hour ago: groups that flush once idle.
      const start = Math.floor((Date.now() - 3 * HOUR_MS) / 1000) * 1000;
      for (let hour = 0; hour < 2; hour++) {
        const lines: string[] = [];
        for (let k = 0; k < 360; k++) {
          const ms = start + hour * HOUR_MS + k * 10_000;
          for (let h = 0; h < 24; h++) lines.push(`cpu,host=h${h} v=${(k * h) % 97} ${ms}000000`);
        }
        const r = await writeLines(cluster.url(0), DB, lines.join("\n"));
        assert.equal(r.status, 204, r.body);
      }
      // Every node gives the same figures (read twice: flushes and compactions have settled).
      let seen = "";
      await cluster.waitFor("every node reports the same sizes", 60_000, async () => {
        const figures: number[] = [];
        for (let round = 0; round < 2; round++) {
          for (const i of [0, 1, 2]) {
            figures.push(await policyBytes(cluster, i), await measurementBytes(cluster, i));
          }
        }
        seen = JSON.stringify(figures);
        return figures[0] > 0 && figures[1] > 0 &&
          figures.every((n, k) => n === figures[k % 2]);
      }).catch((error) => {
        throw new Error(`${error.message}; [policy, cpu] per node, twice: ${seen}`);
      });
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${cluster.logs().slice(-10_000)}`);
    } finally {
      await cluster.stop();
    }
  },
});
