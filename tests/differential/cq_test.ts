/**
 * Continuous queries against InfluxDB 1.6.7: the same CREATE CONTINUOUS QUERY statements, the
 * same data (written before the queries, in the two hours they resample), and then the same
 * result measurements, compared byte for byte, as each system's own schedule wrote them. Also
 * compared: the answers to CREATE (and to the mistakes InfluxDB reports after parsing), SHOW
 * and DROP CONTINUOUS QUERY. Requires `influxd` (installed by .ci/run): without it the test
 * fails, it is never skipped.
 */
import assert from "node:assert/strict";
import { startInfluxd } from "../_influxd.ts";
import { startServer } from "../_server.ts";
import type { Answer } from "./_ask.ts";

const DB = "cqdb";
/** How long both systems get to run every query over all the data. */
const CONVERGE_TIMEOUT_MS = 90_000;

async function ask(url: string, q: string, method = "GET"): Promise<Answer> {
  const params = new URLSearchParams({ q, epoch: "ns" });
  const r = await fetch(`${url}/query?${params}`, { method });
  return { status: r.status, type: r.headers.get("content-type"), body: await r.text() };
}

/**
 * Two hosts of `cpu` and one `mem` series, a point every 20 s over 80 minutes ending ten
 * minutes ago. Values are multiples of 1/4, so sums and means are exact in both systems.
 */
function dataset(nowMs: number): { lines: string; times: number[] } {
  const startMs = Math.floor(nowMs / 60_000) * 60_000 - 90 * 60_000;
  const lines: string[] = [];
  const times: number[] = [];
  for (let i = 0; i < 240; i++) {
    const t = startMs + i * 20_000;
    times.push(t);
    for (const [h, host] of ["a", "b"].entries()) {
      const v = ((i * 7 + h * 3) % 23) / 4;
      lines.push(`cpu,host=${host},region=r${i % 2} v=${v},n=${(i * 5 + h) % 17}i ${t}`);
    }
    lines.push(`mem,host=a used=${(i % 9) * 1024}i ${t}`);
  }
  return { lines: lines.join("\n"), times };
}

/** The continuous queries, each exercising another part of the schedule or of INTO. */
const CQS = [
  // GROUP BY time and a tag; INTO a bare name (the CQ's database, default policy).
  "CREATE CONTINUOUS QUERY cq_1m ON cqdb RESAMPLE EVERY 1s FOR 2h BEGIN " +
  "SELECT mean(v) AS mean_v, max(n) AS max_n, sum(v) INTO cpu_1m FROM cpu GROUP BY time(1m), host END",
  // Back-references: every measurement matched, into another policy under its own name, all tags.
  "CREATE CONTINUOUS QUERY cq_ds ON cqdb RESAMPLE EVERY 2s FOR 2h BEGIN " +
  "SELECT sum(n) AS n, sum(used) AS used, min(v) AS v INTO cqdb.ds.:MEASUREMENT " +
  "FROM /^(cpu|mem)$/ GROUP BY time(5m), * END",
  // An offset on the buckets, a WHERE kept beside the run's time range.
  "CREATE CONTINUOUS QUERY cq_off ON cqdb RESAMPLE EVERY 1s FOR 2h BEGIN " +
  "SELECT last(v) AS v, first(n) AS n INTO cpu_10m FROM cpu WHERE host = 'a' " +
  "GROUP BY time(10m, 3m) END",
];

/** Statements whose answers must match, after the CQs exist. */
const STATEMENTS = [
  "SHOW CONTINUOUS QUERIES",
  // The same name and text again: no error. Another text under the same name: an error.
  CQS[0],
  "CREATE CONTINUOUS QUERY cq_1m ON cqdb BEGIN SELECT max(v) INTO cpu_1m FROM cpu GROUP BY time(1m) END",
  "CREATE CONTINUOUS QUERY cq_x ON nowhere BEGIN SELECT max(v) INTO m FROM cpu GROUP BY time(1m) END",
  "CREATE CONTINUOUS QUERY cq_x ON cqdb BEGIN SELECT max(v) INTO nope.m FROM cpu GROUP BY time(1m) END",
];

