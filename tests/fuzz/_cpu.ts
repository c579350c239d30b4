/**
 * CPU time of the calling thread (in µs): on a shared machine wall time is mostly waiting for a
 * core, so costs are judged on this. See src/core/testing/thread_cpu.ts for the clock.
 * @module
 */
export { threadCpu } from "../../src/core/testing/mod.ts";
