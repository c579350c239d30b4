import assert from "node:assert/strict";
import { cqDecision, goTruncate } from "./cq_schedule.ts";

const S = 1_000_000_000n;
const M = 60n * S;
const H = 60n * M;
const D = 24n * H;
/** 2023-03-15T00:00:00Z */
const DAY = 1_678_838_400n * S;
const at = (h: number, m = 0, s = 0) => DAY + BigInt(h) * H + BigInt(m) * M + BigInt(s) * S;
const plain = { intervalNs: H, offsetNs: 0n, everyNs: 0n, forNs: 0n };

Deno.test("goTruncate counts from Go's zero time: days and shorter as from the epoch, weeks from Mondays", () => {
  assert.equal(goTruncate(at(8, 20), H), at(8));
  assert.equal(goTruncate(at(8, 20), D), DAY);
  // 1970-01-01 was a Thursday; Go's zero time a Monday: 1969-12-29.
  assert.equal(goTruncate(0n, 7n * D), -3n * D);
  assert.equal(goTruncate(-1n, H), -H);
});

Deno.test("a CQ's first check only starts the schedule; then each interval covers the last bucket", () => {
  const first = cqDecision(plain, undefined, at(8, 0, 1));
  assert.deepEqual(first, { run: false, lastRunNs: at(8) });
  assert.deepEqual(cqDecision(plain, at(8), at(8, 59, 59)), { run: false });
  assert.deepEqual(cqDecision(plain, at(8), at(9, 0, 1)), {
    run: true,
    lastRunNs: at(9),
    startNs: at(8),
    endNs: at(9),
  });
  // Created mid-bucket: the first check at 8:20 covers nothing either.
  assert.deepEqual(cqDecision(plain, undefined, at(8, 20)), { run: false, lastRunNs: at(8) });
});

Deno.test("RESAMPLE EVERY and FOR: runs more often, over the buckets FOR reaches back", () => {
  const resample = { ...plain, everyNs: 30n * M, forNs: 2n * H };
  assert.deepEqual(cqDecision(resample, at(8), at(8, 30, 1)), {
    run: true,
    lastRunNs: at(8, 30),
    startNs: at(7),
    endNs: at(9),
  });
  // FOR alone: every interval, over FOR.
  const forOnly = { ...plain, forNs: 3n * H };
  assert.deepEqual(cqDecision(forOnly, at(8), at(9, 0, 2)), {
    run: true,
    lastRunNs: at(9),
    startNs: at(6),
    endNs: at(9),
  });
  // EVERY longer than the interval: FOR becomes EVERY, the range ends at the current bucket.
  const slow = { ...plain, everyNs: 2n * H };
  assert.deepEqual(cqDecision(slow, at(8), at(10, 0, 1)), {
    run: true,
    lastRunNs: at(10),
    startNs: at(8),
    endNs: at(10),
  });
});

Deno.test("an offset shifts the buckets and the runs", () => {
  const offset = { ...plain, offsetNs: 15n * M };
  assert.deepEqual(cqDecision(offset, at(8, 15), at(9, 15, 1)), {
    run: true,
    lastRunNs: at(9, 15),
    startNs: at(8, 15),
    endNs: at(9, 15),
  });
});

Deno.test("after a stop, a run covers the missed buckets, back at most the catch-up window", () => {
  // Last ran at 8:00, back at 13:00:05: 8:00-13:00 in one run.
  assert.deepEqual(cqDecision(plain, at(8), at(13, 0, 5)), {
    run: true,
    lastRunNs: at(13),
    startNs: at(8),
    endNs: at(13),
  });
  // With a 2 h window: 11:00-13:00 only.
  assert.deepEqual(cqDecision(plain, at(8), at(13, 0, 5), 2n * H), {
    run: true,
    lastRunNs: at(13),
    startNs: at(11),
    endNs: at(13),
  });
});
