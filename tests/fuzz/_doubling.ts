/**
 * Doubling tests: the CPU time of a parser on inputs of size n, 2n and 4n, for a family of
 * worst-case inputs. Linear work grows 4 times from n to 4n, n log n a little more, n^1.5 8
 * times, quadratic work 16 times: a ratio under `maxRatio` (7 by default) passes. CPU time of
 * this thread (not the wall clock: on a shared machine wall time is mostly waiting for a core),
 * the best of interleaved rounds (load only ever inflates a time), and up to four attempts
 * (two at n, then at n / 2 and n / 4) before failing.
 * @module
 */
import { ok } from "node:assert/strict";
import { threadCpu } from "./_cpu.ts";

/**
 * CPU milliseconds per run of `f`, over as many runs as fit in `budgetMs` (at most 200): where
 * the clock ticks in 10 ms, one run of a few ms must be repeated to be measured.
 */
export async function cpuMsPerRun(f: () => unknown, budgetMs = 100): Promise<number> {
  const start = threadCpu();
  let runs = 0, used = 0;
  while (runs < 200 && used < budgetMs) {
    await f();
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
  /**
   * Largest size tried while growing. Kept well short of where the runtime itself changes
   * regime (V8 scavenges copying 100k live objects, strings of 16M characters): on a fast quiet
   * machine n otherwise grows into them and the test measures V8, not the parser.
   * @default {n * 64}
   */
  maxN?: number;
  /** Largest time at 4n over time at n. @default {7} */
  maxRatio?: number;
}

/** What a doubling test measured. */
export interface Doubling {
  n: number;
  msAtN: number;
  msAt2N: number;
  msAt4N: number;
  /** msAt4N / msAtN. */
  ratio: number;
}

/**
 * Asserts that `run(make(4n))` costs under `maxRatio` times `run(make(n))` (2n is measured and
 * reported too), with n grown until a run takes `minMs` (timer and JIT noise are small then).
 * `make` builds the input outside the timing; `run` may be async.
 */
export async function assertDoublingLinear<T>(
  what: string,
  make: (n: number) => T,
  run: (input: T) => unknown,
  options: DoublingOptions,
): Promise<Doubling> {
  const minMs = options.minMs ?? 15;
  const maxN = options.maxN ?? options.n * 64;
  const maxRatio = options.maxRatio ?? 7;
  let n = options.n;
  let small = make(n);
  await run(small); // compile first
  // Grown by the wall clock (fine-grained where the thread CPU clock is not): load can only make
  // a run look longer, so at worst n stays smaller than it could be.
  const wallMs = async (input: T) => {
    const t0 = performance.now();
    await run(input);
    return performance.now() - t0;
  };
  while (n < maxN && Math.min(await wallMs(small), await wallMs(small)) < minMs) {
    n *= 2;
    small = make(n);
  }
  let report = "";
  let best: Doubling = { n, msAtN: Infinity, msAt2N: Infinity, msAt4N: Infinity, ratio: Infinity };
  // Twice at n (load), then at n / 2 and n / 4: V8's collector changes regime at some sizes
  // (a scavenge copying ~100k live objects, pretenuring) and makes one doubling cost 3-4×
  // there, while a quadratic path is quadratic at every size.
  for (const size of [n, n, n / 2, n / 4]) {
    if (size < options.n) break;
    if (size !== best.n) small = make(size);
    const middle = make(2 * size), large = make(4 * size);
    await run(middle);
    await run(large);
    let a = Infinity, b = Infinity, c = Infinity;
    for (let round = 0; round < 2; round++) {
      a = Math.min(a, await cpuMsPerRun(() => run(small)));
      b = Math.min(b, await cpuMsPerRun(() => run(middle)));
      c = Math.min(c, await cpuMsPerRun(() => run(large)));
    }
    best = { n: size, msAtN: a, msAt2N: b, msAt4N: c, ratio: c / a };
    report += ` n = ${size}: ${a.toFixed(1)} -> ${b.toFixed(1)} -> ${c.toFixed(1)} ms` +
      ` (x${(c / a).toFixed(2)})`;
    if (best.ratio < maxRatio) return best;
  }
  ok(false, `${what}: n, 2n and 4n took${report} of CPU (limit x${maxRatio} for 4n)`);
  return best;
}
