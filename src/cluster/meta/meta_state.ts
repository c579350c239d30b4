/**
 * The cluster's metadata as a deterministic state machine: every node applies the metadata
 * group's committed commands in log order and reaches the same state. No clock, no random
 * source, no IO: what depends on time (retention expiry) is decided by the proposer and arrives
 * as a command; ids are allocated from counters in the state.
 *
 * Durations and times: nanosecond durations are decimal strings in commands and snapshots
 * (int64), `bigint` in memory; shard group bounds are whole milliseconds.
 *
 * @module
 */
import { FIELD_TYPE_NAMES, type FieldType } from "../../core/mod.ts";
import { effectiveShardGroupDuration, groupStartMs } from "../../storage/retention.ts";
import type { PartitionHash, PartitionKey } from "../hash.ts";
import { placeReplicas } from "./placement.ts";
import { USER_OPS, type UserCommand, UserTable } from "./meta_users.ts";
import { JOB_OPS, type JobCommand, JobTable } from "./meta_jobs.ts";
import { SCHEMA_OPS, type SchemaCommand, SchemaTable } from "./meta_schemas.ts";

/** The metadata group's own Raft group id. Partition groups get ids above it. */
export const META_GROUP_ID = 1;

/** A member node. */
export interface NodeInfo {
  id: number;
  /** Where its HTTP API answers (`host:port`). */
  httpAddress: string;
  /** Where its node-to-node services answer (`host:port`). */
  raftAddress: string;
  version: string;
  /** Set by `cluster remove`: its replicas move away, then it leaves. */
  draining?: boolean;
}

/** A time range of a retention policy; every partition keeps its points of the range apart. */
export interface ShardGroupInfo {
  id: number;
  startMs: number;
  endMs: number;
}

/** A retention policy. */
export interface RetentionPolicyMeta {
  id: number;
  name: string;
  /** 0 = infinite. */
  durationNs: bigint;
  shardGroupDurationNs: bigint;
  replicaN: number;
  /** Size limit of the policy across its partitions (0 or absent: none). */
  maxBytes?: number;
  /** Shard groups ending this long ago move to the cold store (0 or absent: never). */
  coldAfterNs?: bigint;
  /** By start. */
  shardGroups: ShardGroupInfo[];
}

/** One partition: a Raft group and the nodes holding its replicas. */
export interface PartitionInfo {
  groupId: number;
  /** 0-based position in the database's partition list (the hash's modulus result). */
  index: number;
  /**
   * Node ids of its replicas (the voters of its Raft group, as its leader last reported them);
   * the first is the preferred leader.
   */
  replicas: number[];
  /**
   * Where its replicas should be (the rebalancer's decision). Equal to `replicas` as a set when
   * no move is under way; otherwise the group's leader adds, promotes and removes members one at
   * a time until its voters are these.
   */
  target: number[];
  /**
   * Learners of its Raft group (nodes a move is copying in), as its leader last reported them.
   * A node never drops a replica the metadata lists here or in `replicas`: a learner is promoted
   * only once listed, so no voter's copy is ever dropped on a stale view.
   */
  learners: number[];
  /** The last leader a node reported (0 = unknown). */
  leaderHint: number;
}

/** A database. */
export interface DatabaseMeta {
  id: number;
  name: string;
  hash: PartitionHash;
  hashKey: PartitionKey;
  replicationFactor: number;
  partitions: PartitionInfo[];
  defaultRetentionPolicy: string;
  retentionPolicies: Map<string, RetentionPolicyMeta>;
  nextRetentionPolicyId: number;
  /** measurement -> field -> type: a field keeps its first declared type cluster-wide. */
  fieldTypes: Map<string, Map<string, FieldType>>;
}

/** Options of a new database (defaults from the cluster's settings). */
export interface DatabaseOptions {
  partitions?: number;
  hash?: PartitionHash;
  hashKey?: PartitionKey;
  replicationFactor?: number;
}

