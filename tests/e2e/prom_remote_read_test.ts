/**
 * EpochNexus as Prometheus' long-term store, with a real Prometheus (2.42, from apt): a first
 * Prometheus scrapes fixed metrics from a loopback target and sends them by remote_write; once
 * they are stored it stops, and a second Prometheus with an empty TSDB and no scrape asks the
 * same questions, which only remote_read from EpochNexus can answer.
 */
import assert from "node:assert/strict";
import { query, startServer } from "../_server.ts";
import { startPrometheus } from "../_prometheus.ts";

const METRICS = [
  "# TYPE e2e_temperature gauge",
  'e2e_temperature{room="kitchen"} 21.5',
  'e2e_temperature{room="cellar"} 12.25',
  "# TYPE e2e_requests_total counter",
  "e2e_requests_total 42",
  "",
].join("\n");

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Prometheus' HTTP API answer of a query (`data.result`). */
async function promQuery(url: string, q: string, timeSec: number) {
  const r = await fetch(
    `${url}/api/v1/query?query=${encodeURIComponent(q)}&time=${timeSec}`,
  );
  const body = await r.json();
  assert.equal(r.status, 200, JSON.stringify(body));
  return body.data.result as {
    metric: Record<string, string>;
    values?: [number, string][];
    value?: [number, string];
  }[];
}

Deno.test("remote_read: a real Prometheus reads back from EpochNexus what it wrote", async () => {
  const target = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response(METRICS, { headers: { "content-type": "text/plain; version=0.0.4" } }),
  );
  const node = await startServer();
  const stops: (() => Promise<void>)[] = [];
  try {
    const created = await query(node.url, "CREATE DATABASE prom");
    assert.equal(created.results[0].error, undefined);
    const writer = await startPrometheus(`
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: fixed
    scrape_interval: 1s
    static_configs:
      - targets: ["127.0.0.1:${target.addr.port}"]
remote_write:
  - url: ${node.url}/api/v1/prom/write?db=prom
    queue_config:
      batch_send_deadline: 1s
`);
    stops.push(writer.stop);
    // Wait (bounded) until at least 3 scrapes of each room are stored.
    const counted = 'SELECT count("value") FROM e2e_temperature GROUP BY room';
    let stored = false;
    for (let i = 0; i < 300 && !stored; i++) {
      const r = await query(node.url, counted, { db: "prom" });
      const counts = (r.results[0].series ?? []).map((s: { values: number[][] }) => s.values[0][1]);
      stored = counts.length === 2 && counts.every((c: number) => c >= 3);
      if (!stored) await sleep(200);
    }
    assert.ok(stored, `samples did not arrive by remote_write within 60 s:\n${writer.logs()}`);
    await writer.stop();
    stops.pop();

    // What EpochNexus holds, per room: [ms, value] rows.
    const held = new Map<string, [number, number][]>();
    const rows = await query(node.url, "SELECT value FROM e2e_temperature GROUP BY room", {
      db: "prom",
      epoch: "ms",
    });
    for (const s of rows.results[0].series) held.set(s.tags.room, s.values);
    const lastMs = Math.max(...[...held.values()].flat().map(([t]) => t));

    const reader = await startPrometheus(`
global:
  scrape_interval: 1m
remote_read:
  - url: ${node.url}/api/v1/prom/read?db=prom
    read_recent: true
`);
    stops.push(reader.stop);
    // A range selector answers the raw samples: every stored sample of each room comes back.
    const matrix = await promQuery(reader.url, "e2e_temperature[1h]", lastMs / 1000);
    assert.deepEqual(
      matrix.map((s) => s.metric).sort((a, b) => a.room.localeCompare(b.room)),
      [
        {
          __name__: "e2e_temperature",
          instance: `127.0.0.1:${target.addr.port}`,
          job: "fixed",
          room: "cellar",
        },
        {
          __name__: "e2e_temperature",
          instance: `127.0.0.1:${target.addr.port}`,
          job: "fixed",
          room: "kitchen",
        },
      ],
    );
    for (const s of matrix) {
      const expected = held.get(s.metric.room)!.map(([t, v]) => [t / 1000, String(v)]);
      assert.deepEqual(s.values, expected, `room ${s.metric.room}`);
      assert.ok(expected.length >= 3);
    }
    // A regex over metric names, then PromQL arithmetic on what remote_read returned.
    const latest = await promQuery(reader.url, '{__name__=~"e2e_.*", job="fixed"}', lastMs / 1000);
    assert.deepEqual(
      latest.map((s) => [s.metric.__name__, s.metric.room ?? "", s.value![1]]).sort(),
      [
        ["e2e_requests_total", "", "42"],
        ["e2e_temperature", "cellar", "12.25"],
        ["e2e_temperature", "kitchen", "21.5"],
      ],
    );
    const sum = await promQuery(reader.url, "sum(e2e_temperature)", lastMs / 1000);
    assert.equal(sum[0].value![1], "33.75");
  } finally {
    for (const stop of stops.reverse()) await stop();
    await node.stop();
    await target.shutdown();
    await Deno.remove(node.dataDir, { recursive: true }).catch(() => {});
  }
});
