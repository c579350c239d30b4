/**
 * The cluster: metadata in one Raft group, data partitioned by a hash into Raft groups whose logs
 * are the replicas' write-ahead logs, writes routed to partition leaders, queries over every
 * partition. A lone node is a one-node cluster. DESIGN.md beside this file tells the whole shape.
 * @module
 */
export { ClusterStore, type ClusterStoreOptions } from "./cluster_store.ts";
export { fanOutShards, type RemotePartition } from "./fanout_reader.ts";
export {
  type CallOptions,
  callReplica,
  cannotAnswer,
  isUnavailable,
  type PartitionRoute,
} from "./partition_calls.ts";
export {
  fnv1a64,
  PARTITION_HASHES,
  type PartitionHash,
  type PartitionKey,
  partitionOf,
  xxhash64,
} from "./hash.ts";
export { DatabasePartitions } from "./write_router.ts";
export { checkSameCluster, loadIdentity, saveIdentity, type StoredIdentity } from "./identity.ts";
export { MemoryHub, MemoryNetwork, partitionWriteOverTheWire } from "./memory_network.ts";
export type { DatabaseOptions, MetaCommand, MetaResult } from "./meta/meta_state.ts";
export {
  Privilege,
  type PrivilegeBits,
  type TokenMeta,
  type TokenScope,
  type UserCommand,
  type UserMeta,
  UserTable,
} from "./meta/meta_users.ts";
export { decodeWire, encodeWire } from "./wire_json.ts";
export type { BackupExport, SnapshotChunk, SnapshotFile } from "./partition/snapshot.ts";
export type {
  ClusterNetwork,
  DescribeRequest,
  JoinAnswer,
  JoinRequest,
  MetaRetentionPolicy,
  MetaView,
  PartitionBytesAnswer,
  PartitionBytesRequest,
  PartitionDelete,
  PartitionSizes,
  PartitionSizesRequest,
  PartitionWrite,
  PartitionWriteAnswer,
  PeerClient,
  PeerService,
  ReadConsistency,
  SelectRequest,
  SelectShard,
  ShardDescription,
  SnapshotRequest,
} from "./network.ts";
export {
  CLUSTER_DEFAULTS,
  type ClusterDefaults,
  ClusterNode,
  type ClusterNodeOptions,
  type NodeIdentity,
} from "./node.ts";
export {
  type BackupMetadata,
  backupMetadata,
  restoreMetadata,
  type RestoreOutcome,
} from "./backup.ts";
export type { RestoreSelection } from "./meta/meta_restore.ts";
export {
  type AlertMeta,
  type AlertRuleMeta,
  type ContinuousQueryMeta,
  cqJobId,
  type EvaluationMeta,
  type JobCommand,
  type JobsRound,
  JobTable,
} from "./meta/meta_jobs.ts";
export {
  SCHEMA_OPS,
  type SchemaCommand,
  type SchemaMeta,
  type SchemaResult,
  SchemaTable,
} from "./meta/meta_schemas.ts";
