/**
 * Starts Prometheus Alertmanager (Debian's `prometheus-alertmanager`, installed by .ci/run) on
 * loopback with its own configuration and data folder, gossip off (see _prometheus_tool.ts).
 * @module
 */
import { startTool, type ToolProcess } from "./_prometheus_tool.ts";

/** A running Alertmanager. */
export type AlertmanagerProcess = ToolProcess;

/** Starts Alertmanager with `config` (YAML) and waits until it answers (bounded). */
export function startAlertmanager(config: string): Promise<AlertmanagerProcess> {
  return startTool({
    name: "alertmanager",
    paths: ["/usr/bin/prometheus-alertmanager", "/usr/local/bin/alertmanager"],
    aptPackage: "prometheus-alertmanager",
    args: (dir, configFile) => [
      `--config.file=${configFile}`,
      `--storage.path=${dir}/data`,
      "--cluster.listen-address=",
    ],
  }, config);
}
