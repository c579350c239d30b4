/**
 * `/metrics` of a real node: the Raft figures of each of its groups and of its shared log; the
 * process's own figures; the exposition checked line by line; the access log file.
 */
import assert from "node:assert/strict";
import { startServer, writeLines } from "../_server.ts";
import { parseExposition, valueOf } from "../_prom_text.ts";

function sample(text: string, name: string, labels = ""): number[] {
  const out: number[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name}${labels}`) && /[ {]/.test(line[name.length] ?? "")) {
      out.push(Number(line.slice(line.lastIndexOf(" ") + 1)));
    }
  }
  return out;
}

Deno.test("/metrics shows each Raft group's role, indexes and proposals, and the shared log", async () => {
  const server = await startServer();
  try {
    assert.equal(
      (await writeLines(server.url, "epochnexus", "m,host=a v=1 1\nm,host=b v=2 2")).status,
      204,
    );
    const text = await (await fetch(`${server.url}/metrics`)).text();
    // One node: it leads the metadata group and the default database's 4 partitions.
    assert.deepEqual(sample(text, "epochnexus_raft_groups", '{role="leader"}'), [5]);
    assert.equal(sample(text, "epochnexus_raft_leader").length, 5);
    assert.ok(sample(text, "epochnexus_raft_proposals_total").reduce((a, b) => a + b) >= 2);
    assert.deepEqual(sample(text, "epochnexus_raft_apply_lag").filter((n) => n !== 0), []);
    assert.ok(sample(text, "epochnexus_raft_log_bytes")[0] > 0);
    assert.match(text, /# TYPE epochnexus_raft_log_fsyncs_total counter/);
  } finally {
    await server.stop();
  }
});

Deno.test("/metrics of a real process: the process, writes, the shared log's fsyncs, valid text; the access log file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-access-" });
  const accessLog = `${dir}/access.log`;
  const server = await startServer({ env: { EPOCHNEXUS_ACCESS_LOG: accessLog } });
  try {
    const w = await writeLines(server.url, "epochnexus", "m,host=a v=1 1\nm,host=b v=2 2");
    assert.equal(w.status, 204);
    const q = await fetch(`${server.url}/query?db=epochnexus&q=SELECT+*+FROM+m`);
    assert.equal(q.status, 200);
    await q.body?.cancel();
    // The event loop monitor samples every 100 ms: wait (bounded) until it has.
    let e = parseExposition(await (await fetch(`${server.url}/metrics`)).text());
    for (let i = 0; i < 50 && !(valueOf(e, "epochnexus_event_loop_lag_seconds_count")! > 0); i++) {
      await new Promise((r) => setTimeout(r, 100));
      e = parseExposition(await (await fetch(`${server.url}/metrics`)).text());
    }
    assert.ok(valueOf(e, "epochnexus_event_loop_lag_seconds_count")! > 0);
    assert.ok(valueOf(e, "process_resident_memory_bytes")! > 10e6);
    assert.ok(valueOf(e, "process_cpu_seconds_total")! > 0);
    assert.ok(valueOf(e, "epochnexus_heap_used_bytes")! > 0);
    // The shared Raft log's segment, at least, stays open.
    assert.ok(valueOf(e, "epochnexus_open_files")! > 0);
    assert.ok(valueOf(e, "epochnexus_http_connections")! >= 1);
    assert.equal(valueOf(e, "epochnexus_points_written_total", { format: "line_protocol" }), 2);
    assert.ok(valueOf(e, "epochnexus_raft_log_fsync_seconds_count")! >= 1);
    assert.equal(valueOf(e, "epochnexus_query_duration_seconds_count", { kind: "select" }), 1);
    assert.equal(valueOf(e, "epochnexus_database_series", { database: "epochnexus" }), 2);
    // The scrape figures are the previous scrape's.
    e = parseExposition(await (await fetch(`${server.url}/metrics`)).text());
    assert.ok(valueOf(e, "epochnexus_scrape_series")! > 100);
    assert.ok(valueOf(e, "epochnexus_scrape_duration_seconds")! > 0);
    assert.equal(e.types.get("epochnexus_scrape_duration_seconds"), "gauge");
    // One JSON line per request, the client's loopback address in each.
    const deadline = Date.now() + 10_000;
    let records: Record<string, unknown>[] = [];
    while (Date.now() < deadline) {
      const text = await Deno.readTextFile(accessLog).catch(() => "");
      records = text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
      if (records.some((r) => r.path === "/query")) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const query = records.find((r) => r.path === "/query")!;
    assert.equal(query.status, 200);
    assert.equal(query.database, "epochnexus");
    assert.match(String(query.remote), /^127\.0\.0\.1:\d+$/);
    assert.match(String(query.time), /^\d{4}-\d\d-\d\dT/);
    assert.ok(records.some((r) => r.path === "/write" && r.status === 204));
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
