/**
 * A cluster node: the metadata group's member, the partition replicas the metadata places here,
 * and the bookkeeping that keeps them in step with the metadata (start the groups of new
 * partitions, stop and delete dropped ones, flush heads within the node's memory budget,
 * propose retention's drops). Writes and queries go through {@linkcode ClusterStore}.
 * @module
 */
import {
  type Clock,
  CorruptionError,
  EpochError,
  type FileSystem,
  type Histogram,
  type Logger,
  MAX_TIME_NS,
  MIN_TIME_NS,
  type Point,
  type Rng,
} from "../core/mod.ts";
import {
  EMPTY_HARD_STATE,
  type RaftNode,
  type RaftStatus,
  type RecoveredState,
  SharedRaftLog,
  SharedTicker,
  type Timers,
} from "../raft/mod.ts";
import { BlockCache, type EngineOptions } from "../storage/mod.ts";
import { expiredGroups } from "../storage/retention.ts";
import type { PartitionHash, PartitionKey } from "./hash.ts";
import { MetaGroup } from "./meta/meta_group.ts";
import { addressesAfter } from "./meta/log_addresses.ts";
import {
  META_GROUP_ID,
  type MetaCommand,
  type MetaResult,
  type RetentionPolicyMeta,
  sameMembers,
  shardGroupAt,
  type ShardGroupInfo,
} from "./meta/meta_state.ts";
import { isMoving, planRebalance } from "./meta/rebalance.ts";
import { localBytes, measureOnLeaders, PartitionBytes } from "./partition_bytes.ts";
import type {
  ClusterNetwork,
  JoinAnswer,
  JoinRequest,
  MetaView,
  PartitionBytesAnswer,
  PartitionBytesRequest,
  PartitionWrite,
  PartitionWriteAnswer,
} from "./network.ts";
import { type MoveStep, nextMoveStep } from "./partition/move_step.ts";
import { PartitionReplica } from "./partition/replica.ts";
import { leaseReadIndexes } from "./read_round.ts";
import type { BackupExport, SnapshotChunk } from "./partition/snapshot.ts";
import { discardReplicaFolder, removeDiscardedFolders } from "./partition/discard.ts";
import {
  deleteOnReplica,
  describeReplica,
  selectReplica,
  sizesOnReplica,
} from "./partition_reads.ts";
import type { QueryLimits } from "../query/mod.ts";

/** A metric family read at each scrape (the HTTP room's `SampledFamily`). */
export type MetricFamily =
  | {
    name: string;
    help: string;
    type: "counter" | "gauge";
    samples: { labels: Record<string, string>; value: number }[];
  }
  | {
    name: string;
    help: string;
    type: "histogram";
    histograms: { labels: Record<string, string>; histogram: Histogram }[];
  };

/** Bytes of shared Raft log past which the groups that keep its oldest segment compact. */
const LOG_TRIM_BYTES = 4 * 1024 * 1024;
/** The same when every head is flushed: a quiet node keeps no more log than this. */
const QUIET_LOG_BYTES = 64 * 1024;
/** A learner this close to the commit index (in entries) is caught up enough to vote. */
const MOVE_CATCH_UP_SLACK = 64;

/** Cluster-wide defaults for new databases and the metadata group. */
export interface ClusterDefaults {
  /** Partitions of a new database; 0 = max(4, 2 × nodes). */
  partitions: number;
  /** Replicas per partition; 0 = min(3, nodes). */
  replicationFactor: number;
  hash: PartitionHash;
  hashKey: PartitionKey;
  /** Voters of the metadata group (3 or 5); other nodes follow as learners. */
  metaVoters: number;
}

/** The default defaults. */
export const CLUSTER_DEFAULTS: ClusterDefaults = {
  partitions: 0,
  replicationFactor: 0,
  hash: "fnv1a64",
  hashKey: "series",
  metaVoters: 3,
};

/** Who this node is in which cluster (kept in `<data>/cluster.json`). */
export interface NodeIdentity {
  clusterId: string;
  nodeId: number;
  /** True on the node that founded the cluster, at its first start. */
  bootstrap: boolean;
}

/** Options of {@linkcode ClusterNode.start}. */
export interface ClusterNodeOptions {
  dataDir: string;
  identity: NodeIdentity;
  /** This node's addresses, as other nodes and clients reach them. */
  httpAddress: string;
  raftAddress: string;
  version: string;
  network: ClusterNetwork;
  fs: FileSystem;
  clock: Clock;
  rng: Rng;
  logger: Logger;
  sleep: (ms: number) => Promise<void>;
  timers?: Timers;
  defaults?: Partial<ClusterDefaults>;
  /** Engine settings of every partition replica. */
  engine?: Partial<
    Omit<EngineOptions, "dir" | "fs" | "clock" | "logger" | "openLog" | "maintenanceIntervalMs">
  >;
  /** Heads of all replicas together are flushed past this. @default {25 MiB} */
  flushHeadBytes?: number;
  /** Log entries a partition leader keeps behind a flush for lagging replicas. @default {1000} */
  retainEntries?: number;
  /** Raft timing. @default {100 ms ticks, 10 ticks per election} */
  tickMs?: number;
  electionTicks?: number;
  requestTimeoutMs?: number;
  /** Period of the background task; 0 = none (tests call maintain()). @default {1000} */
  maintenanceIntervalMs?: number;
  /** A node unheard of this long is lost: its replicas are made again elsewhere. @default {5 min} */
  deadNodeTimeoutMs?: number;
  /** Partitions moving replicas at once, cluster-wide. @default {2} */
  maxMoves?: number;
  /** Snapshot bytes a node sends per second (moves and lagging replicas); 0 = unbounded. */
  rebalanceBytesPerSec?: number;
  /** Whether the metadata leader moves replicas by itself (join, loss, drain). @default {true} */
  rebalance?: boolean;
  /** Bytes move between nodes of even counts only past this gap too. @default {64 MiB} */
  rebalanceMinByteGap?: number;
  /** How often partitions' bytes are measured (status, rebalancing). @default {10 s} */
  partitionBytesRefreshMs?: number;
}

/** A running cluster node. */
export class ClusterNode {
  readonly nodeId: number;
  readonly clusterId: string;
  meta!: MetaGroup;
  readonly defaults: ClusterDefaults;
  readonly replicas = new Map<number, PartitionReplica>();
  /**
   * Partition parts this node's write router wrote here (it leads) or handed to the leader on
   * another node: a writer that sends each part to its leader (a gateway) keeps `peer` at 0.
   */
  readonly partitionWrites = { local: 0, peer: 0 };
  /** The server's query limits (set by `serve`), reported to gateways in the metadata view. */
  queryLimits: QueryLimits | undefined;
  /**
   * Schemas' `max_bytes` per measurement (set by the server once its schemas are open); this
   * node's partition leaders enforce a share of each, as the policies' limits.
   */
  measurementMaxBytes: () => ReadonlyMap<string, number> = () => new Map();
  readonly #opening = new Map<number, Promise<PartitionReplica | undefined>>();
  readonly #options: ClusterNodeOptions;
  #timer: ReturnType<Timers["setInterval"]> | undefined;
  #maintaining: Promise<void> | undefined;
  #reconciling: Promise<void> = Promise.resolve();
  #closed = false;
  #log!: SharedRaftLog;
  /** One tick timer for every Raft group of the node (their heartbeats leave together). */
  readonly #ticker: SharedTicker;
  /**
   * One cache of decoded blocks for every replica of the node: its bound (the engine's
   * `blockCacheValues`) is the node's, not one per partition.
   */
  readonly blockCache: BlockCache;
  #recovered = new Map<number, RecoveredState>();

