/**
 * What the cluster needs from the network, declared here and implemented by `src/rpc` (Connect
 * over HTTP) or in memory (tests, the simulation). Every call names its target node; a failure
 * to reach it rejects with an `unavailable` {@linkcode EpochError}.
 * @module
 */
import type { FieldType, Point, Tag } from "../core/mod.ts";
import type {
  Expr,
  PlanRequest,
  QueryLimits,
  ReadConsistency,
  SeriesPartial,
} from "../query/mod.ts";
import type { BackupExport, SnapshotChunk } from "./partition/snapshot.ts";
import type { Transport } from "../raft/mod.ts";
import type { PartitionHash, PartitionKey } from "./hash.ts";
import type { Rejection, WriteConsistency } from "../storage/mod.ts";
import type { MetaForwardAnswer } from "./meta/meta_group.ts";
import type { MetaCommand } from "./meta/meta_state.ts";

/** A part of a write for one partition, as its leader receives it. */
export interface PartitionWrite {
  groupId: number;
  database: string;
  retentionPolicy: string;
  points: Point[];
  consistency: WriteConsistency;
}

/** What the leader of a partition did with a part. */
export interface PartitionWriteAnswer {
  accepted: number;
  /** Indexes are the part's. */
  rejected: Rejection[];
}

export type { ReadConsistency };

/** What a coordinator asks a partition replica about its shards in a time range. */
export interface DescribeRequest {
  groupId: number;
  database: string;
  retentionPolicy: string;
  minNs: bigint;
  maxNs: bigint;
  consistency: ReadConsistency;
  /** Also list every series (SHOW statements); else counts only. */
  series: boolean;
  /**
   * At `leader` consistency, answer only as the leader, else refuse naming it (a gateway keeps
   * leader hints: it learns of a leadership that moved without a failure). Default: a follower
   * answers behind a ReadIndex.
   */
  leaderOnly?: boolean;
}

/** One shard group of a partition replica, as {@linkcode DescribeRequest} answers it. */
export interface ShardDescription {
  startMs: number;
  endMs: number;
  measurements: {
    name: string;
    /** field -> type */
    fields: [string, FieldType][];
    tagKeys: string[];
    seriesCount: number;
    /** In key order; present when asked. */
    series?: { key: string; tags: Tag[] }[];
  }[];
}

/** Which partition's sizes a coordinator asks its leader for. */
export interface PartitionSizesRequest {
  groupId: number;
  database: string;
}

/** A partition's data sizes on its leader (local segments; cold objects apart). */
export interface PartitionSizes {
  policies: { name: string; bytes: number; coldBytes: number }[];
  /** Bytes of each measurement's blocks in local segments (schemas' `max_bytes`). */
  measurements: [string, number][];
}

/**
 * Bytes of partitions on one node: `measure` its voting replicas of these groups now, and, when
 * `known`, send its last figures of every partition (the metadata leader's, for a status).
 */
export interface PartitionBytesRequest {
  measure: number[];
  known?: boolean;
}

/**
 * `measured[i]`: the bytes of group `measure[i]` on the node, or null when it holds no voting
 * replica of it with whole data (none, a learner being streamed, a snapshot being installed).
 * `known`: [group id, bytes] of every partition the node has figures for, when asked.
 */
export interface PartitionBytesAnswer {
  measured: (number | null)[];
  known?: [number, number][];
}

/** A SELECT's part on one partition replica's shard group. */
export interface SelectRequest {
  groupId: number;
  database: string;
  retentionPolicy: string;
  /** The shard group (its start). */
  startMs: number;
  consistency: ReadConsistency;
  request: PlanRequest;
  measurements: readonly string[];
  /** The query's limits; the replica's part is held to them too. */
  limits?: QueryLimits;
}

/** One shard group of a batched SELECT part (`PeerClient.selectShards`). */
export interface SelectShard {
  startMs: number;
  measurements: readonly string[];
}

/** A delete on one partition (the query's DeleteRequest without its functions). */
export interface PartitionDelete {
  groupId: number;
  database: string;
  measurements?: string[];
  minNs: bigint;
  maxNs: bigint;
  dropSeries: boolean;
  /** The tag condition; the leader rebuilds the series filter from it. */
  condition?: Expr;
}

/** A replica asking another for its files (it fell behind the leader's compacted log). */
export interface SnapshotRequest {
  groupId: number;
  minIndex: number;
  /**
   * A backup's request: the replica confirms a read first (so its files hold every write
   * acknowledged before the call) and flushes, and lists the files the backup holds without
   * sending them.
   */
  backup?: BackupExport;
}

/** A node asking to join. */
export interface JoinRequest {
  httpAddress: string;
  raftAddress: string;
  version: string;
  clusterId: string;
}

/** A node's answer to a node asking to join. */
export interface JoinAnswer {
  clusterId: string;
  nodeId: number;
  /** Every member: id and node-to-node address. */
  members: { id: number; raftAddress: string }[];
  /** The secret node-to-node calls present (added by the HTTP door, not the metadata). */
  clusterSecret?: string;
}

