/**
 * One replica of a partition: a storage engine whose log is the partition's Raft group.
 *
 * The engine runs unchanged on top of {@linkcode RaftEngineLog}: its writes and catalog changes
 * (the partition's database, retention policies, shard groups, deletes) are proposed as entries
 * `[record type u8][engine record]`; committed entries are applied in log order on every
 * replica, by the closure the engine handed over on the replica that proposed it (no decoding)
 * and by {@linkcode StorageEngine.applyRecord} on the others. A flush cuts at the applied index:
 * the engine's `catalog.json` records the first index its segments do not hold, and the Raft log
 * is compacted behind it (a snapshot naming that index).
 *
 * @module
 */
import { type Clock, EpochError, type FileSystem, type Logger, type Rng } from "../../core/mod.ts";
import {
  type Entry,
  EntryType,
  NotLeaderError,
  type ProposalWait,
  RaftNode,
  type RaftStorage,
  type RecoveredState,
  type ReplicatedStateMachine,
  type Timers,
  type Transport,
} from "../../raft/mod.ts";
import {
  type BackupExport,
  completeInstall,
  exportSnapshot,
  type SnapshotChunk,
  stageSnapshot,
} from "./snapshot.ts";
import {
  type AppendOptions,
  type EngineLog,
  type EngineOptions,
  StorageEngine,
  type WriteConsistency,
} from "../../storage/mod.ts";

/** Options of {@linkcode PartitionReplica.open}. */
export interface ReplicaOptions {
  groupId: number;
  /** This node's id (the replica's Raft id). */
  nodeId: number;
  /** The database the partition belongs to (its engine holds that one database). */
  database: string;
  /** The replica's engine folder. */
  dir: string;
  /** Voters of a brand-new group (every replica starts with the same list). */
  peers: readonly number[];
  storage: RaftStorage;
  recovered: RecoveredState;
  transport: Transport;
  fs: FileSystem;
  clock: Clock;
  rng: Rng;
  /** Waits between retries. */
  sleep: (ms: number) => Promise<void>;
  timers?: Timers;
  logger: Logger;
  /**
   * Streams a snapshot of this group from another replica that holds the log at least up to
   * `minIndex` (the node picks the replica; a failure is retried).
   */
  fetchSnapshot: (minIndex: number) => AsyncIterable<SnapshotChunk>;
  /** Engine settings (block size, limits ...); its log and timers are the replica's. */
  engine?: Partial<
    Omit<EngineOptions, "dir" | "fs" | "clock" | "logger" | "openLog" | "maintenanceIntervalMs">
  >;
  /** Raft tick length and election timeout in ticks. */
  tickMs?: number;
  electionTicks?: number;
  /** Proposal and read timeout. @default {10000} */
  requestTimeoutMs?: number;
  /** Entries kept behind a flush's compaction point for slow followers. @default {1000} */
  retainEntries?: number;
}

const WAIT_FOR: Record<WriteConsistency, ProposalWait> = {
  any: "queued",
  one: "persisted",
  quorum: "applied",
  all: "replicated",
};

/** A running partition replica. */
export class PartitionReplica implements ReplicatedStateMachine {
  readonly groupId: number;
  readonly database: string;
  engine!: StorageEngine;
  raft!: RaftNode;
  /** The first Raft index the engine's segments do not hold: entries before it are skipped. */
  #start = 1;
  /** Entry data proposed here -> the engine's apply closure (same object when it commits). */
  readonly #local = new WeakMap<Uint8Array, () => void>();
  readonly #options: ReplicaOptions;

  private constructor(options: ReplicaOptions) {
    this.groupId = options.groupId;
    this.database = options.database;
    this.#options = options;
  }

