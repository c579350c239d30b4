/**
 * Speed of the deterministic Raft simulation: simulated minutes per wall-clock second (chaos,
 * invariant checks after every event and the final linearizability check included).
 *
 *   deno run --allow-all bench/raft_sim_bench.ts [seeds]   # prints the figure
 *   deno bench --allow-all bench/raft_sim_bench.ts
 * @module
 */

import { runSeed } from "../tests/raft/sim.ts";

/** Runs `seeds` seeds of 5 simulated minutes; returns simulated minutes per wall second. */
export function simSpeed(
  seeds: number,
  firstSeed = 10_001,
): { simMinutes: number; wallSeconds: number } {
  const start = performance.now();
  let simulatedMs = 0;
  for (let s = firstSeed; s < firstSeed + seeds; s++) simulatedMs += runSeed(s).stats.simulatedMs;
  return { simMinutes: simulatedMs / 60_000, wallSeconds: (performance.now() - start) / 1000 };
}

if (import.meta.main) {
  const { simMinutes, wallSeconds } = simSpeed(Number(Deno.args[0] ?? 50));
  console.log(
    `raft sim: ${simMinutes.toFixed(0)} simulated min in ${wallSeconds.toFixed(1)} s = ${
      (simMinutes / wallSeconds).toFixed(1)
    } simulated min per wall s`,
  );
} else {
  Deno.bench("raft sim: one seed, 5 simulated minutes of chaos", () => {
    runSeed(10_001);
  });
}
