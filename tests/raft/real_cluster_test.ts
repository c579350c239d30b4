/**
 * Three real Deno processes running the replicated KV store over Connect-RPC, with the Raft log
 * on disk (fsync). Under a steady write and read load the leader is killed with SIGKILL every
 * few seconds and restarted. At the end every acknowledged write must be applied on every node,
 * all nodes must hold the same state, and the client history must be linearizable.
 *
 * RAFT_REAL_SECONDS sets the duration of the chaos (default 20; use 60 for the full run).
 */
import assert from "node:assert/strict";
import {
  checkLinearizable,
  type KvInput,
  kvModel,
  type KvOutput,
  type Operation,
} from "./linearizability.ts";
import { RealCluster } from "./real_cluster.ts";

const SECONDS = Number(Deno.env.get("RAFT_REAL_SECONDS") ?? 20);
const KILL_EVERY_MS = 3_000;
const CLIENTS = 4;
const KEYS = ["a", "b", "c", "d", "e"];

interface Stats {
  acked: number;
  unknown: number;
  reads: number;
  redirects: number;
  kills: number;
}

async function runClient(
  c: RealCluster,
  clientId: number,
  until: number,
  history: Operation<KvInput, KvOutput>[],
  ackedIds: Set<string>,
  stats: Stats,
): Promise<void> {
  let target = c.ids[clientId % c.ids.length];
  let seq = 0;
  while (performance.now() < until) {
    const key = KEYS[(clientId * 7 + seq) % KEYS.length];
    const isPut = seq % 3 !== 2;
    const value = `${clientId}.${seq++}`;
    const call = performance.now();
    try {
      const res = isPut
        ? await fetch(c.url(target, "/kv/put"), {
          method: "POST",
          body: JSON.stringify({ key, value, id: value }),
          signal: AbortSignal.timeout(3_000),
        })
        : await fetch(c.url(target, `/kv/get?key=${key}`), { signal: AbortSignal.timeout(3_000) });
      const body = await res.json();
      const ret = performance.now();
      if (res.status === 200) {
        if (isPut) {
          history.push({ clientId, input: { kind: "put", key, value }, output: "ok", call, ret });
          ackedIds.add(value);
          stats.acked++;
        } else {
          history.push({ clientId, input: { kind: "get", key }, output: body.value, call, ret });
          stats.reads++;
        }
        continue;
      }
      if (res.status === 421) {
        // Not the leader: nothing was proposed. Go where the hint points.
        stats.redirects++;
        target = body.leader || c.ids[(c.ids.indexOf(target) + 1) % c.ids.length];
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      throw new Error(`status ${res.status}`);
    } catch {
      // Timeout, reset by a kill, dropped or timed out in Raft: a write may or may not apply.
      if (isPut) {
        history.push({
          clientId,
          input: { kind: "put", key, value },
          output: undefined,
          call,
          ret: Infinity,
        });
        stats.unknown++;
      }
      target = c.ids[(c.ids.indexOf(target) + 1) % c.ids.length];
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

Deno.test({
  name: `real cluster: kill -9 the leader every ${
    KILL_EVERY_MS / 1000
  }s for ${SECONDS}s; no acknowledged write is lost`,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const c = await RealCluster.start({ tickMs: 50, snapshotEntries: 1500 });
    let ok = false;
    try {
      await c.waitLeader();
      const history: Operation<KvInput, KvOutput>[] = [];
      const acked = new Set<string>();
      const stats: Stats = { acked: 0, unknown: 0, reads: 0, redirects: 0, kills: 0 };
      const until = performance.now() + SECONDS * 1000;
      const clients = Array.from(
        { length: CLIENTS },
        (_, i) => runClient(c, i + 1, until, history, acked, stats),
      );
      const killer = (async () => {
        while (performance.now() + KILL_EVERY_MS < until) {
          await new Promise((r) => setTimeout(r, KILL_EVERY_MS));
          const leader = await c.leader();
          if (!leader) continue;
          await c.kill(leader);
          stats.kills++;
          await new Promise((r) => setTimeout(r, 800));
          c.spawn(leader);
          await c.waitUp(leader);
        }
      })();
      await Promise.all([...clients, killer]);

      // Let everything settle: every node up, one leader, every node applied the leader's commit.
      for (const id of c.ids) if (!c.isUp(id)) c.spawn(id);
      for (const id of c.ids) await c.waitUp(id);
      const leader = await c.waitLeader();
      const deadline = performance.now() + 20_000;
      for (;;) {
        const ls = await c.status(leader);
        const all = await Promise.all(c.ids.map((id) => c.status(id)));
        if (ls && all.every((s) => s && (s.applied as number) >= (ls.commit as number))) break;
        if (performance.now() > deadline) {
          throw new Error(`nodes did not converge: ${JSON.stringify(all)}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      const dumps = await Promise.all(
        c.ids.map(async (id) => (await fetch(c.url(id, "/kv/dump"))).json()),
      );
      for (const [i, d] of dumps.entries()) {
        const applied = new Set<string>(d.applied);
        const missing = [...acked].filter((x) => !applied.has(x));
        assert.deepEqual(missing, [], `node ${c.ids[i]} lacks acknowledged writes`);
        assert.deepEqual(
          d.map,
          dumps[0].map,
          `node ${c.ids[i]} state differs from node ${c.ids[0]}`,
        );
      }
      const lin = checkLinearizable(kvModel, history);
      assert.equal(lin.timedOut, false, "linearizability check finished");
      assert.ok(lin.ok, `history not linearizable on key ${lin.failedPartition}`);
      // A cycle is the interval plus the restart (about 2 s for a Deno process to come up).
      const expectedKills = Math.max(2, Math.floor(SECONDS / (KILL_EVERY_MS / 1000 + 2.5)));
      assert.ok(
        stats.kills >= expectedKills,
        `kills: ${stats.kills}, expected >= ${expectedKills}`,
      );
      assert.ok(stats.acked > 50, `acknowledged writes: ${stats.acked}`);
      console.log(`real cluster: ${JSON.stringify(stats)}, history ${history.length} ops`);
      ok = true;
    } finally {
      await c.stop(!ok);
      if (!ok) console.log(`logs kept in ${c.root}`);
    }
  },
});
