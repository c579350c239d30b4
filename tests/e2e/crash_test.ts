/**
 * The durability contract with real processes: several concurrent clients write through HTTP,
 * the server is killed with SIGKILL mid-stream, restarted on the same data folder, and every
 * point whose write was acknowledged (HTTP 204) must be there — exactly once, with its value.
 */
import assert from "node:assert/strict";
import { query, startServer, writeLines } from "../_server.ts";

const WRITERS = 8;
const POINTS_PER_REQUEST = 50;
const WRITE_WINDOW_MS = 1_500;

Deno.test("kill -9 mid-stream loses no acknowledged point", async () => {
  const first = await startServer();
  const db = "crash";
  assert.equal((await query(first.url, `CREATE DATABASE ${db}`)).results[0].statement_id, 0);

  // Each acknowledged request's points: writer -> list of [timestamp ns, value].
  const acknowledged = new Map<string, Map<string, number>>();
  let killed = false;
  const base = 1_700_000_000_000_000_000n;
  const writer = async (w: number) => {
    const name = `w${w}`;
    const acked = new Map<string, number>();
    acknowledged.set(name, acked);
    for (let batch = 0; batch < 10_000 && !killed; batch++) {
      const lines: string[] = [];
      const rows: [string, number][] = [];
      for (let i = 0; i < POINTS_PER_REQUEST; i++) {
        const t = (base + BigInt(batch * POINTS_PER_REQUEST + i) * 1_000_000n + BigInt(w))
          .toString();
        const v = batch * 1000 + i + w / 10;
        lines.push(`load,writer=${name} v=${v},seq=${batch}i ${t}`);
        rows.push([t, v]);
      }
      try {
        const r = await writeLines(first.url, db, lines.join("\n"));
        if (r.status === 204) { for (const [t, v] of rows) acked.set(t, v); }
      } catch {
        return; // the server died under this request: not acknowledged
      }
    }
  };
  const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
  await new Promise((r) => setTimeout(r, WRITE_WINDOW_MS));
  await first.kill9();
  killed = true;
  await Promise.all(writers);

  const total = [...acknowledged.values()].reduce((n, m) => n + m.size, 0);
  assert.ok(total > WRITERS * POINTS_PER_REQUEST, `too few writes acknowledged: ${total}`);

  const second = await startServer({ dataDir: first.dataDir });
  try {
    for (const [name, acked] of acknowledged) {
      const answer = await query(
        second.url,
        `SELECT v FROM load WHERE writer = '${name}'`,
        { db, epoch: "ns" },
      );
      const values: [number, number][] = answer.results[0].series?.[0]?.values ?? [];
      const found = new Map(values.map(([t, v]) => [String(BigInt(t)), v]));
      for (const [t, v] of acked) {
        assert.equal(found.get(t), v, `${name}: acknowledged point at ${t} is missing`);
      }
    }
  } finally {
    await second.stop();
  }
});
