/**
 * The one write path every HTTP format goes through after decoding: the ingest pipeline
 * (schemas, validation, transformations — when configured), then the storage engine.
 * Rejections from both are reported against the index of the decoded point.
 *
 * {@linkcode writePoints} is the partial-write path (valid points stored, the others
 * reported); {@linkcode writePointsAtomically} the all-or-nothing one (`?atomic=true`, the
 * Connect service's `atomic`).
 * @module
 */
import {
  FIELD_TYPE_NAMES,
  fieldLayoutOf,
  type FieldType,
  MAX_TIME_NS,
  MIN_TIME_NS,
  type Point,
  seriesKey,
} from "../core/mod.ts";
import {
  BEYOND_RETENTION,
  pointProblem,
  type Rejection,
  type WriteOutcome,
} from "../storage/mod.ts";
import type { AppContext } from "./app.ts";

/**
 * True when the node knows the database, asking the cluster's metadata once more before saying
 * no (a write may reach a node before the database its client just created elsewhere).
 */
export async function databaseExists(ctx: AppContext, database: string): Promise<boolean> {
  if (ctx.engine.hasDatabase(database)) return true;
  return await ctx.engine.knowsDatabase?.(database) ?? false;
}

/**
 * What the ingest pipeline does to a batch before it is stored. Implemented by src/schema.
 * `points` are the points to store (possibly transformed, dropped or added); `rejected` the
 * input points refused, by their index in the input, with the rule they broke.
 */
export interface IngestPipeline {
  process(
    database: string,
    points: Point[],
  ): Promise<{ points: Point[]; rejected: Rejection[] }>;
  /**
   * What `process` would do, with no side effect (no dead letter, no metric, no series budget
   * used). Atomic writes run it first, so a refused request leaves no trace.
   */
  dryRun?(
    database: string,
    points: Point[],
  ): Promise<{ points: Point[]; rejected: Rejection[] }>;
}

/** Why a point was not written, as `/metrics` counts it (`reason` label). */
export type RejectCause =
  | "parse"
  | "schema"
  | "field_type"
  | "retention"
  | "invalid"
  | "unavailable"
  | "non_finite"
  | "atomic";

/** A refused point with the cause of its refusal. */
export interface CausedRejection extends Rejection {
  cause: RejectCause;
}

/**
 * What a write did: `rejected` lists every point not written, each with its cause, and
 * `unavailable` counts those of them whose partition had no leader (a cluster; a retry may write
 * them).
 */
export interface PathOutcome extends WriteOutcome {
  rejected: CausedRejection[];
  unavailable: number;
}

/** The cause of a refusal by storage (or the cluster's write router), from its reason. */
export function storageCause(reason: string): RejectCause {
  if (reason.startsWith("field type conflict")) return "field_type";
  if (reason === BEYOND_RETENTION) return "retention";
  if (reason.startsWith("not written: ")) return "unavailable";
  return "invalid";
}

function fromStorage(rejected: Rejection[]): CausedRejection[] {
  return rejected.map((r) => ({ index: r.index, reason: r.reason, cause: storageCause(r.reason) }));
}

function fromPipeline(rejected: Rejection[]): CausedRejection[] {
  return rejected.map((r) => ({ index: r.index, reason: r.reason, cause: "schema" }));
}

/** Runs the pipeline (if any) and writes what it lets through. */
export async function writePoints(
  ctx: AppContext,
  database: string,
  retentionPolicy: string | undefined,
  points: Point[],
): Promise<PathOutcome> {
  let toStore = points;
  let refused: CausedRejection[] = [];
  if (ctx.pipeline && points.length > 0) {
    const processed = await ctx.pipeline.process(database, points);
    toStore = processed.points;
    refused = fromPipeline(processed.rejected);
  }
  if (toStore.length === 0) return { accepted: 0, rejected: refused, unavailable: 0 };
  const outcome = await ctx.engine.write(database, retentionPolicy, toStore);
  // Type conflicts found by the engine are indexed in the pipeline's output, which may differ
  // from the input when the pipeline dropped or added points.
  return {
    accepted: outcome.accepted,
    rejected: [...refused, ...fromStorage(outcome.rejected)],
    unavailable: outcome.unavailable ?? 0,
  };
}

/** What {@linkcode writePointsAtomically} did. */
export interface AtomicOutcome extends PathOutcome {
  /** True when the request was refused whole: nothing was stored. */
  refused: boolean;
}

/**
 * Writes every point or none. Refuses the batch when the pipeline rejects any point (checked
 * by a dry run first, so a refused batch writes no dead letter and uses no series budget),
 * or when any point the pipeline lets through would be refused by the engine: a field type
 * that conflicts with stored data or with an earlier point of the batch, or a time beyond
 * the retention policy. `rejected` is indexed in `points` (the input) when the pipeline's
 * output lines up with it (same measurement and time at each index); after a pipeline dropped,
 * added or moved points, a rejected point has index -1 and is named in the reason.
 *
 * Not covered (the engine has no multi-batch undo): a concurrent write that fixes a field's
 * type, or fills the series limits, between the checks and the write. The engine then refuses
 * those points, they are reported, and `refused` is false. In a cluster, a partition without
 * a leader: its points are not written (`unavailable`) while the other partitions' are.
 */
