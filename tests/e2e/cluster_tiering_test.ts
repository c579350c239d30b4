/**
 * The cold tier on a cluster of three real processes sharing one cold store (an s3rver bucket
 * on loopback, configured through the environment): a database replicated on every node and
 * one with a single replica per partition, eight hours of data, `COLD_AFTER 2h` through
 * InfluxQL. Every replica ends up reading the cold objects with its local segments deleted,
 * the bucket holds one object per shard group per partition (replicas share the partition's
 * `g<group id>/` objects), and every node answers exactly as before the move, also after one
 * node is stopped (SIGTERM) and another killed (kill -9) and both started again.
 */
import assert from "node:assert/strict";
import { TestCluster } from "../_cluster.ts";
import { query, writeLines } from "../_server.ts";
import { filesUnder, startS3 } from "../storage/_tier_util.ts";

const HOUR_MS = 3_600_000;
const HOURS = 8;
/** Whole hours, the first ten hours ago: every group ended long before COLD_AFTER 2h. */
const START_MS = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 10 * HOUR_MS;
const HOSTS = 12;
const PER_HOST = 50;
/** Database name -> its replication factor (node 2 creates `one`: its default factor is 1). */
const DATABASES: Record<string, number> = { three: 3, one: 1 };
const DEADLINE_MS = 60_000;

function hourLines(h: number): string {
  const lines: string[] = [];
  for (let i = 0; i < PER_HOST; i++) {
    for (let host = 0; host < HOSTS; host++) {
      const ns = BigInt(START_MS + h * HOUR_MS + i * 72_000 + host * 1000) * 1_000_000n;
      lines.push(`cpu,host=h${host} v=${h * 1000 + i + host / 8},w=${(i * 7 + host) % 13}i ${ns}`);
    }
  }
  return lines.join("\n");
}

const QUERIES = [
  "SELECT * FROM cold.cpu",
  // Bounded: an unbounded GROUP BY time() runs to now(), so its empty buckets grow with the clock.
  `SELECT mean(v), max(w), count(v) FROM cold.cpu WHERE time < ${
    START_MS + HOURS * HOUR_MS
  }ms GROUP BY time(30m), host`,
  "SELECT last(v) FROM cold.cpu WHERE host = 'h5'",
];

/** Every query's answer on node `i`, both databases, as one text. */
async function answers(cluster: TestCluster, i: number): Promise<string> {
  const out = [];
  for (const db of Object.keys(DATABASES)) {
    for (const q of QUERIES) out.push(await query(cluster.url(i), q, { db, epoch: "ns" }));
  }
  const text = JSON.stringify(out, (_k, v) => typeof v === "bigint" ? v.toString() : v);
  if (text.includes(`"error"`)) {
    throw new Error(`node ${i} answered an error: ${text.slice(0, 500)}`);
  }
  return text;
}

/** Fails naming the first difference (the answers are large). */
function sameAnswers(actual: string, expected: string, what: string): void {
  if (actual === expected) return;
  let i = 0;
  while (i < actual.length && actual[i] === expected[i]) i++;
  assert.fail(
    `${what}: differ at ${i} (lengths ${actual.length}, ${expected.length}): ${
      actual.slice(Math.max(0, i - 200), i + 200)
    }\n  expected ${expected.slice(Math.max(0, i - 200), i + 200)}`,
  );
}

/** Waits until every running node answers exactly `expected` (a restarted node may still lead). */
async function waitSameAnswers(cluster: TestCluster, expected: string, what: string) {
  let last = "";
  let lastNode = 0;
  await cluster.waitFor(what, DEADLINE_MS, async () => {
    for (const i of [0, 1, 2]) {
      lastNode = i;
      last = await answers(cluster, i);
      if (last !== expected) return false;
    }
    return true;
  }).catch((error) => {
    if (last) sameAnswers(last, expected, `${error.message}; node ${lastNode}`);
    throw error;
  });
}

