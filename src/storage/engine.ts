/**
 * The storage engine of one node: database → retention policy → shard group (a time range) →
 * shard → WAL + head + immutable segment files.
 *
 * - Writes are acknowledged after the WAL fsync and become visible to queries in log order.
 * - A flush (head past `flushHeadBytes`, or idle for `flushIdleMs`) cuts the WAL, freezes every
 *   head (writes go on into new heads), writes one segment per shard (temp file, fsync, rename,
 *   fsync of the folder), then `catalog.json` as of the cut, and only then deletes the WAL
 *   segments before the cut. Restart opens segment indexes (no data decoded) and replays the WAL
 *   after the cut.
 * - A background task (clock injected; {@linkcode StorageEngine.maintain} runs one pass) flushes
 *   idle heads, drops expired shard groups whole and compacts segments by levels.
 *
 * It implements the query room's QueryStore contract (structurally). Formats: wal/FORMAT.md,
 * segment/FORMAT.md; the design: FORMAT.md beside this file.
 * @module
 */
import {
  type Clock,
  CorruptionError,
  crc32c,
  fieldLayoutOf,
  FieldLayouts,
  type FieldType,
  type FileSystem,
  Histogram,
  instantFromNanos,
  type Logger,
  NotFoundError,
  type PackedPoint,
  packPoint,
  type Point,
  seriesKey,
  StorageError,
  type Tag,
  ValidationError,
} from "../core/mod.ts";
import {
  type CatalogOp,
  type CatalogSnapshot,
  checkDatabaseName,
  DatabaseState,
  type RetentionPolicy,
  snapshotDatabases,
  type SnapshotGroup,
  type StoredSeries,
  type TombstoneRecord,
} from "./catalog.ts";
import { coldSource, type ColdStore } from "./cold/mod.ts";
import { planColdMoves, planSizeDrops, type SizedGroup } from "./size_retention.ts";
import { blockBytes, measurementBlocks, sizeCutoffMs } from "./measurement_size.ts";
import type { ColumnView, SeriesColumns } from "./column.ts";
import { CpuBudget, obsoleteSegments, planCompaction } from "./compaction_plan.ts";
import { Head, type HeadSeries } from "./head.ts";
import type { TimeRange } from "./merge.ts";
import {
  effectiveShardGroupDuration,
  expiredGroups,
  groupStartMs,
  retentionCutoffMs,
} from "./retention.ts";
import {
  BlockCache,
  BlockCompression,
  DEFAULT_BLOCK_VALUES,
  deflateBlock,
  encodeSegmentYielding,
  SegmentReader,
  type SegmentSeriesInput,
} from "./segment/mod.ts";
import { newWarmUpProgress, Shard, type ShardSegment, type ShardView } from "./shard.ts";
import type { SeriesFilter } from "./series_index.ts";
import { MAX_FIELDS_PER_MEASUREMENT, PassedFieldTypes, PointRules } from "./point_rules.ts";
import { indexReplayedPoints } from "./replayed_points.ts";
import {
  decodeIndexedWriteBatch,
  encodeWriteRecords,
  MAX_RECORD_BYTES,
  type ReplayedRecord,
  WriteAheadLog,
  WriteBatchLayout,
} from "./wal/mod.ts";

/** WAL record types used by the engine. */
export const RecordType = { Write: 1, Catalog: 2, WriteInterned: 3 } as const;

/**
 * Where the engine makes its records durable before it applies them: the node's WAL, or (in a
 * cluster) a partition's Raft log. Positions are the log's own: WAL segment ids, Raft indexes.
 */
export interface EngineLog {
  /**
   * Makes a record durable and resolves; `onDurable` runs synchronously when the record is
   * applied, in log order. (A replicated log calls {@linkcode StorageEngine.applyRecord} instead
   * on replicas that did not append the record.)
   */
  append(
    type: number,
    payload: Uint8Array,
    onDurable?: () => void,
    options?: AppendOptions,
  ): Promise<void>;
  /**
   * Runs `onCut` between two records, once every record appended before the call is applied,
   * and resolves with the position of the first record not yet applied then.
   */
  cut(onCut: (position: number) => void): Promise<number>;
  /** Releases what the log holds before `position` (flushed to segments); returns a count. */
  removeSegmentsBefore(position: number): Promise<number>;
  close(): Promise<void>;
  /** Durations of the log's fsyncs in seconds, when it times them (a WAL does). */
  readonly fsyncSeconds?: Histogram;
}

/**
 * How durable a write must be before it is acknowledged, for logs that replicate (a WAL makes
 * every record durable on its node and ignores it).
 */
export interface AppendOptions {
  /**
   * `any`: accepted by the log; `one`: durable on one replica; `quorum`: committed on a majority
   * and applied here (the default); `all`: applied here and durable on every replica.
   */
  consistency?: WriteConsistency;
}

/** The consistency levels of InfluxDB Enterprise's `?consistency=` parameter. */
export type WriteConsistency = "any" | "one" | "quorum" | "all";

/**
 * Opens an engine's log. `start` is the first position the segments do not hold (from
 * catalog.json); `replay` applies a record from there on (a WAL replays at open, a Raft log as
 * its entries are applied).
 */
export type OpenEngineLog = (
  start: number,
  replay: (record: ReplayedRecord) => void,
) => Promise<EngineLog>;

/** Each retention policy's newest shard group (the background warm-up's share). */
function newestGroups(db: DatabaseState): Shard[] {
  const out: Shard[] = [];
  for (const rp of db.retentionPolicies.values()) {
    let newest: Shard | undefined;
    for (const g of rp.groups.values()) if (!newest || g.startMs > newest.startMs) newest = g;
    if (newest !== undefined) out.push(newest);
  }
  return out;
}

/** Timer functions of the engine (structurally the Raft layer's `Timers`). */
export interface EngineTimers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(id: unknown): void;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

const HOST_TIMERS: EngineTimers = {
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (id) => clearInterval(id as number),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as number),
};

/** Options of {@linkcode StorageEngine.open}. */
export interface EngineOptions {
  /** The node's data folder: `wal/`, `data/`, `catalog.json`. */
  dir: string;
  fs: FileSystem;
  clock: Clock;
  logger: Logger;
  /** WAL segment size in bytes. @default {64 MiB} */
  walSegmentBytes?: number;
  /** Flush the heads past this estimated size. @default {25 MiB} */
  flushHeadBytes?: number;
  /** Flush the heads after this long without writes; 0 = never. @default {600000} */
  flushIdleMs?: number;
  /** Values per segment block. @default {1000} */
  blockValues?: number;
  /** Most series per database; 0 = unlimited. @default {1000000} */
  maxSeriesPerDatabase?: number;
  /** Most values per tag key of a measurement; 0 = unlimited. @default {100000} */
  maxValuesPerTag?: number;
  /** Most fields per measurement; 0 = unlimited. @default {MAX_FIELDS_PER_MEASUREMENT} */
  maxFieldsPerMeasurement?: number;
  /** Decoded values held by the block cache. @default {4000000} */
  blockCacheValues?: number;
  /** Bytes of decoded blocks the block cache holds (with `blockCacheValues`). @default {Infinity} */
  blockCacheBytes?: number;
  /**
   * A block cache shared with the process's other engines (a node's partition replicas), so
   * that its bound holds for them all together; `blockCacheValues` is then unused.
   * @default a cache of this engine's own
   */
  blockCache?: BlockCache;
  /** Segments of one level merged at once. @default {4} */
  compactionFanout?: number;
  /**
   * The share of one CPU compaction may use, in (0, 1]: it works in slices of about 10 ms and
   * sleeps in proportion after each, so ingest keeps the event loop. @default {0.25}
   */
  compactionCpuShare?: number;
  /** Waits `ms` (the compaction budget's sleeps); tests pass a fake. @default {setTimeout} */
  sleep?: (ms: number) => Promise<void>;
  /**
   * The maintenance interval and the flush-at-close deadline run on these (a simulation passes
   * virtual ones). @default {the host's setInterval/setTimeout}
   */
  timers?: EngineTimers;
  /**
   * Called after points were applied to the heads, with their estimated size: an owner that
   * budgets memory over several engines (a cluster node's replicas) flushes from here.
   */
  onHeadGrowth?: (headBytes: number) => void;
  /** The log the engine writes through. @default {a WriteAheadLog in `<dir>/wal`} */
  openLog?: OpenEngineLog;
  /**
   * Replayed records drop the points their policy has expired by now. A replicated log applies
   * every record as written, so that all replicas hold the same (expiry drops whole groups).
   * @default {true}
   */
  replayDropsExpired?: boolean;
  /** Period of the background task; 0 = none (call maintain()). @default {1000} */
  maintenanceIntervalMs?: number;
  /**
   * After open, build in the background what the first query would otherwise build (each
   * segment's parsed series and field types, the series index) for each policy's newest shard
   * group, a step at a time: with a million series that first query took several times longer
   * than the next.
   * @default {true}
   */
  warmUpAtOpen?: boolean;
  /** Segment series the warm-up parses per step (tests make it small). @default {10000} */
  warmUpStepSeries?: number;
  /**
   * close() flushes the heads for at most this long (then closes anyway: the WAL keeps the
   * data); 0 = no flush at close. @default {10000}
   */
  closeFlushTimeoutMs?: number;
  /** Bytes a database may hold across its policies; 0 = no limit. @default {0} */
  maxBytesPerDatabase?: number;
  /** Where shard groups past their policy's `cold_after` go; none: nothing moves. */
  coldStore?: ColdStore;
  /**
   * Prefix of this engine's keys in the cold store (a cluster: the cluster and partition, as
   * replicas of a partition share its objects). @default {""}
   */
  coldPrefix?: string;
  /** Decoded values held by the cold segments' own block cache. @default {1000000} */
  coldBlockCacheValues?: number;
  /** Values per block of a cold segment. @default {COLD_BLOCK_VALUES} */
  coldBlockValues?: number;
  /**
   * Cold objects no catalog entry names (a move cut before its switch, a dropped or rewritten
   * group) are removed once this old, so queries in flight on other replicas can finish.
   * @default {600000}
   */
  coldSweepGraceMs?: number;
  /**
   * Sweeps unnamed cold objects at open (true for a node's own engine: nobody else moves its
   * groups; false for a partition replica, whose leader may be moving one). @default {true}
   */
  sweepColdAtOpen?: boolean;
  /**
   * Called at each step of a move to the cold store and of a size-retention drop (crash tests
   * kill the process there). Steps: `cold:temp`, `cold:upload`, `cold:switch`, `cold:delete`,
   * `size:logged`, `size:removing`.
   */
  tierHook?: (step: TierStep, detail: Record<string, unknown>) => void;
}

/** A step of a tier change reported to {@linkcode EngineOptions.tierHook}. */
export type TierStep =
  | "cold:temp"
  | "cold:upload"
  | "cold:switch"
  | "cold:delete"
  | "size:logged"
  | "size:removing"
  | "measure:logged"
  | "measure:written"
  | "measure:rewritten";

/**
 * Values per block of a cold segment: a larger block gives DEFLATE more to work with and the
 * index fewer entries to fetch (only series with more values per group than the hot block size
 * see a difference; the bench's have 360).
 */
export const COLD_BLOCK_VALUES = 8192;

