/**
 * A fault-injecting TCP proxy for node-to-node traffic on loopback: a node advertises the proxy's
 * address (`EPOCHNEXUS_RAFT_ADVERTISE_ADDRESS`) and the proxy forwards every connection to the
 * node's own node-to-node port, unless the process that opened it is cut off: its connections
 * are then swallowed (accepted, read and never answered, as packets into a partition are), and
 * the connections it had are cut. Healing closes the swallowed connections; clients reconnect.
 *
 * Who opened a connection is read from the kernel: the client end of the connection (its local
 * port is the accepted connection's remote port) is a socket inode in /proc/net/tcp, held by an
 * fd of one of the candidate processes (/proc/<pid>/fd). Linux only, like the tests' CI.
 * @module
 */

interface Link {
  client: Deno.TcpConn;
  upstream?: Deno.Conn;
  /** The pid of the process that opened it (undefined: not one of the candidates). */
  source: number | undefined;
}

/** A running proxy. */
export class FaultProxy {
  readonly port: number;
  /** Pids whose connections are swallowed. */
  readonly #cut = new Set<number>();
  readonly #links = new Set<Link>();
  readonly #listener: Deno.TcpListener;
  readonly #candidates: () => number[];
  #target = 0;
  #accepting: Promise<void>;

  private constructor(listener: Deno.TcpListener, candidates: () => number[]) {
    this.#listener = listener;
    this.#candidates = candidates;
    this.port = listener.addr.port;
    this.#accepting = this.#accept();
  }

  /**
   * Listens on 127.0.0.1, port 0. `candidates` lists the pids that may connect (the nodes), to
   * tell which one opened a connection.
   */
  static start(candidates: () => number[]): FaultProxy {
    return new FaultProxy(Deno.listen({ hostname: "127.0.0.1", port: 0 }), candidates);
  }

  /** Where connections go (the node's node-to-node port); until set they are refused. */
  setTarget(port: number): void {
    this.#target = port;
  }

  /**
   * Swallows the connections of these processes from now on, and cuts those they have. A link
   * whose owner was not known when it was accepted (opened before the test learned the node's
   * pid) is looked up again now: one of theirs is cut, and one whose owner still cannot be
   * named is cut too (it might carry their messages across the partition; its owner reconnects
   * and is named then). Await it before relying on the cut.
   */
  async cut(pids: readonly number[]): Promise<void> {
    for (const pid of pids) this.#cut.add(pid);
    const unknown: Link[] = [];
    for (const link of this.#links) {
      if (link.source === undefined) unknown.push(link);
      else if (this.#cut.has(link.source)) close(link);
    }
    await Promise.all(unknown.map(async (link) => {
      link.source = await this.#ownerOf(link.client);
      if (link.source === undefined || this.#cut.has(link.source)) close(link);
    }));
  }

  /** Who opened `client`, asked a few times: /proc may not show a brand-new socket at once. */
  async #ownerOf(client: Deno.TcpConn): Promise<number | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const owner = await ownerOf(client, this.port, this.#candidates()).catch(() => undefined);
      if (owner !== undefined) return owner;
      await new Promise((r) => setTimeout(r, 20));
    }
    return undefined;
  }

  /** Forwards every connection again; the swallowed ones are closed. */
  heal(): void {
    this.#cut.clear();
    for (const link of this.#links) if (link.upstream === undefined) close(link);
  }

  #closed = false;

  async close(): Promise<void> {
    this.#closed = true;
    this.#listener.close();
    for (const link of this.#links) close(link);
    await this.#accepting;
  }

  /**
   * Accepts until closed. A failed accept (too many open files in a busy test process) is said on
   * stderr and the loop goes on: ending it would leave every later connection hanging unanswered.
   */
  async #accept(): Promise<void> {
    for (let failures = 0; !this.#closed && failures < 10_000;) {
      let client: Deno.TcpConn;
      try {
        client = await this.#listener.accept();
      } catch (error) {
        if (this.#closed) return;
        failures++;
        console.error(`fault proxy ${this.port}: accept failed, accepting again: ${error}`);
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      this.#serve(client).catch(() => close({ client, source: undefined }));
    }
  }

  async #serve(client: Deno.TcpConn): Promise<void> {
    // Who opened it (for cut()); unknown when /proc cannot tell, and the link still forwards.
    const source = await this.#ownerOf(client);
    const link: Link = { client, source };
    this.#links.add(link);
    try {
      if (this.#target === 0) return;
      // During a cut, a connection whose owner /proc could not name is swallowed too: forwarding
      // it might carry a cut node's messages across the partition.
      const unknown = link.source === undefined && this.#cut.size > 0;
      if (unknown || (link.source !== undefined && this.#cut.has(link.source))) {
        // Into the partition: read and drop until healed (heal() closes it).
        for await (const _ of client.readable) { /* dropped */ }
        return;
      }
      link.upstream = await Deno.connect({ hostname: "127.0.0.1", port: this.#target });
      await Promise.all([
        client.readable.pipeTo(link.upstream.writable),
        link.upstream.readable.pipeTo(client.writable),
      ]);
    } catch {
      /* either end closed or was cut */
    } finally {
      close(link);
      this.#links.delete(link);
    }
  }
}

function close(link: Link): void {
  for (const conn of [link.client, link.upstream]) {
    try {
      conn?.close();
    } catch { /* already closed */ }
  }
}

/** The pid, among `pids`, holding the client end of an accepted loopback connection. */
async function ownerOf(
  accepted: Deno.TcpConn,
  proxyPort: number,
  pids: readonly number[],
): Promise<number | undefined> {
  const clientPort = (accepted.remoteAddr as Deno.NetAddr).port;
  const hex = (port: number) => port.toString(16).toUpperCase().padStart(4, "0");
  const table = await readProc(["cat", "/proc/net/tcp"]);
  // A connection closed earlier between the same ports may still be listed (TIME_WAIT, inode 0,
  // ports are reused quickly when a full test run opens thousands): the live one has an inode.
  let inode: string | undefined;
  for (const line of table.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[9] === "0") continue;
    if (f[1].endsWith(`:${hex(clientPort)}`) && f[2].endsWith(`:${hex(proxyPort)}`)) {
      inode = f[9];
      break;
    }
  }
  if (inode === undefined) return undefined;
  const socket = `socket:[${inode}]`;
  for (const pid of pids) {
    const fds = await readProc(["ls", "-l", `/proc/${pid}/fd`]).catch(() => "");
    if (fds.split("\n").some((line) => line.endsWith(`-> ${socket}`))) return pid;
  }
  return undefined;
}

/**
 * A /proc listing through a child process: Deno reads /proc itself only with --allow-all, which
 * `deno task test` does not grant (its --allow-run does allow this).
 */
async function readProc(command: string[]): Promise<string> {
  const out = await new Deno.Command(command[0], { args: command.slice(1), stderr: "null" })
    .output();
  return new TextDecoder().decode(out.stdout);
}
