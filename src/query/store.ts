/**
 * What the query engine needs from the data it queries. The query room declares it; the
 * storage engine (and later the cluster's fan-out) implements it, structurally, without
 * importing this file. Times are int64 nanoseconds at this boundary (`bigint`, once per call),
 * and `(ms, subMs)` pairs inside columns (see core/time.ts).
 *
 * @module
 */
import type { BlockSummary, FieldColumn, FieldPart, FieldType, Point, Tag } from "../core/mod.ts";
import type { Expr, SelectStatement } from "./ast.ts";
import type { QueryBudget } from "./limits.ts";
import type { MeasurementSchema, SelectPlan } from "./plan.ts";
import type { ShardPartial } from "./shard_exec.ts";

// The column and block-summary shapes are shared with storage, so they live in core.
export type { BlockSummary, FieldColumn, FieldPart };

/** A series as the index knows it. `id` is unique within one shard. */
export interface SeriesRef {
  id: number;
  /** The series key: measurement plus sorted tags, line-protocol escaped. */
  key: string;
  measurement: string;
  /** Sorted by key. */
  tags: readonly Tag[];
}

/**
 * A predicate on a series' tags that a shard's inverted index answers. A missing tag reads as
 * the empty string (InfluxDB's rule): `host != 'a'` and `host !~ /a/` hold for a series
 * without `host`, and so does `host = ''`. `test` is a compiled regex (`!~`: where it fails).
 */
export type TagFilter =
  | { op: "=" | "!="; key: string; value: string }
  | { op: "=~" | "!~"; key: string; test: (value: string) => boolean }
  | { op: "AND" | "OR"; terms: readonly TagFilter[] };

/** A retention policy as SHOW RETENTION POLICIES reports it. */
export interface RetentionPolicyInfo {
  name: string;
  /** Nanoseconds; 0 means infinite. */
  durationNs: bigint;
  shardGroupDurationNs: bigint;
  replicaN: number;
  isDefault: boolean;
  /** Size limit in bytes (0 = none); stores without tiering leave it out. */
  maxBytes?: number;
  /** Age at which shard groups move to the cold store (0 = never). */
  coldAfterNs?: bigint;
  /** Bytes held now: segments on local disk, and objects in the cold store. */
  bytes?: number;
  coldBytes?: number;
}

/**
 * A read view of one shard: a slice of one database and retention policy, bounded in time.
 * Plans run per shard and their partial results are merged by the coordinator, so the same
 * series may appear in several shards (for different times).
 */
export interface ShardReader {
  measurements(): string[];
  /** Every series of a measurement in this shard (segment storage: in key order). */
  series(measurement: string): readonly SeriesRef[];
  /**
   * Optional (an inverted index): the series of a measurement whose tags satisfy `filter`, in
   * key order. Readers that lack it are scanned with series(). Callers still evaluate their
   * whole condition on the answer; the filter only narrows it.
   */
  seriesWhere?(measurement: string, filter: TagFilter): readonly SeriesRef[];
  /** Optional (an inverted index): the tag keys of a measurement, sorted. */
  tagKeys?(measurement: string): string[];
  /** Optional (an inverted index): the values of a tag key in a measurement, sorted. */
  tagValues?(measurement: string, key: string): string[];
  /** Field name -> type for a measurement in this shard. */
  fieldTypes(measurement: string): Map<string, FieldType>;
  /** A field's values in [minNs, maxNs] (both inclusive); undefined when the series has none. */
  readField(
    series: SeriesRef,
    field: string,
    minNs: bigint,
    maxNs: bigint,
  ): Promise<FieldColumn | undefined>;
  /**
   * Optional (segment storage): the field's data in [minNs, maxNs] as a list in time order of
   * whole-block summaries (blocks entirely inside the range, answered from block statistics
   * without decoding) and decoded columns (the head, and blocks the range cuts). Readers that
   * lack it are read with readField. Aggregates may use it for count/sum/mean/min/max/first/last.
   * The columns are time-ordered and disjoint, views of decoded blocks (never concatenated), so
   * aggregating them part by part is aggregating the merged column.
   */
  /**
   * True when every column this reader returns ascends strictly in time (sorted, no two points
   * at one instant): aggregates may then read a run's first or last point alone.
   */
  readonly sortedColumns?: boolean;
  readFieldSummaries?(
    series: SeriesRef,
    field: string,
    minNs: bigint,
    maxNs: bigint,
    options?: FieldPartsOptions,
  ): Promise<FieldPart[]>;
  /**
   * Optional (files that may be retired while a long read goes on): keeps what this reader
   * reads open until the returned function is called (a streamed answer, whose client may read
   * slowly, holds its readers for its whole life).
   */
  hold?(): () => void;
  /**
   * Optional (a cluster's shard group whose partitions are partly on other nodes): runs the
   * plan where the data is and returns this shard's partial, exactly what `runShard` returns
   * over the same data. `request` is what the plan was made from, so a remote node can make it
   * again. Readers with it need not list series or read fields.
   */
  runPlan?(
    plan: SelectPlan,
    request: PlanRequest,
    measurements: readonly string[],
    budget?: QueryBudget,
  ): Promise<ShardPartial>;
}

/** What a SELECT plan is made from: the same inputs make the same plan anywhere. */
export interface PlanRequest {
  statement: SelectStatement;
  schemas: readonly MeasurementSchema[];
  nowNs: bigint;
}

