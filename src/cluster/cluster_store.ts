/**
 * The database as the HTTP and RPC doors see it, on a cluster node: catalog statements go
 * through the metadata group, writes through the write router, and queries read the shards of
 * every partition (the node's own replicas in-process, one union reader per shard group).
 * Implements the query room's `QueryStore`.
 * @module
 */
import {
  type Clock,
  EpochError,
  type FieldType,
  Histogram,
  NotFoundError,
  type Point,
  ValidationError,
} from "../core/mod.ts";
import type {
  DeleteRequest,
  QueryStore,
  RetentionPolicySpec,
  ShardReader,
  ShardsOptions,
} from "../query/mod.ts";
import {
  type AppendOptions,
  checkDatabaseName,
  checkPolicy,
  type DatabaseFigures,
  type EngineStats,
  type RetentionPolicyView,
  type StorageFigures,
  tieringOp,
  type WriteConsistency,
} from "../storage/mod.ts";
import { effectiveShardGroupDuration } from "../storage/retention.ts";
import { fanOutShards, type RemotePartition } from "./fanout_reader.ts";
import type {
  DatabaseMeta,
  DatabaseOptions,
  PartitionInfo,
  RetentionPolicyMeta,
} from "./meta/meta_state.ts";
import { callPartitionLeader, callReplica, cannotAnswer, routeOn } from "./partition_calls.ts";
import type { PartitionSizes, ReadConsistency } from "./network.ts";
import {
  deleteOnReplica,
  describeReplica,
  selectReplica,
  sizesOnReplica,
} from "./partition_reads.ts";
import type { ClusterNode } from "./node.ts";
import type { PartitionReplica } from "./partition/replica.ts";
import type { MetaGroup } from "./meta/meta_group.ts";
import { META_GROUP_ID } from "./meta/meta_state.ts";
import { readBarriers, type ReadMember } from "./read_round.ts";

/** The whole int64 nanosecond range but its two ends (InfluxDB's bounds). */
const MIN_NS = -9223372036854775806n;
const MAX_NS = 9223372036854775806n;
import { UnionShardReader } from "./union_reader.ts";
import { PartitionCache, type RoutedWriteOutcome, routeWrite } from "./write_router.ts";

/** Options of {@linkcode ClusterStore}. */
export interface ClusterStoreOptions {
  clock: Clock;
  sleep: (ms: number) => Promise<void>;
  /** How long a write looks for partition leaders. @default {10000} */
  writeTimeoutMs?: number;
  /** How long a read waits for a partition's ReadIndex barrier. @default {10000} */
  readTimeoutMs?: number;
  /** Most fields per measurement; 0 = unlimited. @default {MAX_FIELDS_PER_MEASUREMENT} */
  maxFieldsPerMeasurement?: number;
}

/** The cluster as one database. */
export class ClusterStore implements QueryStore {
  readonly #cache = new PartitionCache();

  constructor(readonly node: ClusterNode, private readonly options: ClusterStoreOptions) {}

  // --- catalog -------------------------------------------------------------------------------

  /** Database names in creation order (InfluxDB lists them so). */
  databases(): string[] {
    return [...this.node.meta.state.databases.values()].sort((a, b) => a.id - b.id).map((d) =>
      d.name
    );
  }

  hasDatabase(name: string): boolean {
    return this.node.meta.state.databases.has(name);
  }

  /**
   * True when the database exists, catching up with the metadata leader first when this node's
   * copy lacks it: a write sent to this node right after another node created the database
   * found no database here and answered 404 (seen in CI, under load). Bounded: a leader that
   * cannot be reached within two seconds leaves the answer to this node's copy.
   */
  async knowsDatabase(name: string): Promise<boolean> {
    if (this.hasDatabase(name)) return true;
    await this.node.meta.sync(2_000).catch(() => {});
    return this.hasDatabase(name);
  }

