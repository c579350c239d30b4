/**
 * Doubling tests: the CPU time of a parser on an input of size 2n against size n, for a family of
 * worst-case inputs. Linear work doubles, n log n a little more, quadratic work quadruples: a
 * ratio under `maxRatio` (3 by default) passes. CPU time of this thread (not the wall clock: on a
 * shared machine wall time is mostly waiting for a core), the best of interleaved rounds (load
 * only ever inflates a time), and up to three attempts before failing.
 * @module
 */
import { ok } from "node:assert/strict";
import process from "node:process";

const threadCpu = (process as unknown as {
  threadCpuUsage(previous?: { user: number; system: number }): { user: number; system: number };
}).threadCpuUsage;

/**
 * CPU milliseconds per run of `f`, over as many runs as fit in `budgetMs` (at most 200): the
 * clock ticks in 10 ms, so one run of a few ms must be repeated to be measured.
 */
export function cpuMsPerRun(f: () => unknown, budgetMs = 50): number {
  const start = threadCpu();
  let runs = 0, used = 0;
  while (runs < 200 && used < budgetMs) {
    f();
    runs++;
    const d = threadCpu(start);
    used = (d.user + d.system) / 1000;
  }
  return used / runs;
}

/** Options of {@linkcode assertDoublingLinear}. */
export interface DoublingOptions {
  /** The first size tried. */
  n: number;
  /** The size grows (doubling) until one run takes this much CPU. @default {15} */
  minMs?: number;
  /** Largest size tried while growing. @default {n * 1024} */
  maxN?: number;
  /** @default {3} */
  maxRatio?: number;
}

/** What a doubling test measured. */
export interface Doubling {
  n: number;
  msAtN: number;
  msAt2N: number;
  ratio: number;
}

/**
 * Asserts that `run(make(2n))` costs under `maxRatio` times `run(make(n))`, with n grown until a
 * run takes `minMs` (timer and JIT noise are small then). `make` builds the input outside the
 * timing.
 */
export function assertDoublingLinear<T>(
  what: string,
  make: (n: number) => T,
  run: (input: T) => unknown,
  options: DoublingOptions,
): Doubling {
  const minMs = options.minMs ?? 15;
  const maxN = options.maxN ?? options.n * 1024;
  const maxRatio = options.maxRatio ?? 3;
  let n = options.n;
  let small = make(n);
  run(small); // compile first
  // Grown by the wall clock (fine-grained; the thread CPU clock ticks in 10 ms on Linux): load
  // can only make a run look longer, so at worst n stays smaller than it could be.
  const wallMs = (input: T) => {
    const t0 = performance.now();
    run(input);
    return performance.now() - t0;
  };
  while (n < maxN && Math.min(wallMs(small), wallMs(small)) < minMs) {
    n *= 2;
    small = make(n);
  }
  const large = make(2 * n);
  run(large);
  let report = "";
  let best: Doubling = { n, msAtN: Infinity, msAt2N: Infinity, ratio: Infinity };
  for (let attempt = 0; attempt < 3; attempt++) {
    let a = Infinity, b = Infinity;
    for (let round = 0; round < 2; round++) {
      a = Math.min(a, cpuMsPerRun(() => run(small)));
      b = Math.min(b, cpuMsPerRun(() => run(large)));
    }
    best = { n, msAtN: a, msAt2N: b, ratio: b / a };
    report += ` ${a.toFixed(1)} -> ${b.toFixed(1)} ms (x${(b / a).toFixed(2)})`;
    if (best.ratio < maxRatio) return best;
  }
  ok(false, `${what}: n = ${n} and 2n took${report} of CPU (limit x${maxRatio})`);
  return best;
}
