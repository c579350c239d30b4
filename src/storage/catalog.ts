/**
 * Databases, retention policies, field types, the series index (for limits) and tombstones.
 * Catalog changes are WAL records (type 2, a JSON {@linkcode CatalogOp}), so replay rebuilds the
 * catalog and the data in one order; at every flush the catalog as of the WAL cut is written to
 * `catalog.json` (atomically), and only the WAL after that cut is replayed on restart.
 * @module
 */
import {
  FIELD_TYPE_NAMES,
  type FieldType,
  NotFoundError,
  type Point,
  seriesKey,
  type Tag,
  ValidationError,
} from "../core/mod.ts";
import type { TimeRange } from "./merge.ts";
import { effectiveShardGroupDuration } from "./retention.ts";
import type { Shard, Tombstone } from "./shard.ts";

/** A retention policy and its shard groups (by start ms). */
export interface RetentionPolicy {
  id: number;
  name: string;
  /** 0 = infinite. */
  durationNs: bigint;
  shardGroupDurationNs: bigint;
  replicaN: number;
  groups: Map<number, Shard>;
}

/** A tombstone as the catalog stores it: resolved series keys. */
export interface TombstoneRecord {
  keys: string[];
  minNs: string;
  maxNs: string;
  gen: number;
  dropSeries: boolean;
}

/** One database: its policies, field types, series index and tombstones. */
export class DatabaseState {
  readonly retentionPolicies = new Map<string, RetentionPolicy>();
  defaultRetentionPolicy = "autogen";
  nextRetentionPolicyId = 1;
  /** measurement -> field -> type; a field keeps its first type for the database's life. */
  readonly fieldTypes = new Map<string, Map<string, FieldType>>();
  /** Series keys known (for max-series-per-database). */
  readonly seriesKeys = new Set<string>();
  /** measurement -> tag key -> values (for max-values-per-tag). */
  readonly tagValues = new Map<string, Map<string, Set<string>>>();
  /** Series key -> tombstones. */
  readonly tombstones = new Map<string, Tombstone[]>();
  readonly tombstoneRecords: TombstoneRecord[] = [];

  constructor(readonly name: string, readonly id: number) {}

  /** Adds the default policy `autogen` (infinite) of a new database. */
  addDefaultPolicy(): void {
    this.addPolicy("autogen", 0n, 0n, 1);
  }

  /** Adds a policy (its id from the counter). */
  addPolicy(
    name: string,
    durationNs: bigint,
    shardGroupDurationNs: bigint,
    replicaN: number,
    id = this.nextRetentionPolicyId,
  ): RetentionPolicy {
    const rp: RetentionPolicy = {
      id,
      name,
      durationNs,
      shardGroupDurationNs: effectiveShardGroupDuration(durationNs, shardGroupDurationNs),
      replicaN,
      groups: new Map(),
    };
    this.nextRetentionPolicyId = Math.max(this.nextRetentionPolicyId, id + 1);
    this.retentionPolicies.set(name, rp);
    return rp;
  }

  /** The policy named `rp` (the default when empty). */
  policy(rp: string | undefined): RetentionPolicy {
    const name = rp || this.defaultRetentionPolicy;
    const policy = this.retentionPolicies.get(name);
    if (!policy) {
      throw new NotFoundError(`retention policy not found: ${name}`, {
        details: { database: this.name, retentionPolicy: name },
      });
    }
    return policy;
  }

  /** Every shard of every policy. */
  *shards(): IterableIterator<Shard> {
    for (const rp of this.retentionPolicies.values()) yield* rp.groups.values();
  }

  /**
   * Why a point's field types conflict with the catalog (InfluxDB's message), or undefined; a
   * point without conflict registers its new fields.
   */
  checkFieldTypes(p: Point): string | undefined {
    let types = this.fieldTypes.get(p.measurement);
    for (const f of p.fields) {
      const known = types?.get(f.key);
      if (known !== undefined && known !== f.type) {
        return `field type conflict: input field "${f.key}" on measurement "${p.measurement}"` +
          ` is type ${FIELD_TYPE_NAMES[f.type]}, already exists as type ${FIELD_TYPE_NAMES[known]}`;
      }
    }
    if (!types) this.fieldTypes.set(p.measurement, types = new Map());
    for (const f of p.fields) if (!types.has(f.key)) types.set(f.key, f.type);
    return undefined;
  }

  /**
   * Why a new series would break the limits (InfluxDB's messages), or undefined; a series that
   * passes is registered. 0 = unlimited.
   */
  checkSeries(
    measurement: string,
    tags: readonly Tag[],
    limits: { maxSeries: number; maxValuesPerTag: number },
  ): string | undefined {
    const key = seriesKey(measurement, tags);
    if (this.seriesKeys.has(key)) return undefined;
    if (limits.maxSeries > 0 && this.seriesKeys.size >= limits.maxSeries) {
      // InfluxDB 1.6's text (tsdb/index/inmem); the HTTP layer adds "partial write: ... dropped=N".
      return `max-series-per-database limit exceeded: (${limits.maxSeries})`;
    }
    if (limits.maxValuesPerTag > 0) {
      for (const t of tags) {
        const values = this.tagValues.get(measurement)?.get(t.key);
        if (values && !values.has(t.value) && values.size >= limits.maxValuesPerTag) {
          return `max-values-per-tag limit exceeded (${values.size}/${limits.maxValuesPerTag}): ` +
            `measurement=${JSON.stringify(measurement)} tag=${JSON.stringify(t.key)} ` +
            `value=${JSON.stringify(t.value)}`;
        }
      }
    }
    this.indexSeries(key, measurement, tags);
    return undefined;
  }

