/**
 * The cluster's write path, after decoding and the schema pipeline: check every point against
 * the metadata (retention, cluster-wide field types), make sure shard groups exist for their
 * times, split them by partition and hand each part to its partition's leader (here, or over the
 * network), then gather what each leader did into one outcome indexed like the input.
 * @module
 */
import { fieldLayoutOf, type FieldType, type Point, seriesKey } from "../core/mod.ts";
import {
  BEYOND_RETENTION,
  fieldLimitProblem,
  MAX_FIELDS_PER_MEASUREMENT,
  PassedFieldTypes,
  PointRules,
  type Rejection,
  type WriteConsistency,
} from "../storage/mod.ts";
import { retentionCutoffMs } from "../storage/retention.ts";
import { partitionOf } from "./hash.ts";
import {
  type DatabaseMeta,
  fieldTypeConflict,
  type MetaCommand,
  type PartitionInfo,
  type RetentionPolicyMeta,
  shardGroupAt,
} from "./meta/meta_state.ts";
import type { PartitionWriteAnswer } from "./network.ts";
import type { ClusterNode } from "./node.ts";
import { callPartitionLeader, isUnavailable } from "./partition_calls.ts";

/** What a routed write did. */
export interface RoutedWriteOutcome {
  accepted: number;
  rejected: Rejection[];
  /** Points not written because their partition had no reachable leader (retry them). */
  unavailable: number;
}

/** Options of {@linkcode routeWrite}. */
export interface RouteOptions {
  consistency?: WriteConsistency;
  /** Current wall-clock time (retention). */
  nowMs: number;
  /** How long to look for a partition's leader. @default {10000} */
  timeoutMs?: number;
  monotonicMs: () => number;
  sleep: (ms: number) => Promise<void>;
  /** Most fields per measurement; 0 = unlimited. @default {MAX_FIELDS_PER_MEASUREMENT} */
  maxFieldsPerMeasurement?: number;
}

/**
 * Remembers the partition of recent series keys (one hash per new series), per database: the
 * same series in two databases with other partition counts lies in other partitions.
 */
export class PartitionCache {
  readonly #byDatabase = new Map<number, DatabasePartitions>();
  constructor(private readonly max = 1_000_000) {}

  /** The cache of one database (look it up once per write, not per point). */
  of(db: DatabaseMeta): DatabasePartitions {
    let cache = this.#byDatabase.get(db.id);
    if (cache === undefined || cache.partitions !== db.partitions.length) {
      cache = new DatabasePartitions(db.hash, db.partitions.length, this.max);
      this.#byDatabase.set(db.id, cache);
    }
    return cache;
  }
}

/** The partitions of one database's series keys. */
export class DatabasePartitions {
  readonly #byKey = new Map<string, number>();
  constructor(
    readonly hash: DatabaseMeta["hash"],
    readonly partitions: number,
    private readonly max: number,
  ) {}

