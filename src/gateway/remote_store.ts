/**
 * The cluster as the gateway's query engine sees it: the catalog from the metadata the gateway
 * read (`ClusterService.ReadMeta`), and every partition read on the nodes with the same
 * partition-read calls a node uses for the partitions it does not hold (Describe, then one
 * Select for all the shard groups the query reads of it, at the partition's leader or, at `any`
 * consistency, the first replica that answers). The partials are folded here as a node folds its own fan-out, so the answer is the
 * one a node gives. It serves SELECT statements, and writes split by partition when made for
 * one (the split and the sending are `partitioned_write.ts`'s): the gateway sends anything else
 * that changes state, and SHOW statements, to a node.
 * @module
 */
import { type Clock, EpochError, NotFoundError, type Point } from "../core/mod.ts";
import type { WriteOutcome } from "../storage/mod.ts";
import {
  callReplica,
  cannotAnswer,
  fanOutShards,
  isUnavailable,
  type MetaView,
  type PartitionRoute,
  type PeerClient,
  type SelectShard,
} from "../cluster/mod.ts";
import type {
  PlanRequest,
  QueryLimits,
  ReadConsistency,
  RetentionPolicyInfo,
  ShardReader,
  ShardsOptions,
} from "../query/mod.ts";
import type { DataStore } from "../http/mod.ts";
import { ShardBatches } from "./shard_batches.ts";

/** What a {@linkcode RemoteStore} reads with. */
export interface RemoteStoreOptions {
  /** The metadata copy the query is planned over. */
  meta: MetaView;
  /** Partition reads on nodes, by node id (`selectShards`: one call for several groups). */
  peers: Pick<PeerClient, "describe" | "select" | "selectShards">;
  clock: Clock;
  sleep: (ms: number) => Promise<void>;
  /** How long a read looks for a partition's leader. @default {10000} */
  leaderTimeoutMs?: number;
  /**
   * The metadata copy showed itself stale: a partition's leader read was answered by another node
   * than its leader hint (it followed a "not leader" answer or passed a node that failed), or no
   * node could answer for a partition. The gateway reads its copy again.
   */
  onStale?: (why: string) => void;
  /** Writes a request's points, split by partition (`partitioned_write.ts`); absent: none. */
  write?: (
    database: DatabaseView,
    retentionPolicy: string | undefined,
    points: Point[],
  ) => Promise<WriteOutcome & { unavailable: number }>;
}

type DatabaseView = MetaView["databases"][number];

/** A read-only store over the cluster's nodes, for one gateway request. */
export class RemoteStore implements DataStore {
  readonly #options: RemoteStoreOptions;
  readonly #databases: Map<string, DatabaseView>;

  constructor(options: RemoteStoreOptions) {
    this.#options = options;
    this.#databases = new Map(options.meta.databases.map((d) => [d.name, d]));
  }

