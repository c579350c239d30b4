/**
 * Starts the gateway as a real process, as its README section does: `deno serve` with the
 * permissions of the `gateway` task in deno.json, on a loopback port 0 read back from its output.
 * Also starts the cluster the gateway tests route to.
 * @module
 */
import { type ServerProcess, startServer } from "../_server.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** The `gateway` task's words: its permission flags and its entry module. */
export const GATEWAY_TASK: { permissions: string[]; entry: string } = (() => {
  const tasks = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks;
  const words = String(tasks.gateway).split(/\s+/);
  return {
    permissions: words.filter((w) => w.startsWith("--allow-")),
    entry: words[words.length - 1],
  };
})();

/** A running gateway process. */
export interface GatewayProcess {
  url: string;
  logs(): string;
  kill9(): Promise<void>;
  stop(): Promise<void>;
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number>;
}

/** Starts `deno serve` of the gateway; rejects with its output if it exits or never listens. */
export async function startGateway(
  env: Record<string, string>,
  timeoutMs = 30_000,
  /** Another checkout to run (its folder, ending in `/`): a benchmark's baseline. */
  root = ROOT,
): Promise<GatewayProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "serve",
      ...GATEWAY_TASK.permissions,
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      `${root}${GATEWAY_TASK.entry}`,
    ],
    cwd: root,
    // Only what the process is given: a Deploy-like host sets no more.
    clearEnv: true,
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1", HOME: Deno.env.get("HOME") ?? "/", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const decoder = new TextDecoder();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) output += decoder.decode(chunk, { stream: true });
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]).catch(() => {});
  let code: number | undefined;
  const exited = child.status.then((s) => (code = s.code));
  const deadline = Date.now() + timeoutMs;
  let url: string | undefined;
  while (url === undefined) {
    const listening = /Listening on (http:\/\/127\.0\.0\.1:\d+)\//.exec(output);
    if (listening) url = listening[1];
    else if (code !== undefined) {
      await pumps;
      throw new Error(`gateway exited (code ${code}) before listening:\n${output}`);
    } else if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`gateway did not listen within ${timeoutMs} ms:\n${output}`);
    } else await new Promise((r) => setTimeout(r, 20));
  }
  const end = async (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch { /* already gone */ }
    await child.status;
    await pumps;
  };
  return {
    url,
    logs: () => output,
    kill9: () => end("SIGKILL"),
    stop: () => end("SIGTERM"),
    exited,
  };
}

/** Where a node's node-to-node services answer, from its start line. */
export function raftAddress(node: ServerProcess): string {
  const m = /epochnexus listening .*raft="([^"]+)"/.exec(node.logs());
  if (!m) throw new Error(`no raft address in the node's log:\n${node.logs()}`);
  return m[1];
}

/**
 * Starts `n` nodes sharing `secret` (the first founds the cluster, the others join it) and waits
 * (bounded) until min(n, 3) of them vote in the metadata group.
 */
export async function startCluster(
  n: number,
  env: Record<string, string>,
  headers: Record<string, string> = {},
  beforeJoins?: (first: ServerProcess) => Promise<void>,
): Promise<ServerProcess[]> {
  const first = await startServer({ env });
  const nodes = [first];
  try {
    await beforeJoins?.(first);
    for (let i = 1; i < n; i++) {
      nodes.push(
        await startServer({ env: { ...env, EPOCHNEXUS_JOIN_ADDRESS: `127.0.0.1:${first.port}` } }),
      );
    }
    const deadline = Date.now() + 60_000;
    for (;;) {
      const status = await (await fetch(`${first.url}/api/v1/cluster`, { headers })).json();
      const voters = status.nodes?.filter((x: { meta: string }) => x.meta === "voter").length;
      if (voters >= Math.min(n, 3)) return nodes;
      if (Date.now() > deadline) throw new Error(`voters not ready: ${JSON.stringify(status)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (error) {
    await Promise.all(nodes.map((s) => s.kill9()));
    throw error;
  }
}
