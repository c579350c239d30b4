/**
 * Runs a target in a worker and watches it: the worker stores its count of inputs done in
 * shared memory, and when the count stands still for `hangMs` the worker is ended, the input it
 * was on is made again here from its number (a hang finding), and a new worker goes on after it.
 * A worker that dies (an error escaping the target) is a crash finding, handled the same way.
 * @module
 */
import type { Finding, RunSummary } from "./_runner.ts";
import { inputAt } from "./_random.ts";
import { targetNamed } from "./targets/mod.ts";
import type { WorkerMessage, WorkerRequest } from "./_worker.ts";

/** Options of {@linkcode runInWorkers}. */
export interface PoolOptions {
  seed: number;
  /** First input index. @default {0} */
  start?: number;
  count: number;
  /** @default {2000} */
  slowMs?: number;
  /** No progress for this long is a hang. @default {30000} */
  hangMs?: number;
  /** @default {20} */
  maxFindings?: number;
  /** Stop after this many ms once `minInputs` are done (see RunOptions.budgetMs). */
  budgetMs?: number;
  minInputs?: number;
  /** Called four times a second with the inputs done so far. */
  onProgress?: (done: number) => void;
  /** Called with each finding as it is made. */
  onFinding?: (finding: Finding) => void;
}

/** Longest a worker may take to load its modules and open its target. */
const STARTUP_MS = 180_000;

/** Input `index` made again here, or nothing when making it is what failed. */
function inputOrEmpty(name: string, seed: number, index: number): Uint8Array {
  try {
    return inputAt(targetNamed(name).inputs, seed, index);
  } catch {
    return new Uint8Array(0);
  }
}

/** Runs `name`'s inputs `[start, start + count)` of `seed`, in workers. */
export async function runInWorkers(name: string, options: PoolOptions): Promise<RunSummary> {
  const hangMs = options.hangMs ?? 30_000;
  const total: RunSummary = {
    target: name,
    inputs: 0,
    ms: 0,
    bytes: 0,
    slowestMs: 0,
    slowestIndex: -1,
    findings: [],
    outcomes: {},
  };
  let start = options.start ?? 0;
  let left = options.count;
  const started = performance.now();
  // Each round runs until the slice ends or the worker hangs or dies; bounded by the inputs.
  while (left > 0 && total.findings.length < (options.maxFindings ?? 20)) {
    const progress = new SharedArrayBuffer(8);
    const done = new Int32Array(progress);
    const worker = new Worker(new URL("./_worker.ts", import.meta.url), { type: "module" });
    const outcome = await new Promise<
      { kind: "done"; summary: RunSummary } | { kind: "hang" | "crash"; message: string }
    >((resolve) => {
      // Loading a worker's modules on a loaded machine can take longer than an input may: the
      // watch starts once the target is open, and a worker that never gets there is a crash.
      const created = performance.now();
      let last = -1, lastChange = created;
      const timer = setInterval(() => {
        if (Atomics.load(done, 1) === 0) {
          if (performance.now() - created > STARTUP_MS) {
            clearInterval(timer);
            resolve({ kind: "crash", message: `the worker did not start in ${STARTUP_MS} ms` });
          }
          lastChange = performance.now();
          return;
        }
        const now = Atomics.load(done, 0);
        options.onProgress?.(total.inputs + now);
        if (now !== last) [last, lastChange] = [now, performance.now()];
        else if (performance.now() - lastChange > hangMs) {
          clearInterval(timer);
          resolve({ kind: "hang", message: `no progress for ${hangMs} ms` });
        }
      }, 250);
      worker.onmessage = (e: MessageEvent<WorkerMessage>) => {
        if (e.data.kind === "finding") {
          total.findings.push(e.data.finding);
          options.onFinding?.(e.data.finding);
          return;
        }
        clearInterval(timer);
        resolve({ kind: "done", summary: e.data.summary });
      };
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        clearInterval(timer);
        resolve({ kind: "crash", message: `the worker died: ${e.message}` });
      };
      const request: WorkerRequest = {
        target: name,
        seed: options.seed,
        start,
        count: left,
        slowMs: options.slowMs ?? 2000,
        maxFindings: (options.maxFindings ?? 20) - total.findings.length,
        budgetMs: options.budgetMs === undefined
          ? undefined
          : Math.max(0, options.budgetMs - (performance.now() - started)),
        minInputs: Math.max(0, (options.minInputs ?? 0) - total.inputs),
        progress,
      };
      worker.postMessage(request);
    });
    worker.terminate();
    if (outcome.kind === "done") {
      const s = outcome.summary;
      total.inputs += s.inputs;
      total.bytes += s.bytes;
      for (const [k, v] of Object.entries(s.outcomes)) {
        total.outcomes[k] = (total.outcomes[k] ?? 0) + v;
      }
      if (s.slowestMs > total.slowestMs) {
        [total.slowestMs, total.slowestIndex] = [s.slowestMs, s.slowestIndex];
      }
      break;
    }
    const doneHere = Atomics.load(done, 0);
    const index = start + doneHere;
    const finding: Finding = {
      target: name,
      seed: options.seed,
      index,
      kind: outcome.kind,
      message: outcome.message,
      input: inputOrEmpty(name, options.seed, index),
      count: 1,
    };
    total.findings.push(finding);
    options.onFinding?.(finding);
    total.inputs += doneHere + 1;
    start = index + 1;
    left -= doneHere + 1;
  }
  total.ms = performance.now() - started;
  return total;
}
