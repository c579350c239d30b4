/**
 * Databases, retention policies, field types, the series set (for limits) and tombstones.
 * Catalog changes are WAL records (type 2, a JSON {@linkcode CatalogOp}), so replay rebuilds the
 * catalog and the data in one order; at every flush the catalog as of the WAL cut is written to
 * `catalog.json` (atomically), and only the WAL after that cut is replayed on restart.
 * @module
 */
import {
  FIELD_TYPE_NAMES,
  fieldLayoutOf,
  type FieldType,
  NotFoundError,
  type Point,
  seriesKey,
  type Tag,
  ValidationError,
} from "../core/mod.ts";
import type { TimeRange } from "./merge.ts";
import { effectiveShardGroupDuration } from "./retention.ts";
import { HashSet64, seriesKeyHash } from "./segment/mod.ts";
import { nextTombstoneSerial, type Shard, type Tombstone } from "./shard.ts";
import { fieldLimitProblem } from "./point_rules.ts";

/** A retention policy and its shard groups (by start ms). */
export interface RetentionPolicy {
  id: number;
  name: string;
  /** 0 = infinite. */
  durationNs: bigint;
  shardGroupDurationNs: bigint;
  replicaN: number;
  /** Bytes the policy may hold (segments and cold objects); 0 = no limit. */
  maxBytes: number;
  /** Shard groups ending this long ago move to the cold store; 0 = never. */
  coldAfterNs: bigint;
  /**
   * Size retention dropped every group ending at or before this instant (ms): points before it
   * are beyond the policy, and a group folder that comes back after a crash is dropped again.
   */
  sizeHorizonMs: number;
  groups: Map<number, Shard>;
}

/** A shard group in the cold store: its object and the generation it reads as. */
export interface ColdGroupRecord {
  key: string;
  bytes: number;
}

/** A tombstone as the catalog stores it: resolved series keys. */
export interface TombstoneRecord {
  keys: string[];
  minNs: string;
  maxNs: string;
  gen: number;
  dropSeries: boolean;
  /**
   * Set when the delete enforces a measurement's size limit: each copy (the engine, every
   * replica of a partition) rewrites the segments it covers at once, so the bytes leave the disk.
   */
  purge?: boolean;
}

/**
 * What the catalog asks of the data about the series it knows only by hash (the engine answers
 * from the segments and heads of the database, tombstones applied).
 */
export interface StoredSeries {
  /** True when a segment of the database holds the series (and no tombstone dropped it there). */
  has(key: string): boolean;
  /** Calls `fn` with each series of a measurement in any source (duplicates allowed). */
  forEachSeries(measurement: string, fn: (key: string, tags: readonly Tag[]) => void): void;
}

/**
 * The series of a database, for the series limit, compact: the 64-bit hashes of every key
 * (loaded at start from the segment indexes without parsing them) and the exact keys seen since
 * start (written, replayed, or confirmed). A key whose hash is known but that was not seen is
 * confirmed against the segments once ({@linkcode StoredSeries.has}), so a hash collision never
 * makes a new series pass for an old one.
 */
export class SeriesSet {
  readonly #hashes = new HashSet64();
  readonly #seen = new Set<string>();
  /** New series whose hash collided with a known one: counted apart. */
  #collisions = 0;
  /** The hash of the last key `has` found absent is still in `#h`. */
  #missed: string | undefined;
  readonly #h = new Uint32Array(2);

  constructor(private readonly stored: () => StoredSeries | undefined) {}

  /** Series known (hashes can under-count only a collision between two stored keys). */
  get size(): number {
    return this.#hashes.size + this.#collisions;
  }

