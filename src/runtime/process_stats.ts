/**
 * The process as an operator graphs it: memory, CPU time, open files, and how late the event
 * loop runs what is due (the lag every request waits on top of its own work).
 * @module
 */
import process from "node:process";
import { Histogram } from "../core/mod.ts";
import { openFileCount } from "./file_system.ts";

/** What {@linkcode processFigures} reads. */
export interface ProcessFigures {
  residentBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  /** Memory of ArrayBuffers and other objects outside the V8 heap. */
  externalBytes: number;
  cpuUserSeconds: number;
  cpuSystemSeconds: number;
  /** When the process started, in seconds since the epoch. */
  startTimeSeconds: number;
  /** Files opened through the runtime's file system and not closed. */
  openFiles: number;
}

/** Reads the figures now (a few microseconds: no file is read). */
export function processFigures(): ProcessFigures {
  const memory = Deno.memoryUsage();
  const cpu = process.cpuUsage();
  return {
    residentBytes: memory.rss,
    heapUsedBytes: memory.heapUsed,
    heapTotalBytes: memory.heapTotal,
    externalBytes: memory.external,
    cpuUserSeconds: cpu.user / 1e6,
    cpuSystemSeconds: cpu.system / 1e6,
    startTimeSeconds: Math.floor(performance.timeOrigin) / 1000,
    openFiles: openFileCount(),
  };
}

/** The event loop's lag, sampled by a timer (see {@linkcode monitorEventLoop}). */
export interface EventLoopMonitor {
  /** Lags seen, in seconds. */
  readonly histogram: Histogram;
  /** The longest lag since the previous call, in seconds (then starts again). */
  takeMaxSeconds(): number;
  stop(): void;
}

/** Lags of the event loop, from a tenth of a millisecond to ten seconds. */
const LAG_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/**
 * Arms a timer every `intervalMs` and records how late it fires: the time something queued now
 * waits before it runs. The timer does not keep the process alive.
 */
export function monitorEventLoop(intervalMs = 100): EventLoopMonitor {
  const histogram = new Histogram(LAG_BUCKETS);
  let max = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const arm = () => {
    const due = performance.now() + intervalMs;
    const t = setTimeout(() => {
      const lag = Math.max(0, performance.now() - due) / 1000;
      histogram.observe(lag);
      if (lag > max) max = lag;
      if (!stopped) arm();
    }, intervalMs);
    Deno.unrefTimer(t);
    timer = t;
  };
  arm();
  return {
    histogram,
    takeMaxSeconds() {
      const m = max;
      max = 0;
      return m;
    },
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}
