import assert from "node:assert/strict";
import { openEpochNexus, PointWriter } from "./mod.ts";
import { startServer } from "./tests/_server.ts";

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

Deno.test("mod.ts: query times as RFC3339 strings by default, bigint nanoseconds on request, tz() kept", async () => {
  const path = await Deno.makeTempDir();
  const db = await openEpochNexus({ path });
  try {
    await db.createDatabase("m");
    await db.write("m", [
      { measurement: "t", fields: { v: 1 }, time: 1678886400123456789n },
      { measurement: "t", fields: { v: 2 }, time: new Date("2023-03-15T14:00:00Z") },
    ]);
    const [rfc] = await db.query("SELECT v FROM t", { database: "m" });
    assert.deepEqual(rfc.series?.[0].values, [
      ["2023-03-15T13:20:00.123456789Z", 1],
      ["2023-03-15T14:00:00Z", 2],
    ]);
    const [ns] = await db.query("SELECT v FROM t", { database: "m", times: "ns" });
    assert.deepEqual(ns.series?.[0].values, [
      [1678886400123456789n, 1],
      [1678888800000000000n, 2],
    ]);
    const [zoned] = await db.query("SELECT v FROM t LIMIT 1 tz('Europe/Paris')", { database: "m" });
    assert.equal(zoned.series?.[0].values[0][0], "2023-03-15T14:20:00.123456789+01:00");
    const [missing] = await db.query("SELECT v FROM t", { database: "nope" });
    assert.match(missing.error ?? "", /database not found: nope/);
  } finally {
    await db.close();
    await Deno.remove(path, { recursive: true });
  }
});

Deno.test({
  name: "mod.ts: PointWriter alone, with the library's point shape, against a real server",
  sanitizeResources: false,
  fn: async () => {
    const server = await startServer();
    try {
      await fetch(`${server.url}/query`, {
        method: "POST",
        body: new URLSearchParams({ q: "CREATE DATABASE lib" }),
      }).then((r) => r.body?.cancel());
      const writer = new PointWriter({ url: server.url, database: "lib" });
      await writer.write([
        { measurement: "cpu", tags: { host: "a" }, fields: { usage: 0.5, cores: 8n }, time: 1n },
        { measurement: "cpu", tags: { host: "b" }, fields: { up: true, note: "ok" }, time: 2n },
      ]);
      await assert.rejects(
        () => writer.write({ measurement: "cpu", fields: { usage: NaN } }),
        /point 0: field usage is NaN, not a finite number/,
      );
      const report = await writer.close();
      assert.equal(report.written, 2);
      assert.equal(report.failed, 0);
      const q = encodeURIComponent("SELECT * FROM cpu");
      const body = await (await fetch(`${server.url}/query?db=lib&epoch=ns&q=${q}`)).json();
      assert.deepEqual(body.results[0].series[0].values, [
        [1, 8, "a", null, null, 0.5],
        [2, null, "b", "ok", true, null],
      ]);
    } finally {
      await server.stop();
      await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
    }
  },
});