  /** Creates a database; an existing one is left as it is (InfluxDB). */
  async createDatabase(name: string, options: DatabaseOptions = {}): Promise<void> {
    checkDatabaseName(name);
    if (this.hasDatabase(name)) return;
    const d = this.node.defaults;
    const nodes = this.node.meta.state.nodes.size;
    const partitions = options.partitions ?? (d.partitions || Math.max(4, 2 * nodes));
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > 4096) {
      throw new ValidationError(`partitions must be 1..4096, got ${partitions}`);
    }
    const result = await this.node.proposeMeta({
      op: "create_database",
      name,
      partitions,
      hash: options.hash ?? d.hash,
      hashKey: options.hashKey ?? d.hashKey,
      replicationFactor: options.replicationFactor ?? (d.replicationFactor || 3),
    });
    if (!result.ok) throw new EpochError("unavailable", result.error);
    // The node opens its replicas of the new partitions before the database is used.
    for (const p of this.#database(name).partitions) await this.node.openReplica(p.groupId);
  }

  async dropDatabase(name: string): Promise<void> {
    if (!this.hasDatabase(name)) return;
    await this.node.proposeMeta({ op: "drop_database", name });
  }

  retentionPolicies(database: string): RetentionPolicyView[] {
    const db = this.#database(database);
    // Sizes: one local replica of each partition (partitions without one here are not counted;
    // on a single node that is none).
    const sizes = new Map<string, { bytes: number; coldBytes: number }>();
    for (const p of db.partitions) {
      const engine = this.node.localReplica(p.groupId)?.engine;
      if (!engine?.hasDatabase(database)) continue;
      for (const view of engine.retentionPolicies(database)) {
        const sum = sizes.get(view.name) ?? { bytes: 0, coldBytes: 0 };
        sum.bytes += view.bytes;
        sum.coldBytes += view.coldBytes;
        sizes.set(view.name, sum);
      }
    }
    return [...db.retentionPolicies.values()].map((rp) => ({
      name: rp.name,
      durationNs: rp.durationNs,
      shardGroupDurationNs: rp.shardGroupDurationNs,
      replicaN: rp.replicaN,
      isDefault: rp.name === db.defaultRetentionPolicy,
      maxBytes: rp.maxBytes ?? 0,
      coldAfterNs: rp.coldAfterNs ?? 0n,
      bytes: sizes.get(rp.name)?.bytes ?? 0,
      coldBytes: sizes.get(rp.name)?.coldBytes ?? 0,
    }));
  }

  /**
   * Bytes of each policy of the database as the partitions' leaders count them (the counts
   * their size limits act on), summed; asked in parallel, from this node's replica when it
   * leads. A partition whose leader does not answer fails the call, naming it.
   */
  async retentionSizes(
    database: string,
  ): Promise<Map<string, { bytes: number; coldBytes: number }>> {
    const out = new Map<string, { bytes: number; coldBytes: number }>();
    for (const sizes of await this.#leaderSizes(database)) {
      for (const p of sizes.policies) {
        const sum = out.get(p.name) ?? { bytes: 0, coldBytes: 0 };
        sum.bytes += p.bytes;
        sum.coldBytes += p.coldBytes;
        out.set(p.name, sum);
      }
    }
    return out;
  }

