/**
 * Per-measurement time retention from a schema file, through a real server process: `cpu` keeps
 * one hour whatever its policy keeps; its older points go, its recent ones and another
 * measurement's old ones stay, in every retention policy.
 */
import assert from "node:assert/strict";
import { query, startServer, writeLines } from "../_server.ts";

const HOUR_MS = 3_600_000;

Deno.test("a schema's retention deletes a measurement's points older than it", async () => {
  const folder = await Deno.makeTempDir({ prefix: "epochnexus-retention-schemas-" });
  await Deno.writeTextFile(
    `${folder}/cpu.yaml`,
    "measurements:\n  cpu:\n    retention: 1h\n",
  );
  const server = await startServer({ env: { EPOCHNEXUS_SCHEMA_DIR: folder } });
  try {
    await query(server.url, "CREATE DATABASE r");
    await query(server.url, "CREATE RETENTION POLICY other ON r DURATION INF REPLICATION 1");
    const now = Date.now();
    const at = (agoMs: number) => BigInt(now - agoMs) * 1_000_000n;
    const lines = [
      `cpu,host=a v=1 ${at(3 * HOUR_MS)}`,
      `cpu,host=b v=2 ${at(2 * HOUR_MS)}`,
      `cpu,host=a v=3 ${at(HOUR_MS / 2)}`,
      `mem,host=a v=4 ${at(3 * HOUR_MS)}`,
    ].join("\n");
    for (const rp of ["autogen", "other"]) {
      const r = await writeLines(server.url, "r", lines, `&rp=${rp}`);
      assert.equal(r.status, 204, r.body);
    }
    const count = async (from: string) => {
      const a = await query(server.url, `SELECT count(v) FROM ${from}`, { db: "r" });
      return a.results[0].series?.[0]?.values[0][1] ?? 0;
    };
    const deadline = Date.now() + 60_000;
    while ((await count("autogen.cpu")) + (await count("other.cpu")) !== 2) {
      if (Date.now() > deadline) {
        throw new Error(`cpu's old points were not deleted\n${server.logs().slice(-3000)}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const rp of ["autogen", "other"]) {
      const a = await query(server.url, `SELECT v FROM ${rp}.cpu`, { db: "r" });
      assert.deepEqual(a.results[0].series[0].values.map((row: unknown[]) => row[1]), [3], rp);
      assert.equal(await count(`${rp}.mem`), 1, `${rp}: mem has no retention of its own`);
    }
  } finally {
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
    await Deno.remove(folder, { recursive: true });
  }
});
