/**
 * Three real Deno processes running the replicated KV store over Connect-RPC, with the Raft log
 * on disk (fsync). Under a steady write and read load the leader is killed with SIGKILL, the
 * other two go on acknowledging writes without it, and it is restarted; again and again. At the
 * end every acknowledged write must be applied on every node, all nodes must hold the same
 * state, and the client history must be linearizable.
 *
 * The chaos is counted in kills and acknowledged writes, not in seconds: each step waits (with a
 * deadline) for the progress it needs, so a slow machine makes the test slower, not red.
 * RAFT_REAL_KILLS sets the number of kills (default 5; use 15 for the full run).
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

const KILLS = Number(Deno.env.get("RAFT_REAL_KILLS") ?? 5);
/** Writes acknowledged before each kill, and again while the killed node is down. */
const ACKS_PER_PHASE = 40;
/** How long one phase may take to reach its acknowledgements before the test fails. */
const PHASE_DEADLINE_MS = 30_000;
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
  running: () => boolean,
  history: Operation<KvInput, KvOutput>[],
  ackedIds: Set<string>,
  stats: Stats,
): Promise<void> {
  let target = c.ids[clientId % c.ids.length];
  let seq = 0;
  while (running()) {
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

/** Waits until `cond()` holds; fails naming `what` after `ms`. */
async function waitUntil(what: string, cond: () => boolean, ms = PHASE_DEADLINE_MS): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test({
  name: `real cluster: kill -9 the leader ${KILLS} times under load; no acknowledged write is lost`,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const c = await RealCluster.start({ tickMs: 50, snapshotEntries: 300 });
    let ok = false;
    try {
      await c.waitLeader();
      const history: Operation<KvInput, KvOutput>[] = [];
      const acked = new Set<string>();
      const stats: Stats = { acked: 0, unknown: 0, reads: 0, redirects: 0, kills: 0 };
      // Clients stop when the killer is done, or at a hard bound should the killer hang.
      let chaos = true;
      const bound = performance.now() + KILLS * 3 * PHASE_DEADLINE_MS;
      const running = () => chaos && performance.now() < bound;
      const clients = Array.from(
        { length: CLIENTS },
        (_, i) => runClient(c, i + 1, running, history, acked, stats),
      );
      const progress = (what: string) => {
        const from = stats.acked;
        return waitUntil(what, () => stats.acked >= from + ACKS_PER_PHASE);
      };
      const killer = (async () => {
        try {
          while (stats.kills < KILLS) {
            await progress(`${ACKS_PER_PHASE} writes acknowledged before kill ${stats.kills + 1}`);
            const leader = await c.waitLeader();
            await c.kill(leader);
            stats.kills++;
            await progress(`${ACKS_PER_PHASE} writes acknowledged with node ${leader} down`);
            await c.spawn(leader);
            await c.waitUp(leader);
          }
        } finally {
          chaos = false;
        }
      })();
      await Promise.all([...clients, killer]);

      // Let everything settle: every node up, one leader, every node applied the leader's commit.
      for (const id of c.ids) if (!c.isUp(id)) await c.spawn(id);
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
      assert.equal(stats.kills, KILLS);
      assert.ok(stats.acked >= 2 * KILLS * ACKS_PER_PHASE, `acknowledged writes: ${stats.acked}`);
      console.log(`real cluster: ${JSON.stringify(stats)}, history ${history.length} ops`);
      ok = true;
    } finally {
      await c.stop(!ok);
      if (!ok) console.log(`logs kept in ${c.root}`);
    }
  },
});