/** What may change: one JSON-encodable command per metadata log entry. */
export type MetaCommand =
  | { op: "add_node"; httpAddress: string; raftAddress: string; version: string }
  | { op: "update_node"; id: number; httpAddress: string; raftAddress: string; version: string }
  | { op: "remove_node"; id: number }
  | {
    op: "create_database";
    name: string;
    partitions: number;
    hash: PartitionHash;
    hashKey: PartitionKey;
    replicationFactor: number;
  }
  | { op: "drop_database"; name: string }
  | {
    op: "create_retention_policy";
    database: string;
    name: string;
    durationNs: string;
    shardGroupDurationNs: string;
    replicaN: number;
    isDefault: boolean;
    maxBytes?: number;
    coldAfterNs?: string;
  }
  | {
    op: "alter_retention_policy";
    database: string;
    name: string;
    durationNs?: string;
    shardGroupDurationNs?: string;
    replicaN?: number;
    isDefault?: boolean;
    maxBytes?: number;
    coldAfterNs?: string;
  }
  | { op: "drop_retention_policy"; database: string; name: string }
  | { op: "create_shard_groups"; database: string; retentionPolicy: string; timesMs: number[] }
  | { op: "drop_shard_groups"; database: string; retentionPolicy: string; ids: number[] }
  | {
    op: "declare_fields";
    database: string;
    measurement: string;
    /** field -> FieldType */
    fields: Record<string, FieldType>;
  }
  | { op: "partition_leader"; groupId: number; leader: number }
  | { op: "set_replicas"; groupId: number; replicas: number[]; learners?: number[] }
  | { op: "set_target"; groupId: number; target: number[] }
  | { op: "drain_node"; id: number }
  | UserCommand
  | JobCommand
  | SchemaCommand;

/** What applying a command answers its proposer. */
export type MetaResult =
  | { ok: true; nodeId?: number; conflicts?: Record<string, FieldType> }
  | { ok: false; error: string };

/** Listeners of changes a node acts on (start or stop partition groups, drop local data). */
export interface MetaEvents {
  partitionsChanged?(database: string): void;
  databaseDropped?(database: DatabaseMeta): void;
  retentionPolicyDropped?(database: DatabaseMeta, policy: RetentionPolicyMeta): void;
  shardGroupsDropped?(database: string, policy: string, groups: ShardGroupInfo[]): void;
  nodesChanged?(): void;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** Encodes a command as a metadata log entry's data. */
export function encodeMetaCommand(command: MetaCommand): Uint8Array {
  return textEncoder.encode(JSON.stringify(command));
}

/** Decodes a metadata log entry's data. */
export function decodeMetaCommand(data: Uint8Array): MetaCommand {
  return JSON.parse(textDecoder.decode(data)) as MetaCommand;
}

/** The replicated metadata. */
export class MetaState {
  readonly nodes = new Map<number, NodeInfo>();
  readonly databases = new Map<string, DatabaseMeta>();
  nextNodeId = 1;
  nextDatabaseId = 1;
  /** Raft group ids; the metadata group is 1. */
  nextGroupId = META_GROUP_ID + 1;
  nextShardGroupId = 1;
  /** Users, privileges and API tokens. */
  readonly users = new UserTable();
  /** Continuous queries, API alert rules and the schedule's state. */
  readonly jobs = new JobTable();
  /** Measurement schemas set through the API (with the files they name). */
  readonly schemas = new SchemaTable();
  /** Bumped by every applied command: caches keyed on it stay exact. */
  version = 0;
  events: MetaEvents = {};

