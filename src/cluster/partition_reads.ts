/**
 * What a partition replica answers a coordinator: a description of its shards in a time range
 * (to plan a query and to answer SHOW statements), a SELECT's part over one shard group as
 * series partials, and deletes. Reads at `leader` consistency wait for the replica's ReadIndex barrier first.
 * @module
 */
import {
  deleteFilters,
  QueryBudget,
  runRequestBySeries,
  type SeriesPartial,
  type ShardReader,
} from "../query/mod.ts";
import type {
  DescribeRequest,
  PartitionDelete,
  PartitionSizes,
  SelectRequest,
  ShardDescription,
} from "./network.ts";
import type { PartitionReplica } from "./partition/replica.ts";
import { NotLeaderError } from "../raft/mod.ts";

/** Runs a delete on the replica (its leader): the series are resolved here, then logged. */
export async function deleteOnReplica(
  replica: PartitionReplica,
  request: PartitionDelete,
): Promise<void> {
  if (!replica.engine.hasDatabase(request.database)) return;
  const { groupId: _, database, condition, ...rest } = request;
  await replica.engine.deleteSeries(database, {
    ...rest,
    ...(condition !== undefined && deleteFilters(condition)),
  });
}

/**
 * The sizes of the replica's data on the partition's leader (a follower refuses, naming the
 * leader it knows): the leader's counts are what its size limits act on. Replicas hold the same
 * data but compact on their own, so their counts differ a little.
 */
export async function sizesOnReplica(
  replica: PartitionReplica,
  database: string,
): Promise<PartitionSizes> {
  if (!replica.isLeader()) throw new NotLeaderError(0, replica.leader());
  await replica.readBarrier();
  if (!replica.engine.hasDatabase(database)) return { policies: [], measurements: [] };
  return {
    policies: replica.engine.retentionPolicies(database).map((rp) => ({
      name: rp.name,
      bytes: rp.bytes,
      coldBytes: rp.coldBytes,
    })),
    measurements: [...replica.engine.measurementBytes(database)],
  };
}

/** The replica's shards that meet the range, by shard group. */
export async function describeReplica(
  replica: PartitionReplica,
  request: DescribeRequest,
): Promise<ShardDescription[]> {
  if (request.consistency === "leader") {
    if (request.leaderOnly && !replica.isLeader()) throw new NotLeaderError(0, replica.leader());
    await replica.readBarrier();
  }
  const out: ShardDescription[] = [];
  for (const view of viewsOf(replica, request, request.minNs, request.maxNs)) {
    out.push({
      startMs: view.startMs,
      endMs: view.endMs,
      measurements: view.measurements().map((name) => {
        const series = view.series(name);
        return {
          name,
          fields: [...view.fieldTypes(name)],
          tagKeys: view.tagKeys?.(name) ?? tagKeysOf(series),
          seriesCount: series.length,
          ...(request.series && {
            series: series.map((s) => ({ key: s.key, tags: [...s.tags] })),
          }),
        };
      }),
    });
  }
  return out;
}

/** A SELECT's part over the replica's shard of one shard group, series by series. */
export async function selectReplica(
  replica: PartitionReplica,
  request: SelectRequest,
  /** Elapsed time between the query's yields (the node's clock). */
  monotonicMs?: () => number,
): Promise<SeriesPartial[]> {
  if (request.consistency === "leader") await replica.readBarrier();
  const { minNs, maxNs } = planBounds(request);
  const views = viewsOf(replica, request, minNs, maxNs).filter((v) =>
    v.startMs === request.startMs
  );
  const budget = new QueryBudget(request.limits ?? {}, undefined, { monotonicMs });
  return await runRequestBySeries(views, request.request, request.measurements, budget);
}

function viewsOf(
  replica: PartitionReplica,
  request: { database: string; retentionPolicy: string },
  minNs: bigint,
  maxNs: bigint,
): (ShardReader & { startMs: number; endMs: number })[] {
  const engine = replica.engine;
  if (!engine.hasDatabase(request.database)) return [];
  if (!engine.retentionPolicies(request.database).some((p) => p.name === request.retentionPolicy)) {
    return [];
  }
  return engine.shards(request.database, request.retentionPolicy, minNs, maxNs);
}

/** The time range a SELECT reads: its WHERE bounds (the statement's, as planned). */
function planBounds(request: SelectRequest): { minNs: bigint; maxNs: bigint } {
  const startNs = BigInt(request.startMs) * 1_000_000n;
  // The shard group alone is asked for; its own bounds keep other groups out.
  return { minNs: startNs, maxNs: startNs };
}

function tagKeysOf(series: readonly { tags: readonly { key: string }[] }[]): string[] {
  const keys = new Set<string>();
  for (const s of series) for (const t of s.tags) keys.add(t.key);
  return [...keys].sort();
}
