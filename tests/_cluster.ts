/**
 * A cluster of real EpochNexus processes on loopback for end-to-end tests: the first node founds
 * it, the others join through the first one's HTTP address (`EPOCHNEXUS_JOIN_ADDRESS`), and the
 * test waits until every node votes in the metadata group. Nodes can be killed (`kill -9`) and
 * restarted on their data folder; every port is 0 (the kernel picks it), so a restarted node
 * comes back on new ports and must make itself reachable again.
 * @module
 */
import { type ServerProcess, startServer } from "./_server.ts";

/** How much of a killed process's log is kept for a failing test's message. */
const PAST_LOG_CHARS = 20_000;

/** One partition as `GET /api/v1/cluster` shows it (the node's own replica: applied index). */
export interface PartitionStatus {
  index: number;
  groupId: number;
  replicas: number[];
  leader: number;
  applied?: number;
  flushedBefore?: number;
}

/** `GET /api/v1/cluster`. */
export interface ClusterStatus {
  clusterId: string;
  nodeId: number;
  metaLeader: number;
  nodes: { id: number; httpAddress: string; raftAddress: string; meta: string }[];
  databases: {
    name: string;
    hash: "fnv1a64" | "xxhash64";
    replicationFactor: number;
    partitions: PartitionStatus[];
  }[];
}

/** Options of {@linkcode startCluster}. */
export interface ClusterOptions {
  /** Nodes. @default {3} */
  size?: number;
  /** Environment of every node. */
  env?: Record<string, string>;
  /** Environment of node `i` (0-based), after `env`. */
  nodeEnv?: (i: number) => Record<string, string>;
  /** How long forming the cluster may take. @default {60000} */
  timeoutMs?: number;
  /** Called when node `i`'s process (at each start) has bound its ports. */
  onBound?: (i: number, bound: { port: number; raftPort: number; pid: number }) => void;
  /** The position of the node that node `i` (> 0) joins through. @default {0} */
  joinThrough?: (i: number) => number;
}

/** A running test cluster. */
export class TestCluster {
  /** The processes by position (0-based); undefined while a node is down. */
  readonly nodes: (ServerProcess | undefined)[];
  /** Node ids by position, as the cluster numbered them. */
  readonly ids: number[] = [];
  readonly dataDirs: string[] = [];
  readonly #options: ClusterOptions;
  /** The logs of processes that are gone (killed or stopped), per position, last ones kept. */
  readonly #pastLogs: string[][] = [];

  private constructor(size: number, options: ClusterOptions) {
    this.nodes = new Array(size).fill(undefined);
    this.#options = options;
  }

