/**
 * Starts EpochNexus as a real process for end-to-end tests: `deno run src/cli/main.ts serve` on a
 * free loopback port with its own data folder.
 * @module
 */
import { type StartSettings, startSettings } from "../scripts/start_task.ts";

/** A running server process. */
export interface ServerProcess {
  url: string;
  port: number;
  /** The node-to-node port it bound (the Raft and ClusterService calls). */
  raftPort: number;
  dataDir: string;
  process: Deno.ChildProcess;
  /** kill -9: no chance to flush or close anything. */
  kill9(): Promise<void>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** Everything the process printed to stderr so far. */
  logs(): string;
  /** A fetch that reaches it (HTTPS: trusting the test's certificate). */
  fetch: typeof globalThis.fetch;
}

const ROOT = new URL("../", import.meta.url).pathname;

/**
 * The permission flags and V8 flags of the README's start task, read from deno.json: end-to-end
 * tests and benchmarks run the server exactly as a user starts it, so a missing permission fails
 * a test, not a user, and the memory a bench measures is the one users get.
 */
export const START_PERMISSIONS: string[] = startOf(ROOT).flags;
/** The variables the start task sets before `deno` (the C allocator's tunables). */
export const START_ENV: Record<string, string> = startOf(ROOT).env;

function startOf(root: string): StartSettings {
  return startSettings(JSON.parse(Deno.readTextFileSync(`${root}deno.json`)));
}

/** Options of {@linkcode startServer}. */
export interface StartServerOptions {
  dataDir?: string;
  port?: number;
  env?: Record<string, string>;
  timeoutMs?: number;
  /**
   * Another checkout to run (its folder, ending in `/`), with its own start permissions: a
   * benchmark's baseline. @default this checkout
   */
  root?: string;
  /** Extra flags of `deno run` (`--cpu-prof`, `--v8-flags=...`). */
  denoFlags?: string[];
  /** Serve HTTPS (EPOCHNEXUS_TLS_CERT/KEY in env); clients trust this PEM certificate. */
  caPem?: string;
  /** The command instead of `deno run <start task permissions> src/cli/main.ts serve`. */
  command?: { program: string; args: string[]; cwd: string };
  /**
   * Called as soon as the process has bound its ports (before it joins or catches up), with its
   * pid: a proxy in front of its node-to-node port can forward to it from then on.
   */
  onBound?: (bound: { port: number; raftPort: number; pid: number }) => void;
}

/** The options under their older name. */
export type StartOptions = StartServerOptions;

/** Starts a server and waits (at most `timeoutMs`) until /ping answers. */
export async function startServer(options: StartServerOptions = {}): Promise<ServerProcess> {
  const root = options.root ?? ROOT;
  const start = root === ROOT ? { env: START_ENV, flags: START_PERMISSIONS } : startOf(root);
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "epochnexus-e2e-" });
  // Port 0 lets the server pick a free port itself, which it logs; choosing one here and handing
  // it over would race with the other tests running in parallel.
  const requestedPort = options.port ?? 0;
  const command = new Deno.Command(options.command?.program ?? Deno.execPath(), {
    args: options.command?.args ??
      ["run", ...start.flags, ...(options.denoFlags ?? []), `${root}src/cli/main.ts`, "serve"],
    cwd: options.command?.cwd ?? root,
    env: {
      ...start.env,
      EPOCHNEXUS_DATA_DIR: dataDir,
      EPOCHNEXUS_BIND_ADDRESS: `127.0.0.1:${requestedPort}`,
      // Tests run in parallel: each node-to-node server takes a free port of its own.
      EPOCHNEXUS_RAFT_ADDRESS: "127.0.0.1:0",
      DENO_NO_UPDATE_CHECK: "1",
      RUST_BACKTRACE: "0",
      ...options.env,
    },
    stdout: "piped",
    stderr: "piped",
  });
  const process = command.spawn();
  let stderr = "";
  const decoder = new TextDecoder();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) stderr += decoder.decode(chunk, { stream: true });
  };
  const pumps = Promise.all([pump(process.stdout), pump(process.stderr)]).catch(() => {});
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let exited = false;
  process.status.then(() => (exited = true));
  let port = 0, raftPort = 0, bound = false;
  while (port === 0) {
    if (exited) throw new Error(`server exited before listening:\n${stderr}`);
    const early = bound ? null : /ports bound; starting http="[^"]*:(\d+)" raft="[^"]*:(\d+)"/
      .exec(stderr);
    if (early) {
      bound = true;
      options.onBound?.({ port: Number(early[1]), raftPort: Number(early[2]), pid: process.pid });
    }
    // Other fields (https=, auth=) may stand between http= and raft=.
    const listening = /epochnexus listening http="[^"]*:(\d+)"[^\n]* raft="[^"]*:(\d+)"/.exec(
      stderr,
    );
    if (listening) [port, raftPort] = [Number(listening[1]), Number(listening[2])];
    else if (Date.now() > deadline) {
      process.kill("SIGKILL");
      throw new Error(`server did not log its address within the timeout:\n${stderr}`);
    } else await new Promise((r) => setTimeout(r, 20));
  }
  const url = `${options.caPem ? "https" : "http"}://127.0.0.1:${port}`;
  const client = options.caPem ? Deno.createHttpClient({ caCerts: [options.caPem] }) : undefined;
  const fetchIt: typeof globalThis.fetch = client
    ? (input, init) => fetch(input, { ...init, client })
    : fetch;
  while (true) {
    if (exited) throw new Error(`server exited before answering /ping:\n${stderr}`);
    try {
      const r = await fetchIt(`${url}/ping`);
      await r.body?.cancel();
      if (r.status === 204) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      process.kill("SIGKILL");
      throw new Error(`server did not answer /ping within the timeout:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    port,
    raftPort,
    dataDir,
    process,
    fetch: fetchIt,
    logs: () => stderr,
    async kill9() {
      try {
        process.kill("SIGKILL");
      } catch { /* already gone */ }
      await process.status;
      await pumps;
      client?.close();
    },
    async stop() {
      try {
        process.kill("SIGTERM");
      } catch { /* already gone */ }
      await process.status;
      await pumps;
      client?.close();
    },
  };
}

/** POSTs line protocol to /write and returns the status and body. */
export async function writeLines(
  url: string,
  db: string,
  body: string,
  params = "",
): Promise<{ status: number; body: string }> {
  const r = await fetch(`${url}/write?db=${encodeURIComponent(db)}${params}`, {
    method: "POST",
    body,
  });
  return { status: r.status, body: await r.text() };
}

/** Runs InfluxQL through /query (POST, so statements that change data work). */
export async function query(
  url: string,
  q: string,
  params: Record<string, string> = {},
  // deno-lint-ignore no-explicit-any
): Promise<any> {
  const r = await fetch(`${url}/query`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ q, ...params }).toString(),
  });
  const text = await r.text();
  try {
    return parseExactJson(text);
  } catch {
    throw new Error(`query answered HTTP ${r.status} with non-JSON: ${text.slice(0, 300)}`);
  }
}

/**
 * JSON.parse that keeps integers beyond 2^53 exact as bigint (epoch=ns timestamps, int64 fields),
 * through the reviver's access to the source text.
 */
// deno-lint-ignore no-explicit-any
export function parseExactJson(text: string): any {
  return JSON.parse(
    text,
    (_key, value, context?: { source?: string }) =>
      typeof value === "number" && Number.isInteger(value) && !Number.isSafeInteger(value) &&
        context?.source && /^-?\d+$/.test(context.source)
        ? BigInt(context.source)
        : value,
  );
}
