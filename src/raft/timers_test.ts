import assert from "node:assert/strict";
import { SharedTicker, type TimerId, type Timers } from "./timers.ts";

/** Timers that only fire when the test says so; records what is running. */
class ManualTimers implements Timers {
  readonly intervals = new Map<number, { fn: () => void; ms: number }>();
  readonly timeouts = new Map<number, () => void>();
  private next = 1;
  setInterval(fn: () => void, ms: number): TimerId {
    this.intervals.set(this.next, { fn, ms });
    return this.next++;
  }
  clearInterval(id: TimerId): void {
    this.intervals.delete(id as number);
  }
  setTimeout(fn: () => void): TimerId {
    this.timeouts.set(this.next, fn);
    return this.next++;
  }
  clearTimeout(id: TimerId): void {
    this.timeouts.delete(id as number);
  }
  /** Fires every interval of period `ms` once. */
  beat(ms: number): void {
    for (const t of [...this.intervals.values()]) if (t.ms === ms) t.fn();
  }
}

Deno.test("shared ticker: a thousand subscribers run on one underlying interval", () => {
  const manual = new ManualTimers();
  const ticker = new SharedTicker({ timers: manual });
  const ticks = new Array(1000).fill(0);
  const ids = ticks.map((_, i) => ticker.timers.setInterval(() => ticks[i]++, 100));
  assert.equal(manual.intervals.size, 1);
  assert.equal(ticker.timerCount, 1);
  assert.equal(ticker.subscriberCount, 1000);
  manual.beat(100);
  manual.beat(100);
  assert.ok(ticks.every((n) => n === 2));
  for (const id of ids.slice(0, 999)) ticker.timers.clearInterval(id);
  manual.beat(100);
  assert.equal(ticks[999], 3);
  assert.equal(ticks[0], 2, "a cleared subscriber no longer ticks");
  ticker.timers.clearInterval(ids[999]);
  assert.equal(manual.intervals.size, 0, "the underlying timer stops with its last subscriber");
  ticker.timers.clearInterval(ids[999]); // twice is harmless
});

Deno.test("shared ticker: periods get their own beat; timeouts pass through", () => {
  const manual = new ManualTimers();
  const ticker = new SharedTicker({ timers: manual });
  let fast = 0;
  let slow = 0;
  ticker.timers.setInterval(() => fast++, 10);
  ticker.timers.setInterval(() => slow++, 100);
  assert.equal(manual.intervals.size, 2);
  manual.beat(10);
  assert.deepEqual([fast, slow], [1, 0]);
  let fired = false;
  const t = ticker.timers.setTimeout(() => fired = true, 5);
  assert.equal(manual.timeouts.size, 1);
  ticker.timers.clearTimeout(t);
  assert.equal(manual.timeouts.size, 0);
  assert.equal(fired, false);
});

Deno.test("shared ticker: a subscriber that throws does not stop the others' tick", () => {
  const manual = new ManualTimers();
  const ticker = new SharedTicker({ timers: manual });
  let after = 0;
  ticker.timers.setInterval(() => {
    throw new Error("boom");
  }, 50);
  ticker.timers.setInterval(() => after++, 50);
  assert.throws(() => manual.beat(50), /boom/);
  assert.equal(after, 1);
});

Deno.test("shared ticker: a subscriber cleared by another during a beat is skipped", () => {
  const manual = new ManualTimers();
  const ticker = new SharedTicker({ timers: manual });
  let second = 0;
  let secondId: TimerId = null;
  ticker.timers.setInterval(() => ticker.timers.clearInterval(secondId), 50);
  secondId = ticker.timers.setInterval(() => second++, 50);
  manual.beat(50);
  assert.equal(second, 0);
});