  /** Starts `size` nodes and waits until all of them vote in the metadata group. */
  static async start(options: ClusterOptions = {}): Promise<TestCluster> {
    const size = options.size ?? 3;
    const cluster = new TestCluster(size, options);
    const timeoutMs = options.timeoutMs ?? 60_000;
    try {
      for (let i = 0; i < size; i++) {
        const join: Record<string, string> = i === 0 ? {} : {
          EPOCHNEXUS_JOIN_ADDRESS: `127.0.0.1:${cluster.node(options.joinThrough?.(i) ?? 0).port}`,
        };
        const node = await startServer({
          env: { ...cluster.#env(i), ...join },
          timeoutMs,
          onBound: (bound) => options.onBound?.(i, bound),
        });
        cluster.nodes[i] = node;
        cluster.dataDirs[i] = node.dataDir;
        cluster.ids[i] = (await cluster.status(i)).nodeId;
      }
      await cluster.waitFor("every node votes in the metadata group", timeoutMs, async () => {
        const status = await cluster.status(0);
        return status.nodes.length === size && status.nodes.every((n) => n.meta === "voter");
      });
    } catch (error) {
      // The others' logs say why a node could not join (say, no leader reached it).
      const logs = cluster.logs().slice(-30_000);
      await cluster.stop();
      throw new Error(`${(error as Error).message}\n${logs}`, { cause: error });
    }
    return cluster;
  }

  #env(i: number): Record<string, string> {
    return { ...this.#options.env, ...this.#options.nodeEnv?.(i) };
  }

  /** The running process at position `i`. */
  node(i: number): ServerProcess {
    const node = this.nodes[i];
    if (!node) throw new Error(`BUG: node ${i} is not running`);
    return node;
  }

  /** Positions of the running nodes. */
  running(): number[] {
    return this.nodes.flatMap((n, i) => (n ? [i] : []));
  }

  url(i: number): string {
    return this.node(i).url;
  }

  /** `GET /api/v1/cluster` of node `i`. */
  async status(i: number): Promise<ClusterStatus> {
    const r = await fetch(`${this.url(i)}/api/v1/cluster`, { signal: AbortSignal.timeout(10_000) });
    if (!r.ok) {
      throw new Error(`GET /api/v1/cluster of node ${i}: HTTP ${r.status} ${await r.text()}`);
    }
    return await r.json();
  }

  /** `kill -9` node `i`. */
  async kill9(i: number): Promise<void> {
    const node = this.node(i);
    this.nodes[i] = undefined;
    await node.kill9();
    const past = this.#pastLogs[i] ??= [];
    past.push(node.logs().slice(-PAST_LOG_CHARS));
    if (past.length > 3) past.shift();
  }

  /** Starts node `i` again on its data folder (on new ports) and waits until it answers. */
  async restart(i: number, options: { timeoutMs?: number } = {}): Promise<ServerProcess> {
    if (this.nodes[i]) throw new Error(`BUG: node ${i} is running`);
    const node = await startServer({
      dataDir: this.dataDirs[i],
      env: this.#env(i),
      timeoutMs: options.timeoutMs ?? 60_000,
      onBound: (bound) => this.#options.onBound?.(i, bound),
    });
    this.nodes[i] = node;
    return node;
  }

  /**
   * Polls `condition` until it holds; fails naming `what` after `timeoutMs`. A condition that
   * throws counts as not holding (a node may be restarting); its last error is reported.
   */
  async waitFor(what: string, timeoutMs: number, condition: () => Promise<boolean>) {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (let attempt = 0; attempt < 100_000; attempt++) {
      try {
        if (await condition()) return;
      } catch (error) {
        last = error;
      }
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${last})` : ""}`);
  }

  /**
   * The applied index of every replica of a database's partitions, per group: node position ->
   * applied, from each running node's own status.
   */
  async applied(database: string): Promise<Map<number, Map<number, number>>> {
    const byGroup = new Map<number, Map<number, number>>();
    for (const i of this.running()) {
      const db = (await this.status(i)).databases.find((d) => d.name === database);
      for (const p of db?.partitions ?? []) {
        if (p.applied === undefined) continue;
        let nodes = byGroup.get(p.groupId);
        if (!nodes) byGroup.set(p.groupId, nodes = new Map());
        nodes.set(i, p.applied);
      }
    }
    return byGroup;
  }

  /** Waits until every replica of every partition of `database` has applied the same index. */
  async waitConverged(database: string, timeoutMs: number): Promise<void> {
    let last = "";
    await this.waitFor(`replicas of ${database} converge`, timeoutMs, async () => {
      const groups = await this.applied(database);
      last = JSON.stringify([...groups].map(([g, nodes]) => [g, [...nodes]]));
      return groups.size > 0 &&
        [...groups.values()].every((nodes) =>
          nodes.size === this.running().length && new Set(nodes.values()).size === 1
        );
    }).catch((error) => {
      throw new Error(`${error.message}; applied by group: ${last}`);
    });
  }

  /** Stops every running node (SIGTERM) and removes the data folders. */
  async stop(options: { keepData?: boolean } = {}): Promise<void> {
    await Promise.all(this.running().map((i) => this.node(i).stop()));
    this.nodes.fill(undefined);
    if (options.keepData) return;
    for (const dir of this.dataDirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }

  /** Every node's log (the tails of its last killed runs first), labelled, for a failing test. */
  logs(): string {
    return this.nodes.map((n, i) =>
      [
        ...(this.#pastLogs[i] ?? []).map((text) => `--- node ${i}, killed run (tail)\n${text}`),
        `--- node ${i}${n ? "" : " (down)"}\n${n?.logs() ?? ""}`,
      ].join("\n")
    ).join("\n");
  }
}
