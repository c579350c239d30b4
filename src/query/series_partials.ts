/**
 * A SELECT split between the nodes of a cluster: each node runs the plan over its shards of a
 * shard group series by series ({@linkcode runRequestBySeries}), and the coordinator folds every
 * node's series partials in series-key order ({@linkcode foldSeriesPartials}), which is how one
 * shard folds its series: the answer is the same to the last bit as over one node.
 * @module
 */
import { mergePartials } from "./coordinator.ts";
import type { QueryBudget } from "./limits.ts";
import { planSelect, type SelectPlan } from "./plan.ts";
import { runShardBySeries, type SeriesPartial, type ShardPartial } from "./shard_exec.ts";
import type { PlanRequest, ShardReader } from "./store.ts";

/**
 * Makes the plan again from what the coordinator made it from, and runs it over `readers` (this
 * node's shards of one shard group), series by series.
 */
export async function runRequestBySeries(
  readers: readonly ShardReader[],
  request: PlanRequest,
  measurements: readonly string[],
  budget?: QueryBudget,
): Promise<SeriesPartial[]> {
  const plan = planSelect(request.statement, request.schemas, request.nowNs);
  const out: SeriesPartial[] = [];
  for (const reader of readers) {
    for (const s of await runShardBySeries(plan, { reader, measurements }, budget)) out.push(s);
  }
  return out;
}

/**
 * The shard partial of series partials from anywhere, folded in series-key order (reversed for
 * aggregates with ORDER BY time DESC, as one shard folds them).
 */
export function foldSeriesPartials(plan: SelectPlan, series: SeriesPartial[]): ShardPartial {
  series.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  if (plan.aggregate && plan.descending) series.reverse();
  if (series.length === 0) return { groups: new Map() };
  // One series' rows are in time order already; several are sorted by mergePartials.
  return mergePartials(plan, series.map((s) => ({ groups: new Map([[s.groupKey, s.group]]) })));
}