/** `GET /health` of node `i`: the counts over this node's own replicas. */
async function health(cluster: TestCluster, i: number) {
  const r = await fetch(`${cluster.url(i)}/health`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(r.status, 200);
  return await r.json() as { segments: number; coldGroups: number; coldMoves: number };
}

/** Local segment files (not cold objects) under node `i`'s partitions. */
function localSegments(cluster: TestCluster, i: number): Promise<string[]> {
  return filesUnder(`${cluster.dataDirs[i]}/partitions`, /\.seg$/);
}

async function bytesOf(paths: string[]): Promise<number> {
  let total = 0;
  for (const p of paths) total += (await Deno.stat(p).catch(() => ({ size: 0 }))).size;
  return total;
}

Deno.test({
  name: "e2e: COLD_AFTER on a 3-node cluster sharing one S3 bucket, across a SIGTERM and a kill -9",
  sanitizeResources: false,
  fn: async () => {
    const s3 = await startS3("ctier");
    const cluster = await TestCluster.start({
      env: {
        EPOCHNEXUS_COLD_STORE: `${s3.endpoint}/${s3.bucket}/c`,
        EPOCHNEXUS_COLD_STORE_ACCESS_KEY_ID: "S3RVER",
        EPOCHNEXUS_COLD_STORE_SECRET_ACCESS_KEY: "S3RVER",
        EPOCHNEXUS_DEFAULT_PARTITIONS: "2",
        EPOCHNEXUS_REPLICATION_FACTOR: "3",
        EPOCHNEXUS_FLUSH_IDLE_MS: "300",
      },
      // The replication factor of a new database is the creating node's default.
      nodeEnv: (
        i,
      ): Record<string, string> => (i === 2 ? { EPOCHNEXUS_REPLICATION_FACTOR: "1" } : {}),
    }).catch(async (error) => {
      await s3.close();
      throw error;
    });
    try {
      for (const [db, rf] of Object.entries(DATABASES)) {
        const via = rf === 1 ? 2 : 0;
        for (
          const q of [
            `CREATE DATABASE ${db}`,
            `CREATE RETENTION POLICY cold ON ${db} DURATION INF REPLICATION 1 SHARD DURATION 1h`,
          ]
        ) {
          const r = await query(cluster.url(via), q);
          assert.equal(JSON.stringify(r).includes("error"), false, `${q}: ${JSON.stringify(r)}`);
        }
      }
      const status = await cluster.status(0);
      const groups = new Map<number, string>(); // raft group id -> database
      for (const [db, rf] of Object.entries(DATABASES)) {
        const d = status.databases.find((x) => x.name === db)!;
        assert.equal(d.replicationFactor, rf, JSON.stringify(d));
        for (const p of d.partitions) {
          assert.equal(p.replicas.length, rf, JSON.stringify(p));
          groups.set(p.groupId, db);
        }
      }
      // Each hour written through a different node (forwarded to the partitions' leaders).
      for (let h = 0; h < HOURS; h++) {
        for (const db of Object.keys(DATABASES)) {
          const r = await writeLines(cluster.url(h % 3), db, hourLines(h), "&rp=cold");
          assert.equal(r.status, 204, r.body);
        }
      }
      await cluster.waitConverged("three", DEADLINE_MS);
      // Which groups node `i` holds a replica of, as the metadata says now (a rebalance may
      // have moved a partition of `one`).
      const replicasOf = async (i: number) => {
        const now = await cluster.status(0);
        return now.databases.filter((d) => d.name in DATABASES).flatMap((d) => d.partitions)
          .filter((p) => p.replicas.includes(cluster.ids[i])).map((p) => p.groupId);
      };
      await cluster.waitFor("every replica flushed to local segments", DEADLINE_MS, async () => {
        for (const i of [0, 1, 2]) {
          const files = await localSegments(cluster, i);
          for (const g of await replicasOf(i)) {
            if (!files.some((f) => f.includes(`/partitions/${g}/`))) return false;
          }
        }
        return true;
      });
      const before = await answers(cluster, 0);
      assert.ok(before.includes(`"h11"`) && before.includes(`"h0"`), "the answers hold data");
      for (const i of [1, 2]) sameAnswers(await answers(cluster, i), before, `node ${i} before`);
      const diskBefore = await Promise.all(
        [0, 1, 2].map(async (i) => bytesOf(await localSegments(cluster, i))),
      );

      for (const db of Object.keys(DATABASES)) {
        const q = `ALTER RETENTION POLICY cold ON ${db} COLD_AFTER 2h`;
        const r = await query(cluster.url(1), q);
        assert.equal(JSON.stringify(r).includes("error"), false, `${q}: ${JSON.stringify(r)}`);
      }

      // Cold on every replica: each node reads one cold object per group of each of its
      // replicas and holds no local segment any more.
      const expectedCold = async (i: number) => (await replicasOf(i)).length * HOURS;
      let seen = "";
      await cluster.waitFor(
        "every replica reads its groups from the cold store",
        DEADLINE_MS,
        async () => {
          const figures = [];
          for (const i of [0, 1, 2]) {
            const h = await health(cluster, i);
            const files = await localSegments(cluster, i);
            figures.push({
              node: i,
              coldGroups: h.coldGroups,
              segments: h.segments,
              files: files.length,
              expectedCold: await expectedCold(i),
            });
          }
          seen = JSON.stringify(figures);
          return figures.every((f) =>
            f.coldGroups === f.expectedCold && f.segments === 0 && f.files === 0
          );
        },
      ).catch((error) => {
        throw new Error(
          `${error.message}; per node: ${seen}; segment bytes before ${diskBefore}`,
        );
      });
      for (const [db] of Object.entries(DATABASES)) {
        const answer = await query(cluster.url(0), `SHOW RETENTION POLICIES ON ${db}`);
        const series = answer.results[0].series[0];
        const row = series.values.find((r: unknown[]) => r[0] === "cold");
        const col = (c: string) => row[series.columns.indexOf(c)];
        assert.equal(col("coldAfter"), "2h0m0s", JSON.stringify(answer));
        assert.equal(col("bytes"), 0, JSON.stringify(answer));
        assert.ok(col("coldBytes") > 0, JSON.stringify(answer));
      }

      // One object per group per partition, under the partition's prefix, shared by replicas.
      const objectKeys = async () => (await s3.store("c").list("")).map((o) => o.key).sort();
      const keys = await objectKeys();
      const expectedKeys: string[] = [];
      const actualKeys: string[] = [];
      for (const key of keys) {
        const m = /^g(\d+)\/[^/]+\/[^/]+\/(\d+)_3600000\/[^/]+\.cseg$/.exec(key);
        assert.ok(m, `object key ${key} in ${JSON.stringify(keys)}`);
        actualKeys.push(`g${m[1]} ${m[2]}`);
      }
      for (const g of [...groups.keys()].sort((a, b) => a - b)) {
        for (let h = 0; h < HOURS; h++) expectedKeys.push(`g${g} ${START_MS + h * HOUR_MS}`);
      }
      assert.deepEqual(actualKeys.sort(), expectedKeys.sort(), JSON.stringify(keys));

      for (const i of [0, 1, 2]) {
        sameAnswers(await answers(cluster, i), before, `node ${i} reading the cold store`);
      }

      // SIGTERM node 1 and start it again, then kill -9 node 2 (holding a partition of `one`
      // alone) and start it again: the answers stay the same through every node.
      const stopped = cluster.node(1);
      cluster.nodes[1] = undefined;
      await stopped.stop();
      await cluster.restart(1);
      await waitSameAnswers(cluster, before, "answers after node 1's SIGTERM restart");
      await cluster.kill9(2);
      await cluster.restart(2);
      await waitSameAnswers(cluster, before, "answers after node 2's kill -9 restart");
      for (const i of [0, 1, 2]) {
        assert.deepEqual(await localSegments(cluster, i), [], `node ${i}: no segment came back`);
        assert.equal(
          (await health(cluster, i)).coldGroups,
          await expectedCold(i),
          `node ${i} cold groups`,
        );
      }
      assert.deepEqual(await objectKeys(), keys, "no object moved again or lost after restarts");

      // A late write into a cold group (through a node): read beside the object on every
      // replica at once, then the group moves again under a new key of the same partition (the
      // old object stays for the leader's sweep, after its grace period).
      const lateMs = START_MS + 3 * HOUR_MS + 500;
      const late = await writeLines(
        cluster.url(2),
        "three",
        `cpu,host=h5 v=-1,w=99i ${lateMs}`,
        "&rp=cold&precision=ms",
      );
      assert.equal(late.status, 204, late.body);
      const hourCount = `SELECT count(v) FROM cold.cpu WHERE time >= ${
        START_MS + 3 * HOUR_MS
      }ms AND time < ${START_MS + 4 * HOUR_MS}ms`;
      await cluster.waitFor("every node reads the late write", DEADLINE_MS, async () => {
        for (const i of [0, 1, 2]) {
          const r = await query(cluster.url(i), hourCount, { db: "three" });
          if (r.results[0].series?.[0]?.values[0][1] !== HOSTS * PER_HOST + 1) return false;
        }
        return true;
      });
      let movedAgain: string[] = [];
      await cluster.waitFor(
        "the late-written group moved again on every replica",
        DEADLINE_MS,
        async () => {
          movedAgain = (await objectKeys()).filter((k) => !keys.includes(k));
          if (movedAgain.length !== 1) return false;
          for (const i of [0, 1, 2]) {
            const h = await health(cluster, i);
            if (h.segments !== 0 || h.coldGroups !== await expectedCold(i)) return false;
            if ((await localSegments(cluster, i)).length !== 0) return false;
          }
          return true;
        },
      );
      const [again] = movedAgain;
      assert.match(
        again,
        new RegExp(`^g\\d+/[^/]+/[^/]+/${START_MS + 3 * HOUR_MS}_3600000/[0-9]+-[0-9a-f]+\\.cseg$`),
      );
      assert.ok(keys.some((k) => k.startsWith(again.slice(0, again.lastIndexOf("/") + 1))), again);
      const withLate = await answers(cluster, 0);
      assert.ok(withLate.includes(`${lateMs}000000`), "SELECT * holds the late point");
      for (const i of [1, 2]) sameAnswers(await answers(cluster, i), withLate, `node ${i} late`);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${cluster.logs().slice(-10_000)}`);
    } finally {
      await cluster.stop();
      await s3.close();
    }
  },
});