/** Tiering settings that override the catalog's (a cluster's metadata holds them). */
export interface TierLimits {
  /** Per policy name; a policy not named keeps its catalog settings. */
  policies?: Record<string, { maxBytes?: number; coldAfterNs?: bigint }>;
  /** @default {EngineOptions.maxBytesPerDatabase} */
  databaseMaxBytes?: number;
  /** Most bytes of each named measurement's blocks in the database (schemas' `max_bytes`). */
  measurements?: ReadonlyMap<string, number>;
}

/** A point refused by the write path: its index in the request and InfluxDB's reason. */
export interface Rejection {
  index: number;
  reason: string;
}

/** What a write did. */
export interface WriteOutcome {
  accepted: number;
  rejected: Rejection[];
}

/** A retention policy as SHOW RETENTION POLICIES reports it. */
export interface RetentionPolicyView {
  name: string;
  durationNs: bigint;
  shardGroupDurationNs: bigint;
  replicaN: number;
  isDefault: boolean;
  /** 0 = no limit. */
  maxBytes: number;
  /** 0 = never. */
  coldAfterNs: bigint;
  /** Bytes of its segments on local disk. */
  bytes: number;
  /** Bytes of its cold objects. */
  coldBytes: number;
}

/** CREATE RETENTION POLICY's settings (matches query's RetentionPolicySpec). */
export interface RetentionPolicySpec {
  name: string;
  durationNs: bigint;
  shardGroupDurationNs: bigint;
  replicaN: number;
  isDefault: boolean;
  /** 0 or absent = no limit. */
  maxBytes?: number;
  /** 0 or absent = never. */
  coldAfterNs?: bigint;
}

/** DELETE / DROP SERIES / DROP MEASUREMENT (matches query's DeleteRequest). */
export interface DeleteRequest {
  measurements?: string[];
  seriesFilter?: (measurement: string, tags: readonly Tag[]) => boolean;
  /** The condition's tag terms: the series index narrows the series seriesFilter is asked. */
  tagFilter?: SeriesFilter;
  minNs: bigint;
  maxNs: bigint;
  dropSeries: boolean;
}

/** Counts for /metrics and /health. */
export interface EngineStats {
  databases: number;
  series: number;
  values: number;
  headValues: number;
  segments: number;
  segmentBytes: number;
  /** Shard groups in the cold store, and the bytes of their objects. */
  coldGroups: number;
  coldBytes: number;
  /** Groups moved to the cold store, and dropped by size retention, since start. */
  coldMoves: number;
  sizeDrops: number;
  flushes: number;
  compactions: number;
  /** Milliseconds compaction worked, and slept to keep within its CPU share. */
  compactionBusyMs: number;
  compactionSleptMs: number;
  /** A flush is running (heads being written, then the WAL trimmed). */
  flushing: boolean;
  /**
   * Merge steps the compaction plan holds now, a running one included: with `headValues` 0 and
   * `flushing` false, 0 means the data on disk is settled (benchmarks wait for it).
   */
  compactionsPending: number;
}

/** What a database holds on one engine, for `/metrics` (see {@linkcode StorageEngine.figures}). */
export interface DatabaseFigures {
  series: number;
  headValues: number;
  segmentValues: number;
  segments: number;
  segmentBytes: number;
}

/** An engine's figures for `/metrics`: cheap to read, so a scrape over many engines stays fast. */
export interface StorageFigures {
  databases: Map<string, DatabaseFigures>;
  /** The heads' estimated size, as the flush threshold sees it. */
  headBytes: number;
  flushes: number;
  compactions: number;
  /** Durations of flushes and of compaction steps, in seconds. */
  flushSeconds: Histogram;
  compactionSeconds: Histogram;
  /** The block cache: lookups that found a decoded block, and those that did not. */
  cacheHits: number;
  cacheMisses: number;
  /** Bytes of decoded blocks the block cache holds. */
  cacheBytes?: number;
  /** Durations of the log's fsyncs (a WAL; a Raft log reports its own). */
  logFsyncSeconds?: Histogram;
}

/** The level written in a cold segment's header (compaction never takes cold segments). */
const COLD_LEVEL = 7;

/** Bytes a shard group holds: its segments (cold object included). */
function groupBytes(shard: Shard): number {
  let bytes = 0;
  for (const s of shard.segments) bytes += s.reader.sizeBytes;
  if (shard.cold && !shard.segments.some((s) => s.cold)) bytes += shard.cold.bytes;
  return bytes;
}

/** True when a group holds data that is not in a cold object yet. */
function needsColdMove(shard: Shard): boolean {
  if (shard.cold === undefined) return shard.segments.length > 0 || shard.headValues > 0;
  return shard.headValues > 0 || shard.segments.some((s) => !s.cold);
}

/** InfluxDB's reason for a point older than its retention policy keeps. */
export const BEYOND_RETENTION = "points beyond retention policy";

const HOUR_NS = 3_600_000_000_000n;
/**
 * How long a segment replaced by compaction (or dropped) stays open for queries in flight; a
 * streamed answer holds its readers open beyond that (SegmentReader.hold).
 */
const RETIRED_GRACE_MS = 60_000;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

function segmentName(minGen: number, maxGen: number): string {
  return `${String(minGen).padStart(10, "0")}-${String(maxGen).padStart(10, "0")}.seg`;
}

const SEGMENT_NAME = /^(\d{10})-(\d{10})\.seg$/;
const GROUP_NAME = /^(-?\d+)_(\d+)$/;

function rangeOf(minNs: bigint, maxNs: bigint): TimeRange {
  const min = instantFromNanos(minNs), max = instantFromNanos(maxNs);
  return { minMs: min.ms, minSub: min.subMs, maxMs: max.ms, maxSub: max.subMs };
}