  private constructor(options: ClusterNodeOptions) {
    this.#options = options;
    this.nodeId = options.identity.nodeId;
    this.clusterId = options.identity.clusterId;
    this.defaults = { ...CLUSTER_DEFAULTS, ...options.defaults };
    this.#ticker = new SharedTicker({ timers: options.timers });
    this.blockCache = new BlockCache(
      options.engine?.blockCacheValues ?? 4_000_000,
      options.engine?.blockCacheBytes,
    );
    this.partitionBytes = new PartitionBytes(options.partitionBytesRefreshMs ?? 10_000);
  }

  /** Starts the metadata member, then the replicas the metadata places here. */
  static async start(options: ClusterNodeOptions): Promise<ClusterNode> {
    const node = new ClusterNode(options);
    const { fs, dataDir, network, identity } = options;
    await fs.mkdir(dataDir);
    await fs.mkdir(`${dataDir}/partitions`);
    await removeDiscardedFolders(fs, `${dataDir}/partitions`);
    // Every Raft group of the node writes to one log: one fdatasync per round for all of them.
    // Damage before its tail stops the node with the file and offset, every file left as it is:
    // cutting it would lose what a group this node alone holds acknowledged.
    const opened = await SharedRaftLog.open({
      fs,
      dir: `${dataDir}/raft`,
      logger: options.logger,
      failOnCorruption: true,
      now: () => options.clock.monotonicMs(),
    });
    for (const [group, error] of opened.failed) {
      throw new CorruptionError(error.file, error.offset, `raft group ${group}: ${error.message}`);
    }
    node.#log = opened.log;
    node.#recovered = opened.groups;
    const state = node.#recoveredState(META_GROUP_ID);
    const fresh = isFresh(state);
    node.meta = await MetaGroup.start({
      nodeId: node.nodeId,
      peers: identity.bootstrap && fresh ? [node.nodeId] : undefined,
      storage: opened.log.group(META_GROUP_ID),
      recovered: state,
      transport: network.transport(META_GROUP_ID),
      rng: options.rng,
      clock: options.clock,
      sleep: options.sleep,
      timers: node.#ticker.timers,
      logger: options.logger,
      tickMs: options.tickMs,
      electionTicks: options.electionTicks,
      requestTimeoutMs: options.requestTimeoutMs,
      forward: (leader, command) => network.peers.proposeMeta(leader, command),
    });
    const reconcile = () => {
      node.#reconcile().catch((error) => {
        options.logger.error("partition reconcile failed", { error: String(error) });
      });
    };
    node.meta.state.events = {
      nodesChanged: () => node.#syncPeers(),
      partitionsChanged: reconcile,
      databaseDropped: reconcile,
    };
    node.#syncPeers();
    network.serve({
      proposeMeta: (command) => {
        // A member back on new addresses is reachable from here at once, before its change
        // commits: a group without a leader may need this node's vote to elect one.
        if (command.op === "update_node" && command.id !== node.nodeId) {
          network.setPeer(command.id, command.raftAddress);
        }
        return node.meta.proposeAsLeader(command);
      },
      writePartition: (write) => node.writeLocalPartition(write),
      join: (request) => node.admit(request),
      describe: async (request) =>
        describeReplica(await node.heldReplica(request.groupId), request),
      select: async (request) =>
        selectReplica(
          await node.heldReplica(request.groupId),
          request,
          () => options.clock.monotonicMs(),
        ),
      deletePartition: async (request) =>
        deleteOnReplica(await node.heldReplica(request.groupId), request),
      fetchSnapshot: (request) =>
        request.backup
          ? node.#exportBackup(request.groupId, request.backup)
          : node.#exportSnapshot(request.groupId, request.minIndex),
      readMeta: () => node.metaView(),
      partitionSizes: async (request) =>
        sizesOnReplica(await node.heldReplica(request.groupId), request.database),
      partitionBytes: (request) => node.#partitionBytesAnswer(request),
      readIndexes: (groupIds) =>
        leaseReadIndexes(
          groupIds,
          (id) => id === META_GROUP_ID ? node.meta.raft : node.replicas.get(id)?.raft,
        ),
    });
    node.meta.campaignIfAlone();
    if (identity.bootstrap && fresh) {
      node.meta.raft.campaign();
      await node.proposeMeta({
        op: "add_node",
        httpAddress: options.httpAddress,
        raftAddress: options.raftAddress,
        version: options.version,
      });
    }
    if (!fresh) {
      // A node that comes back at other addresses (port 0, a new host) says so first: until the
      // metadata has them, no member can reach it. Its copy first applies what it had committed.
      await node.meta.waitApplied(state.hardState.commit, options.requestTimeoutMs ?? 10_000)
        .catch(() => {});
      node.#tryNewerAddresses(state);
      await node.#announceAddresses();
    }
    // Serve from a copy that is current: replay what the group committed before this start.
    await node.meta.sync().catch((error) => {
      options.logger.warn("metadata not confirmed current at start (no quorum yet?)", {
        error: String(error),
      });
    });
    // At start a replica that cannot open because its log is damaged (a log it alone may hold)
    // stops the node; another failure (a transient one: too many open files) is logged and the
    // pass run again, a few times.
    node.#reconcileReady = true;
    for (let attempt = 1;; attempt++) {
      try {
        await node.#reconcile();
        break;
      } catch (error) {
        if (error instanceof CorruptionError || attempt >= 3) throw error;
        options.logger.error("partition replicas not opened at start; trying again", {
          attempt,
          error: String(error),
        });
        await options.sleep(100 * attempt);
      }
    }
    const every = options.maintenanceIntervalMs ?? 1000;
    if (every > 0) {
      const timers = options.timers ?? globalThis;
      node.#timer = timers.setInterval(() => {
        if (node.#maintaining) return;
        node.#maintaining = node.maintain().catch((error) => {
          options.logger.error("cluster maintenance failed", { error: String(error) });
        }).finally(() => node.#maintaining = undefined);
      }, every);
    }
    return node;
  }

  /** The node's network (transports and peer calls). */
  get network(): ClusterNetwork {
    return this.#options.network;
  }

  /**
   * Sends to the members moved by stored metadata entries this node has not applied (their
   * commit was not recorded when it stopped): newer than what the metadata says (see
   * log_addresses.ts). Applying those entries later sets the same addresses.
   */
  #tryNewerAddresses(state: RecoveredState): void {
    const newer = addressesAfter(state.entries, this.meta.raft.appliedIndex, this.nodeId);
    for (const [id, address] of newer) this.#options.network.setPeer(id, address);
  }

  /** True when the metadata names this node at the addresses it runs on. */
  #addressesCurrent(): boolean {
    const me = this.meta.state.nodes.get(this.nodeId);
    const { httpAddress, raftAddress } = this.#options;
    return me !== undefined && me.httpAddress === httpAddress &&
      me.raftAddress === raftAddress && me.version === this.#options.version;
  }

  /**
   * A node restarted on other addresses (port 0, another host) tells the metadata group through
   * any member it can reach. Until it does, the others send to its old address and it hears
   * nothing: no leader, no replication, no reads. Runs at start (after the copy replayed the
   * stored log) and again from {@linkcode maintain} until it is done.
   * Needs one member at its recorded address: a cluster whose nodes all moved at once needs
   * fixed ports or a new join.
   */
  async #announceAddresses(timeoutMs = 10_000): Promise<void> {
    const { clock, sleep, network, logger } = this.#options;
    const deadline = clock.monotonicMs() + timeoutMs;
    if (this.#addressesCurrent()) return;
    const command: MetaCommand = {
      op: "update_node",
      id: this.nodeId,
      httpAddress: this.#options.httpAddress,
      raftAddress: this.#options.raftAddress,
      version: this.#options.version,
    };
    let lastError: unknown;
    for (let round = 0; round < 100 && clock.monotonicMs() < deadline; round++) {
      // The leader it knows of first, then every other member; a refusal names the leader.
      const known = this.meta.leader();
      const others = [...this.meta.state.nodes.keys()].filter((id) => id !== this.nodeId);
      const targets = [...new Set([known, ...others])].filter((id) => id !== 0);
      for (let i = 0; i < targets.length; i++) {
        try {
          if (targets[i] === this.nodeId) await this.meta.proposeAsLeader(command);
          else await network.peers.proposeMeta(targets[i], command);
          logger.info("announced new addresses to the cluster", {
            node: this.nodeId,
            http: command.httpAddress,
            raft: command.raftAddress,
          });
          return;
        } catch (error) {
          lastError = error;
          const hint = error instanceof EpochError
            ? Number((error.details as { leaderId?: number }).leaderId ?? 0)
            : 0;
          if (hint !== 0 && !targets.slice(i + 1).includes(hint)) {
            targets.splice(i + 1, 0, hint);
          }
        }
      }
      await sleep(Math.min(50 * (round + 1), 500));
    }
    logger.warn("cannot announce this node's new addresses yet; retrying in the background", {
      node: this.nodeId,
      error: String(lastError),
    });
  }

  /** Runs a metadata command and waits until this node's copy has applied it. */
  proposeMeta(command: MetaCommand): Promise<MetaResult> {
    return this.meta.propose(command);
  }

  /**
   * Admits a node that asks to join: registers it in the metadata, then adds it to the
   * metadata group (a voter while the group has fewer than `metaVoters`, else a learner). Any
   * node may admit: the registration is forwarded to the metadata leader, and on another node
   * the admission waits for the leader to add the registered node (its maintenance does).
   */
  async admit(request: JoinRequest): Promise<JoinAnswer> {
    if (request.clusterId !== "" && request.clusterId !== this.clusterId) {
      throw new EpochError(
        "failed_precondition",
        `node ${request.raftAddress} belongs to cluster ${request.clusterId}, not ${this.clusterId}`,
      );
    }
    const { httpAddress, raftAddress, version } = request;
    const result = await this.proposeMeta({ op: "add_node", httpAddress, raftAddress, version });
    if (!result.ok || result.nodeId === undefined) {
      throw new Error(`cannot admit ${request.raftAddress}: ${result.ok ? "no id" : result.error}`);
    }
    const id = result.nodeId;
    // A learner first: a voter that is not running yet would count against the quorum (the
    // group uses its newest configuration at once) and stall the group until it starts.
    // The metadata leader promotes it once it has caught up (maintain()). One change at a time:
    // while another is not committed yet (an earlier node's promotion), wait for it.
    const { clock, sleep } = this.#options;
    const deadline = clock.monotonicMs() + (this.#options.requestTimeoutMs ?? 10_000);
    for (let attempt = 0; attempt < 100; attempt++) {
      const conf = this.meta.raft.raft.currentConf();
      if (conf.voters.includes(id) || conf.learners.includes(id)) break;
      if (clock.monotonicMs() >= deadline) {
        throw new EpochError(
          "unavailable",
          `node ${request.raftAddress} is registered as node ${id} but not yet in the metadata ` +
            `group (its leader is node ${this.meta.leader()}); ask again`,
          { retryAfterSeconds: 1 },
        );
      }
      if (this.meta.isLeader()) {
        try {
          await this.meta.changeMembership({ type: "addLearner", nodeId: id });
          break;
        } catch (error) {
          if (!(error instanceof EpochError && error.code === "aborted")) throw error;
        }
      }
      // Another change is not committed yet, or another node leads (it adds registered nodes).
      await sleep(Math.min(20 * (attempt + 1), 200));
    }
    return {
      clusterId: this.clusterId,
      nodeId: id,
      members: [...this.meta.state.nodes.values()].map((n) => ({
        id: n.id,
        raftAddress: n.raftAddress,
      })),
    };
  }

  /**
   * The node's Raft and network figures for `/metrics`: per group (the metadata group is
   * `meta`) role, term, commit and applied indexes and their lag, proposals, leader changes and
   * snapshots installed; the shared log's size and fsyncs; bytes sent to and received from each
   * peer.
   */
  metrics(): MetricFamily[] {
    // Each group's status once per scrape: a node may hold hundreds of groups.
    const groups: [string, RaftNode, RaftStatus][] = [
      ["meta", this.meta.raft, this.meta.raft.status()],
    ];
    for (const r of this.replicas.values()) {
      groups.push([String(r.groupId), r.raft, r.raft.status()]);
    }
    const per = (
      name: string,
      help: string,
      type: "counter" | "gauge",
      value: (node: RaftNode, status: RaftStatus) => number,
    ): MetricFamily => ({
      name,
      help,
      type,
      samples: groups.map(([group, node, status]) => ({
        labels: { group },
        value: value(node, status),
      })),
    });
    const roles = new Map<string, number>();
    for (const [, , status] of groups) roles.set(status.role, (roles.get(status.role) ?? 0) + 1);
    const log = this.#log.stats();
    const traffic = this.network.traffic?.() ?? [];
    return [
      {
        name: "epochnexus_raft_groups",
        help: "Raft groups on this node, by role.",
        type: "gauge",
        samples: [...roles].map(([role, n]) => ({ labels: { role }, value: n })),
      },
      per("epochnexus_raft_term", "Current Raft term.", "gauge", (_, s) => s.term),
      per(
        "epochnexus_raft_leader",
        "1 when this node leads the group.",
        "gauge",
        (_, s) => s.role === "leader" ? 1 : 0,
      ),
      per("epochnexus_raft_commit_index", "Highest committed index.", "gauge", (_, s) => s.commit),
      per(
        "epochnexus_raft_applied_index",
        "Highest applied index.",
        "gauge",
        (n) => n.appliedIndex,
      ),
      per(
        "epochnexus_raft_apply_lag",
        "Committed entries not yet applied.",
        "gauge",
        (n, s) => Math.max(0, s.commit - n.appliedIndex),
      ),
      per(
        "epochnexus_raft_proposals_total",
        "Entries proposed on this node.",
        "counter",
        (n) => n.counters.proposals,
      ),
      per(
        "epochnexus_raft_leader_changes_total",
        "Leaders this node saw elected.",
        "counter",
        (n) => n.counters.leaderChanges,
      ),
      per(
        "epochnexus_raft_snapshots_installed_total",
        "Snapshots installed from another replica.",
        "counter",
        (n) => n.counters.snapshotsInstalled,
      ),
      {
        name: "epochnexus_raft_snapshot_bytes_sent_total",
        help: "Bytes of partition snapshots streamed to other replicas.",
        type: "counter",
        samples: [{ labels: {}, value: this.#snapshotBytesSent }],
      },
      {
        name: "epochnexus_raft_log_bytes",
        help: "Bytes of the node's shared Raft log.",
        type: "gauge",
        samples: [{ labels: {}, value: log.bytes }],
      },
      {
        name: "epochnexus_raft_log_fsyncs_total",
        help: "fdatasyncs of the shared Raft log since start.",
        type: "counter",
        samples: [{ labels: {}, value: log.fsyncs }],
      },
      {
        name: "epochnexus_raft_log_fsync_seconds",
        help: "How long each fdatasync of the shared Raft log took (the floor of a write's " +
          "latency).",
        type: "histogram",
        histograms: [{ labels: {}, histogram: this.#log.fsyncSeconds }],
      },
      {
        name: "epochnexus_partition_writes_total",
        help: "Partition parts of writes routed here, by where they were written: this " +
          "node (it leads the partition) or the leader on another node (a second hop).",
        type: "counter",
        samples: Object.entries(this.partitionWrites).map(([to, value]) => ({
          labels: { to },
          value,
        })),
      },
      {
        name: "epochnexus_cluster_sent_bytes_total",
        help: "Bytes sent to each peer node (Raft and cluster calls).",
        type: "counter",
        samples: traffic.map((t) => ({ labels: { peer: String(t.node) }, value: t.sentBytes })),
      },
      {
        name: "epochnexus_cluster_received_bytes_total",
        help: "Bytes received from each peer node in answers to this node's calls.",
        type: "counter",
        samples: traffic.map((t) => ({ labels: { peer: String(t.node) }, value: t.receivedBytes })),
      },
      {
        name: "epochnexus_cluster_calls_refused_total",
        help: "Node-to-node calls and peer streams refused for want of the cluster secret " +
          "(logged once per 10 s at most).",
        type: "counter",
        samples: [{ labels: {}, value: this.network.refusedCalls?.() ?? 0 }],
      },
    ];
  }

  #snapshotBytesSent = 0;

  /** The cluster as this node sees it: members, databases, partitions and their leaders. */
  /** The members and partition map of this node's metadata copy (what a gateway routes by). */
  metaView(): MetaView {
    const state = this.meta.state;
    return {
      clusterId: this.clusterId,
      nodeId: this.nodeId,
      appliedIndex: this.meta.applied,
      queryLimits: this.queryLimits,
      nodes: [...state.nodes.values()].map((n) => ({
        id: n.id,
        httpAddress: n.httpAddress,
        raftAddress: n.raftAddress,
      })),
      databases: [...state.databases.values()].sort((a, b) => a.id - b.id).map((db) => ({
        name: db.name,
        partitions: db.partitions.map((p) => ({
          groupId: p.groupId,
          replicas: [...p.replicas],
          leaderHint: p.leaderHint,
        })),
        defaultRetentionPolicy: db.defaultRetentionPolicy,
        retentionPolicies: [...db.retentionPolicies.values()].map((rp) => ({
          name: rp.name,
          durationNs: rp.durationNs,
          shardGroupDurationNs: rp.shardGroupDurationNs,
          replicaN: rp.replicaN,
        })),
        hash: db.hash,
        hashKey: db.hashKey,
      })),
    };
  }

  status(): Record<string, unknown> {
    const state = this.meta.state;
    const conf = this.meta.raft.raft.currentConf();
    const live = this.#liveNodes();
    const moves = [...state.databases.values()].flatMap((db) =>
      db.partitions.filter(isMoving).map((p) => {
        const local = this.replicas.get(p.groupId);
        const raft = local?.isLeader() ? local.raft.status() : undefined;
        return {
          database: db.name,
          index: p.index,
          groupId: p.groupId,
          from: p.replicas.filter((n) => !p.target.includes(n)),
          to: p.target.filter((n) => !p.replicas.includes(n)),
          ...(raft && {
            learners: raft.conf.learners.map((id) => ({
              id,
              match: raft.matches[id] ?? 0,
              commit: raft.commit,
            })),
          }),
        };
      })
    );
    const partitions = [...state.databases.values()].flatMap((db) => db.partitions);
    const nodeBytes = (id: number) =>
      partitions.reduce(
        (sum, p) => sum + (p.replicas.includes(id) ? this.partitionBytes.get(p.groupId) ?? 0 : 0),
        0,
      );
    return {
      clusterId: this.clusterId,
      nodeId: this.nodeId,
      metaLeader: this.meta.leader(),
      nodes: [...state.nodes.values()].map((n) => ({
        ...n,
        draining: n.draining === true,
        bytes: nodeBytes(n.id),
        ...(this.meta.isLeader() && { live: live.has(n.id) }),
        meta: conf.voters.includes(n.id)
          ? "voter"
          : conf.learners.includes(n.id)
          ? "learner"
          : "none",
      })),
      moves,
      databases: [...state.databases.values()].map((db) => ({
        name: db.name,
        hash: db.hash,
        hashKey: db.hashKey,
        replicationFactor: db.replicationFactor,
        partitions: db.partitions.map((p) => {
          const local = this.replicas.get(p.groupId);
          return {
            index: p.index,
            groupId: p.groupId,
            replicas: p.replicas,
            target: p.target,
            leader: local?.leader() || p.leaderHint,
            bytes: this.partitionBytes.get(p.groupId),
            ...(local && {
              commit: local.raft.status().commit,
              applied: local.applied,
              flushedBefore: local.flushedBefore,
            }),
            ...(local?.isLeader() && replication(local.raft.status())),
          };
        }),
      })),
    };
  }

  /**
   * This node's replica of a group when it votes in it (by the metadata): the one queries read
   * in-process. A replica a move is still copying in (a target, or a learner) holds a part of
   * the data at best, so it is never read as the partition.
   */
  localReplica(groupId: number): PartitionReplica | undefined {
    const replica = this.replicas.get(groupId);
    if (replica === undefined) return undefined;
    const found = this.meta.state.partition(groupId);
    return found?.partition.replicas.includes(this.nodeId) ? replica : undefined;
  }

  /** Waits until a local replica of the group is open (it may be starting). */
  async openReplica(groupId: number): Promise<PartitionReplica | undefined> {
    await this.#reconciling.catch(() => {});
    return this.replicas.get(groupId) ?? await this.#opening.get(groupId);
  }

  /**
   * This node's replica of a group.
   * @throws {EpochError} `unavailable` when the node holds none (the caller asks another).
   */
  async heldReplica(groupId: number): Promise<PartitionReplica> {
    const replica = await this.openReplica(groupId);
    if (!replica) {
      throw new EpochError(
        "unavailable",
        `node ${this.nodeId} holds no replica of group ${groupId}`,
      );
    }
    return replica;
  }

  /**
   * Writes a part on this node's replica of its partition (the leader); points the engine
   * refuses are reported by their index in the part.
   */
  async writeLocalPartition(write: PartitionWrite): Promise<PartitionWriteAnswer> {
    return await writeToReplica(this, await this.heldReplica(write.groupId), write);
  }

  #syncPeers(): void {
    for (const n of this.meta.state.nodes.values()) {
      if (n.id !== this.nodeId) this.#options.network.setPeer(n.id, n.raftAddress);
    }
  }

  /** Opens the replicas the metadata places here and closes those it no longer does. */
  /**
   * Set once the metadata copy has replayed what the node knew at start. Before, the copy passes
   * through older states in which this node may not hold a group it holds now (moved away and
   * back, or promoted since): acting on one would drop a voter's copy and open it empty.
   */
  #reconcileReady = false;

  #reconcile(): Promise<void> {
    if (!this.#reconcileReady) return this.#reconciling;
    // One pass at a time: two concurrent passes would open one group twice.
    const run = this.#reconciling.catch(() => {}).then(() => this.#reconcileNow());
    this.#reconciling = run;
    return run;
  }

  async #reconcileNow(): Promise<void> {
    if (this.#closed) return;
    // A replica is held while the node is a member of its group (voter or learner, as its leader
    // reported) or is to be (a move toward it): one in none of these was moved away, or replaced
    // while this node was lost.
    const wanted = new Map<number, { database: string; replicas: number[] }>();
    for (const db of this.meta.state.databases.values()) {
      for (const p of db.partitions) {
        const me = this.nodeId;
        if (p.replicas.includes(me) || p.learners.includes(me) || p.target.includes(me)) {
          wanted.set(p.groupId, { database: db.name, replicas: p.replicas });
        }
      }
    }
    for (const [groupId, replica] of [...this.replicas]) {
      if (wanted.has(groupId)) continue;
      if (this.meta.state.partition(groupId)) {
        this.#options.logger.info("partition replica moved away: dropping this copy", { groupId });
      }
      this.replicas.delete(groupId);
      await replica.close();
      await discardReplicaFolder(this.#options.fs, `${this.#options.dataDir}/partitions`, groupId);
      await this.#log.dropGroup(groupId);
    }
    for (const [groupId, p] of wanted) {
      if (this.replicas.has(groupId)) continue;
      const opening = this.#openReplica(groupId, p.database, p.replicas);
      this.#opening.set(groupId, opening);
      try {
        const replica = await opening;
        if (replica) this.replicas.set(groupId, replica);
      } finally {
        this.#opening.delete(groupId);
      }
    }
  }

  readonly #snapshotAttempts = new Map<number, number>();

  /**
   * A snapshot of a group from another of its replicas: each call asks the next one in turn
   * (starting with the metadata's leader hint), so a retry after a failure tries elsewhere.
   */
  #fetchSnapshot(groupId: number, minIndex: number): AsyncIterable<SnapshotChunk> {
    const found = this.meta.state.partition(groupId);
    const hint = found?.partition.leaderHint ?? 0;
    const others = (found?.partition.replicas ?? []).filter((n) => n !== this.nodeId)
      .sort((a, b) => Number(b === hint) - Number(a === hint));
    if (others.length === 0) {
      throw new EpochError("unavailable", `group ${groupId} has no other replica to copy from`);
    }
    const attempt = this.#snapshotAttempts.get(groupId) ?? 0;
    this.#snapshotAttempts.set(groupId, attempt + 1);
    return this.network.peers.fetchSnapshot(others[attempt % others.length], {
      groupId,
      minIndex,
    });
  }

  async *#exportSnapshot(groupId: number, minIndex: number): AsyncGenerator<SnapshotChunk> {
    for await (const chunk of (await this.heldReplica(groupId)).exportSnapshot(minIndex)) {
      if (chunk.kind === "data") {
        this.#snapshotBytesSent += chunk.data.length;
        await this.#throttleSnapshot(chunk.data.length);
      }
      yield chunk;
    }
  }

  /**
   * A backup of one partition: this node's replica's files once they hold every write
   * acknowledged before the call (a ReadIndex read, then a flush that starts after it), the
   * files the backup already holds listed but not sent.
   */
  async *#exportBackup(groupId: number, backup: BackupExport): AsyncGenerator<SnapshotChunk> {
    const replica = await this.heldReplica(groupId);
    await replica.readBarrier();
    // A flush already running cut the log before the barrier: the second one starts after it.
    await replica.engine.flush();
    await replica.engine.flush();
    for await (const chunk of replica.exportSnapshot(0, backup)) {
      if (chunk.kind === "data") this.#snapshotBytesSent += chunk.data.length;
      yield chunk;
    }
  }

  /**
   * Backs up a partition from one of its replicas: this node's when it holds one, else the
   * others' in turn (leader first) until one starts answering.
   * @throws {EpochError} `unavailable` when no replica answers.
   */
  async *backupPartition(groupId: number, backup: BackupExport): AsyncGenerator<SnapshotChunk> {
    const found = this.meta.state.partition(groupId);
    if (!found) throw new EpochError("not_found", `no partition group ${groupId}`);
    const hint = found.partition.leaderHint;
    const nodes = [...found.partition.replicas].sort((a, b) =>
      Number(b === this.nodeId) - Number(a === this.nodeId) ||
      Number(b === hint) - Number(a === hint)
    );
    let last: unknown;
    for (const target of nodes) {
      const stream = target === this.nodeId
        ? this.#exportBackup(groupId, backup)
        : this.network.peers.fetchSnapshot(target, { groupId, minIndex: 0, backup });
      let started = false;
      try {
        for await (const chunk of stream) {
          started = true;
          yield chunk;
        }
        return;
      } catch (error) {
        // Once data has gone out, another replica's files would not continue it.
        if (started) throw error;
        last = error;
      }
    }
    throw new EpochError(
      "unavailable",
      `no replica of group ${groupId} (nodes ${nodes.join(", ")}) answered the backup: ${
        last instanceof Error ? last.message : last
      }`,
      { cause: last, retryAfterSeconds: 1 },
    );
  }

  /** When the node's snapshot sending may go on (monotonic ms), at `rebalance_bytes_per_sec`. */
  #snapshotSendAt = 0;

  /**
   * Keeps the node's snapshot streams together under `rebalance_bytes_per_sec`: each chunk books
   * its share of time on one schedule, and a stream ahead of it waits, so a move leaves the disk
   * and the network to the writes.
   */
  async #throttleSnapshot(bytes: number): Promise<void> {
    const rate = this.#options.rebalanceBytesPerSec ?? 0;
    if (rate <= 0) return;
    const now = this.#options.clock.monotonicMs();
    this.#snapshotSendAt = Math.max(this.#snapshotSendAt, now) + (bytes / rate) * 1000;
    const wait = this.#snapshotSendAt - now - 1000; // a second's worth may go at once
    if (wait > 0) await this.#options.sleep(wait);
  }

  /** What the shared log recovered for a group (an empty log for a group it never held). */
  #recoveredState(groupId: number): RecoveredState {
    const state = this.#recovered.get(groupId);
    this.#recovered.delete(groupId); // a group opened again later starts from its live storage
    return state ?? {
      hardState: EMPTY_HARD_STATE,
      snapshot: null,
      entries: [],
      tornBytes: 0,
      corruption: null,
      recoverUntil: 0,
    };
  }

  #replicaDir(groupId: number): string {
    return `${this.#options.dataDir}/partitions/${groupId}`;
  }

  /**
   * The series limit of one partition: the database's limit shared among its partitions, so
   * that the partitions together never hold more than `max_series_per_database` (a skewed hash
   * may refuse a little early, never late).
   */
  #partitionLimits(database: string): { maxSeriesPerDatabase?: number } {
    const max = this.#options.engine?.maxSeriesPerDatabase;
    const partitions = this.meta.state.databases.get(database)?.partitions.length ?? 1;
    if (max === undefined || max === 0) return {};
    return { maxSeriesPerDatabase: Math.max(1, Math.floor(max / partitions)) };
  }

  async #openReplica(
    groupId: number,
    database: string,
    replicas: number[],
  ): Promise<PartitionReplica | undefined> {
    const o = this.#options;
    const state = this.#recoveredState(groupId);
    const fresh = isFresh(state);
    let replica: PartitionReplica;
    try {
      replica = await PartitionReplica.open({
        groupId,
        nodeId: this.nodeId,
        database,
        dir: this.#replicaDir(groupId),
        // A new group starts with its first members; a node that a move adds starts empty and
        // learns the members from the leader's snapshot.
        peers: fresh && replicas.includes(this.nodeId) ? replicas : [],
        storage: this.#log.group(groupId),
        recovered: state,
        fetchSnapshot: (minIndex) => this.#fetchSnapshot(groupId, minIndex),
        transport: o.network.transport(groupId),
        fs: o.fs,
        clock: o.clock,
        rng: o.rng,
        sleep: o.sleep,
        timers: this.#ticker.timers,
        logger: o.logger,
        // The node's timers and sleep drive the engines' too (a simulation's virtual time).
        engine: {
          timers: o.timers,
          sleep: o.sleep,
          ...o.engine,
          ...this.#partitionLimits(database),
          blockCache: this.blockCache,
          // Replicas of a partition share its cold objects; only its leader sweeps them (with
          // a grace period, as other replicas may still read a replaced one).
          coldPrefix: `g${groupId}/`,
          sweepColdAtOpen: false,
          onHeadGrowth: () => this.#headGrew(),
        },
        tickMs: o.tickMs,
        electionTicks: o.electionTicks,
        requestTimeoutMs: o.requestTimeoutMs,
        retainEntries: o.retainEntries,
      });
    } catch (error) {
      // Nothing was started on the stored state: a later attempt must open it again, not a
      // brand-new group over a log that holds one (its first save would be refused).
      this.#recovered.set(groupId, state);
      throw error;
    }
    // The preferred leader (first replica) of a new group stands at once, so leaders spread
    // as placement planned and the first write does not wait for an election timeout.
    if (fresh && replicas[0] === this.nodeId) replica.raft.campaign();
    // A group this node alone votes in needs no election timeout after a restart.
    else replica.campaignIfAlone();
    return replica;
  }

  #flushing: Promise<void> | undefined;

  /** The heads of all replicas together past the node's budget: flush them (in the background). */
  #headGrew(): void {
    if (this.#flushing || this.#closed) return;
    let total = 0;
    for (const r of this.replicas.values()) total += r.engine.headBytes;
    if (total < (this.#options.flushHeadBytes ?? 25 * 1024 * 1024)) return;
    this.#flushing = this.#flushAll().catch((error) => {
      this.#options.logger.error("flush failed; the Raft logs keep the data", {
        error: String(error),
      });
    }).finally(() => this.#flushing = undefined);
  }

  /** Flushes every replica that holds heads. */
  async #flushAll(): Promise<void> {
    for (const r of [...this.replicas.values()]) {
      if (this.#closed) return;
      if (r.engine.headBytes > 0) await r.engine.flush();
    }
  }

  /**
   * One pass of the background task: flush heads past the node's budget (or idle), compact,
   * and (on the metadata leader) drop the shard groups retention has expired.
   */
  async maintain(): Promise<void> {
    if (this.#closed) return;
    if (!this.#addressesCurrent() && this.meta.state.nodes.has(this.nodeId)) {
      await this.#announceAddresses(2_000);
    }
    this.#headGrew();
    await this.#flushing;
    for (const r of [...this.replicas.values()]) {
      if (this.#closed) return;
      await r.engine.maintain({ expire: false }); // idle flushes and compaction
    }
    await this.#applyTiering();
    this.#measurePartitionBytes();
    await this.#trimLog();
    await this.#advanceMoves();
    this.#balanceLeaders();
    await this.#reportLeaders();
    await this.#applyMetaDrops();
    if (this.meta.isLeader()) {
      await this.#addRegisteredNodes();
      await this.#promoteMetaLearners();
      if (this.#options.rebalance ?? true) await this.#rebalance();
      await this.#retireDrained();
      await this.#expire();
    } else {
      this.#lastSeen.clear(); // a future metadata leader starts its clocks afresh
    }
  }

  /**
   * Size retention and the cold tier on the partitions this node leads, with the metadata's
   * settings. Each partition takes an even share of a policy's and the database's max_bytes
   * (series spread evenly by hash, as the series limit is shared), so the oldest groups go
   * first in every partition alike. Drops and cold switches go through the partition's log:
   * every replica applies them in the same order.
   */
  async #applyTiering(): Promise<void> {
    for (const r of [...this.replicas.values()]) {
      if (this.#closed) return;
      if (!r.isLeader() || r.installing || !r.engine.hasDatabase(r.database)) continue;
      const db = this.meta.state.databases.get(r.database);
      if (!db) continue;
      const share = (max: number | undefined) =>
        max ? Math.max(1, Math.floor(max / db.partitions.length)) : 0;
      const policies: Record<string, { maxBytes: number; coldAfterNs: bigint }> = {};
      for (const rp of db.retentionPolicies.values()) {
        policies[rp.name] = { maxBytes: share(rp.maxBytes), coldAfterNs: rp.coldAfterNs ?? 0n };
      }
      const measurements = new Map<string, number>();
      for (const [m, max] of this.measurementMaxBytes()) measurements.set(m, share(max));
      try {
        await r.engine.enforceTiering(r.database, {
          policies,
          databaseMaxBytes: share(this.#options.engine?.maxBytesPerDatabase),
          measurements,
        });
        await r.engine.sweepColdObjects();
      } catch (error) {
        this.#options.logger.warn("cannot apply size retention or the cold tier", {
          groupId: r.groupId,
          error: String(error),
        });
      }
    }
  }

  /**
   * On the partitions this node leads: reports a committed change of voters to the metadata
   * (readers and snapshot sources follow the voters), then takes the next step of a move toward
   * the partition's target (`move_step.ts`). A step is proposed, not awaited: the next pass sees
   * it committed (or dropped, and tries again).
   */
  async #advanceMoves(): Promise<void> {
    for (const r of [...this.replicas.values()]) {
      if (this.#closed || !r.isLeader() || r.installing) continue;
      const found = this.meta.state.partition(r.groupId);
      if (!found) continue;
      const status = r.raft.status();
      const { partition } = found;
      const { voters, learners } = status.conf;
      const reported = sameMembers(voters, partition.replicas) &&
        sameMembers(learners, partition.learners);
      if (!status.confPending && !reported) {
        await this.proposeMeta({
          op: "set_replicas",
          groupId: r.groupId,
          replicas: [...voters],
          learners: [...learners],
        });
        this.#options.logger.info("partition voters changed", {
          groupId: r.groupId,
          voters,
          learners,
        });
        // The next step waits for the next pass: a learner is promoted only once every node's
        // copy lists it (a node never drops a replica its metadata lists as a member).
        continue;
      }
      const step = nextMoveStep(status, partition.target, MOVE_CATCH_UP_SLACK);
      if (step) this.#takeMoveStep(r, step);
    }
  }

  #takeMoveStep(replica: PartitionReplica, step: MoveStep): void {
    const groupId = replica.groupId;
    this.#options.logger.info("partition move step", { groupId, ...step });
    if (step.kind === "transferLeadership") {
      replica.raft.transferLeadership(step.nodeId);
      return;
    }
    replica.raft.proposeConfChange({ type: step.kind, nodeId: step.nodeId }).catch((error) => {
      this.#options.logger.info("partition move step not taken; next pass tries again", {
        groupId,
        error: String(error),
      });
    });
  }

  /** When the metadata leader last heard from each node (monotonic ms). */
  readonly #lastSeen = new Map<number, number>();

  /** Nodes the metadata leader heard from within `dead_node_timeout` (all, on another node). */
  #liveNodes(): Set<number> {
    const now = this.#options.clock.monotonicMs();
    const timeout = this.#options.deadNodeTimeoutMs ?? 5 * 60_000;
    const nodes = this.meta.state.nodes;
    if (!this.meta.isLeader()) return new Set(nodes.keys());
    const heard = new Set(this.meta.raft.status().active);
    heard.add(this.nodeId);
    for (const id of nodes.keys()) {
      // A node first seen now (or by a new leader) gets the whole timeout.
      if (heard.has(id) || !this.#lastSeen.has(id)) this.#lastSeen.set(id, now);
    }
    for (const id of this.#lastSeen.keys()) if (!nodes.has(id)) this.#lastSeen.delete(id);
    return new Set([...nodes.keys()].filter((id) => now - this.#lastSeen.get(id)! < timeout));
  }

  /**
   * The metadata leader's rebalancer: new targets for partitions whose replicas sit on lost or
   * draining nodes, or are unevenly spread (a node joined), a bounded number at a time.
   */
  async #rebalance(): Promise<void> {
    const live = this.#liveNodes();
    const state = this.meta.state;
    // A node receives replicas once its metadata copy has caught up (it has started and follows
    // the group): moves toward a node still starting would only queue traffic it cannot take.
    const meta = this.meta.raft.status();
    const ready = (id: number) =>
      id === this.nodeId || (meta.matches[id] ?? 0) + MOVE_CATCH_UP_SLACK >= meta.commit &&
        (meta.matches[id] ?? 0) > 0;
    const nodes = [...state.nodes.values()].map((n) => ({
      id: n.id,
      live: live.has(n.id),
      draining: n.draining === true,
      ready: ready(n.id),
    }));
    const partitions = [...state.databases.values()].flatMap((db) => db.partitions)
      .map((p) => ({ ...p, bytes: this.partitionBytes.get(p.groupId) }));
    const changes = planRebalance(nodes, partitions, {
      maxMoves: this.#options.maxMoves ?? 2,
      minByteGap: this.#options.rebalanceMinByteGap ?? 64 * 1024 * 1024,
    });
    for (const change of changes) {
      if (this.#closed) return;
      const before = state.partition(change.groupId)?.partition.target;
      this.#options.logger.info("rebalance: partition gets a new target", {
        groupId: change.groupId,
        from: before,
        to: change.target,
      });
      await this.proposeMeta({ op: "set_target", groupId: change.groupId, target: change.target });
    }
  }

  /** Bytes of each partition's data, as last measured (status and the rebalancer). */
  readonly partitionBytes: PartitionBytes;

  /**
   * On the metadata leader only, starts a background pass over the partitions' bytes when one
   * is due: each partition measured on its leader, one call per node (`measureOnLeaders`).
   */
  #measurePartitionBytes(): void {
    if (!this.meta.isLeader()) return;
    const ask = this.network.peers.partitionBytes?.bind(this.network.peers);
    const partitions = [...this.meta.state.databases.values()].flatMap((db) => db.partitions);
    const groupIds = partitions.map((p) => p.groupId);
    this.partitionBytes.refresh(this.#options.clock.monotonicMs(), groupIds, () =>
      measureOnLeaders(
        partitions.map((p) => ({
          groupId: p.groupId,
          leader: this.replicas.get(p.groupId)?.leader() || p.leaderHint,
        })),
        this.nodeId,
        (groupId) => this.#wholeReplicaBytes(groupId),
        async (node, measure) => ask === undefined ? [] : (await ask(node, { measure })).measured,
      ));
  }

  /**
   * Bytes of this node's replica of a group when it votes and holds the whole data: a learner
   * being streamed, or a replica installing a snapshot, holds part of it (null, as for none).
   */
  #wholeReplicaBytes(groupId: number): number | null {
    const replica = this.replicas.get(groupId);
    const found = this.meta.state.partition(groupId);
    if (!replica || !found || replica.installing) return null;
    if (!replica.raft.status().conf.voters.includes(this.nodeId)) return null;
    return localBytes(replica.engine, found.database.name);
  }

  /** `PartitionBytes` served: this node's whole replicas measured, its figures when asked. */
  #partitionBytesAnswer(request: PartitionBytesRequest): PartitionBytesAnswer {
    return {
      measured: request.measure.map((id) => this.#wholeReplicaBytes(id)),
      ...(request.known && { known: this.partitionBytes.entries() }),
    };
  }

  /**
   * The status with partition bytes on any node: a node that does not lead the metadata group
   * (and so measures nothing) takes the leader's figures first; if the leader cannot be asked,
   * the figures it took last.
   */
  async statusWithBytes(): Promise<Record<string, unknown>> {
    const leader = this.meta.leader();
    const ask = this.network.peers.partitionBytes?.bind(this.network.peers);
    if (!this.meta.isLeader() && leader > 0 && ask !== undefined) {
      try {
        const answer = await ask(leader, { measure: [], known: true });
        // A leader elected since has measured nothing yet: keep the figures taken last.
        if ((answer.known ?? []).length > 0) this.partitionBytes.replace(answer.known!);
      } catch (error) {
        this.#options.logger.warn("partition bytes not read from the metadata leader", {
          leader,
          error: String(error),
        });
      }
    }
    return this.status();
  }

  /** Per drained node, the metadata group's last index when it was found holding no replica. */
  readonly #retiring = new Map<number, { lastIndex: number }>();

  /**
   * A draining node that holds and is to hold no replica leaves: first the metadata group's
   * configuration (leadership handed on if it leads), then the node list. It leaves only once
   * it knows the entry that took its last replica is committed: out of the group, it would never
   * learn to drop that replica. It knows once it holds an entry appended after that commit
   * (every append carries the leader's commit index), so one more entry is proposed for it.
   */
  async #retireDrained(): Promise<void> {
    const state = this.meta.state;
    const partitions = [...state.databases.values()].flatMap((db) => db.partitions);
    for (const n of state.nodes.values()) {
      if (!n.draining || this.#closed) continue;
      if (partitions.some((p) => p.replicas.includes(n.id) || p.target.includes(n.id))) continue;
      const status = this.meta.raft.status();
      const member = status.conf.voters.includes(n.id) || status.conf.learners.includes(n.id);
      if (member && n.id === this.nodeId) {
        const heir = status.conf.voters.find((id) =>
          id !== this.nodeId && (status.matches[id] ?? 0) >= status.commit
        );
        if (heir !== undefined) this.meta.raft.transferLeadership(heir);
        return;
      }
      if (member) {
        if (status.confPending) return;
        const retiring = this.#retiring.get(n.id);
        if (!retiring) {
          this.#retiring.set(n.id, { lastIndex: status.lastIndex });
          await this.proposeMeta({ op: "drain_node", id: n.id }); // the entry that tells it
          continue;
        }
        if ((status.matches[n.id] ?? 0) <= retiring.lastIndex) continue;
        this.#options.logger.info("drained node leaves the metadata group", { nodeId: n.id });
        await this.meta.changeMembership({ type: "removeNode", nodeId: n.id });
        continue;
      }
      this.#options.logger.info("drained node removed from the cluster", { nodeId: n.id });
      this.#retiring.delete(n.id);
      await this.proposeMeta({ op: "remove_node", id: n.id });
    }
  }

  /**
   * Starts draining a node (`cluster remove`): its replicas move to the other nodes, then it
   * leaves. Refused when too few nodes would remain to hold every partition's replicas.
   */
  async removeNode(id: number): Promise<void> {
    const state = this.meta.state;
    const node = state.nodes.get(id);
    if (!node) throw new EpochError("not_found", `node ${id} is not a member of the cluster`);
    const remaining = [...state.nodes.values()].filter((n) => n.id !== id && !n.draining).length;
    for (const db of state.databases.values()) {
      const replicas = Math.max(...db.partitions.map((p) => p.target.length), 0);
      if (replicas > remaining) {
        throw new EpochError(
          "failed_precondition",
          `cannot remove node ${id}: database "${db.name}" keeps ${replicas} replicas of each ` +
            `partition and only ${remaining} other node(s) would remain`,
        );
      }
    }
    if (remaining === 0) {
      throw new EpochError("failed_precondition", `cannot remove node ${id}: it is the last one`);
    }
    await this.proposeMeta({ op: "drain_node", id });
  }

  /**
   * Keeps the shared Raft log small: past `LOG_TRIM_BYTES`, or once every head is flushed (all
   * the data is in segments), the groups whose entries keep its oldest segment alive compact
   * theirs (a replica flushes, the metadata snapshots), so that idle groups with a few entries
   * do not pin segments of dead bytes.
   */
  async #trimLog(): Promise<void> {
    const stats = this.#log.stats();
    const flushed = [...this.replicas.values()].every((r) => r.engine.headBytes === 0);
    if (stats.bytes < (flushed ? QUIET_LOG_BYTES : LOG_TRIM_BYTES)) return;
    for (const id of stats.oldestSegmentHeldBy) {
      if (this.#closed) return;
      if (id === META_GROUP_ID) {
        await this.meta.snapshotNow();
        continue;
      }
      const replica = this.replicas.get(id);
      if (replica && !replica.installing) await replica.engine.flush();
    }
  }

  /**
   * Hands leadership back to each partition's preferred replica (the first of its replicas,
   * spread across nodes by placement) once that replica has caught up: after restarts and
   * failovers leaders would otherwise pile up on the nodes that stayed.
   */
  #balanceLeaders(): void {
    for (const r of this.replicas.values()) {
      if (!r.isLeader()) continue;
      const preferred = this.meta.state.partition(r.groupId)?.partition.replicas[0];
      if (preferred === undefined || preferred === this.nodeId) continue;
      const status = r.raft.status();
      if (!status.conf.voters.includes(preferred)) continue;
      if ((status.matches[preferred] ?? 0) < status.commit) continue;
      r.raft.transferLeadership(preferred);
    }
  }

  /** Tells the metadata which partitions this node leads, so other nodes send writes here. */
  async #reportLeaders(): Promise<void> {
    for (const r of [...this.replicas.values()]) {
      if (this.#closed || !r.isLeader()) continue;
      const found = this.meta.state.partition(r.groupId);
      if (!found || found.partition.leaderHint === this.nodeId) continue;
      await this.proposeMeta({ op: "partition_leader", groupId: r.groupId, leader: this.nodeId });
    }
  }

  /**
   * Drops from the replicas this node leads what the metadata dropped: retention policies, and
   * shard groups retention expired. The drops go through each partition's log, so every replica
   * applies them in order. The engines' lists are taken before a metadata read barrier: all they
   * hold was created in the metadata first, so what the metadata lacks after it was dropped.
   */
  async #applyMetaDrops(): Promise<void> {
    const held = [...this.replicas.values()]
      .filter((r) => r.isLeader() && !r.installing && r.engine.hasDatabase(r.database))
      .map((r) => ({
        replica: r,
        policies: r.engine.retentionPolicies(r.database).map((p) => ({
          name: p.name,
          groups: r.engine.shards(r.database, p.name, MIN_TIME_NS, MAX_TIME_NS)
            .map((v) => v.startMs),
        })),
      }));
    if (held.length === 0) return;
    await this.meta.sync();
    for (const { replica, policies } of held) {
      const db = this.meta.state.databases.get(replica.database);
      if (!db || this.#closed) continue; // a dropped database goes whole (#reconcile)
      for (const p of policies) {
        const rp = db.retentionPolicies.get(p.name);
        if (!rp) {
          await replica.engine.dropRetentionPolicy(replica.database, p.name);
          continue;
        }
        for (const startMs of p.groups) {
          if (rp.shardGroups.some((g) => g.startMs === startMs)) continue;
          await replica.engine.dropShardGroup(replica.database, p.name, startMs);
        }
      }
    }
  }

  /**
   * Adds a registered node that is not in the metadata group yet as a learner (one change at a
   * time): a node admitted through another node, or whose admission was cut short. A draining
   * node is leaving and is never added back.
   */
  async #addRegisteredNodes(): Promise<void> {
    const status = this.meta.raft.status();
    if (status.confPending) return;
    const { voters, learners } = status.conf;
    const missing = [...this.meta.state.nodes.values()]
      .filter((n) => !n.draining && !voters.includes(n.id) && !learners.includes(n.id))
      .sort((a, b) => a.id - b.id)[0];
    if (missing === undefined) return;
    try {
      await this.meta.changeMembership({ type: "addLearner", nodeId: missing.id });
      this.#options.logger.info("registered node added to the metadata group", {
        nodeId: missing.id,
      });
    } catch (error) {
      // Its admission on this node added it first: the next pass finds nothing to do.
      if (!(error instanceof EpochError && error.code === "aborted")) throw error;
    }
  }

  /**
   * Makes caught-up learners of the metadata group voters while it has fewer than
   * `metaVoters` (one change at a time, as the group allows).
   */
  async #promoteMetaLearners(): Promise<void> {
    const status = this.meta.raft.status();
    const { voters, learners } = status.conf;
    if (voters.length >= this.defaults.metaVoters) return;
    const ready = learners.filter((id) =>
      this.meta.state.nodes.has(id) && (status.matches[id] ?? 0) >= status.commit
    ).sort((a, b) => a - b);
    if (ready.length === 0) return;
    await this.meta.changeMembership({ type: "addVoter", nodeId: ready[0] });
  }

  async #expire(): Promise<void> {
    const now = this.#options.clock.nowMs();
    for (const db of this.meta.state.databases.values()) {
      for (const rp of db.retentionPolicies.values()) {
        const expired = expiredGroups(rp.shardGroups, rp.durationNs, now);
        if (expired.length === 0) continue;
        await this.proposeMeta({
          op: "drop_shard_groups",
          database: db.name,
          retentionPolicy: rp.name,
          ids: expired.map((g) => g.id),
        });
      }
    }
  }

  /** Stops the background task, closes every replica (flushing heads), then the metadata. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) (this.#options.timers ?? globalThis).clearInterval(this.#timer);
    await this.#maintaining;
    await this.#flushing;
    await this.partitionBytes.settled();
    await this.#reconciling.catch(() => {});
    for (const r of this.replicas.values()) await r.close();
    this.replicas.clear();
    await this.meta.stop();
    await this.#log.close();
  }
}

/** The shard groups of the points' times, or undefined when the metadata lacks one. */
function shardGroupsOf(
  rp: RetentionPolicyMeta,
  points: readonly Point[],
): { startMs: number; endMs: number }[] | undefined {
  const spans = new Map<number, { startMs: number; endMs: number }>();
  let last: ShardGroupInfo | undefined;
  for (const p of points) {
    if (last !== undefined && p.timeMs >= last.startMs && p.timeMs < last.endMs) continue;
    last = shardGroupAt(rp, p.timeMs);
    if (!last) return undefined;
    spans.set(last.id, { startMs: last.startMs, endMs: last.endMs });
  }
  return [...spans.values()];
}