  /** Applies one committed command. Never throws for a command that is merely refused. */
  apply(command: MetaCommand): MetaResult {
    this.version++;
    if (USER_OPS.has(command.op)) {
      return this.users.apply(command as UserCommand, (name) => this.databases.has(name));
    }
    if (JOB_OPS.has(command.op)) {
      return this.jobs.apply(command as JobCommand, (name) => this.databases.has(name));
    }
    if (SCHEMA_OPS.has(command.op)) return this.schemas.apply(command as SchemaCommand);
    switch (command.op) {
      case "add_node": {
        for (const n of this.nodes.values()) {
          // A node that asks again (its join answer was lost) keeps its id.
          if (n.raftAddress === command.raftAddress) {
            return { ok: true, nodeId: n.id };
          }
        }
        const id = this.nextNodeId++;
        this.nodes.set(id, {
          id,
          httpAddress: command.httpAddress,
          raftAddress: command.raftAddress,
          version: command.version,
        });
        this.events.nodesChanged?.();
        return { ok: true, nodeId: id };
      }
      case "update_node": {
        const n = this.nodes.get(command.id);
        if (!n) return { ok: false, error: `node ${command.id} is not a member` };
        n.httpAddress = command.httpAddress;
        n.raftAddress = command.raftAddress;
        n.version = command.version;
        this.events.nodesChanged?.();
        return { ok: true };
      }
      case "remove_node": {
        if (!this.nodes.delete(command.id)) return { ok: true };
        this.events.nodesChanged?.();
        return { ok: true };
      }
      case "create_database":
        return this.#createDatabase(command);
      case "drop_database": {
        const db = this.databases.get(command.name);
        if (!db) return { ok: true };
        this.databases.delete(command.name);
        this.users.dropDatabase(command.name);
        this.jobs.dropDatabase(command.name);
        this.events.databaseDropped?.(db);
        return { ok: true };
      }
      case "create_retention_policy":
        return this.#createPolicy(command);
      case "alter_retention_policy":
        return this.#alterPolicy(command);
      case "drop_retention_policy": {
        const db = this.databases.get(command.database);
        const rp = db?.retentionPolicies.get(command.name);
        if (!db || !rp) return { ok: true };
        db.retentionPolicies.delete(command.name);
        this.events.retentionPolicyDropped?.(db, rp);
        return { ok: true };
      }
      case "create_shard_groups": {
        const rp = this.databases.get(command.database)?.retentionPolicies.get(
          command.retentionPolicy,
        );
        if (!rp) {
          return { ok: false, error: `retention policy not found: ${command.retentionPolicy}` };
        }
        for (const ms of command.timesMs) this.#shardGroupFor(rp, ms);
        return { ok: true };
      }
      case "drop_shard_groups": {
        const rp = this.databases.get(command.database)?.retentionPolicies.get(
          command.retentionPolicy,
        );
        if (!rp) return { ok: true };
        const ids = new Set(command.ids);
        const dropped = rp.shardGroups.filter((g) => ids.has(g.id));
        rp.shardGroups = rp.shardGroups.filter((g) => !ids.has(g.id));
        if (dropped.length > 0) {
          this.events.shardGroupsDropped?.(command.database, command.retentionPolicy, dropped);
        }
        return { ok: true };
      }
      case "declare_fields": {
        const db = this.databases.get(command.database);
        if (!db) return { ok: false, error: `database not found: ${command.database}` };
        let types = db.fieldTypes.get(command.measurement);
        if (!types) db.fieldTypes.set(command.measurement, types = new Map());
        const conflicts: Record<string, FieldType> = {};
        for (const [field, type] of Object.entries(command.fields)) {
          const had = types.get(field);
          if (had === undefined) types.set(field, type);
          else if (had !== type) conflicts[field] = had;
        }
        return { ok: true, conflicts };
      }
      case "partition_leader": {
        const p = this.partition(command.groupId);
        if (p) p.partition.leaderHint = command.leader;
        return { ok: true };
      }
      case "set_replicas": {
        const p = this.partition(command.groupId);
        if (!p) return { ok: false, error: `no partition group ${command.groupId}` };
        p.partition.replicas = inTargetOrder(command.replicas, p.partition.target);
        p.partition.learners = [...(command.learners ?? [])];
        this.events.partitionsChanged?.(p.database.name);
        return { ok: true };
      }
      case "set_target": {
        const p = this.partition(command.groupId);
        if (!p) return { ok: false, error: `no partition group ${command.groupId}` };
        const target = [...new Set(command.target)];
        if (target.length === 0) return { ok: false, error: "a partition needs a replica" };
        p.partition.target = target;
        // A new order of the same nodes is no move: only the preferred leader changes.
        if (sameMembers(target, p.partition.replicas)) p.partition.replicas = [...target];
        this.events.partitionsChanged?.(p.database.name);
        return { ok: true };
      }
      case "drain_node": {
        const n = this.nodes.get(command.id);
        if (!n) return { ok: false, error: `node ${command.id} is not a member` };
        n.draining = true;
        this.events.nodesChanged?.();
        return { ok: true };
      }
      default:
        throw new Error(`BUG: unknown metadata command ${JSON.stringify(command)}`);
    }
  }

  #createDatabase(c: Extract<MetaCommand, { op: "create_database" }>): MetaResult {
    if (this.databases.has(c.name)) return { ok: true };
    const nodes = [...this.nodes.values()].filter((n) => !n.draining);
    if (nodes.length === 0) return { ok: false, error: "the cluster has no nodes" };
    const placement = placeReplicas(this.replicaCounts(), {
      partitions: c.partitions,
      replicationFactor: Math.min(c.replicationFactor, nodes.length),
    });
    const db: DatabaseMeta = {
      id: this.nextDatabaseId++,
      name: c.name,
      hash: c.hash,
      hashKey: c.hashKey,
      replicationFactor: Math.min(c.replicationFactor, nodes.length),
      partitions: placement.map((replicas, index) => ({
        groupId: this.nextGroupId++,
        index,
        replicas,
        target: [...replicas],
        learners: [],
        leaderHint: 0,
      })),
      defaultRetentionPolicy: "autogen",
      retentionPolicies: new Map(),
      nextRetentionPolicyId: 1,
      fieldTypes: new Map(),
    };
    db.retentionPolicies.set("autogen", {
      id: db.nextRetentionPolicyId++,
      name: "autogen",
      durationNs: 0n,
      shardGroupDurationNs: effectiveShardGroupDuration(0n, 0n),
      replicaN: 1,
      shardGroups: [],
    });
    this.databases.set(c.name, db);
    this.events.partitionsChanged?.(c.name);
    return { ok: true };
  }

