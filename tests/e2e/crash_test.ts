/**
 * The durability contract with real processes: several concurrent clients write through HTTP,
 * the server is killed with SIGKILL mid-stream, restarted on the same data folder, and every
 * point whose write was acknowledged (HTTP 204) must be there — exactly once, with its value.
 */
import assert from "node:assert/strict";
import { query, startServer, writeLines } from "../_server.ts";

const WRITERS = 8;
const POINTS_PER_REQUEST = 50;
/** The kill comes once this many points are acknowledged, while the writers go on. */
const ACKNOWLEDGED_BEFORE_KILL = 10_000;
/** How long reaching that may take before the test fails. */
const WRITE_DEADLINE_MS = 60_000;

Deno.test("kill -9 mid-stream loses no acknowledged point", async () => {
  const first = await startServer();
  const db = "crash";
  assert.equal((await query(first.url, `CREATE DATABASE ${db}`)).results[0].statement_id, 0);

  // Each acknowledged request's points: writer -> list of [timestamp ns, value].
  const acknowledged = new Map<string, Map<string, number>>();
  let killed = false;
  let total = 0;
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
        if (r.status === 204) {
          for (const [t, v] of rows) acked.set(t, v);
          total += rows.length;
        }
      } catch {
        return; // the server died under this request: not acknowledged
      }
    }
  };
  const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
  // Kill on progress, not on a clock: a slow machine waits longer instead of killing early.
  const deadline = Date.now() + WRITE_DEADLINE_MS;
  while (total < ACKNOWLEDGED_BEFORE_KILL && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  await first.kill9();
  killed = true;
  await Promise.all(writers);
  assert.ok(
    total >= ACKNOWLEDGED_BEFORE_KILL,
    `${total} points acknowledged in ${WRITE_DEADLINE_MS} ms, expected ${ACKNOWLEDGED_BEFORE_KILL}`,
  );

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
