/**
 * Helpers of the continuous query tests: points written ahead of time (so a CQ keeps finding
 * data while a node is down), and the buckets its result measurement holds.
 * @module
 */
import assert from "node:assert/strict";
import { query } from "../_server.ts";

/** The CQ of these tests: 2-second buckets of `m` counted into `m_2s`. */
export const CQ_INTERVAL_MS = 2000;
export const POINTS_PER_BUCKET = 8;
export const CREATE_CQ = "CREATE CONTINUOUS QUERY counts ON jobs BEGIN " +
  "SELECT count(v) AS n INTO m_2s FROM m GROUP BY time(2s) END";

/** Writes 4 points a second from 10 s ago to `aheadS` seconds ahead. */
export async function writeAhead(url: string, aheadS: number): Promise<void> {
  const start = Math.floor(Date.now() / CQ_INTERVAL_MS) * CQ_INTERVAL_MS - 10_000;
  const lines: string[] = [];
  for (let t = start; t < Date.now() + aheadS * 1000; t += 250) lines.push(`m v=1 ${t}`);
  const r = await fetch(`${url}/write?db=jobs&precision=ms`, {
    method: "POST",
    body: lines.join("\n"),
  });
  assert.equal(r.status, 204, await r.text());
}

/** The result measurement: bucket start (ms) -> count. */
export async function buckets(url: string): Promise<Map<number, number>> {
  const r = await query(url, "SELECT n FROM m_2s", { db: "jobs", epoch: "ms" });
  const out = new Map<number, number>();
  for (const [t, n] of r.results?.[0]?.series?.[0]?.values ?? []) out.set(Number(t), Number(n));
  return out;
}

/** Waits (bounded) until the CQ has written the bucket holding `atMs`; returns the buckets. */
export async function waitBucket(
  urls: string[],
  atMs: number,
  timeoutMs = 60_000,
): Promise<Map<number, number>> {
  const want = Math.floor(atMs / CQ_INTERVAL_MS) * CQ_INTERVAL_MS;
  const deadline = Date.now() + timeoutMs;
  let last = new Map<number, number>();
  while (Date.now() < deadline) {
    for (const url of urls) {
      try {
        last = await buckets(url);
        if (last.has(want)) return last;
      } catch { /* a node going down */ }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(
    `bucket ${new Date(want).toISOString()} never written; have ${
      [...last.keys()].map((t) => new Date(t).toISOString()).join(" ")
    }`,
  );
}

/** Every bucket from the first to the last is there and whole: nothing was skipped. */
export function assertNoGap(got: Map<number, number>, what: string): void {
  const times = [...got.keys()].sort((a, b) => a - b);
  assert.ok(times.length > 0, `${what}: no buckets`);
  const missing: string[] = [];
  for (let t = times[0]; t <= times[times.length - 1]; t += CQ_INTERVAL_MS) {
    if (got.get(t) !== POINTS_PER_BUCKET) {
      missing.push(`${new Date(t).toISOString()}: ${got.get(t) ?? "missing"}`);
    }
  }
  assert.deepEqual(missing, [], `${what}: buckets missing or not whole`);
}
