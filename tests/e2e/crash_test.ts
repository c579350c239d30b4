/**
 * The durability contract with real processes: several concurrent clients write through HTTP,
 * the server is killed with SIGKILL mid-stream, restarted on the same data folder, and every
 * point whose write was acknowledged (HTTP 204) must be there — exactly once, with its value.
 * The same for a 3-node cluster whose three nodes are all killed at once (a power cut): an
 * acknowledged write is in a quorum of its partition's Raft logs, so all of it must be back.
 */
import assert from "node:assert/strict";
import { TestCluster } from "../_cluster.ts";
import { FaultProxy } from "../_fault_proxy.ts";
import { query, startServer, writeLines } from "../_server.ts";

const WRITERS = 8;
const POINTS_PER_REQUEST = 50;
/** The kill comes once this many points are acknowledged, while the writers go on. */
const ACKNOWLEDGED_BEFORE_KILL = 10_000;
/** How long reaching that may take before the test fails. */
const WRITE_DEADLINE_MS = 60_000;
const DB = "crash";

Deno.test("kill -9 mid-stream loses no acknowledged point", async () => {
  const first = await startServer();
  let second: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    await crashAndCheck({
      url: () => first.url,
      crash: () => first.kill9(),
      restart: async () => (second = await startServer({ dataDir: first.dataDir })).url,
    });
  } finally {
    await second?.stop();
  }
});

Deno.test({
  name: "kill -9 of every node of a 3-node cluster mid-stream loses no acknowledged point",
  sanitizeResources: false,
  fn: async () => {
    // Each node is reached through a proxy of its own, so that its node-to-node address stays
    // the same when all of them come back on new ports (as fixed ports would in production).
    const proxies = [0, 1, 2].map(() => FaultProxy.start(() => []));
    const cluster = await TestCluster.start({
      nodeEnv: (i) => ({ EPOCHNEXUS_RAFT_ADVERTISE_ADDRESS: `127.0.0.1:${proxies[i].port}` }),
      onBound: (i, bound) => proxies[i].setTarget(bound.raftPort),
    }).catch(async (error) => {
      await Promise.all(proxies.map((p) => p.close()));
      throw error;
    });
    let turn = 0;
    try {
      await crashAndCheck({
        url: () => cluster.nodes[turn++ % 3]?.url ?? cluster.url(0),
        crash: async () => {
          await Promise.all([0, 1, 2].map((i) => cluster.kill9(i)));
        },
        restart: async () => {
          await Promise.all([0, 1, 2].map((i) => cluster.restart(i)));
          return cluster.url(1);
        },
      });
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${cluster.logs().slice(-20_000)}`);
    } finally {
      await cluster.stop();
      await Promise.all(proxies.map((p) => p.close()));
    }
  },
});

/**
 * Writes with WRITERS concurrent clients (each its own series) until ACKNOWLEDGED_BEFORE_KILL
 * points are acknowledged, crashes the system while they go on, restarts it and checks that
 * every acknowledged point is there with its value.
 */
async function crashAndCheck(system: {
  /** Where the next request goes. */
  url: () => string;
  crash: () => Promise<void>;
  /** Starts the system again; resolves with the URL to query. */
  restart: () => Promise<string>;
}): Promise<void> {
  assert.equal((await query(system.url(), `CREATE DATABASE ${DB}`)).results[0].statement_id, 0);

  // Each acknowledged request's points: writer -> timestamp ns -> value.
  const acknowledged = new Map<string, Map<string, number>>();
  let killed = false;
  let total = 0;
  const base = 1_700_000_000_000_000_000n;
  const writer = async (w: number) => {
    const name = `w${w}`;
    const acked = new Map<string, number>();
    acknowledged.set(name, acked);
    for (let batch = 0; batch < 10_000 && !killed; batch++) {
      const lines: string[] = [];
      const rows: [string, number][] = [];
      for (let i = 0; i < POINTS_PER_REQUEST; i++) {
        const t = (base + BigInt(batch * POINTS_PER_REQUEST + i) * 1_000_000n + BigInt(w))
          .toString();
        const v = batch * 1000 + i + w / 10;
        lines.push(`load,writer=${name} v=${v},seq=${batch}i ${t}`);
        rows.push([t, v]);
      }
      try {
        const r = await writeLines(system.url(), DB, lines.join("\n"));
        if (r.status === 204) {
          for (const [t, v] of rows) acked.set(t, v);
          total += rows.length;
        }
      } catch {
        return; // the server died under this request: not acknowledged
      }
    }
  };
  const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
  // Kill on progress, not on a clock: a slow machine waits longer instead of killing early.
  const deadline = Date.now() + WRITE_DEADLINE_MS;
  while (total < ACKNOWLEDGED_BEFORE_KILL && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  await system.crash();
  killed = true;
  await Promise.all(writers);
  assert.ok(
    total >= ACKNOWLEDGED_BEFORE_KILL,
    `${total} points acknowledged in ${WRITE_DEADLINE_MS} ms, expected ${ACKNOWLEDGED_BEFORE_KILL}`,
  );

  const url = await system.restart();
  for (const [name, acked] of acknowledged) {
    const answer = await query(url, `SELECT v FROM load WHERE writer = '${name}'`, {
      db: DB,
      epoch: "ns",
    });
    assert.equal(answer.results[0].error, undefined, `${name}: ${answer.results[0].error}`);
    const values: [number, number][] = answer.results[0].series?.[0]?.values ?? [];
    const found = new Map(values.map(([t, v]) => [String(BigInt(t)), v]));
    for (const [t, v] of acked) {
      assert.equal(found.get(t), v, `${name}: acknowledged point at ${t} is missing`);
    }
  }
}