/** Calls other nodes make on this one (the server side of {@linkcode PeerClient}). */
export interface PeerService {
  proposeMeta(command: MetaCommand): Promise<MetaForwardAnswer>;
  writePartition(write: PartitionWrite): Promise<PartitionWriteAnswer>;
  /** Admits a node; `clusterId` is the cluster it already belongs to ("" for a new node). */
  join(request: JoinRequest): Promise<JoinAnswer>;
  describe(request: DescribeRequest): Promise<ShardDescription[]>;
  select(request: SelectRequest): Promise<SeriesPartial[]>;
  deletePartition(request: PartitionDelete): Promise<void>;
  /** Streams this node's replica's files, when they hold the group's log up to `minIndex`. */
  fetchSnapshot(request: SnapshotRequest): AsyncIterable<SnapshotChunk>;
  /** This node's copy of the metadata a gateway routes by. */
  readMeta(): MetaView;
  /** The sizes of a partition this node leads. */
  partitionSizes(request: PartitionSizesRequest): Promise<PartitionSizes>;
  /** Bytes of this node's voting replicas of some groups, and its last figures of all. */
  partitionBytes(request: PartitionBytesRequest): PartitionBytesAnswer;
  /**
   * Per group, in order: the read point this node confirms now as its leader under a valid
   * lease (its commit index), or 0 when it cannot (src/cluster/read_round.ts).
   */
  readIndexes(groupIds: readonly number[]): number[];
}

/**
 * A node's copy of the members, retention policies and partition map, for a stateless gateway
 * that routes requests to nodes and plans queries over the partitions (`ClusterService.ReadMeta`).
 */
export interface MetaView {
  clusterId: string;
  /** The node that answered and the metadata index its copy has applied. */
  nodeId: number;
  appliedIndex: number;
  nodes: { id: number; httpAddress: string; raftAddress: string }[];
  /** The answering node's configured query limits (absent: the defaults). */
  queryLimits?: QueryLimits;
  /** In creation order. */
  databases: {
    name: string;
    partitions: { groupId: number; replicas: number[]; leaderHint: number }[];
    defaultRetentionPolicy: string;
    retentionPolicies: MetaRetentionPolicy[];
    /** How series are placed in its partitions (a gateway splits writes by it). */
    hash: PartitionHash;
    hashKey: PartitionKey;
  }[];
}

/** A retention policy as a gateway plans over it. */
export interface MetaRetentionPolicy {
  name: string;
  durationNs: bigint;
  shardGroupDurationNs: bigint;
  replicaN: number;
}

/** Calls this node makes on other nodes. */
export interface PeerClient {
  proposeMeta(node: number, command: MetaCommand): Promise<MetaForwardAnswer>;
  writePartition(node: number, write: PartitionWrite): Promise<PartitionWriteAnswer>;
  describe(node: number, request: DescribeRequest): Promise<ShardDescription[]>;
  select(node: number, request: SelectRequest): Promise<SeriesPartial[]>;
  /**
   * A SELECT's parts on several shard groups of one partition in one call (`request.startMs`
   * and `request.measurements` are not used): the partials of each shard, in `shards` order.
   * Absent where calls are cheap (in memory).
   * @throws an `unimplemented` {@linkcode EpochError} from a node that predates it.
   */
  selectShards?(
    node: number,
    request: SelectRequest,
    shards: readonly SelectShard[],
  ): Promise<SeriesPartial[][]>;
  deletePartition(node: number, request: PartitionDelete): Promise<void>;
  fetchSnapshot(node: number, request: SnapshotRequest): AsyncIterable<SnapshotChunk>;
  partitionSizes(node: number, request: PartitionSizesRequest): Promise<PartitionSizes>;
  /** {@linkcode PeerService.partitionBytes} on a node. Absent: sizes are not measured. */
  partitionBytes?(node: number, request: PartitionBytesRequest): Promise<PartitionBytesAnswer>;
  /**
   * {@linkcode PeerService.readIndexes} on a node: one call for the read barriers of every group
   * it leads, bounded by `timeoutMs` (default: the network's). Absent: each group takes its own
   * Raft barrier.
   */
  readIndexes?(node: number, groupIds: readonly number[], timeoutMs?: number): Promise<number[]>;
}

/** The network of one node: Raft transports and peer calls, addressed by node id. */
export interface ClusterNetwork {
  /** The transport of one Raft group on this node. */
  transport(groupId: number): Transport;
  peers: PeerClient;
  /** Where a member answers (its node-to-node address); called as membership changes. */
  setPeer(nodeId: number, raftAddress: string): void;
  removePeer(nodeId: number): void;
  /** Serves the calls other nodes make on this node. */
  serve(service: PeerService): void;
  /** Bytes sent to and received from each peer so far (metrics); absent in memory. */
  traffic?(): { node: number; sentBytes: number; receivedBytes: number }[];
  /** Calls refused for want of the cluster secret so far (metrics); absent in memory. */
  refusedCalls?(): number;
}
