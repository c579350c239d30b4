/**
 * Starts Prometheus Alertmanager (Debian's `prometheus-alertmanager`, installed by .ci/run) on
 * loopback with its own configuration and data folder, gossip off. It binds port 0 and logs the
 * address it took, which is read back from its log.
 * @module
 */

/** A running Alertmanager. */
export interface AlertmanagerProcess {
  url: string;
  stop(): Promise<void>;
  logs(): string;
}

const PATHS = ["/usr/bin/prometheus-alertmanager", "/usr/local/bin/alertmanager"];

function binary(): string {
  for (const path of PATHS) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch { /* not here */ }
  }
  throw new Error(
    `Alertmanager is not installed (looked for ${PATHS.join(", ")}); install it with ` +
      "apt-get install -y prometheus-alertmanager (.ci/run does)",
  );
}

/** Starts Alertmanager with `config` (YAML) and waits until it answers (bounded). */
export async function startAlertmanager(config: string): Promise<AlertmanagerProcess> {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-alertmanager-" });
  await Deno.writeTextFile(`${dir}/alertmanager.yml`, config);
  const process = new Deno.Command(binary(), {
    args: [
      `--config.file=${dir}/alertmanager.yml`,
      `--storage.path=${dir}/data`,
      "--web.listen-address=127.0.0.1:0",
      "--cluster.listen-address=",
      "--log.level=info",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let log = "";
  const pump = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of process.stderr) log += decoder.decode(chunk, { stream: true });
  })().catch(() => {});
  let exited = false;
  process.status.then(() => (exited = true));
  const stop = async () => {
    try {
      process.kill("SIGTERM");
    } catch { /* gone */ }
    await process.status;
    await pump;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const deadline = Date.now() + 30_000;
  let url: string | undefined;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`alertmanager exited:\n${log}`);
    const m = /msg="Listening on" address=(127\.0\.0\.1:\d+)/.exec(log);
    if (m && !m[1].endsWith(":0")) {
      url = `http://${m[1]}`;
      try {
        const r = await fetch(`${url}/-/ready`);
        await r.body?.cancel();
        if (r.ok) return { url, stop, logs: () => log };
      } catch { /* not yet */ }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`alertmanager did not become ready within 30 s:\n${log}`);
}