  #createPolicy(c: Extract<MetaCommand, { op: "create_retention_policy" }>): MetaResult {
    const db = this.databases.get(c.database);
    if (!db) return { ok: false, error: `database not found: ${c.database}` };
    if (db.retentionPolicies.has(c.name)) return { ok: true };
    const durationNs = BigInt(c.durationNs);
    db.retentionPolicies.set(c.name, {
      id: db.nextRetentionPolicyId++,
      name: c.name,
      durationNs,
      shardGroupDurationNs: effectiveShardGroupDuration(durationNs, BigInt(c.shardGroupDurationNs)),
      replicaN: c.replicaN,
      maxBytes: c.maxBytes ?? 0,
      coldAfterNs: BigInt(c.coldAfterNs ?? "0"),
      shardGroups: [],
    });
    if (c.isDefault) db.defaultRetentionPolicy = c.name;
    return { ok: true };
  }

  #alterPolicy(c: Extract<MetaCommand, { op: "alter_retention_policy" }>): MetaResult {
    const db = this.databases.get(c.database);
    const rp = db?.retentionPolicies.get(c.name);
    if (!db || !rp) return { ok: false, error: `retention policy not found: ${c.name}` };
    if (c.durationNs !== undefined) rp.durationNs = BigInt(c.durationNs);
    if (c.shardGroupDurationNs !== undefined || c.durationNs !== undefined) {
      rp.shardGroupDurationNs = effectiveShardGroupDuration(
        rp.durationNs,
        c.shardGroupDurationNs !== undefined
          ? BigInt(c.shardGroupDurationNs)
          : rp.shardGroupDurationNs,
      );
    }
    if (c.replicaN !== undefined) rp.replicaN = c.replicaN;
    if (c.maxBytes !== undefined) rp.maxBytes = c.maxBytes;
    if (c.coldAfterNs !== undefined) rp.coldAfterNs = BigInt(c.coldAfterNs);
    if (c.isDefault) db.defaultRetentionPolicy = c.name;
    return { ok: true };
  }

  /**
   * The shard group holding `ms`, created when missing: aligned on the policy's duration, and
   * clipped by existing groups (made before an ALTER of the duration), as the engine does.
   */
  #shardGroupFor(rp: RetentionPolicyMeta, ms: number): ShardGroupInfo {
    const existing = shardGroupAt(rp, ms);
    if (existing) return existing;
    const durMs = Number(rp.shardGroupDurationNs / 1_000_000n);
    const start = groupStartMs(ms, durMs);
    let end = start + durMs;
    let begin = start;
    for (const g of rp.shardGroups) {
      // The first group after the instant ends it; one between the aligned start and the
      // instant ended before it (none covers it) and moves the beginning instead.
      if (g.startMs > ms && g.startMs < end) end = g.startMs;
      if (g.endMs > begin && g.endMs <= ms) begin = g.endMs;
    }
    const group = { id: this.nextShardGroupId++, startMs: begin, endMs: end };
    rp.shardGroups.push(group);
    rp.shardGroups.sort((a, b) => a.startMs - b.startMs);
    return group;
  }

  /** A partition by Raft group id, with its database. */
  partition(groupId: number): { database: DatabaseMeta; partition: PartitionInfo } | undefined {
    for (const database of this.databases.values()) {
      for (const partition of database.partitions) {
        if (partition.groupId === groupId) return { database, partition };
      }
    }
    return undefined;
  }

  /**
   * Replicas each node holds or is to hold (its partitions' targets), for the nodes that take
   * new replicas (not draining): placement spreads new partitions by it.
   */
  replicaCounts(): Map<number, number> {
    const counts = new Map<number, number>();
    for (const n of this.nodes.values()) if (!n.draining) counts.set(n.id, 0);
    for (const db of this.databases.values()) {
      for (const p of db.partitions) {
        for (const n of p.target) if (counts.has(n)) counts.set(n, counts.get(n)! + 1);
      }
    }
    return counts;
  }

  /** The whole state as bytes (the metadata group's snapshot). */
  snapshot(): Uint8Array {
    return textEncoder.encode(JSON.stringify({
      version: 3,
      nextNodeId: this.nextNodeId,
      nextDatabaseId: this.nextDatabaseId,
      nextGroupId: this.nextGroupId,
      nextShardGroupId: this.nextShardGroupId,
      nodes: [...this.nodes.values()],
      databases: [...this.databases.values()].map((db) => ({
        ...db,
        retentionPolicies: [...db.retentionPolicies.values()].map((rp) => ({
          ...rp,
          durationNs: rp.durationNs.toString(),
          shardGroupDurationNs: rp.shardGroupDurationNs.toString(),
          coldAfterNs: (rp.coldAfterNs ?? 0n).toString(),
        })),
        fieldTypes: [...db.fieldTypes].map(([m, types]) => [m, [...types]]),
      })),
      ...this.users.toJSON(),
      ...this.jobs.toJSON(),
      ...this.schemas.toJSON(),
    }));
  }

  /** Replaces the whole state with a snapshot. */
  restore(data: Uint8Array): void {
    const s = JSON.parse(textDecoder.decode(data));
    // Version 1 had no users and tokens, version 2 no continuous queries and alerts.
    if (s.version !== 1 && s.version !== 2 && s.version !== 3) {
      throw new Error(`unsupported metadata snapshot version ${s.version}`);
    }
    this.users.restore(s);
    this.jobs.restore(s);
    // Schemas joined version 3 as an optional part: a snapshot without it has none.
    this.schemas.restore(s);
    this.nodes.clear();
    this.databases.clear();
    this.nextNodeId = s.nextNodeId;
    this.nextDatabaseId = s.nextDatabaseId;
    this.nextGroupId = s.nextGroupId;
    this.nextShardGroupId = s.nextShardGroupId;
    for (const n of s.nodes) this.nodes.set(n.id, n);
    for (const d of s.databases) {
      const db: DatabaseMeta = {
        ...d,
        retentionPolicies: new Map(
          d.retentionPolicies.map((rp: Record<string, unknown>) => [rp.name, {
            ...rp,
            durationNs: BigInt(rp.durationNs as string),
            shardGroupDurationNs: BigInt(rp.shardGroupDurationNs as string),
            coldAfterNs: BigInt((rp.coldAfterNs as string | undefined) ?? "0"),
          }]),
        ),
        fieldTypes: new Map(
          d.fieldTypes.map(([m, types]: [string, [string, FieldType][]]) => [m, new Map(types)]),
        ),
        // Snapshots before moves existed had no targets: each stayed where it was.
        partitions: d.partitions.map((p: PartitionInfo) => ({
          ...p,
          target: p.target ?? [...p.replicas],
          learners: p.learners ?? [],
        })),
      };
      this.databases.set(db.name, db);
    }
    this.version++;
    this.events.nodesChanged?.();
    for (const name of this.databases.keys()) this.events.partitionsChanged?.(name);
  }
}

