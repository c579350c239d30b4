/**
 * The process's families at `/metrics`, from figures the runtime reads (this room touches no
 * process API): memory, CPU time, start time, open files and connections, and the event loop's
 * lag. Standard names (`process_*`) where Prometheus has them, so stock dashboards work.
 * @module
 */
import type { Histogram } from "../core/mod.ts";
import type { SampledFamily } from "./metrics.ts";

/** What the runtime reports of the process (`src/runtime/process_stats.ts`). */
export interface ProcessSource {
  figures(): {
    residentBytes: number;
    heapUsedBytes: number;
    heapTotalBytes: number;
    externalBytes: number;
    cpuUserSeconds: number;
    cpuSystemSeconds: number;
    startTimeSeconds: number;
    openFiles: number;
  };
  /** The event loop's lags, and the longest since the previous scrape. */
  eventLoop?: { histogram: Histogram; takeMaxSeconds(): number };
  /** Open HTTP connections. */
  connections?: () => number;
}

/** A reader of the process's families, for `Metrics.sampled`. */
export function processFamilies(source: ProcessSource): () => SampledFamily[] {
  return () => {
    const f = source.figures();
    const one = (
      name: string,
      help: string,
      value: number,
      type: "gauge" | "counter" = "gauge",
    ): SampledFamily => ({ name, help, type, samples: [{ labels: {}, value }] });
    const out: SampledFamily[] = [
      one("process_resident_memory_bytes", "Resident memory size in bytes.", f.residentBytes),
      one(
        "process_cpu_seconds_total",
        "User and system CPU time spent, in seconds.",
        f.cpuUserSeconds + f.cpuSystemSeconds,
        "counter",
      ),
      one(
        "process_start_time_seconds",
        "Start time since the epoch, in seconds.",
        f.startTimeSeconds,
      ),
      one("epochnexus_heap_used_bytes", "V8 heap in use.", f.heapUsedBytes),
      one("epochnexus_heap_total_bytes", "V8 heap reserved.", f.heapTotalBytes),
      one(
        "epochnexus_external_memory_bytes",
        "Memory of ArrayBuffers and other objects outside the V8 heap.",
        f.externalBytes,
      ),
      one(
        "epochnexus_open_files",
        "Files held open by storage (segments, logs); Deno hides /proc/self/fd without " +
          "--allow-all, so the process counts its own.",
        f.openFiles,
      ),
    ];
    if (source.connections) {
      out.push(one("epochnexus_http_connections", "Open HTTP connections.", source.connections()));
    }
    if (source.eventLoop) {
      out.push({
        name: "epochnexus_event_loop_lag_seconds",
        help: "How late a timer due every 100 ms ran: the wait every request adds to its own work.",
        type: "histogram",
        histograms: [{ labels: {}, histogram: source.eventLoop.histogram }],
      });
      out.push(one(
        "epochnexus_event_loop_lag_max_seconds",
        "The longest event loop lag since the previous scrape.",
        source.eventLoop.takeMaxSeconds(),
      ));
    }
    return out;
  };
}
