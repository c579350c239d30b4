/**
 * Starts one of the Prometheus project's servers installed from Debian (Prometheus,
 * Alertmanager) on loopback, with its own configuration file and data folder in a temporary
 * folder. The server binds port 0 and logs the address it took ("Listening on"), which is read
 * back from its log; it is ready when `/-/ready` answers 200 (bounded wait).
 * @module
 */

/** A running server. */
export interface ToolProcess {
  url: string;
  stop(): Promise<void>;
  logs(): string;
}

/** Which server, and how it is started. */
export interface ToolSpec {
  /** For messages: "prometheus", "alertmanager". */
  name: string;
  /** Where its binary may be, in order. */
  paths: string[];
  /** The Debian package that installs it (.ci/run installs it). */
  aptPackage: string;
  /** The arguments besides `--web.listen-address` and `--log.level`, given the folder. */
  args(dir: string, configFile: string): string[];
}

function binary(spec: ToolSpec): string {
  for (const path of spec.paths) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch { /* not here */ }
  }
  throw new Error(
    `${spec.name} is not installed (looked for ${spec.paths.join(", ")}); install it with ` +
      `apt-get install -y ${spec.aptPackage} (.ci/run does)`,
  );
}

/** Starts the server with `config` (YAML) and waits until it is ready (at most 30 s). */
export async function startTool(spec: ToolSpec, config: string): Promise<ToolProcess> {
  const dir = await Deno.makeTempDir({ prefix: `epochnexus-${spec.name}-` });
  const configFile = `${dir}/${spec.name}.yml`;
  await Deno.writeTextFile(configFile, config);
  const process = new Deno.Command(binary(spec), {
    args: [
      ...spec.args(dir, configFile),
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
    if (exited) throw new Error(`${spec.name} exited:\n${log}`);
    // Prometheus also logs "Start listening for connections" with the configured :0; the
    // "Listening on" line names the bound port.
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
  throw new Error(`${spec.name} did not become ready within 30 s:\n${log}`);
}
