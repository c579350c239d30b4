import assert from "node:assert/strict";
import { ClientPace } from "./client_pace.ts";

Deno.test("client pace: one wait longer than the timeout is a stall", () => {
  const pace = new ClientPace({ timeoutMs: 1000, minBytesPerSecond: 0 });
  pace.startWaiting(0);
  assert.equal(pace.deadline(), 1000);
  assert.equal(pace.received(10, 999), true);
  pace.startWaiting(5000); // time not waiting (the handler's own work) never counts
  assert.equal(pace.received(10, 6001), false);
});

Deno.test("client pace: a trickle below the minimum rate fails after the grace", () => {
  const pace = new ClientPace({ timeoutMs: 1000, minBytesPerSecond: 500 });
  let now = 0;
  let ok = true;
  // One byte every 100 ms never stalls, and pays for 2 ms of waiting each.
  for (let i = 0; i < 100 && ok; i++) {
    pace.startWaiting(now);
    now += 100;
    ok = pace.received(1, now);
  }
  assert.equal(ok, false);
  assert.ok(now > 1000 && now <= 1200, `failed at ${now} ms, expected just past the grace`);
});

Deno.test("client pace: bytes paid in advance buy waiting time, up to the stall limit", () => {
  const pace = new ClientPace({ timeoutMs: 1000, minBytesPerSecond: 500 });
  assert.equal(pace.received(5000, 0), true); // 5000 B at 500 B/s pay for 10 s of waiting
  pace.startWaiting(0);
  assert.equal(pace.deadline(), 1000); // but no single wait may exceed the timeout
  assert.equal(pace.received(0, 900), true);
  for (let t = 900; t < 9500; t += 900) {
    pace.startWaiting(t);
    assert.ok(pace.deadline() >= t + 100, `deadline ${pace.deadline()} at ${t}`);
    pace.stopWaiting(t + 850);
  }
  pace.startWaiting(10_000);
  assert.ok(pace.deadline() < 10_000 + 1000, "the paid time is used up: the rate limit is near");
});

Deno.test("client pace: no wait open, no deadline", () => {
  const pace = new ClientPace({ timeoutMs: 1000, minBytesPerSecond: 500 });
  assert.equal(pace.deadline(), Infinity);
  assert.equal(pace.waiting, false);
});
