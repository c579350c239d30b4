/**
 * Size retention and the cold tier end to end: a real server process configured through its
 * environment (`EPOCHNEXUS_COLD_STORE` naming an s3rver bucket, started here on loopback),
 * policies set with InfluxQL's MAX_BYTES and COLD_AFTER, SHOW RETENTION POLICIES reporting limits
 * and sizes over HTTP, answers identical before the move, after it and after a restart, and a
 * size limit dropping the oldest hours first.
 */
import assert from "node:assert/strict";
import { query, type ServerProcess, startServer, writeLines } from "../_server.ts";
import { startS3 } from "../storage/_tier_util.ts";

const HOUR_MS = 3_600_000;
const HOURS = 8;
/** Whole hours, the first ten hours ago: every group ended long before COLD_AFTER 2h. */
const START_MS = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 10 * HOUR_MS;

function hourLines(h: number): string {
  const lines: string[] = [];
  for (let i = 0; i < 600; i++) {
    const ns = BigInt(START_MS + h * HOUR_MS + i * 6000) * 1_000_000n;
    lines.push(`cpu,host=h${i % 3} v=${h * 1000 + i},w=${(i * 7) % 13}i ${ns}`);
  }
  return lines.join("\n");
}

type PolicyRow = Record<string, unknown>;

async function policies(server: ServerProcess): Promise<Map<string, PolicyRow>> {
  const answer = await query(server.url, "SHOW RETENTION POLICIES ON tier");
  const series = answer.results[0].series[0];
  return new Map(
    series.values.map((row: unknown[]) => {
      const named: PolicyRow = {};
      series.columns.forEach((c: string, i: number) => named[c] = row[i]);
      return [named.name as string, named];
    }),
  );
}

