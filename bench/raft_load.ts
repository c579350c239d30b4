/**
 * A closed-loop load generator for the Raft and etcd benchmarks: `concurrency` workers each
 * send one request, wait for its answer, and send the next, for `durationMs`.
 * @module
 */

/** Throughput and latency of one load run. */
export interface LoadResult {
  concurrency: number;
  ops: number;
  errors: number;
  seconds: number;
  opsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/** Runs `op` in a closed loop; `op` resolves true on success. */
export async function closedLoop(
  concurrency: number,
  durationMs: number,
  op: (worker: number, seq: number) => Promise<boolean>,
): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const until = start + durationMs;
  await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
    let seq = 0;
    while (performance.now() < until) {
      const t = performance.now();
      const ok = await op(w, seq++).catch(() => false);
      if (ok) latencies.push(performance.now() - t);
      else errors++;
    }
  }));
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies.length === 0
      ? NaN
      : latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return {
    concurrency,
    ops: latencies.length,
    errors,
    seconds,
    opsPerSecond: latencies.length / seconds,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
  };
}

/** One line for a report. */
export function formatLoad(name: string, r: LoadResult): string {
  return `${name}: ${r.concurrency} proposer(s): ${r.opsPerSecond.toFixed(0)} committed/s, p50 ${
    r.p50Ms.toFixed(2)
  } ms, p99 ${r.p99Ms.toFixed(2)} ms (${r.ops} ops, ${r.errors} errors, ${r.seconds.toFixed(1)} s)`;
}