/**
 * The result measurements, as both systems hold them, and how many rows each must reach. Each
 * series apart (GROUP BY *): rows of several series at one time come in series-creation order
 * from InfluxDB, in key order from EpochNexus (a difference of raw queries, not of CQs).
 */
function results(times: number[]): [string, number][] {
  const buckets = (minutes: number, offsetMinutes = 0) =>
    new Set(times.map((t) => Math.floor((t - offsetMinutes * 60_000) / (minutes * 60_000)))).size;
  return [
    ["SELECT * FROM cqdb.autogen.cpu_1m GROUP BY *", 2 * buckets(1)],
    // GROUP BY *: a series per host and region.
    ["SELECT * FROM cqdb.ds.cpu GROUP BY *", 4 * buckets(5)],
    ["SELECT * FROM cqdb.ds.mem GROUP BY *", buckets(5)],
    ["SELECT * FROM cqdb.autogen.cpu_10m GROUP BY *", buckets(10, 3)],
  ];
}

function rows(body: string): number {
  const series = JSON.parse(body).results?.[0]?.series ?? [];
  return series.reduce((n: number, s: { values: unknown[] }) => n + s.values.length, 0);
}

Deno.test("differential: continuous queries write what InfluxDB 1.6.7's write", async () => {
  const [influx, nexus] = await Promise.all([
    startInfluxd({ continuousQueries: true }),
    // The CQs' database is the server's default one, so SHOW lists the same databases.
    startServer({ env: { EPOCHNEXUS_DEFAULT_DATABASE: DB } }),
  ]);
  const systems = [influx.url, nexus.url];
  const different: string[] = [];
  const compare = (label: string, [expected, actual]: Answer[]) => {
    if (
      expected.status !== actual.status || expected.type !== actual.type ||
      expected.body !== actual.body
    ) {
      different.push(
        `${label}\n  influxdb:   ${expected.status} ${expected.body.trimEnd()}` +
          `\n  epochnexus: ${actual.status} ${actual.body.trimEnd()}`,
      );
    }
  };
  const askBoth = (q: string, method = "GET") => Promise.all(systems.map((u) => ask(u, q, method)));
  try {
    const { lines, times } = dataset(Date.now());
    for (
      const q of [
        `CREATE DATABASE ${DB}`,
        `CREATE RETENTION POLICY ds ON ${DB} DURATION INF REPLICATION 1`,
      ]
    ) compare(q, await askBoth(q, "POST"));
    for (const url of systems) {
      const r = await fetch(`${url}/write?db=${DB}&precision=ms`, { method: "POST", body: lines });
      assert.equal(r.status, 204, `${url}: ${await r.text()}`);
    }
    for (const q of CQS) compare(q, await askBoth(q, "POST"));
    for (const q of STATEMENTS) compare(q, await askBoth(q, "POST"));

    // Each system runs the queries on its own schedule: wait until both wrote every bucket.
    const expected = results(times);
    const deadline = Date.now() + CONVERGE_TIMEOUT_MS;
    let last: Answer[][] = [];
    for (;;) {
      last = await Promise.all(expected.map(([q]) => askBoth(q)));
      const done = last.every((answers, i) =>
        answers.every((a) => a.status === 200 && rows(a.body) === expected[i][1])
      );
      if (done || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    for (const [i, [q]] of expected.entries()) compare(q, last[i]);
    compare("DROP", await askBoth("DROP CONTINUOUS QUERY cq_off ON cqdb", "POST"));
    compare("DROP again", await askBoth("DROP CONTINUOUS QUERY cq_off ON cqdb", "POST"));
    compare("SHOW after DROP", await askBoth("SHOW CONTINUOUS QUERIES"));
    assert.deepEqual(different, [], different.join("\n"));
    for (const [i, [q, n]] of expected.entries()) {
      assert.equal(rows(last[i][1].body), n, `${q}: rows on EpochNexus: ${last[i][1].body}`);
    }
  } finally {
    await Promise.all([nexus.stop(), influx.stop()]);
  }
});
