/**
 * CPU time of the calling thread, for the tests that tell linear work from quadratic on a
 * shared machine (wall time there is mostly waiting for a core). Linux's
 * `/proc/thread-self/schedstat` counts it in nanoseconds; `getrusage` (node:process's
 * `threadCpuUsage`) in 10 ms ticks, which made a 25 ms run read as 20 or 30 ms and failed
 * doubling tests on a quiet machine. The rusage clock is the fallback where /proc is not
 * readable, as under the suite's own permissions (`deno task test`: /proc/thread-self needs
 * --allow-all); the harnesses repeat runs enough for either.
 * @module
 */
import process from "node:process";

/** CPU time used by a thread, in microseconds (user and system together where only a sum is known). */
export interface ThreadCpu {
  user: number;
  system: number;
}

const rusage = (process as unknown as {
  threadCpuUsage(previous?: ThreadCpu): ThreadCpu;
}).threadCpuUsage;

const SCHEDSTAT = "/proc/thread-self/schedstat";

/** Nanoseconds this thread has run, or undefined when the kernel does not say. */
function scheduledNs(): number | undefined {
  try {
    const ns = Number(Deno.readTextFileSync(SCHEDSTAT).split(" ", 1)[0]);
    return Number.isFinite(ns) && ns > 0 ? ns : undefined;
  } catch {
    return undefined;
  }
}

const precise = scheduledNs() !== undefined;

/** Microseconds of CPU this thread used, since `previous` when given. */
export function threadCpu(previous?: ThreadCpu): ThreadCpu {
  if (!precise) return rusage(previous);
  const us = scheduledNs()! / 1000;
  return { user: previous === undefined ? us : us - previous.user - previous.system, system: 0 };
}

/** The resolution of {@linkcode threadCpu} in microseconds. */
export const threadCpuResolutionUs = precise ? 1 : 10_000;
