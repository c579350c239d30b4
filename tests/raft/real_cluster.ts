/**
 * A harness for real Raft clusters: N `kv_server.ts` processes on 127.0.0.1, each with its own
 * data directory, that can be killed with SIGKILL and restarted. Shared by the kill -9 test and
 * the benchmarks.
 * @module
 */

const SERVER = new URL("./kv_server.ts", import.meta.url).pathname;

/** Options of {@linkcode RealCluster.start}. */
export interface RealClusterOptions {
  nodes?: number;
  tickMs?: number;
  snapshotEntries?: number;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A running cluster of kv_server processes. */
export class RealCluster {
  readonly ids: number[];
  readonly ports = new Map<number, number>();
  private readonly procs = new Map<number, Deno.ChildProcess>();
  readonly root: string;
  private readonly options: RealClusterOptions;

  private constructor(root: string, options: RealClusterOptions) {
    this.root = root;
    this.options = options;
    this.ids = Array.from({ length: options.nodes ?? 3 }, (_, i) => i + 1);
    for (const id of this.ids) this.ports.set(id, freePort());
  }

  static async start(options: RealClusterOptions = {}): Promise<RealCluster> {
    const root = await Deno.makeTempDir({ prefix: "raft_real_" });
    const c = new RealCluster(root, options);
    for (const id of c.ids) c.spawn(id);
    for (const id of c.ids) await c.waitUp(id);
    return c;
  }

  url(id: number, path: string): string {
    return `http://127.0.0.1:${this.ports.get(id)}${path}`;
  }

  isUp(id: number): boolean {
    return this.procs.has(id);
  }

  /** Starts node `id` (its data directory persists across restarts). */
  spawn(id: number): void {
    const peers = this.ids.map((p) => `${p}=127.0.0.1:${this.ports.get(p)}`).join(",");
    const args = [
      "run",
      "--allow-all",
      SERVER,
      "--id",
      String(id),
      "--port",
      String(this.ports.get(id)),
      "--dir",
      `${this.root}/n${id}`,
      "--peers",
      peers,
      "--tick-ms",
      String(this.options.tickMs ?? 50),
      "--snapshot-entries",
      String(this.options.snapshotEntries ?? 2000),
    ];
    const quoted = args.map((a) => `'${a}'`).join(" ");
    const log = `${this.root}/n${id}.log`;
    const cmd = new Deno.Command("sh", {
      args: ["-c", `exec '${Deno.execPath()}' ${quoted} >> '${log}' 2>&1`],
      stdin: "null",
      stdout: "null",
      stderr: "null",
      env: { DENO_NO_UPDATE_CHECK: "1" },
    });
    this.procs.set(id, cmd.spawn());
  }

  /** Waits until node `id` answers /status. */
  async waitUp(id: number, timeoutMs = 30_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if ((await this.status(id)) !== null) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`node ${id} did not come up in ${timeoutMs}ms; log: ${this.root}/n${id}.log`);
  }

  /** kill -9. */
  async kill(id: number): Promise<void> {
    const p = this.procs.get(id);
    if (!p) return;
    this.procs.delete(id);
    try {
      p.kill("SIGKILL");
    } catch {
      // already gone
    }
    await p.status;
  }

  /** The node's Raft status, or null when it does not answer. */
  async status(id: number): Promise<Record<string, unknown> | null> {
    if (!this.procs.has(id)) return null;
    try {
      const res = await fetch(this.url(id, "/status"), { signal: AbortSignal.timeout(1_000) });
      if (!res.ok) {
        await res.body?.cancel();
        return null;
      }
      return await res.json();
    } catch {
      return null;
    }
  }

  /** The id of the live leader with the highest term (0 when none). */
  async leader(): Promise<number> {
    let best = 0;
    let bestTerm = -1;
    for (const id of this.ids) {
      const s = await this.status(id);
      if (s && s.role === "leader" && (s.term as number) > bestTerm) {
        best = id;
        bestTerm = s.term as number;
      }
    }
    return best;
  }

  /** Waits for a leader. */
  async waitLeader(timeoutMs = 20_000): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const l = await this.leader();
      if (l) return l;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no leader within ${timeoutMs}ms`);
  }

  /** Kills every node and removes the data (unless `keep`). */
  async stop(keep = false): Promise<void> {
    for (const id of [...this.procs.keys()]) await this.kill(id);
    if (!keep) await Deno.remove(this.root, { recursive: true });
  }
}
