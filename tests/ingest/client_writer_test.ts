/**
 * The client writer against a real server process behind a faulty network: requests are
 * refused before reaching the server, answers are lost after the server stored the batch (the
 * client cannot tell and retries), and requests are throttled with 429 / 503 and Retry-After.
 * Every point must be stored exactly once: none lost, none duplicated (writes are idempotent,
 * so a batch stored twice holds the same points). The same against a 3-node cluster, each
 * request sent to one of its nodes at random (most are routed on to partition leaders).
 */
import assert from "node:assert/strict";
import { PointWriter } from "../../src/client/mod.ts";
import { FieldType, type Point } from "../../src/core/mod.ts";
import { systemClock } from "../../src/runtime/mod.ts";
import { TestCluster } from "../_cluster.ts";
import { startServer } from "../_server.ts";

Deno.test({
  name: "client writer: faults and throttling lose and duplicate nothing",
  sanitizeResources: false,
  fn: async () => {
    const server = await startServer();
    try {
      await writeThroughFaults([server.url]);
    } finally {
      await server.stop();
      await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "client writer: faults and throttling lose and duplicate nothing on a 3-node cluster",
  sanitizeResources: false,
  fn: async () => {
    const cluster = await TestCluster.start();
    try {
      await writeThroughFaults(cluster.running().map((i) => cluster.url(i)));
    } finally {
      await cluster.stop();
    }
  },
});

/**
 * Writes 10,000 points with a PointWriter through a fetch that fails, throttles and loses
 * answers, each request sent to one of `urls` (nodes of one cluster) at random, then checks
 * that every point is stored once.
 */
async function writeThroughFaults(urls: string[]): Promise<void> {
  await fetch(`${urls[0]}/query?q=${encodeURIComponent("CREATE DATABASE w")}`, {
    method: "POST",
  }).then((r) => r.body?.cancel());
  let seed = 42;
  const random = {
    next: () => {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      return seed / 2 ** 32;
    },
  };
  let faultDice = 7;
  const faults = { refused: 0, lost: 0, throttled: 0, unavailable: 0, delivered: 0 };
  let linesDelivered = 0;
  const faultyFetch = async (url: string, init: RequestInit): Promise<Response> => {
    faultDice = (faultDice * 1103515245 + 12345) >>> 0;
    const roll = (faultDice >>> 16) % 10;
    if (roll === 0) {
      faults.refused++;
      throw new TypeError("connection refused");
    }
    if (roll === 1) {
      faults.throttled++;
      return new Response('{"error":"slow down"}', {
        status: 429,
        headers: { "retry-after": "0" },
      });
    }
    if (roll === 2) {
      faults.unavailable++;
      return new Response(null, { status: 503 });
    }
    // Any node of the cluster: the writer knows the first one.
    const node = urls[(faultDice >>> 8) % urls.length];
    const response = await fetch(node + url.slice(urls[0].length), init);
    await response.body?.cancel();
    linesDelivered += String(init.body).trim().split("\n").length;
    if (roll === 3) {
      faults.lost++;
      throw new TypeError("connection reset by peer"); // stored, but the answer is lost
    }
    faults.delivered++;
    return new Response(null, { status: response.status, headers: response.headers });
  };
  const writer = new PointWriter({
    url: urls[0],
    database: "w",
    batchPoints: 250,
    retryInitialMs: 5,
    retryMaxMs: 50,
    maxRetries: 50,
    maxBufferPoints: 1000,
  }, {
    fetch: faultyFetch,
    clock: systemClock,
    random,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  });
  const N = 10_000;
  let expectedSum = 0;
  for (let i = 0; i < N; i += 100) {
    const points: Point[] = [];
    for (let k = i; k < i + 100; k++) {
      expectedSum += k;
      points.push({
        measurement: "cw",
        tags: [{ key: "host", value: `h${k % 10}` }],
        fields: [{ key: "v", type: FieldType.Integer, value: k }],
        timeMs: 1_700_000_000_000 + k,
        timeSubMs: 0,
      });
    }
    await writer.write(points);
  }
  const report = await writer.close();
  assert.equal(report.failed, 0, JSON.stringify(report.failures));
  assert.equal(report.written, N);
  assert.ok(
    faults.refused > 0 && faults.lost > 0 && faults.throttled > 0,
    JSON.stringify(faults),
  );
  assert.ok(linesDelivered > N, `some batches were stored twice: ${linesDelivered} > ${N}`);
  const q = encodeURIComponent("SELECT count(v), sum(v) FROM cw");
  for (const url of urls) {
    const result = await (await fetch(`${url}/query?db=w&q=${q}`)).json();
    const [, count, sum] = result.results[0].series[0].values[0];
    assert.equal(count, N, url);
    assert.equal(sum, expectedSum, url);
  }
}