  /** Bytes of each measurement's blocks in the database on the partitions' leaders, summed. */
  async measurementSizes(database: string): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const sizes of await this.#leaderSizes(database)) {
      for (const [m, n] of sizes.measurements) out.set(m, (out.get(m) ?? 0) + n);
    }
    return out;
  }

  #leaderSizes(database: string): Promise<PartitionSizes[]> {
    return Promise.all(
      this.#database(database).partitions.map((p) =>
        this.#onPartition(p, async (target) => {
          const request = { groupId: p.groupId, database };
          return target === this.node.nodeId
            ? sizesOnReplica(await this.node.heldReplica(p.groupId), database)
            : await this.node.network.peers.partitionSizes(target, request);
        })
      ),
    );
  }

  /** Bytes of each measurement's blocks in the database, over one local replica per partition. */
  measurementBytes(database: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const p of this.#database(database).partitions) {
      const engine = this.node.localReplica(p.groupId)?.engine;
      if (!engine?.hasDatabase(database)) continue;
      for (const [m, n] of engine.measurementBytes(database)) out.set(m, (out.get(m) ?? 0) + n);
    }
    return out;
  }

  defaultRetentionPolicy(database: string): string {
    return this.#database(database).defaultRetentionPolicy;
  }

  async createRetentionPolicy(database: string, spec: RetentionPolicySpec): Promise<void> {
    const db = this.#database(database);
    checkPolicy(spec.durationNs, spec.shardGroupDurationNs, spec.replicaN);
    const existing = db.retentionPolicies.get(spec.name);
    if (existing) {
      const sgd = effectiveShardGroupDuration(spec.durationNs, spec.shardGroupDurationNs);
      const same = existing.durationNs === spec.durationNs &&
        existing.shardGroupDurationNs === sgd && existing.replicaN === spec.replicaN &&
        (existing.maxBytes ?? 0) === (spec.maxBytes ?? 0) &&
        (existing.coldAfterNs ?? 0n) === (spec.coldAfterNs ?? 0n) &&
        (!spec.isDefault || db.defaultRetentionPolicy === spec.name);
      if (same) return;
      throw new ValidationError("retention policy already exists", {
        details: { database, retentionPolicy: spec.name },
      });
    }
    if (!spec.name) throw new ValidationError("retention policy name required");
    await this.#meta({
      op: "create_retention_policy",
      database,
      name: spec.name,
      durationNs: spec.durationNs.toString(),
      shardGroupDurationNs: spec.shardGroupDurationNs.toString(),
      replicaN: spec.replicaN,
      isDefault: spec.isDefault,
      ...tieringOp(spec),
    });
  }

  async alterRetentionPolicy(
    database: string,
    name: string,
    changes: Partial<Omit<RetentionPolicySpec, "name">>,
  ): Promise<void> {
    const rp = this.#policy(this.#database(database), name);
    const duration = changes.durationNs ?? rp.durationNs;
    const sgd = changes.shardGroupDurationNs ??
      (changes.durationNs !== undefined ? 0n : rp.shardGroupDurationNs);
    checkPolicy(duration, sgd, changes.replicaN ?? rp.replicaN);
    await this.#meta({
      op: "alter_retention_policy",
      database,
      name,
      durationNs: changes.durationNs?.toString(),
      shardGroupDurationNs: changes.shardGroupDurationNs?.toString(),
      replicaN: changes.replicaN,
      isDefault: changes.isDefault,
      ...tieringOp(changes),
    });
  }

  async dropRetentionPolicy(database: string, name: string): Promise<void> {
    if (!this.#database(database).retentionPolicies.has(name)) return;
    await this.#meta({ op: "drop_retention_policy", database, name });
  }

  /** DELETE / DROP SERIES / DROP MEASUREMENT: on every partition, through its log. */
  async deleteSeries(database: string, request: DeleteRequest): Promise<void> {
    const db = this.#database(database);
    const { seriesFilter: _f, tagFilter: _t, ...plain } = request;
    await Promise.all(db.partitions.map((p) => {
      const part = { ...plain, groupId: p.groupId, database };
      return this.#onPartition(
        p,
        (target) =>
          target === this.node.nodeId
            ? this.node.heldReplica(p.groupId).then((r) => deleteOnReplica(r, part))
            : this.node.network.peers.deletePartition(target, part),
      );
    }));
  }

  /**
   * Waits until this node's copy of the metadata and its replicas of these databases' partitions
   * have applied every change and write acknowledged before the call (ReadIndex on each group):
   * a retention policy created through another node is listed, a point written through another
   * node is read. A partition's failure is reported before the metadata's.
   *
   * The partitions are those the metadata lists this node as holding, before the metadata
   * barrier (the two run at once) and again after it: the metadata barrier may apply a replica
   * list that names this node where it did not (a move promoted its replica while this node's
   * copy of the metadata lagged). Queries read such a replica in-process
   * ({@linkcode ClusterNode.localReplica}), so it passes its own barrier too. One listed later
   * still is barriered where it is read ({@linkcode shardsAsync}).
   */
  async readBarrier(databases: readonly string[]): Promise<void> {
    const timeoutMs = this.options.readTimeoutMs;
    const replicas: PartitionReplica[] = [];
    for (const name of databases) {
      const db = this.node.meta.state.databases.get(name);
      if (!db) continue;
      for (const p of db.partitions) {
        const inProcess = this.#inProcess(p.groupId); // noted unlisted too: see #listing
        if (!p.replicas.includes(this.node.nodeId)) continue; // read elsewhere, at its leader
        const replica = inProcess ?? await this.node.openReplica(p.groupId);
        if (replica) replicas.push(replica);
      }
    }
    // One round: the metadata's barrier goes with the partitions' (read_round.ts).
    const { barriers, meta } = this.#startBarriers(replicas, timeoutMs, true);
    const settled = await Promise.allSettled([...barriers.map((b) => b.done), meta!]);
    this.#fence(barriers, settled);
    const late: PartitionReplica[] = [];
    for (const name of databases) {
      for (const p of this.node.meta.state.databases.get(name)?.partitions ?? []) {
        const replica = this.#inProcess(p.groupId);
        if (replica !== undefined && !barriers.some((b) => b.replica === replica)) {
          late.push(replica);
        }
      }
    }
    if (late.length > 0) await this.#barrier(late, timeoutMs);
  }

  /** Orders listings and barrier starts (see {@linkcode #listing}, {@linkcode #fencedAt}). */
  #sequence = 0;
  /**
   * Per group, the replica queries read in-process (undefined: none) as this store last saw it,
   * and the sequence number when it first saw that. A replica is read in-process only after a
   * barrier that started once it was listed (the query's own, or a later one): a replica listed
   * after a query's barrier may lag the writes acknowledged before the query.
   */
  readonly #listing = new Map<number, { replica: PartitionReplica | undefined; since: number }>();
  /** Per replica, the sequence number at the start of its latest completed read barrier. */
  readonly #fencedAt = new WeakMap<PartitionReplica, number>();

  /** The replica queries read in-process for a group, noting when it changed. */
  #inProcess(groupId: number): PartitionReplica | undefined {
    const replica = this.node.localReplica(groupId);
    const seen = this.#listing.get(groupId);
    if (seen === undefined || seen.replica !== replica) {
      this.#listing.set(groupId, { replica, since: ++this.#sequence });
    }
    return replica;
  }

  /**
   * Starts read barriers on `replicas` (and on the metadata when `withMeta`), in one round per
   * leader node ({@linkcode readBarriers}).
   */
  #startBarriers(
    replicas: readonly PartitionReplica[],
    timeoutMs: number | undefined,
    withMeta: boolean,
  ): { barriers: Barrier[]; meta?: Promise<void> } {
    const members = replicas.map((r) => replicaMember(r, timeoutMs));
    if (withMeta) members.push(metaMember(this.node.meta, timeoutMs));
    const started = replicas.map(() => ++this.#sequence);
    const done = readBarriers(this.node.nodeId, members, this.node.network.peers, timeoutMs);
    return {
      barriers: replicas.map((replica, i) => ({ replica, started: started[i], done: done[i] })),
      meta: withMeta ? done[replicas.length] : undefined,
    };
  }

  /** Notes the barriers that succeeded; throws the first failure, in list order. */
  #fence(barriers: readonly Barrier[], settled: readonly PromiseSettledResult<unknown>[]): void {
    barriers.forEach(({ replica, started }, i) => {
      if (settled[i].status !== "fulfilled") return;
      if ((this.#fencedAt.get(replica) ?? 0) < started) this.#fencedAt.set(replica, started);
    });
    const failed = settled.find((s) => s.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  /** Read barriers on `replicas`, noted as fences. */
  async #barrier(replicas: readonly PartitionReplica[], timeoutMs?: number): Promise<void> {
    const { barriers } = this.#startBarriers(replicas, timeoutMs, false);
    this.#fence(barriers, await Promise.allSettled(barriers.map((b) => b.done)));
  }

  /** The in-process replicas of these partitions no barrier covers since they were listed. */
  #unfenced(partitions: readonly PartitionInfo[]): PartitionReplica[] {
    const out: PartitionReplica[] = [];
    for (const p of partitions) {
      const replica = this.#inProcess(p.groupId);
      const since = this.#listing.get(p.groupId)?.since ?? Infinity;
      if (replica !== undefined && (this.#fencedAt.get(replica) ?? 0) < since) out.push(replica);
    }
    return out;
  }

  /**
   * The shards of a policy in a time range, wherever its partitions are: when this node holds
   * them all, the union readers of {@linkcode shards}; else one fan-out reader per shard group
   * over the local partitions and the others' descriptions, fetched now from each partition's
   * leader (`leader` consistency, the default: the leader confirms its commit index first) or
   * from any replica that answers (`any`: as that replica is). The executor has passed the
   * local replicas' read barrier first, unless at `any`.
   */
  async shardsAsync(
    database: string,
    retentionPolicy: string,
    minNs: bigint,
    maxNs: bigint,
    options: ShardsOptions = {},
  ): Promise<ShardReader[]> {
    const db = this.#database(database);
    const rp = this.#policy(db, retentionPolicy);
    const consistency = options.consistency ?? "leader";
    if (consistency === "leader") {
      const unfenced = this.#unfenced(db.partitions); // listed after the query's barrier
      if (unfenced.length > 0) await this.#barrier(unfenced, this.options.readTimeoutMs);
    }
    const remote = db.partitions.filter((p) => this.#inProcess(p.groupId) === undefined);
    if (remote.length === 0) return this.shards(database, retentionPolicy, minNs, maxNs);
    const local = new Map<number, ShardReader[]>();
    for (const p of db.partitions) {
      const replica = this.#inProcess(p.groupId);
      if (replica === undefined || !replica.engine.hasDatabase(database)) continue;
      if (!replica.engine.retentionPolicies(database).some((r) => r.name === rp.name)) continue;
      for (const view of replica.engine.shards(database, rp.name, minNs, maxNs)) {
        let list = local.get(view.startMs);
        if (!list) local.set(view.startMs, list = []);
        list.push(view);
      }
    }
    return await fanOutShards(
      local,
      remote.map((p): RemotePartition => ({
        describe: () =>
          this.#onReplica(p, consistency, (target) => {
            const request = {
              groupId: p.groupId,
              database,
              retentionPolicy: rp.name,
              minNs,
              maxNs,
              consistency,
              series: options.series === true,
            };
            return target === this.node.nodeId
              ? this.node.heldReplica(p.groupId).then((r) => describeReplica(r, request))
              : this.node.network.peers.describe(target, request);
          }),
        select: (startMs, request, measurements, limits) =>
          this.#onReplica(p, consistency, (target) => {
            const select = {
              groupId: p.groupId,
              database,
              retentionPolicy: rp.name,
              startMs,
              consistency,
              request,
              measurements,
              limits,
            };
            return target === this.node.nodeId
              ? this.node.heldReplica(p.groupId).then((r) =>
                selectReplica(r, select, () => this.options.clock.monotonicMs())
              )
              : this.node.network.peers.select(target, select);
          }),
      })),
    );
  }

  /** Calls a partition's leader (any replica answers a ReadIndex read), naming it on failure. */
  async #onPartition<T>(partition: PartitionInfo, call: (target: number) => Promise<T>) {
    try {
      return await callPartitionLeader(this.node, partition, this.#callOptions(), call);
    } catch (error) {
      throw cannotAnswer(partition, error);
    }
  }

  /**
   * A read of a partition: from its leader at `leader` consistency; at `any`, from the first of
   * its replicas that answers (the leader this node knows of first, then the others in turn).
   */
  async #onReplica<T>(
    partition: PartitionInfo,
    consistency: ReadConsistency,
    call: (target: number) => Promise<T>,
  ): Promise<T> {
    try {
      return await callReplica(
        routeOn(this.node, partition),
        consistency,
        this.#callOptions(),
        call,
      );
    } catch (error) {
      throw cannotAnswer(partition, error);
    }
  }

  #callOptions() {
    return {
      monotonicMs: () => this.options.clock.monotonicMs(),
      sleep: this.options.sleep,
      timeoutMs: this.options.writeTimeoutMs,
    };
  }

  /**
   * What the schema registry checks against (src/schema `StoredData`): the field types the
   * metadata has declared cluster-wide (every field written anywhere, exact), and the series
   * keys of this node's own replicas (a node holding only some partitions sees only theirs).
   */
  storedData(): {
    fieldTypes(measurement: string): { database: string; types: Map<string, FieldType> }[];
    seriesKeys(database: string, measurement: string): Iterable<string>;
  } {
    const state = this.node.meta.state;
    return {
      fieldTypes: (measurement) =>
        [...state.databases.values()].flatMap((db) => {
          const types = db.fieldTypes.get(measurement);
          return types && types.size > 0 ? [{ database: db.name, types: new Map(types) }] : [];
        }),
      seriesKeys: (database, measurement) => {
        const keys = new Set<string>();
        for (const p of state.databases.get(database)?.partitions ?? []) {
          const engine = this.node.localReplica(p.groupId)?.engine;
          if (!engine?.hasDatabase(database)) continue;
          for (const rp of engine.retentionPolicies(database)) {
            for (const view of engine.shards(database, rp.name, MIN_NS, MAX_NS)) {
              for (const series of view.series(measurement)) keys.add(series.key);
            }
          }
        }
        return keys;
      },
    };
  }

  /** The shards of a policy in a time range: per shard group, one reader over all partitions. */
  shards(database: string, retentionPolicy: string, minNs: bigint, maxNs: bigint): ShardReader[] {
    const db = this.#database(database);
    const rp = this.#policy(db, retentionPolicy);
    const byGroup = new Map<number, ShardReader[]>();
    for (const p of db.partitions) {
      const replica = this.node.localReplica(p.groupId);
      if (replica === undefined) {
        throw new EpochError(
          "unavailable",
          `partition ${p.index} of ${database} is not held by node ${this.node.nodeId}`,
          { details: { database, partition: p.index, replicas: p.replicas } },
        );
      }
      if (!replica.engine.hasDatabase(database)) continue;
      if (!replica.engine.retentionPolicies(database).some((r) => r.name === rp.name)) continue;
      for (const view of replica.engine.shards(database, rp.name, minNs, maxNs)) {
        let list = byGroup.get(view.startMs);
        if (!list) byGroup.set(view.startMs, list = []);
        list.push(view);
      }
    }
    return [...byGroup].sort((a, b) => a[0] - b[0]).map(([, parts]) => UnionShardReader.of(parts));
  }

  // --- writes --------------------------------------------------------------------------------

  /**
   * Writes points; the outcome lists refused points by index with InfluxDB's reasons, and how
   * many were not written because their partition had no leader (`unavailable`).
   * @throws {NotFoundError} for an unknown database or retention policy.
   */
  async write(
    database: string,
    retentionPolicy: string | undefined,
    points: Point[],
    options: AppendOptions = {},
  ): Promise<RoutedWriteOutcome> {
    const db = this.#database(database);
    const rp = this.#policy(db, retentionPolicy ?? db.defaultRetentionPolicy);
    if (points.length === 0) return { accepted: 0, rejected: [], unavailable: 0 };
    return await routeWrite(this.node, this.#cache, db, rp, points, {
      consistency: options.consistency as WriteConsistency | undefined,
      nowMs: this.options.clock.nowMs(),
      monotonicMs: () => this.options.clock.monotonicMs(),
      sleep: this.options.sleep,
      timeoutMs: this.options.writeTimeoutMs,
      maxFieldsPerMeasurement: this.options.maxFieldsPerMeasurement,
    });
  }

  // --- node ----------------------------------------------------------------------------------

  /** Counts over this node's replicas. */
  stats(): EngineStats {
    const total: EngineStats = {
      databases: this.node.meta.state.databases.size,
      series: 0,
      values: 0,
      headValues: 0,
      segments: 0,
      segmentBytes: 0,
      coldGroups: 0,
      coldBytes: 0,
      coldMoves: 0,
      sizeDrops: 0,
      flushes: 0,
      compactions: 0,
      compactionBusyMs: 0,
      compactionSleptMs: 0,
      flushing: false,
      compactionsPending: 0,
    };
    for (const r of this.node.replicas.values()) {
      const s = r.engine.stats();
      total.series += s.series;
      total.values += s.values;
      total.headValues += s.headValues;
      total.segments += s.segments;
      total.segmentBytes += s.segmentBytes;
      total.coldGroups += s.coldGroups;
      total.coldBytes += s.coldBytes;
      total.coldMoves += s.coldMoves;
      total.sizeDrops += s.sizeDrops;
      total.flushes += s.flushes;
      total.compactions += s.compactions;
      total.compactionBusyMs += s.compactionBusyMs;
      total.compactionSleptMs += s.compactionSleptMs;
      total.flushing ||= s.flushing;
      total.compactionsPending += s.compactionsPending;
    }
    return total;
  }

  /**
   * Storage figures over this node's replicas, per database: one walk of each replica's shards
   * (a scrape of a node with many partitions costs their segments, not their planning).
   */
  figures(): StorageFigures {
    const databases = new Map<string, DatabaseFigures>();
    // Every database of the cluster, with what this node holds of it (maybe nothing).
    for (const name of this.node.meta.state.databases.keys()) {
      databases.set(name, {
        series: 0,
        headValues: 0,
        segmentValues: 0,
        segments: 0,
        segmentBytes: 0,
      });
    }
    const total: StorageFigures = {
      databases,
      headBytes: 0,
      flushes: 0,
      compactions: 0,
      flushSeconds: new Histogram(),
      compactionSeconds: new Histogram(),
      cacheHits: 0,
      cacheMisses: 0,
    };
    for (const r of this.node.replicas.values()) {
      const f = r.engine.figures();
      total.headBytes += f.headBytes;
      total.flushes += f.flushes;
      total.compactions += f.compactions;
      total.flushSeconds.merge(f.flushSeconds);
      total.compactionSeconds.merge(f.compactionSeconds);
      for (const [name, d] of f.databases) {
        const sum = databases.get(name);
        if (!sum) continue; // dropped from the cluster; the replica closes soon
        sum.series += d.series;
        sum.headValues += d.headValues;
        sum.segmentValues += d.segmentValues;
        sum.segments += d.segments;
        sum.segmentBytes += d.segmentBytes;
      }
    }
    // One cache serves every replica: its counts once, not once per replica.
    const cache = this.node.blockCache;
    total.cacheHits = cache.hits;
    total.cacheMisses = cache.misses;
    total.cacheBytes = cache.bytes;
    return total;
  }

  /** Flushes the heads of every replica on this node. */
  async flush(): Promise<void> {
    for (const r of this.node.replicas.values()) await r.engine.flush();
  }

  // --- helpers -------------------------------------------------------------------------------

  #database(name: string): DatabaseMeta {
    const db = this.node.meta.state.databases.get(name);
    if (!db) {
      throw new NotFoundError(`database not found: ${name}`, { details: { database: name } });
    }
    return db;
  }

  #policy(db: DatabaseMeta, name: string): RetentionPolicyMeta {
    const rp = db.retentionPolicies.get(name);
    if (!rp) {
      throw new NotFoundError(`retention policy not found: ${name}`, {
        details: { database: db.name, retentionPolicy: name },
      });
    }
    return rp;
  }

  async #meta(command: Parameters<ClusterNode["proposeMeta"]>[0]): Promise<void> {
    const result = await this.node.proposeMeta(command);
    if (!result.ok) throw new ValidationError(result.error);
  }
}

