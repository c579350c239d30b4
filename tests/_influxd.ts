/**
 * Starts InfluxDB 1.6.7 (Debian's `influxd`, installed by .ci/run) on loopback with a temporary
 * folder: the reference the differential tests compare against.
 *
 * Both of its listeners bind port 0, so the kernel picks free ports and no other test can take
 * them in between; influxd logs the HTTP address it bound ("Listening on HTTP" addr=...), which
 * is read back from its log. The RPC listener (backup/restore) is not used.
 * @module
 */

/** A running influxd. */
export interface InfluxProcess {
  url: string;
  pid: number;
  /** The temporary folder holding its data (removed by stop unless `keepData`). */
  dir: string;
  stop(options?: { keepData?: boolean }): Promise<void>;
}

/** Options of {@linkcode startInfluxd}. */
export interface StartInfluxdOptions {
  /** How long to wait for the HTTP address and a /ping. @default {30000} */
  timeoutMs?: number;
  /** Extra lines of the `[data]` section (`compact-full-write-cold-duration = "2s"`). */
  data?: string[];
  /** Extra lines of the `[http]` section (`auth-enabled = true`). */
  http?: string[];
  /** Run continuous queries, checking every second (the CQ differential test). @default {false} */
  continuousQueries?: boolean;
}

const PATHS = ["/usr/bin/influxd", "/usr/local/bin/influxd"];
/** How much of influxd's log is kept for error messages. */
const LOG_TAIL_CHARS = 64 * 1024;

function influxdPath(): string {
  for (const path of PATHS) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch { /* not here */ }
  }
  throw new Error(
    `influxd (InfluxDB 1.6.7, the differential tests' reference) is not installed: not found at ` +
      `${PATHS.join(" or ")}; install it with apt-get install influxdb (.ci/run does)`,
  );
}

/** Starts influxd and waits (bounded) until it has logged its HTTP address and answers /ping. */
export async function startInfluxd(options: StartInfluxdOptions = {}): Promise<InfluxProcess> {
  const binary = influxdPath();
  const timeoutMs = options.timeoutMs ?? 30_000;
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-influxd-" });
  await Deno.writeTextFile(
    `${dir}/influxdb.conf`,
    `reporting-disabled = true
bind-address = "127.0.0.1:0"
[meta]
  dir = "${dir}/meta"
[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  query-log-enabled = false
${(options.data ?? []).map((line) => `  ${line}\n`).join("")}[http]
  bind-address = "127.0.0.1:0"
  log-enabled = false
${(options.http ?? []).map((line) => `  ${line}\n`).join("")}[monitor]
  store-enabled = false
[continuous_queries]
  enabled = ${options.continuousQueries === true}
  run-interval = "1s"
[logging]
  level = "info"
`,
  );
  const process = new Deno.Command(binary, {
    args: ["-config", `${dir}/influxdb.conf`],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let log = "";
  let httpAddress: string | undefined;
  const pump = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of process.stderr) {
      log = (log + decoder.decode(chunk, { stream: true })).slice(-LOG_TAIL_CHARS);
      httpAddress ??= /msg="Listening on HTTP" .*addr=(127\.0\.0\.1:\d+)/.exec(log)?.[1];
    }
  })().catch(() => {});
  let exited = false;
  process.status.then(() => (exited = true));
  const fail = async (why: string): Promise<never> => {
    try {
      process.kill("SIGKILL");
    } catch { /* gone */ }
    await process.status;
    await pump;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw new Error(`influxd ${why}:\n${log}`);
  };
  const deadline = Date.now() + timeoutMs;
  while (httpAddress === undefined) {
    if (exited) await fail("exited before listening");
    if (Date.now() > deadline) await fail(`did not log its HTTP address within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const url = `http://${httpAddress}`;
  while (true) {
    if (exited) await fail("exited before answering /ping");
    try {
      const r = await fetch(`${url}/ping`);
      await r.body?.cancel();
      if (r.status === 204) break;
    } catch { /* starting */ }
    if (Date.now() > deadline) await fail(`did not answer /ping within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
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
