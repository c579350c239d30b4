/**
 * A harness for real Raft clusters: N `kv_server.ts` processes on 127.0.0.1, each with its own
 * data directory, that can be killed with SIGKILL and restarted. Shared by the kill -9 test and
 * the benchmarks.
 *
 * Each process binds port 0 and prints the port it got; only then are the nodes told each
 * other's addresses (POST /peers). A restarted node gets a new port, and the live nodes are told
 * where it moved. No port number is chosen here, so nothing can take it in between.
 * @module
 */

const SERVER = new URL("./kv_server.ts", import.meta.url).pathname;

/** Options of {@linkcode RealCluster.start}. */
export interface RealClusterOptions {
  nodes?: number;
  tickMs?: number;
  snapshotEntries?: number;
}

/** A running cluster of kv_server processes. */
export class RealCluster {
  readonly ids: number[];
  /** The port each node listens on now (a restart moves it). */
  readonly ports = new Map<number, number>();
  private readonly procs = new Map<number, Deno.ChildProcess>();
  readonly root: string;
  private readonly options: RealClusterOptions;

  private constructor(root: string, options: RealClusterOptions) {
    this.root = root;
    this.options = options;
    this.ids = Array.from({ length: options.nodes ?? 3 }, (_, i) => i + 1);
  }

  static async start(options: RealClusterOptions = {}): Promise<RealCluster> {
    const root = await Deno.makeTempDir({ prefix: "raft_real_" });
    const c = new RealCluster(root, options);
    const ports = await Promise.all(c.ids.map((id) => c.#launch(id)));
    for (const [i, id] of c.ids.entries()) c.ports.set(id, ports[i]);
    const addresses = c.#addresses();
    for (const id of c.ids) await c.#post(id, "/peers", addresses);
    for (const id of c.ids) await c.waitUp(id);
    return c;
  }

  url(id: number, path: string): string {
    return `http://127.0.0.1:${this.ports.get(id)}${path}`;
  }

  isUp(id: number): boolean {
    return this.procs.has(id);
  }

  /**
   * Starts node `id` again (its data directory persists across restarts): waits for the port it
   * bound, tells it where the others are and tells the live others where it is now.
   */
  async spawn(id: number): Promise<void> {
    this.ports.set(id, await this.#launch(id));
    const addresses = this.#addresses();
    await this.#post(id, "/peers", addresses);
    for (const other of this.ids) {
      if (other !== id && this.isUp(other)) {
        // A peer killed meanwhile learns it again when it restarts.
        await this.#post(other, "/peers", { [id]: addresses[id] }).catch(() => {});
      }
    }
  }

  #addresses(): Record<number, string> {
    return Object.fromEntries(this.ids.map((id) => [id, `127.0.0.1:${this.ports.get(id)}`]));
  }

  async #post(id: number, path: string, body: unknown): Promise<void> {
    const res = await fetch(this.url(id, path), {
      method: "POST",
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`node ${id} ${path}: ${res.status} ${text}`);
  }

  /** Spawns the process of node `id` and resolves with the port it reports (bounded wait). */
  async #launch(id: number, timeoutMs = 30_000): Promise<number> {
    const args = [
      "run",
      "--allow-all",
      SERVER,
      "--id",
      String(id),
      "--ids",
      this.ids.join(","),
      "--port",
      "0",
      "--dir",
      `${this.root}/n${id}`,
      "--tick-ms",
      String(this.options.tickMs ?? 50),
      "--snapshot-entries",
      String(this.options.snapshotEntries ?? 2000),
    ];
    const quoted = args.map((a) => `'${a}'`).join(" ");
    const log = `${this.root}/n${id}.log`;
    // The log outlives the process (appended across restarts): read this run's lines only.
    await Deno.writeFile(log, new Uint8Array(), { append: true });
    const offset = (await Deno.stat(log)).size;
    const cmd = new Deno.Command("sh", {
      args: ["-c", `exec '${Deno.execPath()}' ${quoted} >> '${log}' 2>&1`],
      stdin: "null",
      stdout: "null",
      stderr: "null",
      env: { DENO_NO_UPDATE_CHECK: "1" },
    });
    const process = cmd.spawn();
    this.procs.set(id, process);
    let exited = false;
    process.status.then(() => (exited = true));
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const text = new TextDecoder().decode((await Deno.readFile(log)).subarray(offset));
      const listening = /^LISTENING (\d+)$/m.exec(text);
      if (listening) return Number(listening[1]);
      if (exited || performance.now() > deadline) {
        throw new Error(
          `node ${id} ${exited ? "exited" : "did not report its port"} before listening; ` +
            `log: ${log}\n${text.slice(-2000)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
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
