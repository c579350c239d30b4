/**
 * What the query engine needs from the data it queries. The query room declares it; the
 * storage engine (and later the cluster's fan-out) implements it, structurally, without
 * importing this file. Times are int64 nanoseconds at this boundary (`bigint`, once per call),
 * and `(ms, subMs)` pairs inside columns (see core/time.ts).
 *
 * @module
 */
import type { FieldType, FieldValue, Tag } from "../core/mod.ts";

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
 * The values of one field of one series over a time range: sorted by time ascending, one value
 * per timestamp (the last write won already). `values` is a Float64Array for floats, and an
 * array of {@linkcode FieldValue} otherwise (integers as number when safe, bigint beyond).
 */
export interface FieldColumn {
  type: FieldType;
  length: number;
  timesMs: Float64Array;
  timesSubMs: Float64Array;
  values: Float64Array | FieldValue[];
}

/** A retention policy as SHOW RETENTION POLICIES reports it. */
export interface RetentionPolicyInfo {
  name: string;
  /** Nanoseconds; 0 means infinite. */
  durationNs: bigint;
  shardGroupDurationNs: bigint;
  replicaN: number;
  isDefault: boolean;
}

/**
 * A read view of one shard: a slice of one database and retention policy, bounded in time.
 * Plans run per shard and their partial results are merged by the coordinator, so the same
 * series may appear in several shards (for different times).
 */
export interface ShardReader {
  measurements(): string[];
  /** Every series of a measurement in this shard. */
  series(measurement: string): SeriesRef[];
  /** Field name -> type for a measurement in this shard. */
  fieldTypes(measurement: string): Map<string, FieldType>;
  /** A field's values in [minNs, maxNs] (both inclusive); undefined when the series has none. */
  readField(
    series: SeriesRef,
    field: string,
    minNs: bigint,
    maxNs: bigint,
  ): Promise<FieldColumn | undefined>;
}

/** The whole store as the query engine sees it: catalog statements plus shard readers. */
export interface QueryStore {
  databases(): string[];
  createDatabase(name: string): Promise<void>;
  dropDatabase(name: string): Promise<void>;
  retentionPolicies(db: string): RetentionPolicyInfo[];
  /** The default retention policy's name; throws NotFoundError for an unknown database. */
  defaultRetentionPolicy(db: string): string;
  /** The shards of `db`/`rp` that may hold data in [minNs, maxNs]. */
  shards(db: string, rp: string, minNs: bigint, maxNs: bigint): ShardReader[];
}