  partitionOf(key: string): number {
    let p = this.#byKey.get(key);
    if (p === undefined) {
      p = partitionOf(this.hash, key, this.partitions);
      if (this.#byKey.size >= this.max) this.#byKey.clear();
      this.#byKey.set(key, p);
    }
    return p;
  }
}

/**
 * Writes points to a database through the cluster.
 * @throws {NotFoundError} for an unknown retention policy (the caller resolved the database).
 */
export async function routeWrite(
  node: ClusterNode,
  cache: PartitionCache,
  db: DatabaseMeta,
  rp: RetentionPolicyMeta,
  points: readonly Point[],
  options: RouteOptions,
): Promise<RoutedWriteOutcome> {
  const rejected: Rejection[] = [];
  let candidates: number[];
  try {
    candidates = await checkPoints(node, db, rp, points, options, rejected);
    await ensureShardGroups(node, db, rp, points, candidates, options);
  } catch (error) {
    if (!isUnavailable(error)) throw error;
    // Nothing was written yet: every point not refused already waits for a retry.
    return notWrittenYet(points.length, rejected, error);
  }
  // Split by partition, remembering each point's index in the request.
  const parts = new Map<number, { indexes: number[]; points: Point[] }>();
  const byMeasurement = db.hashKey === "measurement";
  const partitions = cache.of(db);
  for (const i of candidates) {
    const p = points[i];
    const key = byMeasurement ? p.measurement : seriesKey(p.measurement, p.tags);
    const index = partitions.partitionOf(key);
    let part = parts.get(index);
    if (!part) parts.set(index, part = { indexes: [], points: [] });
    part.indexes.push(i);
    part.points.push(p);
  }
  let accepted = 0, unavailable = 0;
  await Promise.all([...parts].map(async ([index, part]) => {
    const partition = db.partitions[index];
    try {
      const answer = await writePart(node, partition, db, rp, part.points, options);
      accepted += answer.accepted;
      for (const r of answer.rejected) {
        rejected.push({ index: part.indexes[r.index], reason: r.reason });
      }
    } catch (error) {
      if (!isUnavailable(error)) throw error;
      unavailable += part.points.length;
      const reason = `not written: partition ${index} of ${db.name} has no leader that took ` +
        `them (${error instanceof Error ? error.message : String(error)}); retry`;
      for (const i of part.indexes) rejected.push({ index: i, reason });
    }
  }));
  rejected.sort((a, b) => a.index - b.index);
  return { accepted, rejected, unavailable };
}

/** The outcome of a write whose metadata step failed for now: the points not refused wait. */
function notWrittenYet(
  count: number,
  rejected: Rejection[],
  error: unknown,
): RoutedWriteOutcome {
  const refused = new Set(rejected.map((r) => r.index));
  const reason = `not written: the metadata group took no change this write needs (` +
    `${error instanceof Error ? error.message : String(error)}); retry`;
  let unavailable = 0;
  for (let i = 0; i < count; i++) {
    if (refused.has(i)) continue;
    rejected.push({ index: i, reason });
    unavailable++;
  }
  rejected.sort((a, b) => a.index - b.index);
  return { accepted: 0, rejected, unavailable };
}

/**
 * Proposes a metadata change a write needs (new fields, shard groups). Both are idempotent, so a
 * proposal the group dropped (its leader changed under it: the entry never applies) is proposed
 * again, as one that found no leader is, up to the write's deadline.
 * @throws the last error when none was taken in time, or any error not about availability.
 */
async function proposeForWrite(
  node: ClusterNode,
  command: MetaCommand,
  options: RouteOptions,
): Promise<void> {
  const deadline = options.monotonicMs() + (options.timeoutMs ?? 10_000);
  for (let attempt = 0;; attempt++) {
    try {
      await node.proposeMeta(command);
      return;
    } catch (error) {
      if (!isUnavailable(error) || options.monotonicMs() >= deadline || attempt >= 20) throw error;
      await options.sleep(Math.min(50 * (attempt + 1), 500));
    }
  }
}

/**
 * Indexes of the points that pass retention and the cluster's field types; new fields are
 * declared in the metadata first (the first declaration of a field wins cluster-wide).
 */
async function checkPoints(
  node: ClusterNode,
  db: DatabaseMeta,
  rp: RetentionPolicyMeta,
  points: readonly Point[],
  options: RouteOptions,
  rejected: Rejection[],
): Promise<number[]> {
  const cutoff = retentionCutoffMs(rp.durationNs, options.nowMs);
  const fresh = new Map<string, Map<string, FieldType>>();
  const pass: number[] = [];
  const rules = new PointRules();
  let typesPassed = new PassedFieldTypes();
  for (let i = 0; i < points.length; i++) {
    const p = points[i];
    if (p.timeMs < cutoff) {
      rejected.push({ index: i, reason: BEYOND_RETENTION });
      continue;
    }
    // What no replica stores (InfluxDB's key rules, what a log record cannot hold) never
    // leaves this node: the leader would refuse it, and it may not even encode for the network.
    const reason = rules.problem(p, seriesKey(p.measurement, p.tags)) ??
      (typesPassed.has(p) ? undefined : typeConflict(
        db,
        p,
        fresh,
        options.maxFieldsPerMeasurement ?? MAX_FIELDS_PER_MEASUREMENT,
      ));
    if (reason) rejected.push({ index: i, reason });
    else {
      typesPassed.add(p);
      pass.push(i);
    }
  }
  if (fresh.size === 0) return pass;
  for (const [measurement, fields] of fresh) {
    const command = {
      op: "declare_fields",
      database: db.name,
      measurement,
      fields: Object.fromEntries(fields),
    } as const;
    await proposeForWrite(node, command, options);
  }
  // Another node may have declared a field first with another type: check again.
  const kept: number[] = [];
  typesPassed = new PassedFieldTypes();
  for (const i of pass) {
    const reason = typesPassed.has(points[i])
      ? undefined
      : typeConflict(db, points[i], undefined, 0);
    if (reason) rejected.push({ index: i, reason });
    else {
      typesPassed.add(points[i]);
      kept.push(i);
    }
  }
  return kept;
}

/**
 * Why a point's fields conflict with declared types (or earlier new ones) or would take its
 * measurement past `maxFields` (0 = unlimited), else undefined; the new fields of a point that
 * passes join `fresh` (when given), those of a refused point do not.
 */
function typeConflict(
  db: DatabaseMeta,
  p: Point,
  fresh: Map<string, Map<string, FieldType>> | undefined,
  maxFields: number,
): string | undefined {
  const declared = db.fieldTypes.get(p.measurement);
  const pending = fresh?.get(p.measurement);
  const { keys, types } = fieldLayoutOf(p);
  let added: number[] | undefined;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i], type = types[i];
    const had = declared?.get(key) ?? pending?.get(key);
    if (had === undefined) (added ??= []).push(i);
    else if (had !== type) return fieldTypeConflict(p.measurement, key, type, had);
  }
  if (added === undefined || fresh === undefined) return undefined;
  const known = (declared?.size ?? 0) + (pending?.size ?? 0);
  const newKeys = added.map((i) => keys[i]);
  const tooMany = fieldLimitProblem(p.measurement, newKeys, known, maxFields);
  if (tooMany !== undefined) return tooMany;
  let m = pending;
  if (!m) fresh.set(p.measurement, m = new Map());
  for (const i of added) m.set(keys[i], types[i]);
  return undefined;
}