  /** True when the series is known. */
  has(key: string): boolean {
    if (this.#seen.has(key)) return true;
    // A new series is asked about twice (write, then checkSeries) before add: hash it once.
    if (key === this.#missed) return false;
    seriesKeyHash(key, this.#h);
    if (this.#hashes.has(this.#h[0], this.#h[1]) && this.stored()?.has(key)) {
      this.#seen.add(key);
      return true;
    }
    this.#missed = key; // absent, or another key with the same hash
    return false;
  }

  /** Registers a series not known yet (the caller checked {@linkcode has}). */
  add(key: string): void {
    if (key !== this.#missed) seriesKeyHash(key, this.#h);
    this.#missed = undefined;
    if (!this.#hashes.add(this.#h[0], this.#h[1])) this.#collisions++;
    this.#seen.add(key);
  }

  /** Registers a series as present without a check (heads being reindexed). */
  addPresent(key: string): void {
    if (this.#seen.has(key)) return;
    this.#missed = undefined;
    seriesKeyHash(key, this.#h);
    this.#hashes.add(this.#h[0], this.#h[1]);
    this.#seen.add(key);
  }

  /** Registers the hashes of stored series, as (lo, hi) pairs (a segment's index). */
  addHashes(pairs: Uint32Array): void {
    this.#missed = undefined;
    this.#hashes.addAll(pairs);
  }

  /**
   * Forgets a series. Another series whose key has the same hash, if any, is forgotten with it
   * (the count is then one low until the next rebuild or restart).
   */
  delete(key: string): void {
    this.#missed = undefined;
    this.#seen.delete(key);
    seriesKeyHash(key, this.#h);
    this.#hashes.delete(this.#h[0], this.#h[1]);
  }

  /** Forgets every series (before a rebuild). */
  clear(): void {
    this.#missed = undefined;
    this.#hashes.clear();
    this.#seen.clear();
    this.#collisions = 0;
  }
}

/** One database: its policies, field types, series set and tombstones. */
export class DatabaseState {
  readonly retentionPolicies = new Map<string, RetentionPolicy>();
  defaultRetentionPolicy = "autogen";
  nextRetentionPolicyId = 1;
  /** measurement -> field -> type; a field keeps its first type for the database's life. */
  readonly fieldTypes = new Map<string, Map<string, FieldType>>();
  /** Where series known only by hash are confirmed; set by the engine. */
  stored: StoredSeries | undefined;
  /** Series known (for max-series-per-database). */
  readonly series = new SeriesSet(() => this.stored);
  /**
   * measurement -> tag key -> values (for max-values-per-tag), built from the data the first
   * time a new series of the measurement needs it, then kept up to date.
   */
  readonly #tagValues = new Map<string, Map<string, Set<string>>>();
  /** Series key -> tombstones. */
  readonly tombstones = new Map<string, Tombstone[]>();
  readonly tombstoneRecords: TombstoneRecord[] = [];

  constructor(readonly name: string, readonly id: number) {}

  /** Adds the default policy `autogen` (infinite) of a new database. */
  addDefaultPolicy(): void {
    this.addPolicy("autogen", 0n, 0n, 1);
  }

  /** Sets a policy's size limit and cold tier (from a catalog op or snapshot). */
  setTiering(rp: RetentionPolicy, settings: { maxBytes?: number; coldAfterNs?: string }): void {
    if (settings.maxBytes !== undefined) rp.maxBytes = settings.maxBytes;
    if (settings.coldAfterNs !== undefined) rp.coldAfterNs = BigInt(settings.coldAfterNs);
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
      maxBytes: 0,
      coldAfterNs: 0n,
      sizeHorizonMs: -Infinity,
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
   * Why a point's field types conflict with the catalog (InfluxDB's message) or its new fields
   * would take the measurement past `maxFields` (0 = unlimited), or undefined; a point without
   * a problem registers its new fields.
   */
  checkFieldTypes(p: Point, maxFields = 0): string | undefined {
    let types = this.fieldTypes.get(p.measurement);
    const { keys, types: fieldTypes } = fieldLayoutOf(p);
    let fresh: string[] | undefined;
    for (let i = 0; i < keys.length; i++) {
      const known = types?.get(keys[i]), type = fieldTypes[i];
      if (known === undefined) (fresh ??= []).push(keys[i]);
      else if (known !== type) {
        return `field type conflict: input field "${keys[i]}" on measurement "${p.measurement}"` +
          ` is type ${FIELD_TYPE_NAMES[type]}, already exists as type ${FIELD_TYPE_NAMES[known]}`;
      }
    }
    if (fresh === undefined) return undefined;
    const tooMany = fieldLimitProblem(p.measurement, fresh, types?.size ?? 0, maxFields);
    if (tooMany !== undefined) return tooMany;
    if (!types) this.fieldTypes.set(p.measurement, types = new Map());
    for (let i = 0; i < keys.length; i++) {
      if (!types.has(keys[i])) types.set(keys[i], fieldTypes[i]);
    }
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
    if (this.series.has(key)) return undefined;
    if (limits.maxSeries > 0 && this.series.size >= limits.maxSeries) {
      // InfluxDB 1.6's text (tsdb/index/inmem); the HTTP layer adds "partial write: ... dropped=N".
      return `max-series-per-database limit exceeded: (${limits.maxSeries})`;
    }
    if (limits.maxValuesPerTag > 0) {
      for (const t of tags) {
        const values = this.#tagValuesOf(measurement).get(t.key);
        if (values && !values.has(t.value) && values.size >= limits.maxValuesPerTag) {
          return `max-values-per-tag limit exceeded (${values.size}/${limits.maxValuesPerTag}): ` +
            `measurement=${JSON.stringify(measurement)} tag=${JSON.stringify(t.key)} ` +
            `value=${JSON.stringify(t.value)}`;
        }
      }
    }
    this.series.add(key);
    this.#addTagValues(measurement, tags);
    return undefined;
  }

  /** Registers a series (no limit check: replay). */
  indexSeries(key: string, measurement: string, tags: readonly Tag[]): void {
    if (this.series.has(key)) return;
    this.series.add(key);
    this.#addTagValues(measurement, tags);
  }

  /** Forgets the tag values gathered so far (rebuilt from the data when next needed). */
  forgetTagValues(): void {
    this.#tagValues.clear();
  }

  #tagValuesOf(measurement: string): Map<string, Set<string>> {
    let keys = this.#tagValues.get(measurement);
    if (keys) return keys;
    keys = new Map();
    const into = keys;
    this.stored?.forEachSeries(measurement, (_, tags) => addTags(into, tags));
    this.#tagValues.set(measurement, keys);
    return keys;
  }

  #addTagValues(measurement: string, tags: readonly Tag[]): void {
    // A measurement not gathered yet picks the series up from the heads when it is.
    const keys = this.#tagValues.get(measurement);
    if (keys) addTags(keys, tags);
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
   * Adds a tombstone. DROP SERIES / DROP MEASUREMENT also forget the series in the set; it
   * returns the measurements (escaped, as in keys) whose series were dropped, for
   * {@linkcode forgetEmptyMeasurements} once the heads are cut.
   */
  addTombstone(record: TombstoneRecord, range: TimeRange): Set<string> {
    this.tombstoneRecords.push(record);
    const t: Tombstone = {
      range,
      gen: record.gen,
      dropSeries: record.dropSeries,
      serial: nextTombstoneSerial(),
    };
    const measurements = new Set<string>();
    for (const key of record.keys) {
      let list = this.tombstones.get(key);
      if (!list) this.tombstones.set(key, list = []);
      list.push(t);
      if (record.dropSeries) {
        this.series.delete(key);
        measurements.add(measurementPart(key));
      }
    }
    if (measurements.size > 0) this.#tagValues.clear();
    return measurements;
  }

  /**
   * A measurement left without series forgets its field types (as InfluxDB drops its fields).
   * `measurements` are escaped as in series keys (from {@linkcode addTombstone}).
   */
  forgetEmptyMeasurements(measurements: ReadonlySet<string>): void {
    if (measurements.size === 0) return;
    for (const m of [...this.fieldTypes.keys()]) {
      if (!measurements.has(measurementPart(seriesKey(m, [])))) continue;
      let any = false;
      this.stored?.forEachSeries(m, () => any = true);
      if (!any) this.fieldTypes.delete(m);
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
  | { op: "delete"; database: string; tombstone: TombstoneRecord }
  /**
   * A shard group with exact bounds (a cluster's metadata decides them, so that every partition
   * of a database splits time the same way); a no-op when a group covers `startMs` already.
   */
  | {
    op: "create_shard_group";
    database: string;
    retentionPolicy: string;
    startMs: number;
    endMs: number;
  }
  /**
   * Drops a shard group and its data (retention decided by a cluster's metadata, or size
   * retention: `sizeLimit` then also moves the policy's size horizon to the group's end).
   */
  | {
    op: "drop_shard_group";
    database: string;
    retentionPolicy: string;
    startMs: number;
    sizeLimit?: boolean;
  }
  /**
   * A shard group's data now reads from a cold object (cold/FORMAT.md): applied only when the
   * group took exactly `mutations` writes and deletes so far (the object holds all of them),
   * else a no-op on every replica alike.
   */
  | {
    op: "cold_switch";
    database: string;
    retentionPolicy: string;
    startMs: number;
    key: string;
    bytes: number;
    mutations: number;
  };

/** The catalog file (`catalog.json`): the catalog as of a WAL cut. */
export interface CatalogSnapshot {
  version: 1;
  /** The first log position to replay: a WAL segment id, or a Raft index (external logs). */
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
      maxBytes?: number;
      coldAfterNs?: string;
      /** null: none (JSON has no -Infinity). */
      sizeHorizonMs?: number | null;
      /** Groups with writes or deletes counted, or in the cold store. */
      groups?: SnapshotGroup[];
    }[];
    fieldTypes: Record<string, Record<string, number>>;
    tombstones: TombstoneRecord[];
  }[];
}

/** A shard group in the catalog file: its mutation count and cold object. */
export interface SnapshotGroup {
  startMs: number;
  endMs: number;
  mutations: number;
  cold?: ColdGroupRecord & { gen: number };
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
      maxBytes: rp.maxBytes,
      coldAfterNs: rp.coldAfterNs.toString(),
      sizeHorizonMs: rp.sizeHorizonMs === -Infinity ? null : rp.sizeHorizonMs,
      groups: [...rp.groups.values()]
        .filter((g) => g.mutations > 0 || g.cold !== undefined)
        .map((g) => ({
          startMs: g.startMs,
          endMs: g.endMs,
          mutations: g.mutations,
          ...(g.cold && { cold: { ...g.cold } }),
        })),
    })),
    fieldTypes: Object.fromEntries(
      [...db.fieldTypes].map(([m, types]) => [m, Object.fromEntries(types)]),
    ),
    tombstones: [...db.tombstoneRecords],
  }));
}

function addTags(keys: Map<string, Set<string>>, tags: readonly Tag[]): void {
  for (const t of tags) {
    let values = keys.get(t.key);
    if (!values) keys.set(t.key, values = new Set());
    values.add(t.value);
  }
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