  /** Opens the engine from its folder, then starts the Raft group (which re-applies the tail). */
  static async open(options: ReplicaOptions): Promise<PartitionReplica> {
    const replica = new PartitionReplica(options);
    // A snapshot staged from another replica before a crash is swapped in (or dropped) first.
    if (await completeInstall(options.fs, options.dir)) {
      options.logger.info("installed a staged partition snapshot", { group: options.groupId });
    }
    await replica.#openEngine();
    let replay = 0;
    for (const e of options.recovered.entries) {
      if (e.index >= replica.#start && e.type === EntryType.Normal && e.data.length > 0) replay++;
    }
    options.logger.info("opened partition replica", {
      group: options.groupId,
      database: options.database,
      flushedBefore: replica.#start,
      // Entries the log holds beyond the segments: re-applied once the group has a leader.
      replay,
      tornBytes: options.recovered.tornBytes,
    });
    replica.raft = await RaftNode.start({
      id: options.nodeId,
      peers: options.peers,
      storage: options.storage,
      recovered: options.recovered,
      transport: options.transport,
      stateMachine: replica,
      rng: options.rng,
      timers: options.timers,
      logger: options.logger,
      tickMs: options.tickMs,
      electionTicks: options.electionTicks,
      // Leader leases: a leader's read barrier needs no round while a quorum heard from it.
      monotonicMs: () => options.clock.monotonicMs(),
      requestTimeoutMs: options.requestTimeoutMs,
      retainEntries: options.retainEntries,
      // Snapshots follow flushes (RaftEngineLog.removeSegmentsBefore), never entry counts.
      snapshotEntries: Number.MAX_SAFE_INTEGER,
    });
    return replica;
  }

  readonly #log = new RaftEngineLog(this);

  async #openEngine(): Promise<void> {
    const options = this.#options;
    this.engine = await StorageEngine.open({
      ...options.engine,
      dir: options.dir,
      fs: options.fs,
      clock: options.clock,
      logger: options.logger,
      openLog: (start) => {
        this.#start = Math.max(1, start);
        return Promise.resolve(this.#log);
      },
      replayDropsExpired: false,
      maintenanceIntervalMs: 0,
    });
  }

  /** The index of the last entry of the log applied (entries without data included). */
  get applied(): number {
    return this.raft === undefined ? this.#start - 1 : this.raft.appliedIndex;
  }

  /** The first index the engine's segments do not hold. */
  get flushedBefore(): number {
    return this.#start;
  }

  // --- ReplicatedStateMachine ----------------------------------------------------------------

  apply(entry: Entry): void {
    if (entry.index < this.#start) return; // flushed to segments before a restart
    const local = this.#local.get(entry.data);
    if (local !== undefined) {
      this.#local.delete(entry.data);
      local();
    } else {
      this.engine.applyRecord({
        type: entry.data[0],
        payload: entry.data.subarray(1),
        file: `raft group ${this.groupId}`,
        offset: entry.index,
      });
    }
  }

  snapshot(): Uint8Array {
    return encodeManifest({ groupId: this.groupId, appliedIndex: this.#start - 1 });
  }

  async restore(data: Uint8Array): Promise<void> {
    const manifest = decodeManifest(data);
    // A snapshot this replica took after a flush (on start) holds no more than its own files
    // (catalog.json is written before the snapshot).
    if (manifest.appliedIndex <= this.#start - 1) return;
    // The leader's: this replica fell behind the leader's compacted log. Its Raft log already
    // restarts after the snapshot, so it must get the files of a replica that holds at least that
    // much before it applies anything more; the group waits meanwhile.
    await this.#install(manifest.appliedIndex);
  }

  /** True while the replica swaps its files for another replica's (it answers nothing). */
  installing = false;

  async #install(minIndex: number): Promise<void> {
    const o = this.#options;
    for (let attempt = 0; !this.#closing; attempt++) {
      try {
        const applied = await stageSnapshot(o.fs, o.dir, o.fetchSnapshot(minIndex));
        this.installing = true;
        try {
          await this.engine.close({ flush: false });
          await completeInstall(o.fs, o.dir);
          await this.#openEngine();
        } finally {
          this.installing = false;
        }
        o.logger.info("installed a partition snapshot from another replica", {
          group: this.groupId,
          appliedIndex: applied,
          flushedBefore: this.#start,
        });
        return;
      } catch (error) {
        o.logger.warn("partition snapshot not installed yet; retrying", {
          group: this.groupId,
          minIndex,
          attempt,
          error: error instanceof Error ? error.message : String(error),
        });
        await o.sleep(Math.min(100 * 2 ** Math.min(attempt, 6), 5_000));
      }
    }
  }

  /** This replica's files, streamed for another replica that fell behind (see snapshot.ts). */
  exportSnapshot(minIndex: number, backup?: BackupExport): AsyncGenerator<SnapshotChunk> {
    if (this.installing) {
      throw new EpochError("unavailable", `group ${this.groupId} is installing a snapshot`);
    }
    return exportSnapshot(this.engine, this.#options.fs, this.#options.dir, minIndex, backup);
  }

  // --- the engine's log ------------------------------------------------------------------

  /** @internal Proposes an engine record. */
  propose(
    type: number,
    payload: Uint8Array,
    onDurable: (() => void) | undefined,
    options: AppendOptions | undefined,
  ): Promise<void> {
    const data = new Uint8Array(1 + payload.length);
    data[0] = type;
    data.set(payload, 1);
    if (onDurable !== undefined) this.#local.set(data, onDurable);
    const wait = WAIT_FOR[options?.consistency ?? "quorum"];
    return this.raft.propose(data, wait).then(() => {}, (error) => {
      this.#local.delete(data);
      throw error;
    });
  }

  /** @internal The engine flushed everything before `position`: compact the log behind it. */
  async flushed(position: number): Promise<void> {
    this.#start = Math.max(this.#start, position);
    // The leader keeps behind the flush what lagging replicas still lack (up to retainEntries).
    await this.raft.snapshotAt(position - 1, this.snapshot());
  }

  #catalogChain: Promise<unknown> = Promise.resolve();

  /**
   * Runs catalog changes (database, policies, shard groups) one at a time, so that concurrent
   * writes do not propose the same change twice.
   */
  catalogLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#catalogChain.then(fn, fn);
    this.#catalogChain = run.catch(() => {});
    return run;
  }

  /** True when this replica leads its group. */
  isLeader(): boolean {
    return this.raft.isLeader();
  }

  /** The leader this replica knows of (0 = none). */
  leader(): number {
    return this.raft.status().leaderId;
  }

  /**
   * Waits until this replica has applied every write acknowledged before the call (ReadIndex:
   * on a follower, the leader confirms the index). Retries while no leader is known, up to
   * `timeoutMs`.
   * @throws {EpochError} `unavailable` when the group has no leader in time.
   */
  async readBarrier(timeoutMs = 10_000): Promise<void> {
    const { clock } = this.#options;
    const deadline = clock.monotonicMs() + timeoutMs;
    for (let attempt = 0;; attempt++) {
      try {
        return await this.raft.readBarrier();
      } catch (error) {
        if (!(error instanceof NotLeaderError) || clock.monotonicMs() >= deadline) {
          throw new EpochError(
            "unavailable",
            `partition group ${this.groupId} cannot confirm a read: ${
              error instanceof Error ? error.message : error
            }`,
            { retryAfterSeconds: 1, details: { groupId: this.groupId }, cause: error },
          );
        }
        await this.#options.sleep(Math.min(10 * (attempt + 1), 100));
      }
    }
  }

  /** Starts an election at once when this replica is its group's only voter (after a restart). */
  campaignIfAlone(): void {
    const { voters } = this.raft.raft.currentConf();
    if (voters.length === 1 && voters[0] === this.#options.nodeId && !this.raft.isLeader()) {
      this.raft.campaign();
    }
  }

  #closing = false;

  /** Flushes the heads, then stops Raft and closes the engine. */
  async close(): Promise<void> {
    this.#closing = true;
    await this.engine.close();
    await this.raft.stop();
  }
}

/** The engine's log on top of a replica's Raft group. */
class RaftEngineLog implements EngineLog {
  constructor(private readonly replica: PartitionReplica) {}

  append(
    type: number,
    payload: Uint8Array,
    onDurable?: () => void,
    options?: AppendOptions,
  ): Promise<void> {
    return this.replica.propose(type, payload, onDurable, options);
  }

  cut(onCut: (position: number) => void): Promise<number> {
    // Entries are applied synchronously in the Ready loop, so "now" lies between two entries.
    const position = this.replica.applied + 1;
    onCut(position);
    return Promise.resolve(position);
  }

  async removeSegmentsBefore(position: number): Promise<number> {
    await this.replica.flushed(position);
    return 0;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

interface Manifest {
  groupId: number;
  /** The last index the engine's segments hold. */
  appliedIndex: number;
}

function encodeManifest(m: Manifest): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ version: 1, ...m }));
}

function decodeManifest(data: Uint8Array): Manifest {
  const m = JSON.parse(new TextDecoder().decode(data));
  if (m.version !== 1) throw new Error(`unsupported partition snapshot version ${m.version}`);
  return m;
}
