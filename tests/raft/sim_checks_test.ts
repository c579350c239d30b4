import assert from "node:assert/strict";
import { runSeed } from "./sim.ts";
import { parseRegressions } from "./sim_runner.ts";

Deno.test("sim: the same seed gives the same trace; another seed another", () => {
  const a = runSeed(42, { durationMs: 60_000 });
  const b = runSeed(42, { durationMs: 60_000 });
  const c = runSeed(43, { durationMs: 60_000 });
  assert.equal(a.traceHash, b.traceHash);
  assert.deepEqual(a.stats, b.stats);
  assert.notEqual(a.traceHash, c.traceHash);
  assert.ok(a.stats.acked > 100, `clients made progress: ${a.stats.acked} acknowledged`);
});

Deno.test("sim: the readable trace hashes like the silent run", () => {
  const quiet = runSeed(7, { durationMs: 20_000 });
  const loud = runSeed(7, { durationMs: 20_000, trace: true });
  assert.equal(quiet.traceHash, loud.traceHash);
  assert.ok(loud.trace.length > 100);
});

Deno.test("sim: faults are actually injected over a run", () => {
  const r = runSeed(3, { durationMs: 300_000 });
  const s = r.stats;
  for (
    const k of [
      "crashes",
      "partitions",
      "pauses",
      "confChanges",
      "snapshotsTaken",
      "dropped",
    ] as const
  ) {
    assert.ok(s[k] > 0, `${k} = ${s[k]}`);
  }
});

function violatingSeeds(
  bug: "staleRead" | "loseSyncedTail" | "ackBeforeSync",
  seeds: number,
  durationMs: number,
) {
  let n = 0;
  for (let seed = 1; seed <= seeds; seed++) {
    if (runSeed(seed, { durationMs, bug }).violations.length > 0) n++;
  }
  return n;
}

Deno.test("sim: reads served without ReadIndex are caught by the linearizability checker", () => {
  assert.ok(violatingSeeds("staleRead", 3, 60_000) >= 1);
});

Deno.test("sim: a crash that loses synced entries is caught", () => {
  assert.ok(violatingSeeds("loseSyncedTail", 4, 20_000) >= 1);
});

Deno.test("sim: acknowledging before fsync is caught", () => {
  assert.ok(violatingSeeds("ackBeforeSync", 12, 60_000) >= 1);
});

Deno.test("sim: the regression list parses and rejects garbage with the line", () => {
  assert.deepEqual(parseRegressions("# c\n17 60000  # why\n\n9\n"), [
    { seed: 17, durationMs: 60_000 },
    { seed: 9, durationMs: 300_000 },
  ]);
  assert.throws(() => parseRegressions("x1\n"), /line 1/);
});