/** Creates (through the metadata) the shard groups the points' times need. */
async function ensureShardGroups(
  node: ClusterNode,
  db: DatabaseMeta,
  rp: RetentionPolicyMeta,
  points: readonly Point[],
  indexes: readonly number[],
  options: RouteOptions,
): Promise<void> {
  const missing: number[] = [];
  let lastStart = NaN, lastEnd = NaN;
  for (const i of indexes) {
    const ms = points[i].timeMs;
    if (ms >= lastStart && ms < lastEnd) continue;
    const g = shardGroupAt(rp, ms);
    if (g) {
      lastStart = g.startMs;
      lastEnd = g.endMs;
    } else if (!missing.some((t) => sameGroup(rp, t, ms))) {
      missing.push(ms);
    }
  }
  if (missing.length === 0) return;
  await proposeForWrite(node, {
    op: "create_shard_groups",
    database: db.name,
    retentionPolicy: rp.name,
    timesMs: missing,
  }, options);
}

function sameGroup(rp: RetentionPolicyMeta, a: number, b: number): boolean {
  const d = Number(rp.shardGroupDurationNs / 1_000_000n);
  return Math.floor(a / d) === Math.floor(b / d);
}

/** Hands a part to its partition's leader: this node's replica when it leads, else over RPC. */
function writePart(
  node: ClusterNode,
  partition: PartitionInfo,
  db: DatabaseMeta,
  rp: RetentionPolicyMeta,
  points: Point[],
  options: RouteOptions,
): Promise<PartitionWriteAnswer> {
  const write = {
    groupId: partition.groupId,
    database: db.name,
    retentionPolicy: rp.name,
    points,
    consistency: options.consistency ?? "quorum",
  };
  return callPartitionLeader(
    node,
    partition,
    options,
    (target) => {
      if (target === node.nodeId) {
        node.partitionWrites.local++;
        return node.writeLocalPartition(write);
      }
      node.partitionWrites.peer++;
      return node.network.peers.writePartition(target, write);
    },
  );
}
