/**
 * A continuous query keeps running across a crash of its node: the run times it recorded in the
 * metadata bring the restarted node back to the bucket after the last one it wrote, so the
 * buckets of the downtime are computed too (catch-up), and none is skipped. Its outcomes show in
 * /metrics and the log; SHOW and DROP CONTINUOUS QUERIES see it after the restart.
 */
import assert from "node:assert/strict";
import { query, type ServerProcess, startServer } from "../_server.ts";
import { assertNoGap, CREATE_CQ, waitBucket, writeAhead } from "./_cq.ts";

Deno.test({
  name: "continuous query: kill -9 and restart; the buckets of the downtime are caught up",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    let server: ServerProcess = await startServer();
    try {
      for (const q of ["CREATE DATABASE jobs", CREATE_CQ]) {
        const r = await query(server.url, q);
        assert.equal(r.results[0].error, undefined, `${q}: ${JSON.stringify(r)}`);
      }
      await writeAhead(server.url, 180);
      await waitBucket([server.url], Date.now() + 2000);
      await server.kill9();
      const downSince = Date.now();
      // Down for over three buckets: at least two fall due, whole, while nobody runs the schedule.
      await new Promise((r) => setTimeout(r, 7000));
      server = await startServer({ dataDir: server.dataDir });
      const restartedAt = Date.now();
      const got = await waitBucket([server.url], restartedAt + 4000);
      assertNoGap(got, "after the restart");
      const down = [...got.keys()].filter((t) => t >= downSince && t + 2000 <= restartedAt);
      assert.ok(down.length >= 2, `buckets of the downtime: ${down.length}`);

      const shown = await query(server.url, "SHOW CONTINUOUS QUERIES");
      assert.deepEqual(
        shown.results[0].series.find((s: { name: string }) => s.name === "jobs").values,
        [[
          "counts",
          "CREATE CONTINUOUS QUERY counts ON jobs BEGIN SELECT count(v) AS n INTO " +
          "jobs.autogen.m_2s FROM jobs.autogen.m GROUP BY time(2s) END",
        ]],
      );
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, /epochnexus_cq_runs_total\{cq="jobs\.counts",outcome="ok"\} [1-9]/);
      assert.match(metrics, /epochnexus_cq_points_written_total\{cq="jobs\.counts"\} [1-9]/);
      assert.match(metrics, /epochnexus_jobs_leader 1/);
      assert.match(server.logs(), /continuous query ran.*jobs\.counts/);

      await query(server.url, "DROP CONTINUOUS QUERY counts ON jobs");
      const dropped = await query(server.url, "SHOW CONTINUOUS QUERIES");
      const jobs = dropped.results[0].series.find((s: { name: string }) => s.name === "jobs");
      assert.equal(jobs.values, undefined, JSON.stringify(dropped));
    } finally {
      await server.stop();
    }
  },
});
