/**
 * Flush at shutdown with a real process: a node that is written to and then stopped with SIGTERM
 * leaves its data in segments and a WAL of (nearly) nothing, and the next start reads it from the
 * segments.
 */
import assert from "node:assert/strict";
import { query, startServer, writeLines } from "../_server.ts";

async function bytesUnder(dir: string, suffix: string): Promise<number> {
  let total = 0;
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      if (e.isDirectory) await walk(`${d}/${e.name}`);
      else if (e.name.endsWith(suffix)) total += (await Deno.stat(`${d}/${e.name}`)).size;
    }
  };
  await walk(dir).catch(() => {});
  return total;
}

Deno.test("SIGTERM flushes the heads: the WAL is trimmed and a restart reads the segments", async () => {
  const first = await startServer({});
  const db = "shutdown";
  await query(first.url, `CREATE DATABASE ${db}`);
  const base = 1_700_000_000_000_000_000n;
  for (let batch = 0; batch < 5; batch++) {
    const lines: string[] = [];
    for (let i = 0; i < 400; i++) {
      const t = base + BigInt(batch * 400 + i) * 1_000_000_000n;
      lines.push(`m,host=h${i % 10} v=${batch * 400 + i} ${t}`);
    }
    assert.equal((await writeLines(first.url, db, lines.join("\n"))).status, 204);
  }
  assert.equal(await bytesUnder(`${first.dataDir}/data`, ".seg"), 0, "flushed before the stop");
  assert.ok(await bytesUnder(`${first.dataDir}/wal`, ".wal") > 10_000);
  await first.stop();
  assert.ok(await bytesUnder(`${first.dataDir}/data`, ".seg") > 500, "no segment at stop");
  const wal = await bytesUnder(`${first.dataDir}/wal`, ".wal");
  assert.ok(wal < 64, `WAL after a clean stop: ${wal} bytes`);
  assert.match(first.logs(), /flushed heads to segments/);

  const second = await startServer({ dataDir: first.dataDir });
  try {
    assert.match(second.logs(), /opened storage .*walPoints=0/);
    const answer = await query(second.url, "SELECT count(v), sum(v) FROM m", { db });
    assert.deepEqual(answer.results[0].series[0].values[0].slice(1), [2000, 1999 * 2000 / 2]);
  } finally {
    await second.stop();
  }
});
