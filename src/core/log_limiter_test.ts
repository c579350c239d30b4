import assert from "node:assert/strict";
import type { Clock, Logger } from "./interfaces.ts";
import { LogLimiter } from "./log_limiter.ts";

/** A clock moved by hand, a logger that keeps its lines, and timers run when the clock passes them. */
function harness(withTimers = true) {
  let now = 1_000;
  const lines: { message: string; fields?: Record<string, unknown> }[] = [];
  const logger: Logger = {
    info() {},
    warn: (message, fields) => lines.push({ message, fields }),
    error() {},
  };
  const clock: Clock = { nowMs: () => now, nowNanos: () => 0n, monotonicMs: () => now };
  const timers: { at: number; fn: () => void }[] = [];
  const limiter = new LogLimiter(
    "call refused",
    (n, s) => `${n} more calls refused in the last ${s} s`,
    {
      logger,
      clock,
      later: withTimers ? (fn, ms) => timers.push({ at: now + ms, fn }) : undefined,
    },
  );
  const advance = (ms: number) => {
    now += ms;
    for (const t of timers.splice(0)) {
      if (t.at <= now) t.fn();
      else timers.push(t);
    }
  };
  return { limiter, lines, advance, timers };
}

Deno.test("log limiter: 1,000 events in a flood give one line at once and one summary, all counted", () => {
  const { limiter, lines, advance, timers } = harness();
  for (let i = 0; i < 1_000; i++) {
    limiter.warn({ path: `/p${i}`, remote: "10.0.0.9:4000" });
    advance(5); // 5 s in all: within one interval
  }
  assert.deepEqual(lines, [{
    message: "call refused",
    fields: { path: "/p0", remote: "10.0.0.9:4000" },
  }]);
  assert.equal(timers.length, 1, "one summary scheduled, not one per event");
  advance(5_000); // the interval ends: the flood stopped, its summary is written
  assert.deepEqual(lines.slice(1), [{
    message: "999 more calls refused in the last 10 s",
    fields: { last_path: "/p999", last_remote: "10.0.0.9:4000" },
  }]);
  assert.equal(limiter.total, 1_000);
  advance(60_000);
  assert.equal(lines.length, 2, "nothing more once the summary is out");
  limiter.warn({ path: "/later" }); // a quiet interval later: at once again
  assert.deepEqual(lines[2], { message: "call refused", fields: { path: "/later" } });
});

Deno.test("log limiter: a steady flood writes one summary per interval", () => {
  const { limiter, lines, advance } = harness();
  for (let i = 0; i < 6_000; i++) { // 60 s at one event per 10 ms
    limiter.warn({ path: "/x" });
    advance(10);
  }
  advance(10_000);
  assert.equal(lines.length, 1 + 6, lines.map((l) => l.message).join("\n"));
  const summed = lines.slice(1).reduce((n, l) => n + Number(l.message.split(" ")[0]), 0);
  assert.equal(summed, 5_999, "every event not logged is in a summary");
  assert.equal(limiter.total, 6_000);
});

Deno.test("log limiter: without timers the summary comes with the next event after the interval, or flush", () => {
  const { limiter, lines, advance } = harness(false);
  for (let i = 0; i < 10; i++) limiter.warn({ path: "/x" });
  advance(20_000);
  assert.equal(lines.length, 1);
  limiter.warn({ path: "/y" });
  assert.deepEqual(lines[1], {
    message: "10 more calls refused in the last 20 s",
    fields: { last_path: "/y" },
  });
  limiter.warn({ path: "/z" });
  limiter.flush();
  assert.equal(lines[2].message, "1 more calls refused in the last 1 s");
});