/** A partition replica as {@linkcode readBarriers} uses it. */
function replicaMember(replica: PartitionReplica, timeoutMs?: number): ReadMember {
  return {
    groupId: replica.groupId,
    leader: () => replica.leader(),
    readBarrier: () => replica.readBarrier(timeoutMs),
    waitApplied: (index) =>
      replica.raft.waitApplied(index, timeoutMs).catch((error) => {
        throw new EpochError(
          "unavailable",
          `partition group ${replica.groupId} cannot confirm a read: ${
            error instanceof Error ? error.message : error
          }`,
          { retryAfterSeconds: 1, details: { groupId: replica.groupId }, cause: error },
        );
      }),
  };
}

/** This node's copy of the metadata as {@linkcode readBarriers} uses it. */
function metaMember(meta: MetaGroup, timeoutMs?: number): ReadMember {
  const unavailable = (error: unknown) => {
    throw new EpochError(
      "unavailable",
      `the metadata group cannot confirm a read: ${error instanceof Error ? error.message : error}`,
      { cause: error, retryAfterSeconds: 1 },
    );
  };
  return {
    groupId: META_GROUP_ID,
    leader: () => meta.leader(),
    readBarrier: () => meta.sync(timeoutMs).catch(unavailable),
    waitApplied: (index) => meta.raft.waitApplied(index, timeoutMs).catch(unavailable),
  };
}

/** A read barrier on a replica, and when it started (the store's sequence). */
interface Barrier {
  replica: PartitionReplica;
  started: number;
  done: Promise<void>;
}
