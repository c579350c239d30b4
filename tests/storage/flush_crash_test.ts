/**
 * Crash safety of flush and compaction with real processes: the server runs with tiny flush
 * thresholds (segments are written and the WAL trimmed every few hundred points, compactions
 * follow), is killed with SIGKILL in the middle, and every acknowledged point must come back —
 * once, with its value — from the segments and the partitions' Raft logs that remain.
 */
import assert from "node:assert/strict";
import { query, startServer, writeLines } from "../_server.ts";

const WRITERS = 4;
const POINTS_PER_REQUEST = 40;
const base = 1_700_000_000_000_000_000n;

/** The data segment files of every partition replica (not the Raft log's segments). */
async function segmentFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      if (e.isDirectory) await walk(`${d}/${e.name}`);
      else if (/^\d{10}-\d{10}\.seg$/.test(e.name)) out.push(`${d}/${e.name}`);
    }
  };
  await walk(`${dir}/partitions`).catch(() => {});
  return out;
}

async function checkAll(url: string, db: string, acknowledged: Map<string, Map<string, number>>) {
  let checked = 0;
  for (const [name, acked] of acknowledged) {
    const answer = await query(url, `SELECT v FROM load WHERE writer = '${name}'`, {
      db,
      epoch: "ns",
    });
    const values: [number, number][] = answer.results[0].series?.[0]?.values ?? [];
    const found = new Map(values.map(([t, v]) => [String(BigInt(t)), v]));
    assert.equal(found.size, values.length, `${name}: a timestamp returned twice`);
    for (const [t, v] of acked) {
      assert.equal(found.get(t), v, `${name}: acknowledged point at ${t} is missing`);
      checked++;
    }
  }
  return checked;
}

/**
 * Writes with WRITERS writers until `points` writes are acknowledged and `ready()` holds (at most
 * 60 s: a slow, loaded machine takes longer, it does not get fewer), then kills and stops writing.
 */
async function writeUntilKilled(
  url: string,
  db: string,
  points: number,
  kill: () => Promise<void>,
  ready: () => boolean = () => true,
): Promise<Map<string, Map<string, number>>> {
  const acknowledged = new Map<string, Map<string, number>>();
  let killed = false;
  const writer = async (w: number) => {
    const name = `w${w}`;
    const acked = new Map<string, number>();
    acknowledged.set(name, acked);
    for (let batch = 0; batch < 5_000 && !killed; batch++) {
      const lines: string[] = [];
      const rows: [string, number][] = [];
      for (let i = 0; i < POINTS_PER_REQUEST; i++) {
        const t = (base + BigInt(batch * POINTS_PER_REQUEST + i) * 1_000_000_000n + BigInt(w))
          .toString();
        const v = batch * 1000 + i + w / 10;
        lines.push(`load,writer=${name} v=${v} ${t}`);
        rows.push([t, v]);
      }
      try {
        const r = await writeLines(url, db, lines.join("\n"));
        if (r.status === 204) { for (const [t, v] of rows) acked.set(t, v); }
      } catch {
        return;
      }
    }
  };
  const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
  const deadline = Date.now() + 60_000;
  const total = () => [...acknowledged.values()].reduce((n, m) => n + m.size, 0);
  while ((total() < points || !ready()) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  await kill();
  killed = true;
  await Promise.all(writers);
  return acknowledged;
}

/** True when every partition of the database holds in segments all its log applied. */
async function allFlushed(url: string, database: string): Promise<boolean> {
  const status = await (await fetch(`${url}/api/v1/cluster`)).json();
  const db = status.databases.find((d: { name: string }) => d.name === database);
  return db.partitions.every((p: { applied: number; flushedBefore: number }) =>
    p.flushedBefore > p.applied
  );
}

const SMALL = {
  EPOCHNEXUS_FLUSH_HEAD_BYTES: "20000",
  EPOCHNEXUS_FLUSH_IDLE_MS: "300",
  EPOCHNEXUS_SEGMENT_BLOCK_VALUES: "50",
};

Deno.test("kill -9 while heads are flushed and segments compacted loses no acknowledged point", async () => {
  const first = await startServer({ env: SMALL });
  const db = "crash";
  await query(first.url, `CREATE DATABASE ${db}`);
  // A flush logs when it has trimmed the WAL, after its segments are on disk: the kill waits for
  // one whole flush (a fast machine reached 2,400 points between a segment and its log line).
  const flushedOnce = () => /flushed heads to segments .*walSegmentsRemoved=/.test(first.logs());
  const acknowledged = await writeUntilKilled(
    first.url,
    db,
    2_400,
    () => first.kill9(),
    flushedOnce,
  );
  const total = [...acknowledged.values()].reduce((n, m) => n + m.size, 0);
  assert.ok(total > 2_000, `too few writes acknowledged: ${total}`);
  const segments = await segmentFiles(first.dataDir);
  assert.ok(segments.length > 0, "no segment was flushed before the kill");
  assert.match(first.logs(), /flushed heads to segments .*walSegmentsRemoved=/);

  const second = await startServer({ dataDir: first.dataDir, env: SMALL });
  try {
    assert.equal(await checkAll(second.url, db, acknowledged), total);
  } finally {
    await second.stop();
  }
});

Deno.test("kill -9 after an idle flush trimmed the logs: restart reads the segments", async () => {
  const first = await startServer({ env: { ...SMALL, EPOCHNEXUS_FLUSH_HEAD_BYTES: "100MiB" } });
  const db = "idle";
  await query(first.url, `CREATE DATABASE ${db}`);
  const acknowledged = await writeUntilKilled(first.url, db, 600, async () => {});
  // Wait (bounded) until the idle flush has put every partition's writes in segments: the
  // segments then hold everything its Raft log applied.
  const deadline = Date.now() + 10_000;
  while (!(await allFlushed(first.url, db)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(await allFlushed(first.url, db), "idle flush did not happen in every partition");
  assert.ok((await segmentFiles(first.dataDir)).length > 0, "no segment file");
  await first.kill9();
  const total = [...acknowledged.values()].reduce((n, m) => n + m.size, 0);
  const second = await startServer({ dataDir: first.dataDir, env: SMALL });
  try {
    // Every replica starts from its segments: nothing is left in the Raft logs to re-apply.
    assert.match(second.logs(), /opened storage segments=[1-9]/);
    const replays = [...second.logs().matchAll(/opened partition replica .* replay=(\d+)/g)];
    assert.ok(replays.length > 0, "no partition replica opened");
    assert.deepEqual(replays.map((m) => m[1]).filter((n) => n !== "0"), []);
    assert.equal(await checkAll(second.url, db, acknowledged), total);
  } finally {
    await second.stop();
  }
});
