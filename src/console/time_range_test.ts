import assert from "node:assert/strict";
import { parseQuery } from "../query/mod.ts";
import {
  applyTimeMacros,
  durationMs,
  formatDuration,
  niceIntervalMs,
  rangeBounds,
  usesTimeMacros,
} from "./time_range.ts";

const NOW = 1_700_000_000_000;

Deno.test("$timeFilter and $__interval for a relative range stay relative to the server's now()", () => {
  const q = applyTimeMacros(
    'SELECT mean("v") FROM "m" WHERE $timeFilter GROUP BY time($__interval) fill(none)',
    { range: { kind: "relative", last: "1h" }, nowMs: NOW, maxBuckets: 1000 },
  );
  // An hour over 1000 pixels: 3.6 s a bucket, rounded up to 5 s.
  assert.equal(
    q,
    'SELECT mean("v") FROM "m" WHERE time >= now() - 1h GROUP BY time(5s) fill(none)',
  );
  assert.doesNotThrow(() => parseQuery(q));
});

Deno.test("an absolute range becomes epoch milliseconds the parser takes", () => {
  const q = applyTimeMacros("SELECT * FROM m WHERE $timeFilter GROUP BY time($interval)", {
    range: { kind: "absolute", fromMs: NOW - 86_400_000, toMs: NOW },
    nowMs: NOW,
    maxBuckets: 500,
  });
  assert.equal(
    q,
    `SELECT * FROM m WHERE time >= ${NOW - 86_400_000}ms AND time <= ${NOW}ms GROUP BY time(5m)`,
  );
  assert.doesNotThrow(() => parseQuery(q));
});

Deno.test("a query without macros runs as typed", () => {
  const q = "SELECT * FROM m WHERE time > now() - 5m";
  assert.equal(usesTimeMacros(q), false);
  assert.equal(
    applyTimeMacros(q, { range: { kind: "relative", last: "1h" }, nowMs: NOW, maxBuckets: 10 }),
    q,
  );
  assert.equal(usesTimeMacros("... $timeFilter ..."), true);
  assert.equal(usesTimeMacros("... $timeFilterX ..."), false);
});

Deno.test("nice intervals, durations and bounds", () => {
  const cases: [number, number, number][] = [
    [60_000, 1000, 100], // a minute over 1000 px: 60 ms -> 100 ms
    [3_600_000, 100, 60_000],
    [7 * 86_400_000, 1000, 900_000],
    [365 * 86_400_000, 10, 37 * 86_400_000], // beyond the table: whole days (36.5 -> 37)
  ];
  for (const [span, buckets, want] of cases) assert.equal(niceIntervalMs(span, buckets), want);
  assert.deepEqual(
    [100, 1000, 15_000, 60_000, 3_600_000, 86_400_000, 604_800_000].map(formatDuration),
    ["100ms", "1s", "15s", "1m", "1h", "1d", "1w"],
  );
  assert.equal(durationMs("7d"), 604_800_000);
  assert.throws(() => durationMs("7 days"), /not a duration: "7 days"/);
  assert.deepEqual(rangeBounds({ kind: "relative", last: "15m" }, NOW), {
    fromMs: NOW - 900_000,
    toMs: NOW,
  });
});