  /** Registers a series in the index (no limit check: replay and segment loading). */
  indexSeries(key: string, measurement: string, tags: readonly Tag[]): void {
    if (this.seriesKeys.has(key)) return;
    this.seriesKeys.add(key);
    let keys = this.tagValues.get(measurement);
    if (!keys) this.tagValues.set(measurement, keys = new Map());
    for (const t of tags) {
      let values = keys.get(t.key);
      if (!values) keys.set(t.key, values = new Set());
      values.add(t.value);
    }
  }

  /** Drops the tombstones older than every source (generation below `oldestGen`). */
  pruneTombstones(oldestGen: number): number {
    const keep = this.tombstoneRecords.filter((r) => r.gen >= oldestGen);
    const dropped = this.tombstoneRecords.length - keep.length;
    if (dropped === 0) return 0;
    this.tombstoneRecords.splice(0, this.tombstoneRecords.length, ...keep);
    for (const [key, list] of this.tombstones) {
      const kept = list.filter((t) => t.gen >= oldestGen);
      if (kept.length === 0) this.tombstones.delete(key);
      else if (kept.length !== list.length) this.tombstones.set(key, kept);
    }
    return dropped;
  }

  /**
   * Adds a tombstone. DROP SERIES / DROP MEASUREMENT also forget the series in the index, and a
   * measurement left without series forgets its field types (as InfluxDB drops its fields).
   */
  addTombstone(record: TombstoneRecord, range: TimeRange): void {
    this.tombstoneRecords.push(record);
    const t: Tombstone = { range, gen: record.gen, dropSeries: record.dropSeries };
    const measurements = new Set<string>();
    for (const key of record.keys) {
      let list = this.tombstones.get(key);
      if (!list) this.tombstones.set(key, list = []);
      list.push(t);
      if (record.dropSeries) {
        this.seriesKeys.delete(key);
        measurements.add(measurementPart(key));
      }
    }
    if (measurements.size === 0) return;
    for (const key of this.seriesKeys) measurements.delete(measurementPart(key));
    for (const escaped of measurements) {
      for (const m of this.fieldTypes.keys()) {
        if (measurementPart(seriesKey(m, [])) === escaped) this.fieldTypes.delete(m);
      }
    }
  }
}

/** A catalog change as the WAL records it. Times are decimal nanoseconds. */
export type CatalogOp =
  | { op: "create_database"; name: string; id?: number }
  | { op: "drop_database"; name: string }
  | {
    op: "create_retention_policy";
    database: string;
    name: string;
    id: number;
    durationNs: string;
    shardGroupDurationNs: string;
    replicaN: number;
    isDefault: boolean;
  }
  | {
    op: "alter_retention_policy";
    database: string;
    name: string;
    durationNs?: string;
    shardGroupDurationNs?: string;
    replicaN?: number;
    isDefault?: boolean;
  }
  | { op: "drop_retention_policy"; database: string; name: string }
  | { op: "delete"; database: string; tombstone: TombstoneRecord };

/** The catalog file (`catalog.json`): the catalog as of a WAL cut. */
export interface CatalogSnapshot {
  version: 1;
  /** The first WAL segment to replay. */
  walStart: number;
  /** The generation of the next head to flush. */
  nextGen: number;
  nextDatabaseId: number;
  databases: {
    name: string;
    id: number;
    defaultRetentionPolicy: string;
    nextRetentionPolicyId: number;
    retentionPolicies: {
      id: number;
      name: string;
      durationNs: string;
      shardGroupDurationNs: string;
      replicaN: number;
    }[];
    fieldTypes: Record<string, Record<string, number>>;
    tombstones: TombstoneRecord[];
  }[];
}

/** The catalog part of a snapshot (databases), taken synchronously. */
export function snapshotDatabases(
  databases: Iterable<DatabaseState>,
): CatalogSnapshot["databases"] {
  return [...databases].map((db) => ({
    name: db.name,
    id: db.id,
    defaultRetentionPolicy: db.defaultRetentionPolicy,
    nextRetentionPolicyId: db.nextRetentionPolicyId,
    retentionPolicies: [...db.retentionPolicies.values()].map((rp) => ({
      id: rp.id,
      name: rp.name,
      durationNs: rp.durationNs.toString(),
      shardGroupDurationNs: rp.shardGroupDurationNs.toString(),
      replicaN: rp.replicaN,
    })),
    fieldTypes: Object.fromEntries(
      [...db.fieldTypes].map(([m, types]) => [m, Object.fromEntries(types)]),
    ),
    tombstones: [...db.tombstoneRecords],
  }));
}

/** The (escaped) measurement of a series key: up to the first comma not escaped. */
function measurementPart(key: string): string {
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x2c) return key.slice(0, i);
  }
  return key;
}

// Control characters and slashes would break paths and logs.
// deno-lint-ignore no-control-regex
const DATABASE_NAME = /^[^\x00-\x1f\\/]+$/u;

/** Throws unless `name` can name a database. */
export function checkDatabaseName(name: string): void {
  if (!name || !DATABASE_NAME.test(name) || name.length > 255) {
    throw new ValidationError(
      `invalid database name ${JSON.stringify(name)}: 1 to 255 characters, no control ` +
        `characters or slashes`,
    );
  }
}
