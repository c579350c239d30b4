/**
 * Runs a target over a range of its inputs in this thread: each input is generated from
 * `(seed, index)`, checked and timed; a failure is shrunk (bytes removed while the same failure
 * remains) and reported once per kind of failure. Hangs cannot be caught here (a loop that never
 * ends never returns): `_pool.ts` runs this in a worker and watches its progress.
 * @module
 */
import { threadCpu } from "./_cpu.ts";
import { inputAt } from "./_random.ts";
import type { FuzzCheck, FuzzTarget } from "./_target.ts";

/** Something an input made the code do that it must not. */
export interface Finding {
  target: string;
  seed: number;
  index: number;
  /**
   * `failure`: the check threw; `slow`: one input took longer than `slowMs` twice, the second
   * time in CPU as well.
   */
  kind: "failure" | "slow" | "hang" | "crash";
  message: string;
  /** The input, shrunk when the failure allowed it. */
  input: Uint8Array;
  /** How many inputs failed the same way. */
  count: number;
}

/** What a run did. */
export interface RunSummary {
  target: string;
  inputs: number;
  ms: number;
  bytes: number;
  /** The slowest input, in ms, and its index. */
  slowestMs: number;
  slowestIndex: number;
  findings: Finding[];
  /** The target's outcome counts (see FuzzCheck.outcomes). */
  outcomes: Record<string, number>;
}

/** Options of {@linkcode runTarget}. */
export interface RunOptions {
  seed: number;
  /** Index of the first input. */
  start: number;
  count: number;
  /** One input taking longer than this (twice) is a finding. @default {2000} */
  slowMs?: number;
  /** Stops after this many distinct findings. @default {20} */
  maxFindings?: number;
  /** Called after each input with the number done (cheap: workers store it in shared memory). */
  tick?: (done: number) => void;
  /** Shrink failing inputs. @default {true} */
  shrink?: boolean;
  /** Called with each new finding as soon as it is made (a worker posts it at once). */
  onFinding?: (finding: Finding) => void;
  /**
   * A time budget: once this many ms have passed and `minInputs` inputs are done, the run stops
   * early (CI runs a seeded prefix of the inputs, as long as a loaded machine allows).
   */
  budgetMs?: number;
  /** Inputs run whatever the budget says. @default {0} */
  minInputs?: number;
}

/** The first line of a failure with its numbers blanked: failures alike share it. */
export function signatureOf(message: string): string {
  return message.split("\n")[0].replace(/"(?:[^"\\]|\\.)*"/g, '"…"').replace(/\d+/g, "#")
    .slice(0, 100);
}

async function failureOf(check: FuzzCheck, input: Uint8Array): Promise<string | undefined> {
  try {
    const r = check.check(input);
    if (r !== undefined) await r;
    return undefined;
  } catch (error) {
    return error instanceof Error ? `${error.message}` : String(error);
  }
}

/**
 * Removes byte ranges (halves, then quarters ... then single bytes) while the input still fails
 * with the same signature; at most `budget` attempts.
 */
export async function shrink(
  check: FuzzCheck,
  input: Uint8Array,
  signature: string,
  budget = 600,
): Promise<{ input: Uint8Array; message: string }> {
  let best = input;
  let message = (await failureOf(check, input)) ?? "";
  let attempts = 0;
  for (let size = best.length >> 1; size >= 1 && attempts < budget; size >>= 1) {
    for (let at = 0; at + size <= best.length && attempts < budget;) {
      const candidate = new Uint8Array(best.length - size);
      candidate.set(best.subarray(0, at));
      candidate.set(best.subarray(at + size), at);
      attempts++;
      const m = await failureOf(check, candidate);
      if (m !== undefined && signatureOf(m) === signature) {
        best = candidate;
        message = m;
      } else at += size;
    }
  }
  return { input: best, message };
}

/** Runs `target`'s inputs `[start, start + count)` of `seed`. */
export async function runTarget(target: FuzzTarget, options: RunOptions): Promise<RunSummary> {
  const slowMs = options.slowMs ?? 2000;
  const maxFindings = options.maxFindings ?? 20;
  const check = await target.open();
  options.tick?.(0); // opened: from here on, standing still is the inputs' fault
  const findings = new Map<string, Finding>();
  let bytes = 0, slowestMs = 0, slowestIndex = -1, done = 0;
  const started = performance.now();
  // A promise the code under test dropped and that rejected: reported against the input
  // running when it surfaced (the event comes after the microtasks of that input settle).
  const unhandled: unknown[] = [];
  const onUnhandled = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    unhandled.push(event.reason);
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  try {
    const budgetMs = options.budgetMs ?? Infinity;
    const minInputs = options.minInputs ?? 0;
    for (let k = 0; k < options.count && findings.size < maxFindings; k++) {
      if (k >= minInputs && performance.now() - started > budgetMs) break;
      const index = options.start + k;
      const input = inputAt(target.inputs, options.seed, index);
      bytes += input.length;
      const t0 = performance.now();
      let message = await failureOf(check, input);
      let ms = performance.now() - t0;
      let kind: Finding["kind"] = "failure";
      if (message === undefined && ms > slowMs) {
        // Once more, timing this thread's CPU too: a GC pause or a burst of load on a shared
        // machine is not the input's fault (at load 25 on 2 cores a 0.8 s input took 6 s).
        const t1 = performance.now();
        const cpu0 = threadCpu();
        message = await failureOf(check, input);
        const used = threadCpu(cpu0);
        const cpuMs = (used.user + used.system) / 1000;
        ms = Math.min(ms, performance.now() - t1);
        if (message === undefined && ms > slowMs && cpuMs > slowMs) {
          kind = "slow";
          message = `one input took ${ms.toFixed(0)} ms (${cpuMs.toFixed(0)} ms of CPU; limit ` +
            `${slowMs} ms) for ${input.length} bytes`;
        }
      }
      if (ms > slowestMs) [slowestMs, slowestIndex] = [ms, index];
      if (message === undefined && unhandled.length > 0) {
        kind = "crash";
        const reason = unhandled.splice(0)[0];
        message = `unhandled rejection near this input: ${
          reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason)
        }`;
      }
      if (message !== undefined) {
        const signature = kind === "slow" ? "slow" : signatureOf(message);
        const known = findings.get(signature);
        if (known) known.count++;
        else {
          let kept = { input, message };
          if (kind === "failure" && options.shrink !== false) {
            // Shrinking runs the check hundreds of times: its outcomes are not the run's.
            const outcomes = { ...check.outcomes };
            kept = await shrink(check, input, signature);
            if (check.outcomes) {
              for (const k of Object.keys(check.outcomes)) delete check.outcomes[k];
              Object.assign(check.outcomes, outcomes);
            }
          }
          const finding: Finding = {
            target: target.name,
            seed: options.seed,
            index,
            kind,
            message: kept.message,
            input: kept.input,
            count: 1,
          };
          findings.set(signature, finding);
          options.onFinding?.(finding);
        }
      }
      done = k + 1;
      options.tick?.(done);
    }
  } finally {
    globalThis.removeEventListener("unhandledrejection", onUnhandled);
    await check.close();
  }
  return {
    target: target.name,
    inputs: done,
    ms: performance.now() - started,
    bytes,
    slowestMs,
    slowestIndex,
    findings: [...findings.values()],
    outcomes: { ...check.outcomes },
  };
}