export async function writePointsAtomically(
  ctx: AppContext,
  database: string,
  retentionPolicy: string | undefined,
  points: Point[],
): Promise<AtomicOutcome> {
  const none = { accepted: 0, unavailable: 0 };
  if (points.length === 0) return { ...none, rejected: [], refused: false };
  let toStore = points;
  if (ctx.pipeline) {
    if (ctx.pipeline.dryRun) {
      const dry = await ctx.pipeline.dryRun(database, points);
      if (dry.rejected.length > 0) {
        return { ...none, rejected: fromPipeline(dry.rejected), refused: true };
      }
    }
    const processed = await ctx.pipeline.process(database, points);
    // A pipeline without a dry run (or a script that answers differently the second time).
    if (processed.rejected.length > 0) {
      return { ...none, rejected: fromPipeline(processed.rejected), refused: true };
    }
    toStore = processed.points;
  }
  if (toStore.length === 0) return { ...none, rejected: [], refused: false };
  const same = aligned(points, toStore);
  const conflicts = fromStorage(storageConflicts(ctx, database, retentionPolicy, toStore));
  const located = (r: CausedRejection): CausedRejection =>
    same ? r : {
      index: -1,
      reason: `${describePoint(toStore[r.index])}: ${r.reason}`,
      cause: r.cause,
    };
  if (conflicts.length > 0) {
    return { ...none, rejected: conflicts.map(located), refused: true };
  }
  const outcome = await ctx.engine.write(database, retentionPolicy, toStore);
  return {
    accepted: outcome.accepted,
    rejected: fromStorage(outcome.rejected).map(located),
    // A cluster writes each partition's part on its own: one without leader is not written
    // while the others are (not all or nothing across partitions; the client retries).
    unavailable: outcome.unavailable ?? 0,
    refused: false,
  };
}

/**
 * Points the engine would refuse, by index: field types that differ from stored data or from
 * earlier points of the batch (InfluxDB's message, as the engine words it), times beyond the
 * retention policy, and what no point may be (the engine's `pointProblem`).
 */
function storageConflicts(
  ctx: AppContext,
  database: string,
  retentionPolicy: string | undefined,
  points: Point[],
): Rejection[] {
  const policyName = retentionPolicy ?? ctx.engine.defaultRetentionPolicy(database);
  const policy = ctx.engine.retentionPolicies(database).find((p) => p.name === policyName);
  const cutoffMs = policy === undefined || policy.durationNs === 0n
    ? -Infinity
    : ctx.clock.nowMs() - Number(policy.durationNs / 1_000_000n);
  const shards = policy ? ctx.engine.shards(database, policyName, MIN_TIME_NS, MAX_TIME_NS) : [];
  const known = new Map<string, Map<string, FieldType>>();
  const out: Rejection[] = [];
  for (let i = 0; i < points.length; i++) {
    const p = points[i];
    if (p.timeMs < cutoffMs) {
      out.push({ index: i, reason: BEYOND_RETENTION });
      continue;
    }
    const problem = pointProblem(p, seriesKey(p.measurement, p.tags));
    if (problem !== undefined) {
      out.push({ index: i, reason: problem });
      continue;
    }
    let types = known.get(p.measurement);
    if (!types) {
      types = new Map();
      for (const shard of shards) {
        for (const [k, t] of shard.fieldTypes(p.measurement)) types.set(k, t);
      }
      known.set(p.measurement, types);
    }
    const { keys, types: fieldTypes } = fieldLayoutOf(p);
    for (let f = 0; f < keys.length; f++) {
      const had = types.get(keys[f]), type = fieldTypes[f];
      if (had === undefined) types.set(keys[f], type);
      else if (had !== type) {
        out.push({
          index: i,
          reason: `field type conflict: input field "${keys[f]}" on measurement ` +
            `"${p.measurement}" is type ${FIELD_TYPE_NAMES[type]}, already exists as type ` +
            FIELD_TYPE_NAMES[had],
        });
        break;
      }
    }
  }
  return out;
}

/**
 * True when the pipeline's output is the input point for point (same measurement and time at
 * every index, values possibly transformed), so output indices name input records.
 */
function aligned(input: Point[], output: Point[]): boolean {
  if (input === output) return true;
  if (input.length !== output.length) return false;
  for (let i = 0; i < input.length; i++) {
    const a = input[i], b = output[i];
    if (a.measurement !== b.measurement || a.timeMs !== b.timeMs || a.timeSubMs !== b.timeSubMs) {
      return false;
    }
  }
  return true;
}

/** A point as a reader finds it again: measurement, tags and time. */
function describePoint(p: Point): string {
  const tags = p.tags.map((t) => `,${t.key}=${t.value}`).join("");
  return `point ${p.measurement}${tags} at ${new Date(p.timeMs).toISOString()}`;
}
