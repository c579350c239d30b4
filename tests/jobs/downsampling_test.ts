/**
 * Declarative downsampling from a rules file: `autogen` rolled up into another retention policy,
 * each field's aggregates under the measurement's own name, tags kept, bucket after bucket on
 * the continuous queries' schedule; its runs in /metrics.
 */
import assert from "node:assert/strict";
import { query, startServer } from "../_server.ts";
import { writeAhead } from "./_cq.ts";

const RULES = `downsampling:
  - name: m_2s
    database: jobs
    from: autogen
    to: rolled
    interval: 2s
    aggregates: [count, max]
`;

Deno.test({
  name: "downsampling rule: autogen rolled up into another policy, bucket after bucket",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const rulesDir = await Deno.makeTempDir({ prefix: "epochnexus-rules-" });
    await Deno.writeTextFile(`${rulesDir}/rollup.yaml`, RULES);
    const server = await startServer({ env: { EPOCHNEXUS_RULES_DIR: rulesDir } });
    try {
      for (
        const q of [
          "CREATE DATABASE jobs",
          "CREATE RETENTION POLICY rolled ON jobs DURATION 52w REPLICATION 1",
        ]
      ) {
        const r = await query(server.url, q);
        assert.equal(r.results[0].error, undefined, `${q}: ${JSON.stringify(r)}`);
      }
      await writeAhead(server.url, 120);
      const deadline = Date.now() + 60_000;
      // deno-lint-ignore no-explicit-any
      let series: any;
      while (Date.now() < deadline) {
        const r = await query(server.url, "SELECT * FROM jobs.rolled.m", { epoch: "ms" });
        series = r.results[0].series?.[0];
        if ((series?.values.length ?? 0) >= 3) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(series, "nothing rolled up into jobs.rolled.m");
      assert.deepEqual(series.columns, ["time", "count_v", "max_v"]);
      assert.ok(series.values.length >= 3, JSON.stringify(series));
      const times = series.values.map((v: number[]) => v[0]);
      for (const [i, [t, count, max]] of series.values.entries()) {
        assert.equal(t % 2000, 0, "2 s buckets");
        if (i > 0) assert.equal(t - times[i - 1], 2000, "no bucket skipped");
        assert.deepEqual([count, max], [8, 1], `bucket ${new Date(t).toISOString()}`);
      }
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(
        metrics,
        /epochnexus_cq_runs_total\{cq="downsampling\.m_2s",outcome="ok"\} [1-9]/,
      );
    } finally {
      await server.stop();
      await Deno.remove(rulesDir, { recursive: true });
    }
  },
});