/** Polls `check` until it is true (at most 60 s; the node's maintenance runs every second). */
async function waitFor(what: string, server: ServerProcess, check: () => Promise<boolean>) {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}\n${server.logs().slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

const ANSWERS = [
  "SELECT * FROM cold.cpu",
  // Bounded: an unbounded GROUP BY time() runs to now(), so its empty buckets grow with the clock.
  `SELECT mean(v), max(w), count(v) FROM cold.cpu WHERE time < ${
    START_MS + HOURS * HOUR_MS
  }ms GROUP BY time(30m), host`,
  "SELECT last(v) FROM cold.cpu WHERE host = 'h1'",
];

/** Fails naming the first difference (the answers are large). */
function sameAnswers(actual: string, expected: string, what: string): void {
  if (actual === expected) return;
  let i = 0;
  while (i < actual.length && actual[i] === expected[i]) i++;
  assert.fail(
    `${what}: differ at ${i}: ${actual.slice(i - 200, i + 200)}\n  expected ${
      expected.slice(i - 200, i + 200)
    }`,
  );
}

async function answers(server: ServerProcess): Promise<string> {
  const out = [];
  for (const q of ANSWERS) out.push(await query(server.url, q, { db: "tier", epoch: "ns" }));
  return JSON.stringify(out, (_k, v) => typeof v === "bigint" ? v.toString() : v);
}

Deno.test("tiering through a real server: COLD_AFTER to S3, MAX_BYTES, SHOW RETENTION POLICIES", async () => {
  const s3 = await startS3("tier");
  const env = {
    EPOCHNEXUS_COLD_STORE: `${s3.endpoint}/${s3.bucket}/node`,
    EPOCHNEXUS_COLD_STORE_ACCESS_KEY_ID: "S3RVER",
    EPOCHNEXUS_COLD_STORE_SECRET_ACCESS_KEY: "S3RVER",
    EPOCHNEXUS_DEFAULT_PARTITIONS: "1",
    EPOCHNEXUS_FLUSH_IDLE_MS: "300",
  };
  let server = await startServer({ env });
  try {
    const ddl = [
      "CREATE DATABASE tier",
      "CREATE RETENTION POLICY cold ON tier DURATION INF REPLICATION 1 SHARD DURATION 1h",
      "CREATE RETENTION POLICY sized ON tier DURATION INF REPLICATION 1 SHARD DURATION 1h",
    ];
    for (const q of ddl) {
      assert.equal(JSON.stringify(await query(server.url, q)).includes("error"), false, q);
    }
    for (let h = 0; h < HOURS; h++) {
      for (const rp of ["cold", "sized"]) {
        const r = await writeLines(server.url, "tier", hourLines(h), `&rp=${rp}`);
        assert.equal(r.status, 204, r.body);
      }
    }
    // No policy uses tiering yet: InfluxDB's exact columns.
    assert.equal((await policies(server)).get("cold")!.maxBytes, undefined);
    const before = await answers(server);
    assert.ok(before.includes(`"h2"`), "the query answers hold data");

    // The bad value is refused with a clear error, nothing changes.
    const bad = await query(server.url, "ALTER RETENTION POLICY cold ON tier MAX_BYTES -1");
    assert.match(JSON.stringify(bad), /error/);
    const altered = await query(server.url, "ALTER RETENTION POLICY cold ON tier COLD_AFTER 2h");
    assert.equal(JSON.stringify(altered).includes("error"), false, JSON.stringify(altered));

    await waitFor("every group of the cold policy in the cold store", server, async () => {
      const p = (await policies(server)).get("cold")!;
      return p.coldAfter === "2h0m0s" && (p.coldBytes as number) > 0 && p.bytes === 0;
    });
    const objects = await s3.store("node").list("");
    assert.equal(objects.length, HOURS, JSON.stringify(objects.map((o) => o.key)));
    sameAnswers(await answers(server), before, "answers read from the cold store");

    // Size retention: a limit of about half the policy's bytes drops its oldest hours.
    await waitFor("the sized policy flushed", server, async () => {
      return ((await policies(server)).get("sized")!.bytes as number) > 0;
    });
    let sized = (await policies(server)).get("sized")!;
    const total = sized.bytes as number;
    const perGroup = total / HOURS;
    const limit = Math.floor(total / 2);
    const r = await query(server.url, `ALTER RETENTION POLICY sized ON tier MAX_BYTES ${limit}`);
    assert.equal(JSON.stringify(r).includes("error"), false, JSON.stringify(r));
    await waitFor("the sized policy under its limit", server, async () => {
      sized = (await policies(server)).get("sized")!;
      return (sized.bytes as number) <= limit;
    });
    assert.equal(sized.maxBytes, limit);
    // Under the limit, and not by dropping more than the groups needed (+ one group of slack).
    assert.ok((sized.bytes as number) >= limit - 1.5 * perGroup, `${sized.bytes} of ${limit}`);
    const counts = await query(
      server.url,
      "SELECT count(v) FROM sized.cpu GROUP BY time(1h)",
      { db: "tier", epoch: "ms" },
    );
    const perHour = new Map<number, number>(
      counts.results[0].series[0].values.map(([t, c]: [number, number]) => [t, c]),
    );
    const kept = [...Array(HOURS).keys()].map((h) => perHour.get(START_MS + h * HOUR_MS) ?? 0);
    const firstKept = kept.findIndex((c) => c > 0);
    assert.ok(firstKept > 0, `the oldest hour went: ${kept}`);
    // Oldest first: every hour before the first kept one is gone, every one after it whole.
    assert.deepEqual(kept.slice(firstKept), Array(HOURS - firstKept).fill(600), `${kept}`);

    // After a restart: the cold groups still read from S3, the dropped hours stay dropped.
    await server.stop();
    server = await startServer({ env, dataDir: server.dataDir });
    sameAnswers(await answers(server), before, "answers after a restart");
    const again = await query(server.url, "SELECT count(v) FROM sized.cpu", { db: "tier" });
    assert.equal(again.results[0].series[0].values[0][1], (HOURS - firstKept) * 600);
  } finally {
    await server.stop();
    await s3.close();
    await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
  }
});
