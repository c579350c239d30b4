/**
 * Starts Prometheus (Debian's `prometheus`, 2.42, installed by .ci/run) on loopback with its
 * own configuration and an empty TSDB folder (see _prometheus_tool.ts).
 * @module
 */
import { startTool, type ToolProcess } from "./_prometheus_tool.ts";

/** A running Prometheus. */
export type PrometheusProcess = ToolProcess;

/** Starts Prometheus with `config` (YAML) and waits until it is ready (bounded). */
export function startPrometheus(config: string): Promise<PrometheusProcess> {
  return startTool({
    name: "prometheus",
    paths: ["/usr/bin/prometheus", "/usr/local/bin/prometheus"],
    aptPackage: "prometheus",
    args: (dir, configFile) => [`--config.file=${configFile}`, `--storage.tsdb.path=${dir}/data`],
  }, config);
}