/**
 * A led group's replication progress for the status: the leader's last index and how far each
 * replica's log matches it (the console shows the difference as each replica's lag, in entries).
 */
function replication(status: RaftStatus): { lastIndex: number; matched: Record<number, number> } {
  return { lastIndex: status.lastIndex, matched: { ...status.matches } };
}

/** True for a group that has never stored anything (a new group's first start). */
function isFresh(state: RecoveredState): boolean {
  return state.snapshot === null && state.entries.length === 0 && state.hardState.term === 0;
}

/** Writes a part through a local replica's engine (which proposes it to the group). */
async function writeToReplica(
  node: ClusterNode,
  replica: PartitionReplica,
  write: PartitionWrite,
): Promise<PartitionWriteAnswer> {
  const policyOf = () =>
    node.meta.state.databases.get(write.database)?.retentionPolicies.get(write.retentionPolicy);
  let rp = policyOf();
  if (!rp) {
    // The node that routed the write knows the policy; this node's copy may lag behind.
    await node.meta.sync();
    rp = policyOf();
  }
  if (!rp) {
    return {
      accepted: 0,
      rejected: write.points.map((_, index) => ({
        index,
        reason:
          `database or retention policy not found: ${write.database}.${write.retentionPolicy}`,
      })),
    };
  }
  const engine = replica.engine;
  await replica.catalogLock(async () => {
    if (!engine.hasDatabase(write.database)) await engine.createDatabase(write.database);
    if (!engine.retentionPolicies(write.database).some((p) => p.name === rp.name)) {
      await engine.createRetentionPolicy(write.database, {
        name: rp.name,
        // Retention is the metadata's (whole shard groups); the replica keeps what it is given.
        durationNs: 0n,
        shardGroupDurationNs: rp.shardGroupDurationNs,
        replicaN: 1,
        isDefault: false,
      });
    }
    let spans = shardGroupsOf(rp, write.points);
    if (spans === undefined) {
      // The node that routed the write created the groups; this node's copy lags behind.
      await node.meta.sync();
      spans = shardGroupsOf(rp, write.points) ?? [];
    }
    await engine.ensureShardGroups(write.database, rp.name, spans);
  });
  return await engine.write(write.database, rp.name, write.points, {
    consistency: write.consistency,
  });
}
