/**
 * Timing helpers for the cost tests (`*_cost_test.ts`): doubling tests that tell linear work from
 * quadratic on a shared, loaded machine. They count the CPU time of this thread, not the wall
 * clock (with 20 processes on 2 cores, wall time is mostly time spent waiting for a core), over
 * enough runs to make the resolution of that clock small where it is coarse.
 * @module
 */
import assert from "node:assert/strict";
import { threadCpu } from "../core/testing/mod.ts";

/** Wall-clock milliseconds of one run of `f`. */
export function timeOf(f: () => unknown): number {
  const start = performance.now();
  f();
  return performance.now() - start;
}

/** CPU milliseconds of this thread per run of `f`, over as many runs as take `budgetMs`. */
export function cpuTimeOf(f: () => unknown, budgetMs = 200): number {
  const start = threadCpu();
  let runs = 0, used = 0;
  // Bounded: at most 1000 runs, and a run that alone takes the budget ends the loop.
  while (runs < 1000 && used < budgetMs) {
    f();
    runs++;
    const d = threadCpu(start);
    used = (d.user + d.system) / 1000;
  }
  return used / runs;
}

/**
 * Asserts that the work on `2n` items (`large`) takes under 3 times the work on `n` (`small`):
 * linear work about doubles, n log n a little more, quadratic work quadruples. Returns the CPU
 * milliseconds per run of each.
 */
export function assertDoublesLinearly(
  what: string,
  small: () => unknown,
  large: () => unknown,
): { small: number; large: number } {
  // Once each first: the first runs measure the compiler, not the algorithm.
  small();
  large();
  let t1 = Infinity, t2 = Infinity, report = "";
  // Up to three attempts: a burst of load can inflate one size's every round of one attempt.
  for (let attempt = 0; attempt < 3 && !(t2 / t1 < 3); attempt++) {
    t1 = t2 = Infinity;
    for (let r = 0; r < 3; r++) {
      t1 = Math.min(t1, cpuTimeOf(small));
      t2 = Math.min(t2, cpuTimeOf(large));
    }
    report += ` n took ${t1.toFixed(1)} ms, 2n took ${t2.toFixed(1)} ms (x${
      (t2 / t1).toFixed(2)
    });`;
  }
  assert.ok(t2 / t1 < 3, `${what}:${report} of CPU`);
  return { small: t1, large: t2 };
}
