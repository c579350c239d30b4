/**
 * Per-measurement `max_bytes` through a real server process and the schema API: `cpu` gets a
 * limit of half its stored bytes by PUT /api/v1/schemas/cpu; its oldest points go until the
 * rest fits (GET shows the bytes beside the limit), every later cpu point stays, and `mem`, with
 * no limit, keeps all its points.
 */
import assert from "node:assert/strict";
import { query, startServer, writeLines } from "../_server.ts";

const HOUR_MS = 3_600_000;
const HOSTS = 4;

async function schemaApi(url: string, method: string, body?: unknown) {
  const r = await fetch(`${url}/api/v1/schemas/cpu`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  assert.equal(r.status, 200, `${method} /api/v1/schemas/cpu: ${r.status} ${text}`);
  return JSON.parse(text);
}

/** Waits for `check` to return a value (not undefined), polling until the deadline. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined>, logs: () => string) {
  const deadline = Date.now() + 60_000;
  for (let i = 0; i < 600; i++) {
    const got = await check();
    if (got !== undefined) return got;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}\n${logs().slice(-3000)}`);
}

Deno.test("a schema's max_bytes deletes a measurement's oldest points, others untouched", async () => {
  const server = await startServer({
    env: { EPOCHNEXUS_FLUSH_IDLE_MS: "300", EPOCHNEXUS_DEFAULT_PARTITIONS: "2" },
  });
  try {
    await query(server.url, "CREATE DATABASE s");
    // Six hours of cpu and mem, one point every 10 s per host, ending an hour ago.
    const start = Math.floor((Date.now() - 7 * HOUR_MS) / 1000) * 1000;
    for (let hour = 0; hour < 6; hour++) {
      const lines: string[] = [];
      for (let i = 0; i < 360; i++) {
        const ms = start + hour * HOUR_MS + i * 10_000;
        for (let h = 0; h < HOSTS; h++) {
          const v = Math.round((50 + 20 * Math.sin((hour * 360 + i) / 50 + h)) * 100) / 100;
          lines.push(`cpu,host=h${h} v=${v},n=${i}i ${ms}000000`);
          lines.push(`mem,host=h${h} v=${v + 1} ${ms}000000`);
        }
      }
      const r = await writeLines(server.url, "s", lines.join("\n"));
      assert.equal(r.status, 204, r.body);
    }
    const count = async (m: string, where = "") => {
      const a = await query(server.url, `SELECT count(v) FROM ${m} ${where}`, { db: "s" });
      return a.results[0].series?.[0]?.values[0][1] ?? 0;
    };
    const firstOf = async (m: string) => {
      const a = await query(server.url, `SELECT v FROM ${m} ORDER BY time LIMIT 1`, {
        db: "s",
        epoch: "ms",
      });
      return a.results[0].series[0].values[0][0] as number;
    };
    assert.equal(await count("cpu"), 6 * 360 * HOSTS);
    const memCount = await count("mem");

    // No limit yet: the schema API shows the bytes once the heads are flushed.
    await schemaApi(server.url, "PUT", { description: "limited by size" });
    const bytes = await waitFor("cpu's bytes", async () => {
      const got = await schemaApi(server.url, "GET");
      const n = got.bytes?.s ?? 0;
      return n > 0 && (await count("cpu")) === 6 * 360 * HOSTS ? n as number : undefined;
    }, server.logs);
    // Let every flush land: the figure must stand still for a second.
    const settled = await waitFor("cpu's bytes to settle", async () => {
      const a = (await schemaApi(server.url, "GET")).bytes.s;
      await new Promise((r) => setTimeout(r, 1000));
      const b = (await schemaApi(server.url, "GET")).bytes.s;
      return a === b ? b as number : undefined;
    }, server.logs);
    assert.ok(settled >= bytes);

    const limit = Math.floor(settled / 2);
    const put = await schemaApi(server.url, "PUT", { max_bytes: limit });
    assert.equal(put.schema.max_bytes, limit);
    const shown = await waitFor("cpu within its max_bytes", async () => {
      const got = await schemaApi(server.url, "GET");
      return got.bytes.s <= limit ? got : undefined;
    }, server.logs);
    assert.equal(shown.schema.max_bytes, limit, "GET shows the limit beside the bytes");
    assert.ok(shown.bytes.s > 0, "not everything went");

    // Each partition enforces its share (its own oldest instant): per host, every point from
    // its first kept one on is there, and some hosts lost their oldest points.
    const perHost = async (fn: string) => {
      const a = await query(server.url, `SELECT ${fn}(v) FROM cpu GROUP BY host`, {
        db: "s",
        epoch: "ms",
      });
      return new Map<string, [number, number]>(
        // deno-lint-ignore no-explicit-any
        a.results[0].series.map((s: any) => [s.tags.host, s.values[0]]),
      );
    };
    const firsts = await perHost("first");
    const counts = await perHost("count");
    assert.equal(firsts.size, HOSTS, "every host keeps its recent points");
    for (const [host, [firstMs]] of firsts) {
      const expected = (start + 6 * HOUR_MS - firstMs) / 10_000;
      assert.equal(counts.get(host)![1], expected, `${host}: points from ${firstMs} on`);
    }
    const horizon = Math.max(...[...firsts.values()].map(([t]) => t));
    assert.ok(horizon > start + HOUR_MS, `no host lost its oldest hour: ${horizon - start} ms`);
    assert.equal(await count("mem"), memCount, "mem has no limit: all its points stay");
    assert.equal(await firstOf("mem"), start, "mem's oldest point stays");
  } finally {
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
  }
});
