/**
 * A worker that runs one slice of a target (`_pool.ts` starts it): it stores the number of
 * inputs done in shared memory after each one, so the pool sees a hang without a message.
 * @module
 */
/// <reference lib="deno.worker" />
import { type Finding, type RunSummary, runTarget } from "./_runner.ts";
import { targetNamed } from "./targets/mod.ts";

/** What the pool asks. */
export interface WorkerRequest {
  target: string;
  seed: number;
  start: number;
  count: number;
  slowMs: number;
  maxFindings: number;
  /** See RunOptions.budgetMs and minInputs. */
  budgetMs?: number;
  minInputs?: number;
  /** Int32Array[0]: inputs done; [1]: 1 once the target is open (the hang watch starts). */
  progress: SharedArrayBuffer;
}

/** What the worker posts: each finding when made, then the summary. */
export type WorkerMessage =
  | { kind: "finding"; finding: Finding }
  | { kind: "summary"; summary: RunSummary };

self.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  const r = event.data;
  const progress = new Int32Array(r.progress);
  const summary = await runTarget(targetNamed(r.target), {
    seed: r.seed,
    start: r.start,
    count: r.count,
    slowMs: r.slowMs,
    maxFindings: r.maxFindings,
    budgetMs: r.budgetMs,
    minInputs: r.minInputs,
    tick: (done) => {
      Atomics.store(progress, 0, done);
      Atomics.store(progress, 1, 1);
    },
    onFinding: (finding) => self.postMessage({ kind: "finding", finding }),
  });
  self.postMessage({ kind: "summary", summary });
};
