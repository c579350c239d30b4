import assert from "node:assert/strict";
import { openEpochNexus } from "./mod.ts";

Deno.test("mod.ts: open a folder, write points and line protocol, query, reopen", async () => {
  const path = await Deno.makeTempDir();
  const db = await openEpochNexus({ path });
  await db.createDatabase("metrics");
  const written = await db.write("metrics", [
    { measurement: "cpu", tags: { host: "a" }, fields: { usage: 0.5, cores: 8n }, time: 1n },
  ]);
  assert.deepEqual(written, { accepted: 1, rejected: [] });
  const lp = await db.writeLineProtocol("metrics", "cpu,host=b usage=0.25 2\ncpu,host=b usage= 3");
  assert.equal(lp.accepted, 1);
  assert.match(lp.rejected[0].reason, /line 2, column \d+: missing field value/);
  await db.close();
  const again = await openEpochNexus({ path });
  const [result] = await again.query("SELECT mean(usage), sum(cores) FROM cpu", {
    database: "metrics",
  });
  assert.deepEqual(result.series?.[0].columns, ["time", "mean", "sum"]);
  assert.equal(result.series?.[0].values[0][1], 0.375);
  assert.equal(result.series?.[0].values[0][2], 8);
  await again.close();
});
