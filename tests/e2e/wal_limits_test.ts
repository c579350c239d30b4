/**
 * A point the write-ahead log cannot hold, sent to a real server in each format that could make
 * one, is refused on its own before the answer; the node is killed with SIGKILL and must start
 * again with every acknowledged point. (Before: such a point was acknowledged, its record could
 * not be read back, and the node stayed down with "corrupt data in .../wal/00000001.wal".)
 */
import assert from "node:assert/strict";
import { query, startServer, writeLines } from "../_server.ts";

const WIDE = 65_536; // one field more than a WAL record holds per point
const SECOND = 1_000_000_000;

Deno.test("oversize points are refused alone; kill -9 and restart keeps every good point", async () => {
  const first = await startServer();
  const db = "limits";
  await query(first.url, `CREATE DATABASE ${db}`);

  const wideFields = Array.from({ length: WIDE }, (_, i) => `f${i}=1`).join(",");
  const lines = `good,host=a v=1 ${1 * SECOND}\nwide ${wideFields} ${2 * SECOND}\n` +
    `good,host=a v=2 ${3 * SECOND}\n`;
  const lp = await writeLines(first.url, db, lines);
  assert.equal(lp.status, 400, lp.body);
  assert.match(lp.body, /partial write: too many fields: 65536 > 65535 .* dropped=1/);

  const manyFields = Object.fromEntries(Array.from({ length: WIDE }, (_, i) => [`f${i}`, 1]));
  const manyTags = Object.fromEntries(Array.from({ length: 70_000 }, (_, i) => [`t${i}`, "v"]));
  const json = await fetch(`${first.url}/ingest?db=${db}&precision=s`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify([
      { measurement: "good", tags: { host: "a" }, fields: { v: 3 }, timestamp: 4 },
      { measurement: "widej", fields: manyFields, timestamp: 5 },
      { measurement: "tagsj", tags: manyTags, value: 1, timestamp: 6 },
      { measurement: "good", tags: { host: "a" }, fields: { v: 4 }, timestamp: 7 },
    ]),
  });
  const jsonAnswer = await json.json();
  // tagsj,t0=v,t1=v,...: the series key InfluxDB measures
  const seriesKeyBytes = Object.keys(manyTags).reduce((n, k) => n + `,${k}=v`.length, 5);
  assert.equal(json.status, 400);
  assert.equal(jsonAnswer.error.accepted, 2);
  assert.deepEqual(
    jsonAnswer.error.errors.map((e: { record: number; reason: string }) => [e.record, e.reason]),
    [
      [2, "too many fields: 65536 > 65535 (the most a point may have)"],
      [3, `max key length exceeded: ${seriesKeyBytes} > 65535`],
    ],
  );

  // A CSV of 100,000 columns: a full row is one point of 100,000 fields, a sparse row is fine.
  const columns = Array.from({ length: 100_000 }, (_, i) => `c${i}`);
  const csv = `measurement,time,${columns.join(",")}\n` +
    `csvwide,8,${columns.map(() => "1").join(",")}\n` +
    `csvgood,9,5${",".repeat(columns.length - 1)}\n`;
  const csvAnswer = await fetch(`${first.url}/ingest?db=${db}&precision=s`, {
    method: "POST",
    headers: { "content-type": "text/csv" },
    body: csv,
  });
  const csvJson = await csvAnswer.json();
  assert.equal(csvAnswer.status, 400);
  assert.equal(csvJson.error.accepted, 1);
  assert.deepEqual(csvJson.error.errors, [
    { record: 1, reason: "too many fields: 100000 > 65535 (the most a point may have)" },
  ]);

  await first.kill9();
  const second = await startServer({ dataDir: first.dataDir });
  try {
    const good = await query(second.url, "SELECT v FROM good", { db, epoch: "s" });
    assert.deepEqual(good.results[0].series[0].values, [[1, 1], [3, 2], [4, 3], [7, 4]]);
    const csvGood = await query(second.url, "SELECT c0 FROM csvgood", { db, epoch: "s" });
    assert.deepEqual(csvGood.results[0].series[0].values, [[9, 5]]);
    const measurements = await query(second.url, "SHOW MEASUREMENTS", { db });
    assert.deepEqual(measurements.results[0].series[0].values, [["csvgood"], ["good"]]);
  } finally {
    await second.stop();
  }
});