/**
 * How current a read must be, for a store with replicas (a cluster): `leader` sees every write
 * acknowledged before the query (a ReadIndex barrier on each partition read), `any` reads the
 * nearest replica as it is (this node's own when it holds one; it may be stale).
 */
export type ReadConsistency = "leader" | "any";

/** Options of {@linkcode QueryStore.shardsAsync}. */
export interface ShardsOptions {
  /** The readers must list series (SHOW statements, EXPLAIN); else metadata is enough. */
  series?: boolean;
  /** @default {"leader"} */
  consistency?: ReadConsistency;
}

/** Options of {@linkcode ShardReader.readFieldSummaries}. */
export interface FieldPartsOptions {
  /**
   * Whether a whole block spanning these instants may be answered by its statistics; false
   * decodes it (a block across a GROUP BY time boundary). Readers may ignore it: callers check.
   * @default every whole block is summarised
   */
  summarize?: (minMs: number, minSubMs: number, maxMs: number, maxSubMs: number) => boolean;
}

/** A retention policy to create (CREATE RETENTION POLICY). */
export interface RetentionPolicySpec {
  name: string;
  /** 0 = infinite. */
  durationNs: bigint;
  /** 0 = the default for the duration (InfluxDB's rule: 1h under 2 days, 1d up to 6 months, 7d beyond). */
  shardGroupDurationNs: bigint;
  replicaN: number;
  isDefault: boolean;
  /** 0 or absent = no size limit. */
  maxBytes?: number;
  /** 0 or absent = never cold. */
  coldAfterNs?: bigint;
}

/** What DELETE / DROP SERIES / DROP MEASUREMENT remove. */
export interface DeleteRequest {
  /** Measurements to consider; undefined = all. */
  measurements?: string[];
  /** Series (by tags) to consider; undefined = all series of those measurements. */
  seriesFilter?: (measurement: string, tags: readonly Tag[]) => boolean;
  /**
   * The tag condition `seriesFilter` evaluates, for a store that runs the delete on other nodes
   * (they rebuild the filters from it); undefined without a condition.
   */
  condition?: Expr;
  /**
   * The tag terms of the condition, for an indexed store to narrow the series it offers to
   * `seriesFilter` (which still decides); undefined = no narrowing.
   */
  tagFilter?: TagFilter;
  /** Time range removed, both inclusive (DROP SERIES: the whole range). */
  minNs: bigint;
  maxNs: bigint;
  /** DROP SERIES / DROP MEASUREMENT: also forget the series in the index. */
  dropSeries: boolean;
}

/** The whole store as the query engine sees it: catalog statements plus shard readers. */
export interface QueryStore {
  /** Database names in creation order (SHOW DATABASES lists them so, as InfluxDB). */
  databases(): string[];
  createDatabase(name: string): Promise<void>;
  dropDatabase(name: string): Promise<void>;
  retentionPolicies(db: string): RetentionPolicyInfo[];
  /**
   * Optional (a cluster): the bytes of each policy, counted where they are decided (each
   * partition's leader) and summed. When present SHOW RETENTION POLICIES reports these.
   */
  retentionSizes?(db: string): Promise<Map<string, { bytes: number; coldBytes: number }>>;
  /** The default retention policy's name; throws NotFoundError for an unknown database. */
  defaultRetentionPolicy(db: string): string;
  /** The shards of `db`/`rp` that may hold data in [minNs, maxNs]. */
  shards(db: string, rp: string, minNs: bigint, maxNs: bigint): ShardReader[];
  /**
   * Optional (a cluster): the same, fetched from other nodes where needed. When present the
   * executor uses it instead of {@linkcode shards}.
   */
  shardsAsync?(
    db: string,
    rp: string,
    minNs: bigint,
    maxNs: bigint,
    options?: ShardsOptions,
  ): Promise<ShardReader[]>;

  // The statements below arrive with segment storage (issue 3); until a store implements them
  // the executor answers with a clear error.

  /** CREATE RETENTION POLICY; an existing policy with other settings is an error. */
  createRetentionPolicy?(db: string, spec: RetentionPolicySpec): Promise<void>;
  /** ALTER RETENTION POLICY: only the given settings change. */
  alterRetentionPolicy?(
    db: string,
    name: string,
    changes: Partial<Omit<RetentionPolicySpec, "name">>,
  ): Promise<void>;
  /** DROP RETENTION POLICY (and its data). */
  dropRetentionPolicy?(db: string, name: string): Promise<void>;
  /** DELETE / DROP SERIES / DROP MEASUREMENT over every retention policy of `db`. */
  deleteSeries?(db: string, request: DeleteRequest): Promise<void>;

  /**
   * Optional (a cluster): waits until reads of these databases see every write acknowledged
   * before the call (Raft's ReadIndex on each partition). The executor calls it once per query
   * for the databases its reads name, again for a database a later statement adds and after a
   * statement of the query that changes something; never at `any` consistency.
   */
  readBarrier?(databases: readonly string[]): Promise<void>;

  /**
   * SELECT ... INTO: writes points to `db`/`rp` (undefined = the default policy), durable when
   * the promise resolves; points the store refuses are listed by index with a reason. The
   * storage engine's `write` has this shape.
   */
  write?(
    db: string,
    rp: string | undefined,
    points: Point[],
  ): Promise<{ accepted: number; rejected: { index: number; reason: string }[] }>;
}
