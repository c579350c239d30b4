/**
 * CPU time of the calling thread (user + system, in µs), from node:process: on a shared machine
 * wall time is mostly waiting for a core, so costs are judged on this. Linux's thread CPU clock
 * ticks in 10 ms.
 * @module
 */
import process from "node:process";

/** Microseconds of CPU this thread used, since `previous` when given. */
export const threadCpu = (process as unknown as {
  threadCpuUsage(previous?: { user: number; system: number }): { user: number; system: number };
}).threadCpuUsage;
