/**
 * Flush at shutdown with a real process: a node that is written to and then stopped with SIGTERM
 * leaves its data in segments with nothing left to re-apply from its partitions' Raft logs, and
 * the next start reads it from the segments.
 */
import assert from "node:assert/strict";
import { query, startServer, writeLines } from "../_server.ts";

async function bytesUnder(dir: string, name: RegExp): Promise<number> {
  let total = 0;
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      if (e.isDirectory) await walk(`${d}/${e.name}`);
      else if (name.test(e.name)) total += (await Deno.stat(`${d}/${e.name}`)).size;
    }
  };
  await walk(dir).catch(() => {});
  return total;
}

/** Data segments (`<gen>-<gen>.seg`) under the partitions, not the Raft logs' segments. */
const DATA_SEGMENT = /^\d{10}-\d{10}\.seg$/;

Deno.test("SIGTERM flushes the heads: the logs are compacted and a restart reads the segments", async () => {
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
  const partitions = `${first.dataDir}/partitions`;
  assert.equal(await bytesUnder(partitions, DATA_SEGMENT), 0, "flushed before the stop");
  assert.ok(await bytesUnder(`${first.dataDir}/raft`, /\.seg$/) > 10_000, "writes not in the logs");
  await first.stop();
  assert.ok(await bytesUnder(partitions, DATA_SEGMENT) > 500, "no segment at stop");
  assert.match(first.logs(), /flushed heads to segments/);

  const second = await startServer({ dataDir: first.dataDir });
  try {
    // Every replica starts from its segments: its Raft log holds nothing to re-apply.
    const replays = [...second.logs().matchAll(/opened partition replica .* replay=(\d+)/g)];
    assert.ok(replays.length > 0, "no partition replica opened");
    assert.deepEqual(replays.map((m) => m[1]).filter((n) => n !== "0"), []);
    const answer = await query(second.url, "SELECT count(v), sum(v) FROM m", { db });
    assert.deepEqual(answer.results[0].series[0].values[0].slice(1), [2000, 1999 * 2000 / 2]);
  } finally {
    await second.stop();
  }
});