/** Whether two node lists hold the same nodes. */
export function sameMembers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((n) => b.includes(n));
}

/** `nodes` ordered as they appear in `target` (the preferred leader first), others after by id. */
function inTargetOrder(nodes: readonly number[], target: readonly number[]): number[] {
  const rank = (n: number) => {
    const i = target.indexOf(n);
    return i < 0 ? target.length + n : i;
  };
  return [...new Set(nodes)].sort((a, b) => rank(a) - rank(b));
}

/** The shard group of a policy holding the instant `ms`, if any. */
export function shardGroupAt(rp: RetentionPolicyMeta, ms: number): ShardGroupInfo | undefined {
  const groups = rp.shardGroups;
  let lo = 0, hi = groups.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const g = groups[mid];
    if (ms < g.startMs) hi = mid - 1;
    else if (ms >= g.endMs) lo = mid + 1;
    else return g;
  }
  return undefined;
}

/** InfluxDB's words for a field whose type differs from the one declared. */
export function fieldTypeConflict(
  measurement: string,
  field: string,
  type: FieldType,
  declared: FieldType,
): string {
  return `field type conflict: input field "${field}" on measurement "${measurement}" is type ` +
    `${FIELD_TYPE_NAMES[type]}, already exists as type ${FIELD_TYPE_NAMES[declared]}`;
}