  databases(): string[] {
    return [...this.#databases.keys()];
  }

  hasDatabase(name: string): boolean {
    return this.#databases.has(name);
  }

  retentionPolicies(database: string): RetentionPolicyInfo[] {
    const db = this.#database(database);
    return db.retentionPolicies.map((rp) => ({
      name: rp.name,
      durationNs: rp.durationNs,
      shardGroupDurationNs: rp.shardGroupDurationNs,
      replicaN: rp.replicaN,
      isDefault: rp.name === db.defaultRetentionPolicy,
    }));
  }

  defaultRetentionPolicy(database: string): string {
    return this.#database(database).defaultRetentionPolicy;
  }

  /** Never called: a query that needs it is sent to a node (no shard is read in-process). */
  shards(): ShardReader[] {
    throw new EpochError("internal", "the gateway reads every partition on the nodes");
  }

  /** The shard groups of a policy in a range, every partition described by a node. */
  async shardsAsync(
    database: string,
    retentionPolicy: string,
    minNs: bigint,
    maxNs: bigint,
    options: ShardsOptions = {},
  ): Promise<ShardReader[]> {
    const db = this.#database(database);
    if (!db.retentionPolicies.some((rp) => rp.name === retentionPolicy)) {
      throw new NotFoundError(`retention policy not found: ${retentionPolicy}`, {
        details: { database, retentionPolicy },
      });
    }
    const consistency = options.consistency ?? "leader";
    const { peers } = this.#options;
    return await fanOutShards(
      new Map(),
      db.partitions.map((p, index) => {
        const read = <T>(call: (target: number) => Promise<T>) =>
          this.#onReplica({ ...p, index }, consistency, call);
        // The node whose replica passed the read barrier for the description: its state only
        // moves on, so the SELECT parts it answers need no barrier of their own (one ReadIndex
        // per partition and query, as a node pays for its own replicas).
        let confirmed: number | undefined;
        const atConfirmed = async <T>(
          call: (target: number, at: ReadConsistency) => Promise<T>,
        ): Promise<T> => {
          if (consistency === "leader" && confirmed !== undefined) {
            try {
              return await call(confirmed, "any");
            } catch (error) {
              if (!isUnavailable(error)) throw error;
              // That node went away: the part is read at the leader, behind its barrier.
            }
          }
          return await read((target) => call(target, consistency));
        };
        const part = (
          request: PlanRequest,
          limits: QueryLimits | undefined,
          at: ReadConsistency,
        ) => ({
          groupId: p.groupId,
          database,
          retentionPolicy,
          startMs: 0,
          consistency: at,
          request,
          measurements: [],
          limits,
        });
        const selectOne = (shard: SelectShard, request: PlanRequest, limits?: QueryLimits) =>
          atConfirmed((target, at) =>
            peers.select(target, { ...part(request, limits, at), ...shard })
          );
        const batches = new ShardBatches(
          selectOne,
          (shards, request, limits) =>
            atConfirmed((target, at) =>
              peers.selectShards!(target, part(request, limits, at), shards)
            ),
        );
        return {
          describe: () => {
            // The first ask, of the node the copy names as leader, is leader-only: a follower
            // would answer through a ReadIndex and the copy's stale hint would go unseen. Its
            // refusal marks the copy stale (`onStale`); every later ask (the leader it named,
            // a guess, or the same node again) may be answered by a follower: the leader named
            // may be at an address the copy does not know yet.
            let firstAsk = true;
            return read(async (target) => {
              const leaderOnly = firstAsk && target === p.leaderHint;
              firstAsk = false;
              const request = {
                groupId: p.groupId,
                database,
                retentionPolicy,
                minNs,
                maxNs,
                consistency,
                series: options.series === true,
                leaderOnly,
              };
              const shards = await peers.describe(target, request).catch((error) => {
                if (leaderOnly) {
                  this.#options.onStale?.(`node ${target} no longer leads partition ${index}`);
                }
                throw error;
              });
              confirmed = target;
              return shards;
            });
          },
          select: (startMs, request, measurements, limits) =>
            peers.selectShards === undefined
              ? selectOne({ startMs, measurements }, request, limits)
              : batches.select({ startMs, measurements }, request, limits),
        };
      }),
    );
  }

  // Never reached: the gateway sends such requests to a node.

  createDatabase(): Promise<void> {
    return Promise.reject(this.#sentToNodes("CREATE DATABASE"));
  }

  dropDatabase(): Promise<void> {
    return Promise.reject(this.#sentToNodes("DROP DATABASE"));
  }

  /** Sends the points to their partitions' nodes (when this store was made for a write). */
  async write(
    database: string,
    retentionPolicy: string | undefined,
    points: Point[],
  ): Promise<WriteOutcome & { unavailable: number }> {
    const db = this.#database(database);
    if (
      retentionPolicy !== undefined &&
      !db.retentionPolicies.some((rp) => rp.name === retentionPolicy)
    ) {
      throw new NotFoundError(`retention policy not found: ${retentionPolicy}`, {
        details: { database, retentionPolicy },
      });
    }
    if (this.#options.write === undefined) throw this.#sentToNodes("a write");
    if (points.length === 0) return { accepted: 0, rejected: [], unavailable: 0 };
    return await this.#options.write(db, retentionPolicy, points);
  }

  stats(): never {
    throw this.#sentToNodes("statistics");
  }

  figures(): never {
    throw this.#sentToNodes("storage figures");
  }

  #sentToNodes(what: string): EpochError {
    return new EpochError("internal", `the gateway sends ${what} to a node; it has no storage`);
  }

  async #onReplica<T>(
    partition: PartitionRoute & { index: number; groupId: number },
    consistency: "leader" | "any",
    call: (target: number) => Promise<T>,
  ): Promise<T> {
    let answered = 0;
    try {
      return await callReplica(partition, consistency, {
        monotonicMs: () => this.#options.clock.monotonicMs(),
        sleep: this.#options.sleep,
        timeoutMs: this.#options.leaderTimeoutMs,
      }, async (target) => {
        const answer = await call(target);
        answered = target;
        return answer;
      });
    } catch (error) {
      this.#options.onStale?.(`partition ${partition.index} could not be read`);
      throw cannotAnswer(partition, error);
    } finally {
      // (A copy naming no leader is not wrong: the metadata had none to give.)
      const hint = partition.leaderHint;
      if (consistency === "leader" && answered !== 0 && hint !== 0 && answered !== hint) {
        this.#options.onStale?.(
          `partition ${partition.index} is led by node ${answered}, not node ` +
            `${partition.leaderHint} as the metadata copy says`,
        );
      }
    }
  }

  #database(name: string): DatabaseView {
    const db = this.#databases.get(name);
    if (!db) {
      throw new NotFoundError(`database not found: ${name}`, { details: { database: name } });
    }
    return db;
  }
}