/** The single-node storage engine. */
export class StorageEngine {
  #databases = new Map<string, DatabaseState>();
  #wal!: EngineLog;
  #replayed = { records: 0, points: 0 };
  #nextGen = 1;
  #nextDatabaseId = 1;
  #cache: BlockCache;
  #flushing: Promise<void> | undefined;
  #headBytes = 0;
  #lastWriteMs = 0;
  /**
   * The shared field layouts of points written unpacked (jobs, schema steps that change fields,
   * library callers): every decoder hands out packed points.
   */
  readonly #layouts = new FieldLayouts();
  #timer: unknown;
  #maintaining: Promise<void> | undefined;
  #warming: Promise<void> | undefined;
  /** The warm-up's pending turn: close() ends it at once (virtual timers may never fire). */
  #warmTurn: { timer: unknown; wake: () => void } | undefined;
  #closed = false;
  /** Aborted by close(): a compaction in progress stops at its next slice. */
  readonly #stopping = new AbortController();
  /** Records applied (written, replayed) since the last WAL cut: a flush at close has work. */
  #dirty = false;
  #removals: Promise<void>[] = [];
  #retired: { reader: SegmentReader; at: number }[] = [];
  readonly #flushSeconds = new Histogram();
  readonly #compactionSeconds = new Histogram();
  #counts = {
    flushes: 0,
    compactions: 0,
    compactionBusyMs: 0,
    compactionSleptMs: 0,
    coldMoves: 0,
    sizeDrops: 0,
  };
  /** Cold segments have a cache of their own: a scan of cold data does not evict hot blocks. */
  readonly #coldCache: BlockCache;
  /** Cold objects being opened after a switch (the group reads locally until then). */
  readonly #coldOpening = new Map<Shard, Promise<void>>();
  /** Per policy (database id/policy id), the catalog file's groups, until the segments load. */
  #snapshotGroups = new Map<string, SnapshotGroup[]>();

  private constructor(private readonly options: EngineOptions) {
    this.#cache = options.blockCache ?? new BlockCache(
      options.blockCacheValues ?? 4_000_000,
      options.blockCacheBytes,
    );
    this.#coldCache = new BlockCache(options.coldBlockCacheValues ?? 1_000_000);
  }

  /** The cache of decoded blocks this engine reads through (maybe shared). */
  get blockCache(): BlockCache {
    return this.#cache;
  }

  /**
   * Opens (or creates) the data folder: the catalog file, the segment indexes, then the WAL
   * after the last flush.
   * @throws {CorruptionError} when the WAL (other than its tail), a segment header/index or the
   * catalog file is damaged.
   */
  static async open(options: EngineOptions): Promise<StorageEngine> {
    const engine = new StorageEngine(options);
    const { fs, dir, logger, clock } = options;
    await fs.mkdir(dir);
    await fs.mkdir(`${dir}/data`);
    const started = clock.monotonicMs();
    const walStart = await engine.#loadCatalog();
    const segments = await engine.#loadSegments();
    const openLog: OpenEngineLog = options.openLog ?? ((firstSegment, replay) =>
      WriteAheadLog.open(
        {
          fs,
          dir: `${dir}/wal`,
          logger,
          segmentBytes: options.walSegmentBytes,
          firstSegment,
          now: () => clock.monotonicMs(),
        },
        replay,
      ));
    engine.#wal = await openLog(walStart, (record) => engine.#replay(record));
    await engine.#settleRemovals();
    await engine.#settleColdOpens();
    if (options.coldStore && options.sweepColdAtOpen !== false) {
      // Nobody else moves this engine's groups: an unnamed object is a move cut before its
      // switch, or a group dropped since.
      await engine.sweepColdObjects(0).catch((error) => {
        logger.warn("cannot sweep the cold store", { error: String(error) });
      });
    }
    // An expired group may be back after a power loss (its removal is not fsynced), holding
    // points whose tombstones were pruned since: drop it again before anything reads it.
    await engine.expireShardGroups();
    engine.#lastWriteMs = clock.monotonicMs();
    logger.info("opened storage", {
      segments,
      walRecords: engine.#replayed.records,
      walPoints: engine.#replayed.points,
      ms: Math.round(clock.monotonicMs() - started),
    });
    if (options.warmUpAtOpen !== false) {
      engine.#warming = engine.#warmUp().catch((error) => {
        logger.warn("storage warm-up failed (queries build what it did not)", {
          error: String(error),
        });
      });
    }
    const every = options.maintenanceIntervalMs ?? 1000;
    if (every > 0) {
      engine.#timer = (options.timers ?? HOST_TIMERS).setInterval(() => {
        if (engine.#maintaining) return;
        engine.#maintaining = engine.maintain().catch((error) => {
          logger.error("storage maintenance failed", { error: String(error) });
        }).finally(() => engine.#maintaining = undefined);
      }, every);
    }
    return engine;
  }

  /**
   * The background warm-up (see `warmUpAtOpen`): every shard's {@linkcode ShardView.warmUp}, a
   * step (one measurement of one segment, or one shard's index) per turn of the event loop, so
   * writes and queries are served between steps. A query meanwhile builds what is not built yet
   * itself, through the same caches. Only each policy's newest shard group is warmed: it is what
   * dashboards read, and months of older groups parsed whole would hold their memory unasked. A
   * shard that cannot be read (a cold group not open yet) is left to its first query.
   */
  async #warmUp(): Promise<void> {
    const { clock, logger } = this.options;
    const timers = this.options.timers ?? HOST_TIMERS;
    const nextTurn = () =>
      new Promise<void>((wake) => {
        const turn = {
          wake,
          timer: timers.setTimeout(() => {
            this.#warmTurn = undefined;
            wake();
          }, 0),
        };
        this.#warmTurn = turn;
      });
    const started = clock.monotonicMs();
    let series = 0, steps = 0;
    for (const db of [...this.#databases.values()]) {
      for (const shard of newestGroups(db)) {
        if (shard.dropped || shard.cold !== undefined) continue;
        const progress = newWarmUpProgress();
        for (;;) {
          // Every step on a turn of its own, the first too: open() returns before any.
          await nextTurn();
          if (this.#closed) return;
          // Moved to the cold store meanwhile: left to its first query, as at the start.
          if (shard.dropped || shard.cold !== undefined) break;
          // A view of the segments the shard has now, held for this step only (see warmUpStep).
          const step = shard.reader().warmUpStep(progress, this.options.warmUpStepSeries);
          if (step === undefined) break;
          series += step;
          steps++;
        }
      }
    }
    logger.info("warmed storage", {
      steps,
      series,
      ms: Math.round(clock.monotonicMs() - started),
    });
  }

  /** Resolves once the background warm-up after open has ended (tests, benches). */
  warmedUp(): Promise<void> {
    return this.#warming ?? Promise.resolve();
  }

  async #loadCatalog(): Promise<number> {
    const path = `${this.options.dir}/catalog.json`;
    if (!(await this.options.fs.stat(path))) return 0;
    let snapshot: CatalogSnapshot;
    try {
      snapshot = JSON.parse(textDecoder.decode(await this.options.fs.readFile(path)));
    } catch (error) {
      throw new CorruptionError(path, 0, `unreadable catalog file: ${error}`);
    }
    if (snapshot.version !== 1) {
      throw new CorruptionError(path, 0, `unsupported catalog version ${snapshot.version}`);
    }
    this.#nextGen = snapshot.nextGen;
    this.#nextDatabaseId = snapshot.nextDatabaseId;
    for (const d of snapshot.databases) {
      const db = new DatabaseState(d.name, d.id);
      db.stored = this.#storedSeries(db);
      db.defaultRetentionPolicy = d.defaultRetentionPolicy;
      for (const rp of d.retentionPolicies) {
        const policy = db.addPolicy(
          rp.name,
          BigInt(rp.durationNs),
          BigInt(rp.shardGroupDurationNs),
          rp.replicaN,
          rp.id,
        );
        db.setTiering(policy, rp);
        policy.sizeHorizonMs = rp.sizeHorizonMs ?? -Infinity;
        if (rp.groups) this.#snapshotGroups.set(`${db.id}/${rp.id}`, rp.groups);
      }
      db.nextRetentionPolicyId = d.nextRetentionPolicyId;
      for (const [m, types] of Object.entries(d.fieldTypes)) {
        db.fieldTypes.set(m, new Map(Object.entries(types).map(([k, t]) => [k, t as FieldType])));
      }
      for (const t of d.tombstones) db.addTombstone(t, rangeOf(BigInt(t.minNs), BigInt(t.maxNs)));
      this.#databases.set(db.name, db);
    }
    return snapshot.walStart;
  }

  /** Opens every segment of every known shard; removes what no catalog entry owns. */
  async #loadSegments(): Promise<number> {
    const { fs, dir, logger } = this.options;
    const byId = new Map([...this.#databases.values()].map((db) => [String(db.id), db]));
    let opened = 0;
    for (const dbDir of await fs.readDir(`${dir}/data`)) {
      const db = byId.get(dbDir);
      if (!db) {
        logger.info("removing data of a dropped database", { dir: `${dir}/data/${dbDir}` });
        await fs.remove(`${dir}/data/${dbDir}`, { recursive: true });
        continue;
      }
      const rps = new Map([...db.retentionPolicies.values()].map((rp) => [String(rp.id), rp]));
      for (const rpDir of await fs.readDir(`${dir}/data/${dbDir}`)) {
        const rp = rps.get(rpDir);
        const rpPath = `${dir}/data/${dbDir}/${rpDir}`;
        if (!rp) {
          await fs.remove(rpPath, { recursive: true });
          continue;
        }
        for (const groupDir of await fs.readDir(rpPath)) {
          const m = GROUP_NAME.exec(groupDir);
          if (!m) continue;
          const startMs = Number(m[1]), durMs = Number(m[2]);
          const shard = this.#newShard(db, rp, startMs, durMs);
          const path = `${rpPath}/${groupDir}`;
          const found: ShardSegment[] = [];
          for (const name of await fs.readDir(path)) {
            if (name.endsWith(".tmp")) {
              await fs.remove(`${path}/${name}`); // an interrupted flush or compaction
              continue;
            }
            const s = SEGMENT_NAME.exec(name);
            if (!s) continue;
            const reader = await SegmentReader.open(fs, `${path}/${name}`, this.#cache);
            found.push({ reader, minGen: Number(s[1]), maxGen: Number(s[2]), level: reader.level });
          }
          for (const old of obsoleteSegments(found)) {
            // A merge finished writing its output but not deleting its inputs.
            old.reader.close();
            await fs.remove(old.reader.path);
            found.splice(found.indexOf(old), 1);
          }
          for (const segment of found) {
            shard.addSegment(segment);
            this.#nextGen = Math.max(this.#nextGen, segment.maxGen + 1);
            // The series set takes the index's hashes: no series entry is parsed at start.
            db.series.addHashes(segment.reader.seriesHashes());
            opened++;
          }
          rp.groups.set(startMs, shard);
        }
      }
    }
    opened += await this.#loadGroupRecords();
    for (const db of this.#databases.values()) this.#forgetDroppedSeries(db);
    return opened;
  }

  /**
   * The catalog file's group records: mutation counts, and cold objects (a cold group may have
   * no folder left); groups size retention dropped are removed again (a removal a crash undid).
   */
  async #loadGroupRecords(): Promise<number> {
    let opened = 0;
    for (const db of this.#databases.values()) {
      for (const rp of db.retentionPolicies.values()) {
        for (const g of this.#snapshotGroups.get(`${db.id}/${rp.id}`) ?? []) {
          let shard = rp.groups.get(g.startMs);
          if (!shard) {
            if (!g.cold) continue; // its folder went with a drop the catalog file predates
            shard = this.#newShard(db, rp, g.startMs, g.endMs - g.startMs);
            rp.groups.set(g.startMs, shard);
          }
          shard.mutations = g.mutations;
          if (g.cold) {
            shard.cold = { ...g.cold };
            this.#nextGen = Math.max(this.#nextGen, g.cold.gen + 1);
            this.#openCold(db, rp, shard);
            opened++;
          }
        }
        for (const shard of [...rp.groups.values()]) {
          if (shard.endMs > rp.sizeHorizonMs) continue;
          rp.groups.delete(shard.startMs);
          this.#dropShard(shard, true);
        }
      }
    }
    this.#snapshotGroups.clear();
    await this.#settleColdOpens();
    return opened;
  }

  /** Forgets the series that tombstones dropped from every segment holding them. */
  #forgetDroppedSeries(db: DatabaseState): void {
    for (const [key, list] of db.tombstones) {
      if (list.some((t) => t.dropSeries) && !this.#storedHas(db, key)) db.series.delete(key);
    }
  }

  /** Rebuilds a database's series set from its segments and heads (after data was dropped). */
  #reindexSeries(db: DatabaseState): void {
    db.series.clear();
    db.forgetTagValues();
    for (const shard of db.shards()) {
      for (const s of shard.segments) db.series.addHashes(s.reader.seriesHashes());
      for (const f of shard.frozen) for (const s of f.head.allSeries()) db.series.addPresent(s.key);
      for (const s of shard.head.allSeries()) db.series.addPresent(s.key);
    }
    this.#forgetDroppedSeries(db);
  }

  /** True when a segment of the database holds the series and no tombstone dropped it there. */
  #storedHas(db: DatabaseState, key: string): boolean {
    const tombstones = db.tombstones.get(key);
    for (const rp of db.retentionPolicies.values()) {
      for (const shard of rp.groups.values()) {
        for (const s of shard.segments) {
          if (tombstones?.some((t) => t.dropSeries && t.gen >= s.maxGen)) continue;
          if (s.reader.hasSeries(key)) return true;
        }
      }
    }
    return false;
  }

  /** The catalog's view of a database's data (series confirmation, tag values). */
  #storedSeries(db: DatabaseState): StoredSeries {
    const droppedAt = (key: string, gen: number) =>
      db.tombstones.get(key)?.some((t) => t.dropSeries && t.gen >= gen) ?? false;
    return {
      has: (key) => this.#storedHas(db, key),
      forEachSeries: (measurement, fn) => {
        for (const shard of db.shards()) {
          for (const s of shard.segments) {
            s.reader.forEachSeriesTags(measurement, (key, tags) => {
              if (!droppedAt(key, s.maxGen)) fn(key, tags);
            });
          }
          for (const f of shard.frozen) {
            for (const s of f.head.series(measurement)) {
              if (!droppedAt(s.key, f.gen)) fn(s.key, s.tags);
            }
          }
          for (const s of shard.head.series(measurement)) fn(s.key, s.tags);
        }
      },
    };
  }

  #newShard(db: DatabaseState, rp: RetentionPolicy, startMs: number, durMs: number): Shard {
    return new Shard(
      `${this.options.dir}/data/${db.id}/${rp.id}/${startMs}_${durMs}`,
      startMs,
      startMs + durMs,
      (key) => db.tombstones.get(key),
    );
  }

  /**
   * Applies a record of an external log that this engine did not append itself (a replica of a
   * partition applying its leader's entries), exactly as a WAL replay would.
   */
  applyRecord(record: ReplayedRecord): void {
    this.#replay(record);
    this.#lastWriteMs = this.options.clock.monotonicMs();
  }

  /**
   * Makes sure the shard groups with these exact bounds exist (logged, so every replica of an
   * external log creates the same); spans that an existing group covers are skipped.
   */
  async ensureShardGroups(
    database: string,
    retentionPolicy: string,
    spans: readonly { startMs: number; endMs: number }[],
  ): Promise<void> {
    const rp = this.#database(database).policy(retentionPolicy);
    for (const span of spans) {
      let covered = false;
      for (const g of rp.groups.values()) {
        if (span.startMs >= g.startMs && span.startMs < g.endMs) covered = true;
      }
      if (covered) continue;
      await this.#logCatalog({ op: "create_shard_group", database, retentionPolicy, ...span });
    }
  }

  /** Drops a shard group whole (retention decided elsewhere: a cluster's metadata). */
  async dropShardGroup(database: string, retentionPolicy: string, startMs: number): Promise<void> {
    const rp = this.#databases.get(database)?.retentionPolicies.get(retentionPolicy);
    if (!rp?.groups.has(startMs)) return;
    await this.#logCatalog({ op: "drop_shard_group", database, retentionPolicy, startMs });
  }

  #replay(record: ReplayedRecord): void {
    this.#replayed.records++;
    this.#dirty = true;
    if (record.type === RecordType.WriteInterned || record.type === RecordType.Write) {
      const layout = record.type === RecordType.Write
        ? WriteBatchLayout.Plain
        : WriteBatchLayout.Interned;
      const { batch, indexes } = decodeIndexedWriteBatch(
        record.payload,
        record.file,
        record.offset,
        layout,
      );
      const db = this.#databases.get(batch.database);
      // A write to a database dropped later in the log was undone by that drop.
      const rp = db?.retentionPolicies.get(batch.retentionPolicy);
      if (!db || !rp) return;
      const cutoff = this.options.replayDropsExpired === false
        ? -Infinity
        : retentionCutoffMs(rp.durationNs, this.options.clock.nowMs());
      const { points, keys } = indexReplayedPoints(db, batch.points, indexes, cutoff);
      this.#apply(db, rp, points, keys);
      this.#replayed.points += points.length;
    } else if (record.type === RecordType.Catalog) {
      this.#applyCatalog(JSON.parse(textDecoder.decode(record.payload)) as CatalogOp);
    } else {
      throw new Error(
        `BUG: unknown WAL record type ${record.type} at ${record.file}:${record.offset}`,
      );
    }
  }

  /** Routes points (with their series keys, index for index) to their shard groups' heads. */
  #apply(
    db: DatabaseState,
    rp: RetentionPolicy,
    points: readonly Point[],
    keys: readonly string[],
  ): void {
    if (points.length === 0) return;
    const durMs = Number(rp.shardGroupDurationNs / 1_000_000n);
    let shard: Shard | undefined;
    // Points of one shard group come in runs (time order is the rule): apply each run as a slice.
    let runStart = 0;
    let values = 0;
    for (let i = 0; i < points.length; i++) {
      const p = points[i];
      if (!shard || p.timeMs < shard.startMs || p.timeMs >= shard.endMs) {
        if (shard) shard.head.apply(points, keys, runStart, i);
        shard = this.#shardFor(db, rp, p.timeMs, durMs);
        shard.mutations++;
        runStart = i;
      }
      values += fieldLayoutOf(p).keys.length;
    }
    shard!.head.apply(points, keys, runStart, points.length);
    this.#headBytes += values * 24;
    this.options.onHeadGrowth?.(this.#headBytes);
  }

  #shardFor(db: DatabaseState, rp: RetentionPolicy, ms: number, durMs: number): Shard {
    const start = groupStartMs(ms, durMs);
    const exact = rp.groups.get(start);
    if (exact && ms < exact.endMs) return exact;
    // A group made before an ALTER of the shard duration may cover the instant.
    for (const g of rp.groups.values()) if (ms >= g.startMs && ms < g.endMs) return g;
    // Clipped by the groups around the instant: the first one after it, the last one before it
    // (groups are kept in creation order, not time order).
    let end = start + durMs;
    for (const g of rp.groups.values()) if (g.startMs > ms && g.startMs < end) end = g.startMs;
    let begin = start;
    for (const g of rp.groups.values()) if (g.endMs > begin && g.endMs <= ms) begin = g.endMs;
    const shard = this.#newShard(db, rp, begin, end - begin);
    rp.groups.set(begin, shard);
    return shard;
  }

  #applyCatalog(op: CatalogOp): void {
    switch (op.op) {
      case "create_database": {
        if (this.#databases.has(op.name)) return;
        const id = op.id ?? this.#nextDatabaseId;
        this.#nextDatabaseId = Math.max(this.#nextDatabaseId, id + 1);
        const db = new DatabaseState(op.name, id);
        db.stored = this.#storedSeries(db);
        db.addDefaultPolicy();
        this.#databases.set(op.name, db);
        return;
      }
      case "drop_database": {
        const db = this.#databases.get(op.name);
        if (!db) return;
        this.#databases.delete(op.name);
        for (const shard of db.shards()) this.#dropShard(shard, false);
        this.#remove(`${this.options.dir}/data/${db.id}`);
        return;
      }
      case "create_retention_policy": {
        const db = this.#databases.get(op.database);
        if (!db || db.retentionPolicies.has(op.name)) return;
        const rp = db.addPolicy(
          op.name,
          BigInt(op.durationNs),
          BigInt(op.shardGroupDurationNs),
          op.replicaN,
          op.id,
        );
        db.setTiering(rp, op);
        if (op.isDefault) db.defaultRetentionPolicy = op.name;
        return;
      }
      case "alter_retention_policy": {
        const rp = this.#databases.get(op.database)?.retentionPolicies.get(op.name);
        if (!rp) return;
        if (op.durationNs !== undefined) rp.durationNs = BigInt(op.durationNs);
        if (op.shardGroupDurationNs !== undefined || op.durationNs !== undefined) {
          rp.shardGroupDurationNs = effectiveShardGroupDuration(
            rp.durationNs,
            op.shardGroupDurationNs !== undefined
              ? BigInt(op.shardGroupDurationNs)
              : rp.shardGroupDurationNs,
          );
        }
        if (op.replicaN !== undefined) rp.replicaN = op.replicaN;
        this.#databases.get(op.database)!.setTiering(rp, op);
        if (op.isDefault) this.#databases.get(op.database)!.defaultRetentionPolicy = op.name;
        return;
      }
      case "drop_retention_policy": {
        const db = this.#databases.get(op.database);
        const rp = db?.retentionPolicies.get(op.name);
        if (!db || !rp) return;
        db.retentionPolicies.delete(op.name);
        for (const shard of rp.groups.values()) this.#dropShard(shard, false);
        this.#remove(`${this.options.dir}/data/${db.id}/${rp.id}`);
        this.#reindexSeries(db);
        return;
      }
      case "delete": {
        const db = this.#databases.get(op.database);
        if (!db) return;
        const range = rangeOf(BigInt(op.tombstone.minNs), BigInt(op.tombstone.maxNs));
        // The generation is taken when the record is applied (live or in replay), not when it
        // was issued: a flush cut between the two must not leave its frozen heads uncovered.
        // In replay this may cover segments flushed after the delete, but their data is also in
        // the WAL after the delete and is replayed into the head again.
        const tombstone = { ...op.tombstone, gen: this.#nextGen - 1 };
        const emptied = db.addTombstone(tombstone, range);
        const keys = new Set(tombstone.keys);
        for (const shard of db.shards()) {
          shard.head.deleteRange(keys, range, op.tombstone.dropSeries);
          shard.mutations++;
          if (op.tombstone.purge && shard.startMs <= range.maxMs) {
            shard.purgeDue = true;
            if (shard.cold) shard.coldPurgeDue = true;
          }
        }
        db.forgetEmptyMeasurements(emptied);
        return;
      }
      case "create_shard_group": {
        const db = this.#databases.get(op.database);
        const rp = db?.retentionPolicies.get(op.retentionPolicy);
        if (!db || !rp) return;
        for (const g of rp.groups.values()) {
          if (op.startMs >= g.startMs && op.startMs < g.endMs) return;
        }
        rp.groups.set(op.startMs, this.#newShard(db, rp, op.startMs, op.endMs - op.startMs));
        return;
      }
      case "drop_shard_group": {
        const db = this.#databases.get(op.database);
        const rp = db?.retentionPolicies.get(op.retentionPolicy);
        const shard = rp?.groups.get(op.startMs);
        if (op.sizeLimit && rp) {
          rp.sizeHorizonMs = Math.max(rp.sizeHorizonMs, shard?.endMs ?? op.startMs);
        }
        if (!db || !rp || !shard) return;
        rp.groups.delete(op.startMs);
        if (op.sizeLimit) {
          this.#counts.sizeDrops++;
          this.options.tierHook?.("size:logged", { startMs: op.startMs });
        }
        this.#dropShard(shard, true);
        this.#reindexSeries(db);
        return;
      }
      case "cold_switch": {
        const db = this.#databases.get(op.database);
        const rp = db?.retentionPolicies.get(op.retentionPolicy);
        const shard = rp?.groups.get(op.startMs);
        // A write or delete after the object was encoded: it lacks them, so nothing switches.
        if (!db || !rp || !shard || shard.mutations !== op.mutations) return;
        if (shard.head.seriesCount > 0) {
          // The head's data is in the object; it stays readable (frozen, flushed as covered)
          // until the object is open.
          shard.frozen.push({ head: shard.head, gen: this.#nextGen++ });
          shard.head = new Head();
        }
        shard.cold = { key: op.key, bytes: op.bytes, gen: this.#nextGen++ };
        shard.coldError = undefined;
        this.#openCold(db, rp, shard);
        return;
      }
      default:
        throw new Error(`BUG: unknown catalog op ${JSON.stringify(op)}`);
    }
  }

  #dropShard(shard: Shard, removeDir: boolean): void {
    shard.dropped = true;
    for (const s of shard.segments) {
      this.#retire(s.reader);
    }
    if (removeDir) this.#removeGroup(shard);
  }

  /**
   * Removes a dropped group's folder: its segments one by one, then the folder (a crash between
   * leaves a folder the catalog drops again on start). Its cold object, if any, goes with the
   * next sweep (replicas may still be reading it).
   */
  #removeGroup(shard: Shard): void {
    const { fs, logger } = this.options;
    const files = shard.segments.filter((s) => !s.cold).map((s) => s.reader.path);
    const hook = this.options.tierHook;
    this.#removals.push(
      (async () => {
        for (const [i, path] of files.entries()) {
          await fs.remove(path).catch(() => {});
          if (i === 0) hook?.("size:removing", { path });
        }
        await fs.remove(shard.dir, { recursive: true });
      })().catch((error) => {
        if (String(error).includes("NotFound") || String(error).includes("No such file")) return;
        logger.warn("cannot remove dropped data", { path: shard.dir, error: String(error) });
      }),
    );
  }

  /** Closes a segment reader no longer part of any shard once queries had time to finish. */
  #retire(reader: SegmentReader): void {
    (reader.compression === BlockCompression.None ? this.#cache : this.#coldCache)
      .dropFile(reader.cacheName);
    this.#retired.push({ reader, at: this.options.clock.monotonicMs() });
  }

  async #flushAtClose(): Promise<void> {
    const limitMs = this.options.closeFlushTimeoutMs ?? 10_000;
    if (limitMs <= 0 || !this.#dirty) return;
    const { logger, clock } = this.options;
    const abort = new AbortController();
    const started = clock.monotonicMs();
    const flush = this.#startFlush(abort.signal).then(() => true, (error) => {
      logger.warn("flush at close failed; the WAL keeps the data", { error: String(error) });
      return false;
    });
    const timers = this.options.timers ?? HOST_TIMERS;
    let timer: unknown;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = timers.setTimeout(() => resolve("timeout"), limitMs);
    });
    const outcome = await Promise.race([flush, timeout]);
    timers.clearTimeout(timer);
    if (outcome === "timeout") {
      // The flush stops at its next step (between segments or encoding slices); files it wrote
      // are complete or removed on start, and the WAL still holds everything.
      abort.abort(new Error(`flush at close ran over ${limitMs} ms`));
      await flush;
      logger.warn("flush at close abandoned; the WAL keeps the data", {
        ms: Math.round(clock.monotonicMs() - started),
      });
    }
  }

  #closeRetired(all: boolean): void {
    const before = this.options.clock.monotonicMs() - RETIRED_GRACE_MS;
    this.#retired = this.#retired.filter(({ reader, at }) => {
      // A streamed answer still reading it holds it (a slow client gets its rows, not an error).
      if (!all && (at > before || reader.held)) return true;
      reader.close();
      return false;
    });
  }

  #remove(path: string): void {
    this.#removals.push(
      this.options.fs.remove(path, { recursive: true }).catch((error) => {
        this.options.logger.warn("cannot remove dropped data", { path, error: String(error) });
      }),
    );
  }

  async #settleRemovals(): Promise<void> {
    while (this.#removals.length > 0) await Promise.all(this.#removals.splice(0));
  }

  async #logCatalog(op: CatalogOp): Promise<void> {
    await this.#wal.append(
      RecordType.Catalog,
      textEncoder.encode(JSON.stringify(op)),
      () => {
        this.#applyCatalog(op);
        this.#dirty = true;
      },
    );
    await this.#settleRemovals();
  }

  #database(name: string): DatabaseState {
    const db = this.#databases.get(name);
    if (!db) {
      throw new NotFoundError(`database not found: ${name}`, { details: { database: name } });
    }
    return db;
  }

  /** True when the database exists. */
  hasDatabase(name: string): boolean {
    return this.#databases.has(name);
  }

  /**
   * Writes points to a database. Points older than the retention policy keeps, points that would
   * break the series limits and points whose field types conflict are rejected (each with
   * InfluxDB's reason); the others are durable when the promise resolves.
   * @throws {NotFoundError} for an unknown database or retention policy.
   * @throws {StorageError} when the WAL cannot be written (disk full ...): nothing was written.
   */
  async write(
    database: string,
    retentionPolicy: string | undefined,
    points: Point[],
    options?: AppendOptions,
  ): Promise<WriteOutcome> {
    const db = this.#database(database);
    const rp = db.policy(retentionPolicy); // throws for an unknown policy before anything is logged
    // Size retention's horizon too: a point there would land in a group it dropped.
    const cutoff = Math.max(
      retentionCutoffMs(rp.durationNs, this.options.clock.nowMs()),
      rp.sizeHorizonMs === -Infinity ? -Infinity : rp.sizeHorizonMs,
    );
    const limits = {
      maxSeries: this.options.maxSeriesPerDatabase ?? 1_000_000,
      maxValuesPerTag: this.options.maxValuesPerTag ?? 100_000,
    };
    const maxFields = this.options.maxFieldsPerMeasurement ?? MAX_FIELDS_PER_MEASUREMENT;
    // Packed at the door: the points wait for their fsync in the shape the head reads.
    const accepted: PackedPoint[] = [];
    const keys: string[] = [];
    const rejected: Rejection[] = [];
    const rules = new PointRules();
    const typesPassed = new PassedFieldTypes();
    for (let i = 0; i < points.length; i++) {
      const p = packPoint(points[i], this.#layouts);
      if (p.timeMs < cutoff) {
        rejected.push({ index: i, reason: BEYOND_RETENTION });
        continue;
      }
      // The key is built once per point and handed on to the head; only a series not yet
      // indexed goes through the limit checks (which build it again).
      const key = seriesKeyOf(p);
      const reason = rules.problem(p, key) ??
        (db.series.has(key) ? undefined : db.checkSeries(p.measurement, p.tags, limits)) ??
        (typesPassed.has(p) ? undefined : db.checkFieldTypes(p, maxFields));
      if (reason) rejected.push({ index: i, reason });
      else {
        typesPassed.add(p);
        accepted.push(p);
        keys.push(key);
      }
    }
    let written = accepted.length;
    if (accepted.length > 0) {
      // One record, unless the batch is bigger than a record may be (then several, each
      // applied when durable); a point that alone is bigger is refused here, unwritten.
      const { parts, tooLarge } = encodeWriteRecords({
        database,
        retentionPolicy: rp.name,
        points: accepted,
      });
      if (tooLarge.length > 0) {
        written -= tooLarge.length;
        rejected.push(...tooLargeRejections(points, accepted, tooLarge));
        rejected.sort((a, b) => a.index - b.index);
      }
      await Promise.all(parts.map(({ payload, from, to }) => {
        const whole = from === 0 && to === accepted.length;
        const partPoints = whole ? accepted : accepted.slice(from, to);
        const partKeys = whole ? keys : keys.slice(from, to);
        return this.#wal.append(RecordType.WriteInterned, payload, () => {
          // The database or policy may have been dropped while this record waited for its fsync.
          if (this.#databases.get(database) !== db) return;
          if (db.retentionPolicies.get(rp.name) !== rp) return;
          this.#apply(db, rp, partPoints, partKeys);
          this.#dirty = true;
          this.#lastWriteMs = this.options.clock.monotonicMs();
        }, options);
      }));
      if (this.#headBytes >= (this.options.flushHeadBytes ?? 25 * 1024 * 1024)) {
        this.#flushInBackground();
      }
    }
    return { accepted: written, rejected };
  }

  #flushInBackground(): void {
    if (this.#flushing || this.#closed) return;
    this.flush().catch((error) => {
      this.options.logger.error("flush failed; the WAL keeps the data", { error: String(error) });
    });
  }

  // --- flush --------------------------------------------------------------------------------

  /**
   * Writes every head to segment files and trims the WAL. Writes go on meanwhile into new heads.
   * Concurrent calls share one flush.
   * @throws {StorageError} when a segment or the catalog cannot be written (the WAL keeps all).
   */
  flush(): Promise<void> {
    return this.#startFlush();
  }

  #startFlush(signal?: AbortSignal): Promise<void> {
    if (!this.#flushing) {
      this.#flushing = this.#runFlush(signal).finally(() => this.#flushing = undefined);
    }
    return this.#flushing;
  }

  async #runFlush(signal?: AbortSignal): Promise<void> {
    const { fs, dir, logger, clock } = this.options;
    const started = clock.monotonicMs();
    const shards: Shard[] = [];
    let snapshot: CatalogSnapshot | undefined;
    const walStart = await this.#wal.cut((segmentId) => {
      this.#dirty = false;
      const gen = this.#nextGen++;
      for (const db of this.#databases.values()) {
        for (const shard of db.shards()) {
          if (shard.head.seriesCount > 0) {
            shard.frozen.push({ head: shard.head, gen });
            shard.head = new Head();
          }
          if (shard.frozen.length > 0) shards.push(shard);
        }
      }
      this.#headBytes = 0;
      snapshot = {
        version: 1,
        walStart: segmentId,
        nextGen: this.#nextGen,
        nextDatabaseId: this.#nextDatabaseId,
        databases: snapshotDatabases(this.#databases.values()),
      };
    });
    let values = 0;
    for (const shard of shards) {
      while (shard.frozen.length > 0) {
        const { head, gen } = shard.frozen[0];
        if (!shard.dropped) {
          signal?.throwIfAborted();
          values += head.valueCount;
          await this.#writeSegment(shard, headInput(head), gen, gen, 0, signal);
        }
        shard.frozen.shift();
      }
    }
    await fs.writeFileAtomic(`${dir}/catalog.json`, textEncoder.encode(JSON.stringify(snapshot)));
    const removed = await this.#wal.removeSegmentsBefore(walStart);
    this.#counts.flushes++;
    this.#flushSeconds.observe((clock.monotonicMs() - started) / 1000);
    logger.info("flushed heads to segments", {
      shards: shards.length,
      values,
      walSegmentsRemoved: removed,
      ms: Math.round(clock.monotonicMs() - started),
    });
  }

  async #writeSegment(
    shard: Shard,
    series: SegmentSeriesInput[],
    minGen: number,
    maxGen: number,
    level: number,
    signal?: AbortSignal,
    budget?: CpuBudget,
  ): Promise<ShardSegment | undefined> {
    const { fs } = this.options;
    const bytes = await encodeSegmentYielding(series, {
      level,
      blockValues: this.options.blockValues ?? DEFAULT_BLOCK_VALUES,
      signal,
      // Under a budget: check the slice often, pause only when it is due.
      ...(budget && {
        yieldEvery: 20,
        pause: () => budget.due() ? budget.pause() : Promise.resolve(),
      }),
    });
    signal?.throwIfAborted();
    await fs.mkdir(shard.dir);
    const path = `${shard.dir}/${segmentName(minGen, maxGen)}`;
    await fs.writeFileAtomic(path, bytes);
    if (shard.dropped) {
      await fs.remove(shard.dir, { recursive: true });
      return undefined;
    }
    if (shard.cold !== undefined && maxGen < shard.cold.gen) {
      // Its data went to the cold object meanwhile (a move switched while it was written).
      await fs.remove(path);
      return undefined;
    }
    const reader = await SegmentReader.open(fs, path, this.#cache);
    const segment = { reader, minGen, maxGen, level };
    shard.addSegment(segment);
    return segment;
  }

  // --- maintenance --------------------------------------------------------------------------

  /**
   * One pass of the background task: flush idle or full heads, drop expired shard groups
   * (unless `expire` is false), run one compaction step per shard.
   */
  async maintain(options: { expire?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    const { clock, flushIdleMs = 600_000, flushHeadBytes = 25 * 1024 * 1024 } = this.options;
    const idle = clock.monotonicMs() - this.#lastWriteMs;
    if (
      this.#headBytes > 0 &&
      (this.#headBytes >= flushHeadBytes || (flushIdleMs > 0 && idle >= flushIdleMs))
    ) {
      await this.flush();
    }
    // A partition replica's groups expire by its cluster's decision (logged drops), not its clock.
    if (options.expire !== false) {
      await this.expireShardGroups();
      for (const db of [...this.#databases.values()]) await this.enforceTiering(db.name);
      await this.sweepColdObjects().catch((error) => {
        this.options.logger.warn("cannot sweep the cold store", { error: String(error) });
      });
    }
    this.#retryColdOpens();
    await this.compact();
    this.pruneTombstones();
    this.#closeRetired(false);
  }

  /**
   * Forgets tombstones no source can need any more: every segment of the database ends after
   * the tombstone's generation (compaction rewrote the older ones with it applied) and no frozen
   * head is as old. Returns how many were dropped; the next catalog snapshot no longer holds them.
   */
  pruneTombstones(): number {
    let pruned = 0;
    for (const db of this.#databases.values()) {
      if (db.tombstoneRecords.length === 0) continue;
      let oldest = this.#nextGen;
      for (const shard of db.shards()) {
        // A segment up to generation maxGen needs the tombstones of maxGen and later; one
        // newer than a tombstone either came from heads it already cut, or from a merge that
        // applied it.
        for (const s of shard.segments) oldest = Math.min(oldest, s.maxGen);
        for (const f of shard.frozen) oldest = Math.min(oldest, f.gen);
      }
      pruned += db.pruneTombstones(oldest);
    }
    return pruned;
  }

  /** Drops the shard groups every policy has expired (whole groups, as InfluxDB). */
  async expireShardGroups(): Promise<number> {
    const now = this.options.clock.nowMs();
    let dropped = 0;
    for (const db of this.#databases.values()) {
      const before = dropped;
      for (const rp of db.retentionPolicies.values()) {
        for (const shard of expiredGroups(rp.groups.values(), rp.durationNs, now)) {
          rp.groups.delete(shard.startMs);
          this.#dropShard(shard, true);
          this.options.logger.info("dropped expired shard group", {
            database: db.name,
            retentionPolicy: rp.name,
            startMs: shard.startMs,
            endMs: shard.endMs,
          });
          dropped++;
        }
      }
      if (dropped > before) this.#reindexSeries(db);
    }
    await this.#settleRemovals();
    return dropped;
  }

  // --- tiering: size retention and the cold store ---------------------------------------------

  /**
   * Enforces a database's size limits (`max_bytes` of each policy, `maxBytesPerDatabase`) and
   * moves the groups past their policy's `cold_after` to the cold store. Every change is a
   * logged record (replicas of a log apply the same); a cluster calls it on a partition's
   * leader with the metadata's settings in `limits`.
   */
  async enforceTiering(
    database: string,
    limits: TierLimits = {},
  ): Promise<{ dropped: number; moved: number }> {
    const db = this.#databases.get(database);
    if (!db || this.#closed) return { dropped: 0, moved: 0 };
    const setting = (rp: RetentionPolicy) => limits.policies?.[rp.name] ?? {};
    const groups: (SizedGroup & { shard: Shard })[] = [];
    for (const rp of db.retentionPolicies.values()) {
      for (const shard of rp.groups.values()) {
        groups.push({
          policy: rp.name,
          startMs: shard.startMs,
          endMs: shard.endMs,
          shard,
          bytes: groupBytes(shard),
        });
      }
    }
    const drops = planSizeDrops(groups, {
      policyMaxBytes: new Map(
        [...db.retentionPolicies.values()].map((
          rp,
        ) => [rp.name, setting(rp).maxBytes ?? rp.maxBytes]),
      ),
      databaseMaxBytes: limits.databaseMaxBytes ?? this.options.maxBytesPerDatabase ?? 0,
    });
    await this.#enforceMeasurementSizes(db, limits.measurements);
    await this.#purgeColdGroups(db);
    let dropped = 0;
    for (const g of drops) {
      if (g.shard.dropped || this.#closed) continue;
      this.options.logger.info("size retention dropping shard group", {
        database,
        retentionPolicy: g.policy,
        startMs: g.startMs,
        endMs: g.endMs,
        bytes: g.bytes,
      });
      await this.#logCatalog({
        op: "drop_shard_group",
        database,
        retentionPolicy: g.policy,
        startMs: g.startMs,
        sizeLimit: true,
      });
      dropped++;
    }
    let moved = 0;
    if (this.options.coldStore) {
      const now = this.options.clock.nowMs();
      for (const rp of [...db.retentionPolicies.values()]) {
        const coldAfterNs = setting(rp).coldAfterNs ?? rp.coldAfterNs;
        const due = planColdMoves(
          rp.groups.values(),
          Number(coldAfterNs / 1_000_000n),
          now,
          (shard) => !shard.dropped && needsColdMove(shard),
        );
        for (const shard of due) {
          if (this.#closed || shard.dropped || shard.compacting) continue;
          shard.compacting = true;
          try {
            if (await this.#moveToCold(db, rp, shard)) moved++;
          } catch (error) {
            if (this.#stopping.signal.aborted) break;
            this.options.logger.warn("cannot move shard group to the cold store", {
              database,
              retentionPolicy: rp.name,
              startMs: shard.startMs,
              error: String(error),
            });
          } finally {
            shard.compacting = false;
          }
        }
      }
    }
    return { dropped, moved };
  }

  /**
   * Each measurement over its `max_bytes` (its blocks in the database's local segments and cold
   * objects) loses its oldest data: one logged delete up to the instant {@linkcode sizeCutoffMs}
   * finds, marked `purge` so every copy rewrites the segments it covers (see compact) and the
   * leader writes the cold objects it covers again ({@linkcode #purgeColdGroups}). Returns the
   * deletes.
   */
  async #enforceMeasurementSizes(
    db: DatabaseState,
    limits: ReadonlyMap<string, number> | undefined,
  ): Promise<number> {
    let deletes = 0;
    for (const [measurement, maxBytes] of limits ?? []) {
      if (this.#closed) break;
      const blocks = [...db.shards()].flatMap((shard) =>
        shard.segments.flatMap((s) => measurementBlocks(s.reader, measurement))
      );
      const cutoffMs = sizeCutoffMs(blocks, maxBytes);
      if (cutoffMs === undefined) continue;
      const keys = new Set<string>();
      for (const shard of db.shards()) {
        if (shard.startMs > cutoffMs) continue;
        for (const s of shard.reader().series(measurement)) keys.add(s.key);
      }
      if (keys.size === 0) continue;
      const maxNs = BigInt(cutoffMs) * 1_000_000n + 999_999n;
      this.options.logger.info("size limit deleting a measurement's oldest data", {
        database: db.name,
        measurement,
        maxBytes,
        bytes: blockBytes(blocks),
        through: new Date(cutoffMs).toISOString(),
      });
      await this.#logCatalog({
        op: "delete",
        database: db.name,
        tombstone: {
          keys: [...keys],
          minNs: (-(2n ** 63n)).toString(),
          maxNs: maxNs.toString(),
          gen: 0,
          dropSeries: false,
          purge: true,
        },
      });
      this.options.tierHook?.("measure:logged", { measurement, cutoffMs });
      deletes++;
    }
    if (deletes > 0) await this.compact();
    return deletes;
  }

  /**
   * The bytes of each measurement's blocks in a database's local segments and opened cold
   * objects (what a schema's `max_bytes` limits; heads are not counted).
   */
  measurementBytes(database: string): Map<string, number> {
    const out = new Map<string, number>();
    const db = this.#databases.get(database);
    for (const shard of db?.shards() ?? []) {
      for (const s of shard.segments) {
        for (const m of s.reader.measurements()) {
          out.set(m, (out.get(m) ?? 0) + blockBytes(measurementBlocks(s.reader, m)));
        }
      }
    }
    return out;
  }

  /**
   * The cold groups a size limit's delete reached: each is moved to the cold store again, which
   * encodes what its view reads (the delete applied) as a new object and switches to it through
   * the log, so the deleted bytes leave the count at once (the old object goes with the sweep).
   * A failed or overtaken move keeps the mark; the next pass tries again.
   */
  async #purgeColdGroups(db: DatabaseState): Promise<void> {
    if (!this.options.coldStore) return;
    for (const rp of [...db.retentionPolicies.values()]) {
      for (const shard of [...rp.groups.values()]) {
        if (!shard.coldPurgeDue || this.#closed || shard.dropped || shard.compacting) continue;
        shard.compacting = true;
        try {
          if (await this.#moveToCold(db, rp, shard)) shard.coldPurgeDue = false;
        } catch (error) {
          if (this.#stopping.signal.aborted) return;
          this.options.logger.warn("cannot write a cold object again without deleted data", {
            database: db.name,
            retentionPolicy: rp.name,
            startMs: shard.startMs,
            error: String(error),
          });
        } finally {
          shard.compacting = false;
        }
      }
    }
  }

  /**
   * Moves one group to the cold store (cold/FORMAT.md): encode every source of the group as
   * one cold segment (temp file), upload it, log the switch, then (when the switch applies)
   * open the object and delete the local files. Returns false when a write or delete came in
   * meanwhile (the switch applied as nothing; the next pass tries again).
   */
  async #moveToCold(db: DatabaseState, rp: RetentionPolicy, shard: Shard): Promise<boolean> {
    const store = this.options.coldStore!;
    const hook = this.options.tierHook;
    const mutations = shard.mutations;
    const view = shard.reader();
    const budget = this.#budget();
    const signal = this.#stopping.signal;
    const series: SegmentSeriesInput[] = [];
    const all = { min: -(2n ** 63n), max: 2n ** 63n - 1n };
    for (const m of view.measurements()) {
      const fieldNames = [...view.fieldTypes(m).keys()];
      for (const s of view.series(m)) {
        if (budget.due()) {
          signal.throwIfAborted();
          await budget.pause();
        }
        const fields = new Map<string, ColumnView>();
        for (const f of fieldNames) {
          const c = await view.readField(s, f, all.min, all.max);
          if (c) fields.set(f, c);
        }
        if (fields.size > 0) {
          series.push({ key: s.key, measurement: s.measurement, tags: s.tags, fields });
        }
      }
    }
    const bytes = await encodeSegmentYielding(series, {
      level: COLD_LEVEL,
      blockValues: this.options.coldBlockValues ?? COLD_BLOCK_VALUES,
      compress: { id: BlockCompression.Deflate, apply: (payload) => deflateBlock(payload) },
      signal,
      yieldEvery: 20,
      pause: () => budget.due() ? budget.pause() : Promise.resolve(),
    }).finally(() => {
      this.#counts.compactionBusyMs += budget.busyMs;
      this.#counts.compactionSleptMs += budget.sleptMs;
    });
    const name = `${mutations}-${crc32c(bytes).toString(16).padStart(8, "0")}.cseg`;
    const key = `${this.options.coldPrefix ?? ""}${db.id}/${rp.id}/${shard.startMs}_${
      shard.endMs - shard.startMs
    }/${name}`;
    // Step 1: the object on local disk first (a crash leaves a *.tmp that start removes).
    const temp = `${shard.dir}/${name}.tmp`;
    await this.options.fs.mkdir(shard.dir);
    await this.options.fs.writeFileAtomic(temp, bytes);
    hook?.("cold:temp", { temp });
    try {
      // Step 2: the object in the cold store (whole or absent; unnamed ones are swept).
      await store.put(key, bytes);
      hook?.("cold:upload", { key });
      // Step 3: the switch, through the log: from its apply on, the group reads the object.
      await this.#logCatalog({
        op: "cold_switch",
        database: db.name,
        retentionPolicy: rp.name,
        startMs: shard.startMs,
        key,
        bytes: bytes.length,
        mutations,
      });
      if (shard.cold?.key !== key) return false;
      // Step 4 (in #openCold): the local files go once the object is open.
      await this.#coldOpening.get(shard);
      if (shard.coldError) throw shard.coldError;
      this.#counts.coldMoves++;
      this.options.logger.info("moved shard group to the cold store", {
        database: db.name,
        retentionPolicy: rp.name,
        startMs: shard.startMs,
        key,
        bytes: bytes.length,
      });
      return true;
    } finally {
      await this.options.fs.remove(temp).catch(() => {});
    }
  }

  /**
   * Opens a group's cold object, then drops the sources it covers: segments older than its
   * generation leave the shard (queries that hold them keep reading the unlinked files) and
   * their files are deleted. Until it is open the group reads its local sources; a failure is
   * retried by the next maintenance pass.
   */
  #openCold(db: DatabaseState, rp: RetentionPolicy, shard: Shard): void {
    const cold = shard.cold!;
    const previous = this.#coldOpening.get(shard) ?? Promise.resolve();
    const run = previous.then(async () => {
      if (shard.cold !== cold || shard.dropped) return;
      const store = this.options.coldStore;
      if (!store) {
        throw new StorageError(
          `shard group ${shard.dir} is in the cold store but no cold store is configured`,
        );
      }
      const reader = await SegmentReader.openSource(
        await coldSource(store, cold.key, cold.bytes),
        this.#coldCache,
      );
      if (shard.cold !== cold || shard.dropped) {
        reader.close();
        return;
      }
      const covered = shard.segments.filter((s) => s.maxGen < cold.gen);
      shard.segments = shard.segments.filter((s) => s.maxGen >= cold.gen);
      shard.addSegment({
        reader,
        minGen: cold.gen,
        maxGen: cold.gen,
        level: reader.level,
        cold: true,
      });
      shard.coldError = undefined;
      this.options.tierHook?.("cold:switch", { key: cold.key });
      // A copy of the files being taken (a replica's snapshot) must find every file it listed.
      while (this.#filesHeld > 0) await this.#filesReleased.promise;
      for (const s of covered) {
        this.#retire(s.reader);
        // An older cold object of the group is the sweep's (other replicas may read it still).
        if (!s.cold) await this.options.fs.remove(s.reader.path).catch(() => {});
      }
      this.options.tierHook?.("cold:delete", { key: cold.key });
    }).catch((error) => {
      shard.coldError = error instanceof Error ? error : new Error(String(error));
      this.options.logger.warn("cannot open a cold object; the group reads its local files", {
        database: db.name,
        retentionPolicy: rp.name,
        key: cold.key,
        error: String(error),
      });
    }).finally(() => {
      if (this.#coldOpening.get(shard) === run) this.#coldOpening.delete(shard);
    });
    this.#coldOpening.set(shard, run);
  }

  async #settleColdOpens(): Promise<void> {
    while (this.#coldOpening.size > 0) await Promise.all([...this.#coldOpening.values()]);
  }

  /** Retries opening the cold objects that failed to open. */
  #retryColdOpens(): void {
    for (const db of this.#databases.values()) {
      for (const rp of db.retentionPolicies.values()) {
        for (const shard of rp.groups.values()) {
          if (shard.coldError && !this.#coldOpening.has(shard)) this.#openCold(db, rp, shard);
        }
      }
    }
  }

  /**
   * Removes the cold objects under this engine's prefix that no group names (a move cut before
   * its switch, a dropped or rewritten group) and that are at least `graceMs` old. Only the
   * engine that moves groups may sweep (one node, or a partition's leader).
   */
  async sweepColdObjects(graceMs = this.options.coldSweepGraceMs ?? 600_000): Promise<number> {
    const store = this.options.coldStore;
    if (!store) return 0;
    const named = new Set<string>();
    for (const db of this.#databases.values()) {
      for (const shard of db.shards()) if (shard.cold) named.add(shard.cold.key);
    }
    const before = this.options.clock.nowMs() - graceMs;
    let removed = 0;
    for (const object of await store.list(this.options.coldPrefix ?? "")) {
      if (!object.key.endsWith(".cseg") || named.has(object.key)) continue;
      if (graceMs > 0 && object.modifiedMs > before) continue;
      await store.remove(object.key);
      removed++;
    }
    if (removed > 0) this.options.logger.info("removed unnamed cold objects", { removed });
    return removed;
  }

  /** Runs the compaction steps planned now (one per shard); resolves with the count run. */
  async compact(): Promise<number> {
    let ran = 0;
    for (const db of [...this.#databases.values()]) {
      for (const shard of [...db.shards()]) {
        if (shard.compacting || shard.dropped) continue;
        if (shard.purgeDue) {
          ran += await this.#purge(shard);
          continue;
        }
        const [step] = planCompaction(shard.segments.filter((s) => !s.cold), {
          fanout: this.options.compactionFanout ?? 4,
        });
        if (!step) continue;
        shard.compacting = true;
        try {
          await this.#compactStep(shard, step.inputs, step.level);
          ran++;
        } catch (error) {
          // Closing stops a merge at its next slice: its inputs are untouched.
          if (this.#stopping.signal.aborted) return ran;
          throw error;
        } finally {
          shard.compacting = false;
        }
      }
    }
    return ran;
  }

  /**
   * Rewrites every local segment of a group as one, tombstones applied (a size limit's delete
   * asked for it): the same crash-safe step as a merge, a lone segment replaced in place.
   */
  async #purge(shard: Shard): Promise<number> {
    const inputs = shard.segments.filter((s) => !s.cold);
    shard.purgeDue = false;
    if (inputs.length === 0) return 0;
    shard.compacting = true;
    try {
      const level = Math.max(...inputs.map((s) => s.level));
      const hook = this.options.tierHook;
      await this.#compactStep(shard, inputs, level, () => hook?.("measure:written", {}));
      hook?.("measure:rewritten", { dir: shard.dir });
      return 1;
    } catch (error) {
      shard.purgeDue = true; // the next pass tries again
      if (this.#stopping.signal.aborted) return 0;
      throw error;
    } finally {
      shard.compacting = false;
    }
  }

  /** The compaction budget: a share of the CPU, in slices, sleeping through `sleep`. */
  #budget(): CpuBudget {
    const sleep = this.options.sleep ??
      ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    return new CpuBudget({ monotonicMs: () => this.options.clock.monotonicMs(), sleep }, {
      share: this.options.compactionCpuShare ?? 0.25,
    });
  }

  async #compactStep(
    shard: Shard,
    inputs: ShardSegment[],
    level: number,
    /** Called once the output is durable, before the inputs go (the crash tests' hook). */
    written?: () => void,
  ): Promise<void> {
    const started = this.options.clock.monotonicMs();
    const budget = this.#budget();
    const signal = this.#stopping.signal;
    const view = shard.segmentsReader(inputs);
    const series: SegmentSeriesInput[] = [];
    const keys = new Map<
      string,
      { measurement: string; tags: readonly Tag[]; fields: Set<string> }
    >();
    for (const seg of inputs) {
      for (const s of seg.reader.series.values()) {
        let e = keys.get(s.key);
        if (!e) {
          keys.set(s.key, e = { measurement: s.measurement, tags: s.tags, fields: new Set() });
        }
        for (const f of s.fields.keys()) e.fields.add(f);
      }
    }
    const all = { min: -(2n ** 63n), max: 2n ** 63n - 1n };
    // Each series is merged when the writer reaches it and dropped once encoded: the step holds
    // one series' decoded columns, not every input's (a level's merge decoded whole partitions).
    const noFields = new Map<string, ColumnView>();
    for (const [key, e] of keys) {
      const load = async () => {
        // Ingest keeps the event loop: the merge runs in short slices within its CPU share.
        if (budget.due()) {
          signal.throwIfAborted();
          await budget.pause();
        }
        const fields = new Map<string, ColumnView>();
        for (const f of e.fields) {
          const c = await view.readField({ key }, f, all.min, all.max);
          if (c) fields.set(f, c);
        }
        return fields;
      };
      series.push({ key, measurement: e.measurement, tags: e.tags, fields: noFields, load });
    }
    const minGen = Math.min(...inputs.map((s) => s.minGen));
    const maxGen = Math.max(...inputs.map((s) => s.maxGen));
    const out = await this.#writeSegment(shard, series, minGen, maxGen, level, signal, budget)
      .finally(() => {
        this.#counts.compactionBusyMs += budget.busyMs;
        this.#counts.compactionSleptMs += budget.sleptMs;
      });
    if (!out) return;
    written?.();
    shard.segments = shard.segments.filter((s) => !inputs.includes(s));
    // A copy of the files being taken (a replica's snapshot for another node) must find every
    // segment it listed: the inputs go once it is done.
    while (this.#filesHeld > 0) await this.#filesReleased.promise;
    for (const s of inputs) {
      // Queries that took a view before the swap keep reading the unlinked file (POSIX) until
      // the reader is closed, a grace period later.
      this.#retire(s.reader);
      // A lone input rewritten (a purge) has the output's name: the rename replaced it.
      if (s.reader.path !== out.reader.path) await this.options.fs.remove(s.reader.path);
    }
    this.#counts.compactions++;
    this.#compactionSeconds.observe((this.options.clock.monotonicMs() - started) / 1000);
  }

  #filesHeld = 0;
  #filesReleased = Promise.withResolvers<void>();

  /**
   * The engine's files as a restart would find them: `catalog.json` as last written and every
   * segment file (paths relative to the engine's folder). No segment is removed by compaction
   * until `release` is called (flushes go on: they only add files, and a copy with some of them
   * is what a crash would leave). A segment of a shard group dropped meanwhile may vanish: its
   * group is gone in the log the copy is applied with.
   */
  async holdFiles(): Promise<{ catalog: Uint8Array | null; segments: string[]; release(): void }> {
    this.#filesHeld++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      if (--this.#filesHeld === 0) {
        this.#filesReleased.resolve();
        this.#filesReleased = Promise.withResolvers<void>();
      }
    };
    try {
      const { fs, dir } = this.options;
      const catalogPath = `${dir}/catalog.json`;
      const catalog = (await fs.stat(catalogPath)) ? await fs.readFile(catalogPath) : null;
      const segments: string[] = [];
      const walk = async (rel: string): Promise<void> => {
        for (const name of await fs.readDir(`${dir}/${rel}`).catch(() => [] as string[])) {
          const path = `${rel}/${name}`;
          if (SEGMENT_NAME.test(name)) segments.push(path);
          else if ((await fs.stat(`${dir}/${path}`))?.isDirectory) await walk(path);
        }
      };
      await walk("data");
      return { catalog, segments, release };
    } catch (error) {
      release();
      throw error;
    }
  }

  // --- QueryStore ---------------------------------------------------------------------------

  /** Database names in creation order (InfluxDB lists them so). */
  databases(): string[] {
    return [...this.#databases.values()].sort((a, b) => a.id - b.id).map((d) => d.name);
  }

  /** Creates a database; creating an existing one is a no-op, as in InfluxDB. */
  async createDatabase(name: string): Promise<void> {
    checkDatabaseName(name);
    if (this.#databases.has(name)) return;
    await this.#logCatalog({ op: "create_database", name, id: this.#nextDatabaseId++ });
  }

  /** Drops a database and all its data; dropping a missing one is a no-op, as in InfluxDB. */
  async dropDatabase(name: string): Promise<void> {
    if (!this.#databases.has(name)) return;
    await this.#logCatalog({ op: "drop_database", name });
  }

  /** The retention policies of a database. */
  retentionPolicies(database: string): RetentionPolicyView[] {
    const db = this.#database(database);
    return [...db.retentionPolicies.values()].map((rp) => {
      let bytes = 0, coldBytes = 0;
      for (const shard of rp.groups.values()) {
        for (const s of shard.segments) {
          if (s.cold) coldBytes += s.reader.sizeBytes;
          else bytes += s.reader.sizeBytes;
        }
        // A cold object not open yet counts by the catalog's size.
        if (shard.cold && !shard.segments.some((s) => s.cold)) coldBytes += shard.cold.bytes;
      }
      return {
        name: rp.name,
        durationNs: rp.durationNs,
        shardGroupDurationNs: rp.shardGroupDurationNs,
        replicaN: rp.replicaN,
        isDefault: rp.name === db.defaultRetentionPolicy,
        maxBytes: rp.maxBytes,
        coldAfterNs: rp.coldAfterNs,
        bytes,
        coldBytes,
      };
    });
  }

  /** The default retention policy of a database. */
  defaultRetentionPolicy(database: string): string {
    return this.#database(database).defaultRetentionPolicy;
  }

  /**
   * CREATE RETENTION POLICY. Creating one that exists with the same settings is a no-op; with
   * other settings it is an error, as in InfluxDB.
   * @throws {ValidationError} for a duration under 1 h, or a shard duration above the duration.
   */
  async createRetentionPolicy(database: string, spec: RetentionPolicySpec): Promise<void> {
    const db = this.#database(database);
    checkPolicy(spec.durationNs, spec.shardGroupDurationNs, spec.replicaN);
    const sgd = effectiveShardGroupDuration(spec.durationNs, spec.shardGroupDurationNs);
    const existing = db.retentionPolicies.get(spec.name);
    if (existing) {
      const same = existing.durationNs === spec.durationNs &&
        existing.shardGroupDurationNs === sgd && existing.replicaN === spec.replicaN &&
        existing.maxBytes === (spec.maxBytes ?? 0) &&
        existing.coldAfterNs === (spec.coldAfterNs ?? 0n) &&
        (!spec.isDefault || db.defaultRetentionPolicy === spec.name);
      if (same) return;
      throw new ValidationError("retention policy already exists", {
        details: { database, retentionPolicy: spec.name },
      });
    }
    if (!spec.name) throw new ValidationError("retention policy name required");
    await this.#logCatalog({
      op: "create_retention_policy",
      database,
      name: spec.name,
      id: db.nextRetentionPolicyId++,
      durationNs: spec.durationNs.toString(),
      shardGroupDurationNs: spec.shardGroupDurationNs.toString(),
      replicaN: spec.replicaN,
      isDefault: spec.isDefault,
      ...tieringOp(spec),
    });
  }

  /**
   * ALTER RETENTION POLICY: only the given settings change.
   * @throws {NotFoundError} for an unknown policy.
   */
  async alterRetentionPolicy(
    database: string,
    name: string,
    changes: Partial<Omit<RetentionPolicySpec, "name">>,
  ): Promise<void> {
    const db = this.#database(database);
    const rp = db.retentionPolicies.get(name);
    if (!rp) {
      throw new NotFoundError(`retention policy not found: ${name}`, {
        details: { database, retentionPolicy: name },
      });
    }
    const duration = changes.durationNs ?? rp.durationNs;
    const sgd = changes.shardGroupDurationNs ??
      (changes.durationNs !== undefined ? 0n : rp.shardGroupDurationNs);
    checkPolicy(duration, sgd, changes.replicaN ?? rp.replicaN);
    await this.#logCatalog({
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

  /** DROP RETENTION POLICY and its data; dropping a missing one is a no-op, as in InfluxDB. */
  async dropRetentionPolicy(database: string, name: string): Promise<void> {
    const db = this.#database(database);
    if (!db.retentionPolicies.has(name)) return;
    await this.#logCatalog({ op: "drop_retention_policy", database, name });
  }

  /**
   * DELETE / DROP SERIES / DROP MEASUREMENT over every policy of a database: the series are
   * resolved now, a tombstone is logged; no later read returns the points, also after restart.
   */
  async deleteSeries(database: string, request: DeleteRequest): Promise<void> {
    const db = this.#database(database);
    const keys = new Set<string>();
    for (const shard of [...db.shards()]) {
      const view = shard.reader();
      for (const m of request.measurements ?? view.measurements()) {
        const list = request.tagFilter === undefined
          ? view.series(m)
          : view.seriesWhere(m, request.tagFilter); // the index narrows, seriesFilter decides
        for (const s of list) {
          if (!request.seriesFilter || request.seriesFilter(s.measurement, s.tags)) keys.add(s.key);
        }
      }
    }
    if (keys.size === 0) return;
    const tombstone: TombstoneRecord = {
      keys: [...keys],
      minNs: request.minNs.toString(),
      maxNs: request.maxNs.toString(),
      gen: 0, // set when applied
      dropSeries: request.dropSeries,
    };
    await this.#logCatalog({ op: "delete", database, tombstone });
  }

  /** The shards of a database and policy whose time range meets [minNs, maxNs], by time. */
  shards(database: string, retentionPolicy: string, minNs: bigint, maxNs: bigint): ShardView[] {
    const rp = this.#database(database).policy(retentionPolicy);
    const min = instantFromNanos(minNs).ms, max = instantFromNanos(maxNs).ms;
    return [...rp.groups.values()]
      .filter((g) => g.endMs > min && g.startMs <= max)
      .sort((a, b) => a.startMs - b.startMs)
      .map((g) => g.reader());
  }

  /** The estimated size of the heads not yet being flushed. */
  get headBytes(): number {
    return this.#headBytes;
  }

  /**
   * Figures for `/metrics`: one walk over the shards and their segments, without the compaction
   * planning {@linkcode stats} does (a node with many replicas reads every one at each scrape).
   */
  figures(): StorageFigures {
    const databases = new Map<string, DatabaseFigures>();
    for (const [name, db] of this.#databases) {
      let headValues = 0, segmentValues = 0, segments = 0, segmentBytes = 0;
      for (const shard of db.shards()) {
        headValues += shard.headValues;
        segments += shard.segments.length;
        for (const s of shard.segments) {
          segmentBytes += s.reader.sizeBytes;
          segmentValues += s.reader.valueCount;
        }
      }
      databases.set(name, {
        series: db.series.size,
        headValues,
        segmentValues,
        segments,
        segmentBytes,
      });
    }
    return {
      databases,
      headBytes: this.#headBytes,
      flushes: this.#counts.flushes,
      compactions: this.#counts.compactions,
      flushSeconds: this.#flushSeconds,
      compactionSeconds: this.#compactionSeconds,
      cacheHits: this.#cache.hits,
      cacheMisses: this.#cache.misses,
      cacheBytes: this.#cache.bytes,
      logFsyncSeconds: this.#wal.fsyncSeconds,
    };
  }

  /** Counts for /metrics and /health. */
  stats(): EngineStats {
    let series = 0, headValues = 0, segmentValues = 0, segments = 0, segmentBytes = 0;
    let coldGroups = 0, coldBytes = 0;
    let compactionsPending = 0;
    const fanout = this.options.compactionFanout ?? 4;
    for (const db of this.#databases.values()) {
      series += db.series.size;
      for (const shard of db.shards()) {
        headValues += shard.headValues;
        segmentValues += shard.segmentValues;
        for (const s of shard.segments) {
          if (s.cold) {
            coldGroups++;
            coldBytes += s.reader.sizeBytes;
          } else {
            segments++;
            segmentBytes += s.reader.sizeBytes;
          }
        }
        // A running step's inputs stay in `segments` until its output replaces them.
        if (!shard.dropped) {
          compactionsPending += planCompaction(shard.segments.filter((s) => !s.cold), { fanout })
            .length;
        }
      }
    }
    return {
      databases: this.#databases.size,
      series,
      values: headValues + segmentValues,
      headValues,
      segments,
      segmentBytes,
      coldGroups,
      coldBytes,
      ...this.#counts,
      flushing: this.#flushing !== undefined,
      compactionsPending,
    };
  }

  /**
   * Stops the background task, waits for a running flush and queued WAL appends, flushes the
   * heads (so the data on disk is the segments' and the WAL is trimmed; bounded by
   * `closeFlushTimeoutMs`: a flush that fails or runs over is abandoned, the WAL keeps the data;
   * `flush: false` skips it), then closes files.
   */
  async close(options: { flush?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) (this.options.timers ?? HOST_TIMERS).clearInterval(this.#timer);
    this.#stopping.abort(new Error("storage engine closing"));
    if (this.#warmTurn !== undefined) {
      (this.options.timers ?? HOST_TIMERS).clearTimeout(this.#warmTurn.timer);
      this.#warmTurn.wake();
    }
    await this.#warming;
    await this.#maintaining;
    await this.#flushing?.catch(() => {});
    // A replica about to be replaced by a copy of another's files has nothing worth flushing.
    if (options.flush !== false) await this.#flushAtClose();
    await this.#wal.close();
    for (const db of this.#databases.values()) {
      for (const shard of db.shards()) {
        for (const s of shard.segments) {
          s.reader.close();
          // A shared cache (a node's) outlives the engine: its blocks would hold memory there
          // until evicted.
          (s.reader.compression === BlockCompression.None ? this.#cache : this.#coldCache)
            .dropFile(s.reader.cacheName);
        }
      }
    }
    this.#closeRetired(true);
  }
}

/**
 * InfluxDB's rules for a retention policy's settings.
 * @throws {ValidationError} for a duration under 1 h, a shard duration above the duration or a
 * replication factor below 1.
 */
export function checkPolicy(durationNs: bigint, shardNs: bigint, replicaN: number): void {
  checkPolicyShape(durationNs, shardNs, replicaN);
}

/**
 * A spec's size limit and cold tier as catalog (or cluster metadata) op fields, validated
 * (absent stays absent).
 */
export function tieringOp(
  spec: { maxBytes?: number; coldAfterNs?: bigint },
): { maxBytes?: number; coldAfterNs?: string } {
  const out: { maxBytes?: number; coldAfterNs?: string } = {};
  if (spec.maxBytes !== undefined) {
    if (!Number.isSafeInteger(spec.maxBytes) || spec.maxBytes < 0) {
      throw new ValidationError(`MAX_BYTES must be a whole number of bytes, got ${spec.maxBytes}`);
    }
    out.maxBytes = spec.maxBytes;
  }
  if (spec.coldAfterNs !== undefined) {
    if (spec.coldAfterNs < 0n) throw new ValidationError("COLD_AFTER must not be negative");
    out.coldAfterNs = spec.coldAfterNs.toString();
  }
  return out;
}

function checkPolicyShape(durationNs: bigint, shardNs: bigint, replicaN: number): void {
  if (durationNs !== 0n && durationNs < HOUR_NS) {
    throw new ValidationError("retention policy duration must be at least 1h0m0s");
  }
  if (durationNs !== 0n && shardNs > durationNs) {
    throw new ValidationError("retention policy duration must be greater than the shard duration");
  }
  if (!Number.isInteger(replicaN) || replicaN < 1) {
    throw new ValidationError(`replication factor must be at least 1, got ${replicaN}`);
  }
}

function headInput(head: Head): SegmentSeriesInput[] {
  const out: SegmentSeriesInput[] = [];
  for (const s of head.allSeries()) if (s.columns.hasValues()) out.push(new HeadSeriesInput(s));
  return out;
}

/**
 * A head series as segment input, its views made on each read of `fields`: a flush of 100k
 * series holding every view at once (a Map and ten views per series) cost more than the head.
 * A frozen head does not change (deletes cut only the active head), so each read sees the same.
 */
class HeadSeriesInput implements SegmentSeriesInput {
  readonly key: string;
  readonly measurement: string;
  readonly tags: readonly Tag[];
  readonly #columns: SeriesColumns;

  constructor(s: HeadSeries) {
    this.key = s.key;
    this.measurement = s.measurement;
    this.tags = s.tags;
    this.#columns = s.columns;
  }

  get fields(): Map<string, ColumnView> {
    return this.#columns.views();
  }

  hasValues(): boolean {
    return this.#columns.hasValues();
  }
}

/**
 * The rejections of the points that alone are too big for a WAL record, by their index in
 * `points`; `tooLarge` indexes `accepted`, which is a subsequence of `points`.
 */
function tooLargeRejections(points: Point[], accepted: Point[], tooLarge: number[]): Rejection[] {
  const out: Rejection[] = [];
  let i = -1, a = 0; // i: where accepted[a - 1] is in points
  for (const k of tooLarge) {
    for (; a <= k; a++) while (points[++i] !== accepted[a]);
    out.push({
      index: i,
      reason: `point too large: it takes more than ${MAX_RECORD_BYTES} bytes in the ` +
        `write-ahead log (the most one record may hold)`,
    });
  }
  return out;
}

function seriesKeyOf(p: Point): string {
  return seriesKey(p.measurement, p.tags);
}

export type { Shard, ShardView };
export { checkDatabaseName } from "./catalog.ts";
