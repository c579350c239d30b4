import assert from "node:assert/strict";
import { type Clock, FieldType, type Point, type Rng } from "../core/mod.ts";
import { BufferFullError, PointWriter, type WriterEnvironment } from "./writer.ts";

/** A fake clock advanced by `sleep`, so retries and timers take no real time. */
function fakeTime() {
  let now = 0;
  const sleeps: number[] = [];
  const clock: Clock = {
    nowMs: () => 1_700_000_000_000 + now,
    nowNanos: () => BigInt(1_700_000_000_000 + now) * 1_000_000n,
    monotonicMs: () => now,
  };
  const sleep = async (ms: number) => {
    sleeps.push(ms);
    await Promise.resolve();
    now += ms;
  };
  return { clock, sleep, sleeps, advance: (ms: number) => (now += ms) };
}

function seeded(seed: number): Rng {
  let s = seed >>> 0;
  return {
    next: () => {
      s = (s * 1664525 + 1013904223) >>> 0;
      return s / 2 ** 32;
    },
  };
}

function point(i: number): Point {
  return {
    measurement: "m",
    tags: [{ key: "host", value: `h${i % 7}` }],
    fields: [{ key: "v", type: FieldType.Float, value: i }],
    timeMs: 1_700_000_000_000 + i,
    timeSubMs: 0,
  };
}

/** Waits for `cond`, turning the event loop; fails after 5 s of real time, not after N turns. */
async function eventually(cond: () => boolean): Promise<void> {
  const deadline = performance.now() + 5_000;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error("condition not met within 5 s");
    await new Promise((r) => setTimeout(r, 0));
  }
}

type Answer = { status: number; headers?: Record<string, string>; body?: string } | "drop";

function env(answers: (body: string, n: number) => Answer, seed = 1) {
  const time = fakeTime();
  const bodies: string[] = [];
  const e: WriterEnvironment = {
    clock: time.clock,
    random: seeded(seed),
    sleep: time.sleep,
    fetch: async (_url, init) => {
      const body = init.body as string;
      bodies.push(body);
      const a = answers(body, bodies.length);
      await Promise.resolve();
      if (a === "drop") throw new TypeError("connection reset by peer");
      return new Response(a.body ?? null, { status: a.status, headers: a.headers });
    },
  };
  return { env: e, bodies, time };
}

Deno.test("writer: batches by size, flushes the rest on close", async () => {
  const { env: e, bodies } = env(() => ({ status: 204 }));
  e.sleep = () => new Promise(() => {}); // the age timer never fires here
  const w = new PointWriter({ url: "http://x", database: "db", batchPoints: 10 }, e);
  for (let i = 0; i < 25; i++) await w.write(point(i));
  const report = await w.close();
  assert.deepEqual(bodies.map((b) => b.trim().split("\n").length), [10, 10, 5]);
  assert.equal(report.written, 25);
  assert.equal(report.failed, 0);
  await assert.rejects(w.write(point(1)), /the writer is closed/);
});

Deno.test("writer: a partial batch is sent once its oldest point is flushIntervalMs old", async () => {
  const { env: e, bodies, time } = env(() => ({ status: 204 }));
  const w = new PointWriter({ url: "http://x", database: "db", flushIntervalMs: 500 }, e);
  await w.write([point(1), point(2)]);
  await eventually(() => bodies.length > 0);
  assert.equal(bodies.length, 1);
  assert.deepEqual(time.sleeps, [500]);
  await w.close();
});

Deno.test("writer: 429 honours Retry-After, 503 and drops back off with jitter", async () => {
  const { env: e, time } = env((_, n) =>
    n === 1
      ? { status: 429, headers: { "retry-after": "3" } }
      : n === 2
      ? { status: 503 }
      : n === 3
      ? "drop"
      : { status: 204 }
  );
  const w = new PointWriter({ url: "http://x", database: "db", retryInitialMs: 100 }, e);
  await w.write(point(1));
  const report = await w.close();
  assert.equal(report.written, 1);
  assert.equal(report.retries, 3);
  const [afterThrottle, after503, afterDrop] = time.sleeps.slice(-3); // before: the age timer
  assert.ok(afterThrottle >= 3000, `waited ${afterThrottle} ms after Retry-After: 3`);
  assert.ok(after503 <= 200 && afterDrop <= 400, `${time.sleeps}`);
});

Deno.test("writer: gives up after maxRetries and reports the points", async () => {
  const failures: string[] = [];
  const { env: e } = env(() => "drop");
  const w = new PointWriter({
    url: "http://x",
    database: "db",
    maxRetries: 3,
    onError: (f) => failures.push(f.reason),
  }, e);
  await w.write([point(1), point(2)]);
  const report = await w.close();
  assert.equal(report.failed, 2);
  assert.equal(report.requests, 4);
  assert.match(failures[0], /^gave up after 4 attempts .*: network error: connection reset/);
  assert.equal(report.failures[0].retryable, true);
});

Deno.test("writer: a partial write reports the refused lines; 413 splits the batch", async () => {
  const { env: e, bodies } = env((body) => {
    const lines = body.trim().split("\n");
    if (lines.length > 2) return { status: 413, body: '{"error":"request entity too large"}' };
    if (body.includes("v=3")) {
      return {
        status: 400,
        body: JSON.stringify({ error: "partial write: field type conflict dropped=1" }),
      };
    }
    return { status: 204 };
  });
  const w = new PointWriter({ url: "http://x", database: "db" }, e);
  await w.write([point(1), point(2), point(3), point(4), point(5)]);
  const report = await w.close();
  assert.equal(report.written, 4);
  assert.equal(report.failed, 1);
  assert.equal(report.failures[0].retryable, false);
  assert.ok(bodies.length >= 4);
});

Deno.test("writer: a full buffer blocks the producer, or throws with whenFull error", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const time = fakeTime();
  const e: WriterEnvironment = {
    clock: time.clock,
    random: seeded(2),
    sleep: time.sleep,
    fetch: async () => {
      await gate;
      return new Response(null, { status: 204 });
    },
  };
  const strict = new PointWriter({
    url: "http://x",
    database: "db",
    batchPoints: 2,
    maxBufferPoints: 4,
    whenFull: "error",
  }, e);
  await strict.write([point(1), point(2)]); // a batch goes in flight (blocked at the gate)
  await strict.write([point(3), point(4), point(5), point(6)]);
  await assert.rejects(strict.write(point(7)), BufferFullError);
  const blocking = new PointWriter({
    url: "http://x",
    database: "db",
    batchPoints: 2,
    maxBufferPoints: 4,
  }, e);
  let done = false;
  const writing = blocking.write([1, 2, 3, 4, 5, 6, 7, 8].map(point)).then(() => (done = true));
  // Not a time window: a write that does not block resolves through microtasks alone, before
  // this timer's turn; a blocked one stays pending however slow the machine.
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(done, false);
  release();
  await writing;
  assert.equal((await blocking.close()).written, 8);
  assert.equal((await strict.close()).written, 6);
});
