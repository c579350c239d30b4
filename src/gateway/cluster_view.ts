/**
 * The gateway's copy of the cluster's members and partition leaders, read over Connect
 * (`ClusterService.ReadMeta`) from any node that answers, kept for a short while and read again
 * when it is older than its time to live or when an answer showed it stale (a node it named
 * could not be reached). It lives in memory only: every gateway copy reads its own.
 * @module
 */
import { type Clock, EpochError, type Logger } from "../core/mod.ts";
import type { MetaView } from "../cluster/mod.ts";
import { baseUrl } from "./config.ts";

/** A member, by the base URLs of its two ports. */
export interface GatewayNode {
  id: number;
  /** Where its HTTP API answers (`http://host:port`): requests are forwarded there. */
  http: string;
  /** Where its node-to-node services answer: the metadata is read there. */
  raft: string;
}

/** What requests are routed by. */
export interface RoutingTable {
  clusterId: string;
  /** The metadata index of the copy it was read from. */
  appliedIndex: number;
  /** Monotonic time it was read at. */
  readAtMs: number;
  nodes: GatewayNode[];
  /** Database -> node id -> how many of its partitions that node was last seen leading. */
  leaders: Map<string, Map<number, number>>;
  /** The metadata as read (queries are planned over its databases and partitions). */
  meta: MetaView;
}

/** Options of {@linkcode ClusterView}. */
export interface ClusterViewOptions {
  /** Node-to-node base URLs to start from. */
  seeds: string[];
  ttlMs: number;
  /** Reads one node's metadata copy (`readClusterMeta`; tests pass their own). */
  read: (raftBaseUrl: string, clusterId: string) => Promise<MetaView>;
  clock: Clock;
  logger: Logger;
}

/** The cached metadata of one gateway copy. */
export class ClusterView {
  readonly #options: ClusterViewOptions;
  #table: RoutingTable | undefined;
  #stale = false;
  #reading: Promise<RoutingTable> | undefined;
  /** The node that answered last is asked first next time. */
  #lastSource: string | undefined;

  constructor(options: ClusterViewOptions) {
    this.#options = options;
  }

  /** The routing table, read again first when it is stale or too old. */
  async table(): Promise<RoutingTable> {
    const t = this.#table;
    const age = t ? this.#options.clock.monotonicMs() - t.readAtMs : Infinity;
    if (t && !this.#stale && age < this.#options.ttlMs) return t;
    try {
      return await this.refresh();
    } catch (error) {
      // A copy a little old still routes: nodes forward what reaches the wrong one.
      if (t) {
        this.#options.logger.warn("cluster metadata not refreshed; using the last copy", {
          error: String(error),
        });
        return t;
      }
      throw error;
    }
  }

  /**
   * Marks the copy stale: the next request reads it again. With `minAgeMs`, only a copy at least
   * that old: an answer that only hints at staleness (a leader other than the copy's) must not
   * cost a metadata read per request while the metadata itself has not caught up. True when
   * this call marked it.
   */
  invalidate(minAgeMs = 0): boolean {
    const t = this.#table;
    if (this.#stale || (t && this.#options.clock.monotonicMs() - t.readAtMs < minAgeMs)) {
      return false;
    }
    this.#stale = true;
    return true;
  }

  /** Reads the metadata now (one read at a time; concurrent callers share it). */
  refresh(): Promise<RoutingTable> {
    this.#reading ??= this.#read().finally(() => (this.#reading = undefined));
    return this.#reading;
  }

  async #read(): Promise<RoutingTable> {
    const failures: string[] = [];
    for (const source of this.#sources()) {
      try {
        const view = await this.#options.read(source, this.#table?.clusterId ?? "");
        this.#lastSource = source;
        this.#stale = false;
        this.#table = this.#tableOf(view, source);
        return this.#table;
      } catch (error) {
        failures.push(`${source}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    throw new EpochError(
      "unavailable",
      `no cluster node answered the metadata read (${failures.join("; ")})`,
    );
  }

  /** Where to read: the last source, the members last seen, then the configured seeds. */
  #sources(): string[] {
    const out = new Set<string>();
    if (this.#lastSource) out.add(this.#lastSource);
    for (const n of this.#table?.nodes ?? []) out.add(n.raft);
    for (const s of this.#options.seeds) out.add(s);
    return [...out];
  }

  #tableOf(view: MetaView, source: string): RoutingTable {
    const scheme = new URL(source).protocol.replace(":", "");
    const leaders = new Map<string, Map<number, number>>();
    for (const db of view.databases) {
      const counts = new Map<number, number>();
      for (const p of db.partitions) {
        if (p.leaderHint > 0) counts.set(p.leaderHint, (counts.get(p.leaderHint) ?? 0) + 1);
      }
      leaders.set(db.name, counts);
    }
    return {
      clusterId: view.clusterId,
      appliedIndex: view.appliedIndex,
      readAtMs: this.#options.clock.monotonicMs(),
      nodes: view.nodes.map((n) => ({
        id: n.id,
        http: baseUrl(n.httpAddress, scheme),
        raft: baseUrl(n.raftAddress, scheme),
      })),
      leaders,
      meta: view,
    };
  }
}

/**
 * The node that leads most of a database's partitions (by the leaders last reported), when one
 * leads more than any other: a write sent there has the fewest points to hand on.
 */
export function likelyWriteLeader(table: RoutingTable, database: string): number | undefined {
  const counts = table.leaders.get(database);
  if (!counts) return undefined;
  let best: number | undefined;
  let most = 0;
  let tie = false;
  for (const [node, n] of counts) {
    if (n > most) [best, most, tie] = [node, n, false];
    else if (n === most) tie = true;
  }
  return tie ? undefined : best;
}
