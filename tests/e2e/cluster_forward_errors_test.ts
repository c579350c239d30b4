/**
 * A write forwarded to the node leading its partition, when that node's HTTP server answers the
 * call with a bare 408 (it timed the call out before reading it: what node:http does to a pooled
 * connection it thinks idle). Two real nodes; the second one's node-to-node traffic goes through
 * an HTTP proxy that can answer `WritePartition` calls so. The call never ran, so:
 *
 * - one such answer is retried and the client never sees it (204);
 * - while it lasts, the client gets 503 with Retry-After naming the lines not written (those of
 *   the second node's partitions), the others are written, and the same request sent again
 *   later is written whole. Never a 500.
 */
import assert from "node:assert/strict";
import { TestCluster } from "../_cluster.ts";
import { query } from "../_server.ts";

const DB = "fwd";
const LINES = 40;

const body = (batch: string) =>
  Array.from(
    { length: LINES },
    (_, i) => `m,host=h${i},batch=${batch} v=${i} ${(1_700_000_000 + i) * 1e9}`,
  ).join("\n");

/** An HTTP proxy to a node's node-to-node port that answers `refuse` WritePartition calls 408. */
function startProxy() {
  const state = { target: 0, refuse: 0, refused: 0 };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (r) => {
    const url = new URL(r.url);
    const payload = r.body ? new Uint8Array(await r.arrayBuffer()) : undefined;
    if (url.pathname.endsWith("/WritePartition") && state.refuse > 0) {
      state.refuse--;
      state.refused++;
      return new Response(null, { status: 408 }); // no Connect error body: the HTTP server's own
    }
    const headers = new Headers(r.headers);
    for (const h of ["host", "content-length", "connection"]) headers.delete(h);
    const answer = await fetch(`http://127.0.0.1:${state.target}${url.pathname}${url.search}`, {
      method: r.method,
      headers,
      body: payload,
    });
    return new Response(answer.body, { status: answer.status, headers: answer.headers });
  });
  return { state, server, port: server.addr.port };
}

async function write(url: string, text: string) {
  const r = await fetch(`${url}/write?db=${DB}`, { method: "POST", body: text });
  return { status: r.status, retryAfter: r.headers.get("retry-after"), text: await r.text() };
}

async function count(url: string, batch: string): Promise<number> {
  const answer = await query(url, `SELECT count(v) FROM m WHERE batch = '${batch}'`, { db: DB });
  return Number(answer.results?.[0]?.series?.[0]?.values?.[0]?.[1] ?? 0);
}

Deno.test({
  name: "a forward the leader's node answers 408 is retried, then refused with 503, never 500",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const proxy = startProxy();
    const cluster = await TestCluster.start({
      size: 2,
      env: { EPOCHNEXUS_DEFAULT_PARTITIONS: "4" },
      nodeEnv: (i): Record<string, string> =>
        i === 1 ? { EPOCHNEXUS_RAFT_ADVERTISE_ADDRESS: `127.0.0.1:${proxy.port}` } : {},
      onBound: (i, bound) => {
        if (i === 1) proxy.state.target = bound.raftPort;
      },
    }).catch(async (error) => {
      await proxy.server.shutdown();
      throw error;
    });
    try {
      const url = cluster.url(0);
      await query(url, `CREATE DATABASE ${DB}`);
      // Fields and shard group made, leaders elected and spread: written whole once they are.
      let first = await write(url, body("setup"));
      for (let i = 0; i < 100 && first.status === 503; i++) {
        await new Promise((r) => setTimeout(r, 200));
        first = await write(url, body("setup"));
      }
      assert.equal(first.status, 204, first.text);
      const second = cluster.ids[1];
      await cluster.waitFor("both nodes lead partitions", 30_000, async () => {
        const leaders = (await cluster.status(0)).databases.find((d) => d.name === DB)!
          .partitions.map((p) => p.leader);
        return leaders.every((l) => l !== 0) && leaders.includes(second) &&
          leaders.some((l) => l !== second);
      });

      // One 408: retried by the coordinator, unseen by the client.
      proxy.state.refuse = 1;
      const once = await write(url, body("once"));
      assert.equal(once.status, 204, once.text);
      assert.equal(proxy.state.refused, 1, "the forward met the 408");
      assert.equal(await count(url, "once"), LINES);

      // 408 after 408: 503 naming the lines of the second node's partitions; the others written.
      proxy.state.refuse = 1_000_000;
      const cut = await write(url, body("cut"));
      assert.equal(cut.status, 503, cut.text);
      assert.equal(cut.retryAfter, "1");
      const error = JSON.parse(cut.text).error as string;
      assert.match(error, /^\d+ points not written: their partition has no leader, retry/);
      // Each names the last refusal it met (the 408, or the other replica's redirect to it).
      const listed = [...error.matchAll(/line (\d+): not written: partition \d+ of fwd /g)];
      assert.ok(listed.length > 0 && listed.length < LINES, error);
      assert.ok(proxy.state.refused > 1);
      assert.equal(await count(url, "cut"), LINES - listed.length, "the other lines are written");

      // Healed: the very request refused before is written whole.
      proxy.state.refuse = 0;
      const again = await write(url, body("cut"));
      assert.equal(again.status, 204, again.text);
      assert.equal(await count(url, "cut"), LINES);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${cluster.logs().slice(-20_000)}`, {
        cause: error,
      });
    } finally {
      await cluster.stop();
      await proxy.server.shutdown();
    }
  },
});
