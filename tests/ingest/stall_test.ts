/**
 * One hostile request must not stall the server: it is answered quickly with a clear error, the
 * good records beside it are written, and the event loop keeps turning meanwhile (other requests
 * are served). Before: a 100,000-tag line blocked the loop for 50 s, a 10 MB JSON array of
 * numbers for 27 s. Bounds are generous (a loaded, shared machine); the fixed code is far inside.
 */
import assert from "node:assert/strict";
import { setup } from "./_app.ts";

/** Runs `request` and measures the longest time the event loop was kept from a 5 ms timer. */
async function withLoopWatch<T>(
  request: () => Promise<T>,
): Promise<{ answer: T; ms: number; lag: number }> {
  let last = performance.now(), lag = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    lag = Math.max(lag, now - last);
    last = now;
  }, 5);
  const start = performance.now();
  try {
    const answer = await request();
    return { answer, ms: performance.now() - start, lag: Math.max(lag, performance.now() - last) };
  } finally {
    clearInterval(ticker);
  }
}

Deno.test("a line of 100,000 tags is refused in well under a second; the next line is written", async () => {
  const { post, rows, call, close } = await setup({ maxBodyBytes: 25_000_000 });
  try {
    await call("/query?q=CREATE%20DATABASE%20d", { method: "POST" });
    let line = "m";
    for (let i = 99_999; i >= 0; i--) line += `,t${i}=v`;
    const { answer, ms, lag } = await withLoopWatch(() =>
      post("/write?db=d", "text/plain", `${line} v=1 1\nok v=2 2\n`)
    );
    assert.equal(answer.status, 400);
    assert.match(
      answer.json.error,
      /^partial write: unable to parse '.*': max key length exceeded/,
    );
    assert.ok(ms < 3000, `answered after ${ms.toFixed(0)} ms`);
    assert.ok(lag < 1500, `the event loop stood still for ${lag.toFixed(0)} ms`);
    assert.deepEqual(await rows("SELECT v FROM ok", "d"), [[2, 2]]);
  } finally {
    await close();
  }
});

Deno.test("a 10 MB JSON array of numbers is answered quickly, without stalling the event loop", async () => {
  const { post, close } = await setup({ maxBodyBytes: 25_000_000 });
  try {
    const n = 5_000_000;
    const body = "[" + "1,".repeat(n - 1) + '{"measurement":"m","value":1}]';
    const { answer, ms, lag } = await withLoopWatch(() =>
      post("/ingest", "application/json", body)
    );
    assert.equal(answer.status, 400);
    assert.equal(answer.json.error.accepted, 1, "the good record is written");
    assert.equal(answer.json.error.rejected, n - 1);
    assert.equal(answer.json.error.errors.length, 100, "a bounded list");
    assert.deepEqual(answer.json.error.errors[0], {
      record: 1,
      reason: "expected an object, got the number 1",
    });
    assert.ok(ms < 15_000, `answered after ${ms.toFixed(0)} ms`);
    // The loop turned all along: its longest stop is a small part of the request (without
    // the pauses between slices it is all of it).
    assert.ok(
      lag < Math.max(200, ms / 2),
      `the event loop stood still for ${lag.toFixed(0)} ms of ${ms.toFixed(0)}`,
    );
  } finally {
    await close();
  }
});

Deno.test("a line of 100,000 repeated fields is decoded in linear time", async () => {
  // 50,000 distinct fields: past the default max_fields_per_measurement, which is not tested here.
  const { post, close } = await setup({ maxBodyBytes: 25_000_000, maxFieldsPerMeasurement: 0 });
  try {
    await post("/ingest", "application/json", '{"measurement":"warm","value":1}');
    const fields: string[] = [];
    for (let i = 0; i < 50_000; i++) fields.push(`f${i}=1`);
    for (let i = 0; i < 50_000; i++) fields.push(`f${i}=2`);
    const { answer, ms } = await withLoopWatch(() =>
      post("/ingest", "text/plain", `m ${fields.join(",")} 1\n`)
    );
    assert.equal(answer.status, 200, answer.text);
    assert.ok(ms < 5000, `answered after ${ms.toFixed(0)} ms`);
  } finally {
    await close();
  }
});
