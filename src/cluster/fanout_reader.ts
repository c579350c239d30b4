/**
 * One shard group of a database whose partitions are partly on other nodes, as one shard
 * reader: the node's own partitions read in-process, the others described (fields, tag keys,
 * series when SHOW statements need them) and, for a SELECT, asked to run the plan themselves
 * and answer series partials, which are folded with the local ones in series-key order.
 * @module
 */
import type { FieldType, Tag } from "../core/mod.ts";
import {
  foldSeriesPartials,
  type PlanRequest,
  type QueryBudget,
  type QueryLimits,
  runRequestBySeries,
  type SelectPlan,
  type SeriesPartial,
  type SeriesRef,
  type ShardPartial,
  type ShardReader,
} from "../query/mod.ts";
import type { ShardDescription } from "./network.ts";
import { UnionShardReader } from "./union_reader.ts";

/** A partition answering from another node: its description of this shard group. */
export interface RemotePart {
  description: ShardDescription;
  /** Runs the plan on the partition's shard of this group (leader lookup and retries inside). */
  select(
    request: PlanRequest,
    measurements: readonly string[],
    limits: QueryLimits | undefined,
  ): Promise<SeriesPartial[]>;
}

/**
 * A partition read on another node, as a coordinator (a node, or a gateway that holds no
 * replica) reaches it; leader lookup and retries are inside both calls.
 */
export interface RemotePartition {
  /** Its shards in the query's range and policy. */
  describe(): Promise<ShardDescription[]>;
  /** A SELECT's part on its shard of the group that starts at `startMs`. */
  select(
    startMs: number,
    request: PlanRequest,
    measurements: readonly string[],
    limits: QueryLimits | undefined,
  ): Promise<SeriesPartial[]>;
}

/**
 * The shard readers of a query's range: one per shard group, over the caller's own partitions'
 * readers (by group start) and the remote partitions' descriptions, fetched now.
 */
export async function fanOutShards(
  local: ReadonlyMap<number, readonly ShardReader[]>,
  remote: readonly RemotePartition[],
): Promise<ShardReader[]> {
  const described = await Promise.all(remote.map(async (partition) => ({
    partition,
    shards: await partition.describe(),
  })));
  const starts = new Set(local.keys());
  for (const d of described) for (const s of d.shards) starts.add(s.startMs);
  return [...starts].sort((a, b) => a - b).map((startMs) => {
    const parts = local.get(startMs);
    const remoteParts: RemotePart[] = [];
    for (const { partition, shards } of described) {
      const description = shards.find((s) => s.startMs === startMs);
      if (description === undefined) continue;
      remoteParts.push({
        description,
        select: (request, measurements, limits) =>
          partition.select(startMs, request, measurements, limits),
      });
    }
    return new FanOutShardReader(
      startMs,
      parts === undefined ? undefined : UnionShardReader.of(parts),
      remoteParts,
    );
  });
}

/** A shard group read over local and remote partitions. */
export class FanOutShardReader implements ShardReader {
  readonly sortedColumns = true;
  readonly #local: ShardReader | undefined;
  readonly #remote: readonly RemotePart[];
  readonly #series = new Map<string, SeriesRef[]>();
  readonly #localRefs = new WeakSet<SeriesRef>();
  #nextId = 1;

  constructor(
    readonly startMs: number,
    local: ShardReader | undefined,
    remote: readonly RemotePart[],
  ) {
    this.#local = local;
    this.#remote = remote;
  }

  measurements(): string[] {
    const names = new Set(this.#local?.measurements() ?? []);
    for (const r of this.#remote) for (const m of r.description.measurements) names.add(m.name);
    return [...names].sort();
  }

  fieldTypes(measurement: string): Map<string, FieldType> {
    const out = new Map(this.#local?.fieldTypes(measurement) ?? []);
    for (const r of this.#remote) {
      for (const [k, t] of describedOf(r, measurement)?.fields ?? []) {
        if (!out.has(k)) out.set(k, t);
      }
    }
    return out;
  }

  tagKeys(measurement: string): string[] {
    const keys = new Set<string>();
    const local = this.#local;
    if (local !== undefined) {
      if (local.tagKeys !== undefined) { for (const k of local.tagKeys(measurement)) keys.add(k); }
      else for (const s of local.series(measurement)) for (const t of s.tags) keys.add(t.key);
    }
    for (const r of this.#remote) {
      for (const k of describedOf(r, measurement)?.tagKeys ?? []) keys.add(k);
    }
    return [...keys].sort();
  }

  /** How many series of a measurement the group holds (EXPLAIN). */
  seriesCount(measurement: string): number {
    let n = this.#local?.series(measurement).length ?? 0;
    for (const r of this.#remote) n += describedOf(r, measurement)?.seriesCount ?? 0;
    return n;
  }

  /**
   * Every series of a measurement, in key order: the local ones, and the remote ones their
   * description listed (it lists them when the statement needs them: SHOW statements).
   */
  series(measurement: string): readonly SeriesRef[] {
    let list = this.#series.get(measurement);
    if (list !== undefined) return list;
    list = [];
    for (const s of this.#local?.series(measurement) ?? []) {
      this.#localRefs.add(s);
      list.push(s);
    }
    for (const r of this.#remote) {
      const described = describedOf(r, measurement);
      if (described === undefined) continue;
      if (described.series === undefined && described.seriesCount > 0) {
        throw new Error(`BUG: series of ${measurement} were not fetched from a remote partition`);
      }
      for (const s of described.series ?? []) list.push(this.#remoteRef(measurement, s));
    }
    list.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    this.#series.set(measurement, list);
    return list;
  }

  readField(series: SeriesRef, field: string, minNs: bigint, maxNs: bigint) {
    if (this.#local === undefined || !this.#localRefs.has(series)) {
      throw new Error(`BUG: ${series.key} is read on its own node, through runPlan`);
    }
    return this.#local.readField(series, field, minNs, maxNs);
  }

  async runPlan(
    plan: SelectPlan,
    request: PlanRequest,
    measurements: readonly string[],
    budget?: QueryBudget,
  ): Promise<ShardPartial> {
    const parts = await Promise.all([
      this.#local === undefined
        ? Promise.resolve([])
        : runRequestBySeries([this.#local], request, measurements, budget),
      ...this.#remote.map((r) => r.select(request, measurements, budget?.limits)),
    ]);
    return foldSeriesPartials(plan, parts.flat());
  }

  #remoteRef(measurement: string, s: { key: string; tags: Tag[] }): SeriesRef {
    return { id: -(this.#nextId++), key: s.key, measurement, tags: s.tags };
  }
}

function describedOf(r: RemotePart, measurement: string) {
  return r.description.measurements.find((m) => m.name === measurement);
}
