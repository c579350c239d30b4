/**
 * Starts Prometheus (Debian's `prometheus`, 2.42, installed by .ci/run) on loopback with its
 * own configuration and an empty TSDB folder. It binds port 0 and logs the address it took,
 * which is read back from its log.
 * @module
 */

/** A running Prometheus. */
export interface PrometheusProcess {
  url: string;
  stop(): Promise<void>;
  logs(): string;
}

const PATHS = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"];

function binary(): string {
  for (const path of PATHS) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch { /* not here */ }
  }
  throw new Error(
    `Prometheus is not installed (looked for ${PATHS.join(", ")}); install it with ` +
      "apt-get install -y prometheus (.ci/run does)",
  );
}

/** Starts Prometheus with `config` (YAML) and waits until it is ready (bounded). */
export async function startPrometheus(config: string): Promise<PrometheusProcess> {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-prometheus-" });
  await Deno.writeTextFile(`${dir}/prometheus.yml`, config);
  const process = new Deno.Command(binary(), {
    args: [
      `--config.file=${dir}/prometheus.yml`,
      `--storage.tsdb.path=${dir}/data`,
      "--web.listen-address=127.0.0.1:0",
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
  while (Date.now() < deadline) {
    if (exited) throw new Error(`prometheus exited:\n${log}`);
    // "Start listening for connections" names the configured :0; "Listening on" the bound port.
    const m = /msg="Listening on" address=(127\.0\.0\.1:\d+)/.exec(log);
    if (m && !m[1].endsWith(":0")) {
      const url = `http://${m[1]}`;
      try {
        const r = await fetch(`${url}/-/ready`);
        await r.body?.cancel();
        if (r.ok) return { url, stop, logs: () => log };
      } catch { /* not yet */ }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`prometheus did not become ready within 30 s:\n${log}`);
}
