/**
 * Starts InfluxDB 1.6.7 (Debian's `influxd`, installed by .ci/run) on free loopback ports with
 * a temporary folder: the reference the differential tests compare against.
 * @module
 */
import { freePort } from "./_server.ts";

/** A running influxd. */
export interface InfluxProcess {
  url: string;
  pid: number;
  /** The temporary folder holding its data (removed by stop unless `keepData`). */
  dir: string;
  stop(options?: { keepData?: boolean }): Promise<void>;
}

/** Where influxd is, or undefined when it is not installed. */
export function influxdPath(): string | undefined {
  for (const path of ["/usr/bin/influxd", "/usr/local/bin/influxd"]) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch { /* not here */ }
  }
  return undefined;
}

/**
 * Starts influxd and waits (bounded) until it answers /ping. `dataSettings` adds lines to the
 * `[data]` section (TOML values as written: `{ "cache-snapshot-write-cold-duration": '"2s"' }`).
 */
export async function startInfluxd(
  timeoutMs = 30_000,
  dataSettings: Record<string, string> = {},
): Promise<InfluxProcess> {
  const binary = influxdPath();
  if (!binary) throw new Error("influxd is not installed (apt-get install influxdb)");
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-influxd-" });
  const httpPort = freePort();
  const rpcPort = freePort();
  await Deno.writeTextFile(
    `${dir}/influxdb.conf`,
    `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"
[meta]
  dir = "${dir}/meta"
[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  query-log-enabled = false
${Object.entries(dataSettings).map(([key, value]) => `  ${key} = ${value}\n`).join("")}[http]
  bind-address = "127.0.0.1:${httpPort}"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[logging]
  level = "error"
`,
  );
  const process = new Deno.Command(binary, {
    args: ["-config", `${dir}/influxdb.conf`],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const pump = (async () => {
    for await (const chunk of process.stderr) stderr += new TextDecoder().decode(chunk);
  })().catch(() => {});
  const url = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + timeoutMs;
  while (true) {
    try {
      const r = await fetch(`${url}/ping`);
      await r.body?.cancel();
      if (r.status === 204) break;
    } catch { /* starting */ }
    if (Date.now() > deadline) {
      process.kill("SIGKILL");
      throw new Error(`influxd did not start:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    pid: process.pid,
    dir,
    async stop(options = {}) {
      try {
        process.kill("SIGTERM");
      } catch { /* gone */ }
      await process.status;
      await pump;
      if (!options.keepData) await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
