/**
 * The summaries of refused requests are written by timers that do not keep the process alive:
 * a node stopping within 10 s of a flood must write them as it stops, or the flood is never
 * logged beyond its first line.
 */
import assert from "node:assert/strict";
import { startServer } from "../_server.ts";

Deno.test({
  name: "e2e: a node stopped right after refused requests and calls logs their summaries",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const server = await startServer({
      env: {
        EPOCHNEXUS_AUTH_ENABLED: "true",
        EPOCHNEXUS_CLUSTER_SECRET: "a-secret-of-the-test-cluster",
      },
    });
    let stopped = false;
    try {
      const ask = async (url: string, init?: RequestInit) => {
        const r = await server.fetch(url, init);
        await r.body?.cancel();
        return r.status;
      };
      // InfluxDB's bootstrap: the first user, an admin, needs no credentials.
      const create = "CREATE USER admin WITH PASSWORD 'Adm1n-pw' WITH ALL PRIVILEGES";
      assert.equal(
        await ask(`${server.url}/query?q=${encodeURIComponent(create)}`, { method: "POST" }),
        200,
      );
      for (let i = 0; i < 3; i++) {
        assert.equal(await ask(`${server.url}/query?q=SHOW+DATABASES`), 401);
        assert.equal(
          await ask(`http://127.0.0.1:${server.raftPort}/epochnexus.raft.v1.RaftService/Send`, {
            method: "POST",
            headers: { "content-type": "application/proto" },
            body: "x",
          }),
          401,
        );
      }
      await server.stop();
      stopped = true;
      const logs = server.logs();
      assert.match(logs, /\d+ more requests without credentials refused in the last \d+ s/, logs);
      assert.match(
        logs,
        /\d+ more node-to-node calls without the cluster secret refused in the last \d+ s/,
        logs,
      );
    } finally {
      if (!stopped) await server.kill9();
    }
  },
});
