/**
 * The coordinator: merges the partial results of every shard, then finishes the query as one
 * series per group — reduce states, lay out time buckets over the WHERE range, evaluate column
 * expressions, apply the transformation stage, fill(), ORDER BY, LIMIT/OFFSET and
 * SLIMIT/SOFFSET.
 *
 * @module
 */
import type { Instant } from "../core/time.ts";
import { instantFromNanos } from "../core/time.ts";
import type { Expr } from "./ast.ts";
import { evalExpr } from "./eval.ts";
import { walkExpr } from "./expr_walk.ts";
import type { Reduced, Sequence, TransformFunction } from "./functions/mod.ts";
import type { QueryBudget } from "./limits.ts";
import { POST_INPUT, type SelectPlan, SLOT_PREFIX } from "./plan.ts";
import type { ResultSeries, Value } from "./result.ts";
import { goHeapMerge, goHeapVisit } from "./go_heap_merge.ts";
import {
  gridOf,
  type GroupPartial,
  groupsOf,
  type RawRow,
  type ShardPartial,
  sortRows,
} from "./shard_exec.ts";

/** Merges shard partials into one partial (states merged, rows concatenated in time order). */
export function mergePartials(plan: SelectPlan, partials: readonly ShardPartial[]): ShardPartial {
  if (partials.length === 1) return partials[0];
  const out: ShardPartial = { groups: new Map() };
  for (const p of partials) {
    for (const [key, g] of p.groups) {
      const into = out.groups.get(key);
      if (into === undefined) {
        out.groups.set(key, {
          measurement: g.measurement,
          tags: g.tags,
          buckets: new Map(g.buckets),
          rows: g.rows.slice(),
        });
        continue;
      }
      for (const [idx, states] of g.buckets) {
        const cur = into.buckets.get(idx);
        if (cur === undefined) {
          into.buckets.set(idx, states);
          continue;
        }
        for (let s = 0; s < plan.slots.length; s++) plan.slots[s].fn.merge(cur[s], states[s]);
      }
      for (const r of g.rows) into.rows.push(r);
    }
  }
  if (!plan.aggregate) { for (const g of out.groups.values()) sortRows(g.rows); }
  return out;
}

/**
 * Combines the partials of the shards a query read (in the order it read them: shard groups by
 * time) into one. Aggregates merge their states. Raw rows are ordered as InfluxDB orders them:
 * shard after shard, and within a shard the rows of one group interleaved by a heap merge of
 * its series (go_heap_merge.ts), which decides the order of rows at equal times.
 */
export function mergeShards(plan: SelectPlan, partials: readonly ShardPartial[]): ShardPartial {
  if (plan.slimit > 0 || plan.soffset > 0) {
    partials = partials.map((p) => (p.fromSubquery ? p : limitGroups(plan, p)));
  }
  if (plan.aggregate) return foldShards(plan, partials);
  const out: ShardPartial = { groups: new Map() };
  const shards = plan.descending ? [...partials].reverse() : partials;
  const less = rawRowLess(plan);
  for (const p of shards) {
    for (const [key, g] of p.groups) {
      let into = out.groups.get(key);
      if (into === undefined) {
        into = { measurement: g.measurement, tags: g.tags, buckets: new Map(), rows: [] };
        out.groups.set(key, into);
      }
      const ordered = p.rowOrder !== undefined
        ? inEmitOrder(g.rows, p.rowOrder, plan.descending)
        : seriesMerged(plan, g.rows, less);
      for (const row of ordered) into.rows.push(row);
    }
  }
  // finish() walks rows backwards for ORDER BY time DESC: keep them so it reads them in order.
  if (plan.descending) { for (const g of out.groups.values()) g.rows.reverse(); }
  return out;
}

/**
 * Aggregates over several shards: InfluxDB reduces each shard's partial of a group and bucket
 * again across shards, taking them from a heap merge of the shards (ordered by group, then
 * bucket, in the query's time order), so partials of one bucket are folded in that heap's
 * order, not in time order; float sums and means depend on it to the last bit.
 */
function foldShards(plan: SelectPlan, partials: readonly ShardPartial[]): ShardPartial {
  if (partials.length === 1) return partials[0];
  const desc = plan.descending;
  // Groups ranked once, so the heap compares integers.
  const byKey = new Map<string, GroupPartial>();
  for (const p of partials) for (const [key, g] of p.groups) if (!byKey.has(key)) byKey.set(key, g);
  const keys = [...byKey.keys()].sort((a, b) => compareGroups(byKey.get(a)!, byKey.get(b)!));
  if (desc) keys.reverse();
  // Each shard's partial in its heap's order (groups by rank, buckets in the query's time
  // order), as parallel arrays: no object per bucket on this path.
  const streams = partials.map((p) => {
    const ranks: number[] = [], idxs: number[] = [], states: unknown[][] = [];
    keys.forEach((key, rank) => {
      const group = p.groups.get(key);
      if (group === undefined) return;
      const from = idxs.length;
      let ordered = true;
      for (const [idx, st] of group.buckets) {
        const prev = idxs.length > from ? idxs[idxs.length - 1] : undefined;
        if (prev !== undefined && (desc ? idx > prev : idx < prev)) ordered = false;
        ranks.push(rank);
        idxs.push(idx);
        states.push(st);
      }
      if (!ordered) {
        const order = idxs.slice(from).map((_, k) => from + k)
          .sort((a, b) => (desc ? idxs[b] - idxs[a] : idxs[a] - idxs[b]));
        const sortedIdx = order.map((k) => idxs[k]), sortedStates = order.map((k) => states[k]);
        for (let k = 0; k < order.length; k++) {
          idxs[from + k] = sortedIdx[k];
          states[from + k] = sortedStates[k];
        }
      }
    });
    return { ranks, idxs, states };
  });
  const groups: GroupPartial[] = keys.map((k) => {
    const g = byKey.get(k)!;
    return { measurement: g.measurement, tags: g.tags, buckets: new Map(), rows: [] };
  });
  const slots = plan.slots;
  let lastRank = -1, lastIdx = NaN;
  let cur: unknown[] = [];
  goHeapVisit(
    streams.map((st) => st.idxs.length),
    (sa, ia, sb, ib) => {
      const a = streams[sa], b = streams[sb];
      const ra = a.ranks[ia], rb = b.ranks[ib];
      if (ra !== rb) return ra < rb;
      return desc ? a.idxs[ia] > b.idxs[ib] : a.idxs[ia] < b.idxs[ib];
    },
    (shard, i) => {
      const st = streams[shard];
      const rank = st.ranks[i], idx = st.idxs[i];
      const other = st.states[i];
      // The merge comes out sorted by group and bucket: a bucket's partials are consecutive.
      if (rank === lastRank && idx === lastIdx) {
        for (let s = 0; s < slots.length; s++) {
          const fn = slots[s].fn;
          if (fn.mergeShard !== undefined) fn.mergeShard(cur[s], other[s], shard);
          else fn.merge(cur[s], other[s]);
        }
        return;
      }
      // A bucket's first partial is taken over (the shard's partial is consumed), folded into
      // an empty state only where the function folds shard partials otherwise (mean).
      lastRank = rank, lastIdx = idx, cur = other;
      for (let s = 0; s < slots.length; s++) {
        const fn = slots[s].fn;
        if (fn.mergeShard === undefined) continue;
        const partial = other[s]; // cur is other: keep the partial before replacing it
        cur[s] = fn.init(slots[s].params);
        fn.mergeShard(cur[s], partial, shard);
      }
      groups[rank].buckets.set(idx, cur);
    },
  );
  // The shards' partials are consumed: their groups drop the states now held by `groups`, so
  // finish() frees each state once its group is made into rows.
  for (const p of partials) for (const g of p.groups.values()) g.buckets.clear();
  const out: ShardPartial = { groups: new Map() };
  keys.forEach((k, i) => out.groups.set(k, groups[i]));
  return out;
}

/**
 * SLIMIT and SOFFSET as InfluxDB applies them: to each shard's groups of each measurement, in
 * ascending order of their tag-set keys whatever the ORDER BY ({@linkcode inByteOrder}), so
 * the answer is the union of every shard's window (a group missing from one shard lets the next
 * one in there).
 */
function limitGroups(plan: SelectPlan, partial: ShardPartial): ShardPartial {
  const byMeasurement = new Map<string, GroupPartial[]>();
  for (const g of partial.groups.values()) {
    let list = byMeasurement.get(g.measurement);
    if (list === undefined) byMeasurement.set(g.measurement, list = []);
    list.push(g);
  }
  const groups = new Map<string, GroupPartial>();
  const keep = new Set<GroupPartial>();
  const by = plan.slimitTags;
  const keyOf = (g: GroupPartial) =>
    tagSetKey(by === undefined ? g.tags : Object.fromEntries(by.map((k) => [k, g.tags[k] ?? ""])));
  for (const list of byMeasurement.values()) {
    const keys = new Map(list.map((g) => [g, keyOf(g)]));
    const sets = inByteOrder(new Set(keys.values()));
    const end = plan.slimit > 0 ? plan.soffset + plan.slimit : undefined;
    const window = new Set(sets.slice(plan.soffset, end));
    for (const g of list) if (window.has(keys.get(g)!)) keep.add(g);
  }
  for (const [key, g] of partial.groups) if (keep.has(g)) groups.set(key, g);
  return { ...partial, groups };
}

/**
 * The key InfluxDB 1.6 sorts a shard's tag sets by before SLIMIT (tsdb.MakeTagsKey): the GROUP
 * BY keys the group has a value for, sorted, then those values, all joined by `|`. A key
 * without a value is left out, not written empty, so `{host: "h2", path: ""}` ("host|h2") comes
 * before `{host: "h1", path: "/"}` ("host|path|h1|/"), unlike the answer's series order.
 */
function tagSetKey(tags: Readonly<Record<string, string>>): string {
  const keys = Object.keys(tags).filter((k) => tags[k] !== "").sort();
  return [...keys, ...keys.map((k) => tags[k])].join("|");
}

/**
 * Tag-set keys in Go's bytes.Compare order (by their UTF-8 bytes), each key encoded once (not
 * twice per comparison inside the sort).
 */
function inByteOrder(keys: Iterable<string>): string[] {
  const encoded = [...keys].map((key) => ({ key, bytes: UTF8.encode(key) }));
  encoded.sort((a, b) => {
    const x = a.bytes, y = b.bytes, n = Math.min(x.length, y.length);
    for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
    return x.length - y.length;
  });
  return encoded.map((e) => e.key);
}

const UTF8 = new TextEncoder();

/** Rows read from a subquery, in the order its inner query emitted them (stable). */
function inEmitOrder(
  rows: readonly RawRow[],
  order: (row: RawRow) => number | undefined,
  descending: boolean,
): RawRow[] {
  const place = new Map<RawRow, number>();
  rows.forEach((r, i) => place.set(r, order(r) ?? (descending ? -i : i)));
  return rows.slice().sort((a, b) => place.get(a)! - place.get(b)!);
}

/**
 * One shard's rows of a group (sorted by time, then series key) in InfluxDB's order: each
 * series a stream in the query's time order, the streams in series-key order (reversed for
 * ORDER BY time DESC, as InfluxDB reverses a tag set's series), heap-merged.
 */
function seriesMerged(
  plan: SelectPlan,
  rows: readonly RawRow[],
  less: (a: RawRow, b: RawRow) => boolean,
): RawRow[] {
  // No two rows at one time: the merge is by time alone, the order the rows are in.
  let distinct = true;
  for (let i = 1; i < rows.length && distinct; i++) {
    const a = rows[i - 1], b = rows[i];
    distinct = a.ms < b.ms || (a.ms === b.ms && a.subMs < b.subMs);
  }
  if (distinct) return plan.descending ? rows.slice().reverse() : rows.slice();
  const streams = new Map<string, RawRow[]>();
  for (const r of rows) {
    let s = streams.get(r.key);
    if (s === undefined) streams.set(r.key, s = []);
    s.push(r);
  }
  if (streams.size <= 1) return plan.descending ? rows.slice().reverse() : rows.slice();
  const keys = [...streams.keys()].sort();
  if (plan.descending) {
    keys.reverse();
    for (const s of streams.values()) s.reverse();
  }
  return goHeapMerge(keys.map((k) => streams.get(k)!), less);
}

/**
 * influxd's sortedMergeHeap.Less for rows of one group: by time in the query's order, then by
 * the auxiliary fields while both rows hold strings there (tags always do: a missing one is "").
 */
export function rawRowLess(plan: SelectPlan): (a: RawRow, b: RawRow) => boolean {
  const ties = plan.rawTies ?? [];
  const desc = plan.descending;
  const tie = (row: RawRow, t: { column: number; tag: boolean }): string | undefined => {
    if (t.column < 0) return undefined;
    const v = row.values[t.column];
    if (typeof v === "string") return v;
    return t.tag && v === null ? "" : undefined;
  };
  return (a, b) => {
    if (a.ms !== b.ms || a.subMs !== b.subMs) {
      const before = a.ms < b.ms || (a.ms === b.ms && a.subMs < b.subMs);
      return desc ? !before : before;
    }
    for (const t of ties) {
      const x = tie(a, t), y = tie(b, t);
      if (x === undefined || y === undefined) return false;
      if (x === y) continue;
      return desc ? x > y : x < y;
    }
    return false;
  };
}

interface Rows {
  times: Instant[];
  cells: Value[][];
  /** Per row and column: true when the column's functions saw no point (fill() applies). */
  empty: boolean[][];
}

/**
 * What one finished row holds (its time, cells, fill flags and the output array), roughly, in
 * bytes; charged per row to the query's memory budget.
 */
const ROW_BYTES = 220;
const ROW_CELL_BYTES = 40;
/** What a transformation's input and output sequences hold per row. */
const SEQUENCE_ROW_BYTES = 64;

/**
 * Finishes a merged partial into result series, in InfluxDB's order. With a budget, the rows
 * are charged to the query's memory, the bucket count of the answer is checked (a time grid
 * without a lower bound starts at the data's first bucket: a sparse grid over years at `1s`
 * is still one row per bucket), and long work yields to the event loop.
 */
export async function finish(
  plan: SelectPlan,
  merged: ShardPartial,
  budget?: QueryBudget,
): Promise<ResultSeries[]> {
  const groups = groupsOf(merged).sort(groupOrder(plan));
  // ORDER BY time DESC reverses the series order too, as InfluxDB does.
  if (plan.descending) groups.reverse();
  const bucketed = plan.aggregate && plan.interval !== undefined;
  const out: ResultSeries[] = [];
  // Every series of the answer has the same columns: one array for all of them.
  const columns = ["time", ...plan.columns.map((c) => c.name)];
  const states = statesGiveBack(plan, groups, budget);
  const layout = plan.aggregate ? rowLayout(plan) : undefined;
  const transforms = plan.columns.some((c) => c.transform !== undefined);
  for (const g of groups) {
    await budget?.tick();
    // Each series lays out its buckets from its own first one (no lower time bound) or the
    // WHERE range: every answer's bucket count is checked before its rows are made.
    const range = bucketed ? bucketRange(plan, g) : undefined;
    if (range !== undefined) budget?.checkBuckets(range[1] - range[0] + 1);
    const rows = layout !== undefined
      ? await aggregateRows(plan, layout, g, range, budget)
      : rawRows(g);
    states?.done(g);
    // A group whose functions produced no point in any bucket (percentile out of range) is no
    // series at all, as InfluxDB.
    if (
      plan.aggregate && range !== undefined && plan.multi === undefined && rows.empty.length > 0 &&
      rows.empty.every((cols) => cols.every((e, c) => e || plan.columns[c].aux !== undefined))
    ) continue;
    const bucketFill = plan.aggregate && plan.interval !== undefined;
    // fill() as InfluxDB applies it: to each aggregate call, so a transformation reads its
    // input filled (over the bucket read before the range too, when it reads one) ...
    if (bucketFill) fillTransformInputs(plan, rows);
    if (transforms) await applyTransforms(plan, rows, budget);
    if (bucketFill) {
      trimToOutput(plan, rows);
      // ... then the other columns over the range, and the cursor's defaults where a column
      // has no value at a row another column has.
      applyFill(plan, rows, plainColumns(plan));
      fillMissingCells(plan, rows);
    }
    // Rows [from, to) in output order (reversed under ORDER BY time DESC), OFFSET and LIMIT
    // applied: each row is its time and its cells, built without index arrays or spreads.
    const n = rows.times.length;
    const from = Math.min(plan.offset, n);
    const to = plan.limit > 0 ? Math.min(n, plan.offset + plan.limit) : n;
    if (from >= to) continue;
    // Of its exact size (pushing onto [] reserves 17 slots; most series of a GROUP BY over
    // many series have one row).
    const values = new Array<(Value | Instant)[]>(to - from);
    for (let k = from; k < to; k++) {
      const i = plan.descending ? n - 1 - k : k;
      const cells = rows.cells[i];
      const row = new Array<Value | Instant>(cells.length + 1);
      row[0] = rows.times[i];
      for (let c = 0; c < cells.length; c++) row[c + 1] = cells[c];
      values[k - from] = row;
    }
    const series: ResultSeries = {
      name: g.measurement,
      columns,
      values,
      timeColumn: true,
    };
    if (plan.groupBy.length > 0) series.tags = g.tags;
    if (plan.timezone !== undefined) series.timezone = plan.timezone;
    out.push(series);
  }
  // SLIMIT and SOFFSET were applied per shard (mergeShards).
  return out;
}

/**
 * Gives back the aggregate states charged to the budget (QueryBudget.chargeState) as finish
 * turns their groups into rows: each group's buckets are dropped once its rows are made, and
 * the charge falls in proportion to the buckets dropped (all of it with the last group; the
 * buckets of other nodes' partials were charged there, so the share is spread over all).
 * A GROUP BY over every series then holds at its peak its rows or its states, not both.
 */
function statesGiveBack(
  plan: SelectPlan,
  groups: readonly GroupPartial[],
  budget: QueryBudget | undefined,
): { done(g: GroupPartial): void } | undefined {
  if (!plan.aggregate || budget === undefined || budget.stateBytes <= 0) return undefined;
  const charged = budget.stateBytes;
  let buckets = 0;
  for (const g of groups) buckets += g.buckets.size;
  if (buckets === 0) return undefined;
  let dropped = 0, released = 0;
  return {
    done(g) {
      dropped += g.buckets.size;
      g.buckets.clear();
      const due = Math.floor(charged * dropped / buckets);
      budget.releaseState(due - released);
      released = due;
    },
  };
}

/**
 * The order of the answer's series ({@linkcode compareGroups}). With GROUP BY tag keys every
 * group has exactly those keys: they are sorted once, not twice per comparison.
 */
function groupOrder(plan: SelectPlan): (a: GroupPartial, b: GroupPartial) => number {
  const keys = plan.groupBy;
  return (a, b) => {
    if (a.measurement !== b.measurement) return a.measurement < b.measurement ? -1 : 1;
    for (const k of keys) {
      const va = a.tags[k], vb = b.tags[k];
      if (va !== vb) return va < vb ? -1 : 1;
    }
    return 0;
  };
}

export function compareGroups(
  a: Pick<GroupPartial, "measurement" | "tags">,
  b: Pick<GroupPartial, "measurement" | "tags">,
): number {
  if (a.measurement !== b.measurement) return a.measurement < b.measurement ? -1 : 1;
  const ka = Object.keys(a.tags).sort();
  const kb = Object.keys(b.tags).sort();
  for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
    if (ka[i] !== kb[i]) return ka[i] < kb[i] ? -1 : 1;
    const va = a.tags[ka[i]], vb = b.tags[kb[i]];
    if (va !== vb) return va < vb ? -1 : 1;
  }
  return ka.length - kb.length;
}

/**
 * First and last bucket of a group: the WHERE range; without a lower bound, from the group's own
 * first bucket with data (InfluxDB's fill iterator starts each series at its first point).
 */
function bucketRange(plan: SelectPlan, g: GroupPartial): [number, number] {
  const grid = gridOf(plan);
  let first: number;
  if (plan.hasMin) first = grid.indexOfNanos(plan.minNs);
  else {
    first = Infinity;
    for (const idx of g.buckets.keys()) if (idx < first) first = idx;
  }
  const last = grid.indexOfNanos(plan.maxNs);
  return [first, last];
}

/** What making a group's rows needs of the plan, worked out once per answer. */
interface RowLayout {
  /** Per column: the slots its expression reads. */
  columnSlots: number[][];
  /** Per column: the slot it shows as it is (`max(x)`), read without evaluating; else -1. */
  bareSlot: number[];
  /** Without GROUP BY time: the rows of a group's one bucket (see aggregateRows). */
  parts: { only?: (s: number) => boolean; time: Instant }[];
}

function rowLayout(plan: SelectPlan): RowLayout {
  const columnSlots = plan.columns.map((c) => slotsOf(c.expr));
  const bareSlot = plan.columns.map((c) =>
    c.aux === undefined && c.expr.kind === "var" && c.expr.type === undefined &&
      c.expr.name.startsWith(SLOT_PREFIX)
      ? Number(c.expr.name.slice(SLOT_PREFIX.length))
      : -1
  );
  const epoch = plan.slots.every((sl) => sl.fn.epochTime);
  const t = plan.hasMin && !epoch ? instantFromNanos(plan.minNs) : { ms: 0, subMs: 0 };
  // integral() answers at the epoch, the other functions at the range's start: InfluxDB
  // joins their answers on time, so with a lower bound they make two rows, integral's first.
  const mixed = plan.hasMin && !epoch && plan.slots.some((sl) => sl.fn.epochTime);
  const isEpoch = (s: number) => plan.slots[s].fn.epochTime === true;
  const parts: RowLayout["parts"] = mixed
    ? [{ only: isEpoch, time: { ms: 0, subMs: 0 } }, { only: (s) => !isEpoch(s), time: t }]
    : [{ time: t }];
  return { columnSlots, bareSlot, parts };
}

async function aggregateRows(
  plan: SelectPlan,
  layout: RowLayout,
  g: GroupPartial,
  range: [number, number] | undefined,
  budget: QueryBudget | undefined,
): Promise<Rows> {
  const rowBytes = ROW_BYTES + ROW_CELL_BYTES * plan.columns.length;
  const rows: Rows = { times: [], cells: [], empty: [] };
  const grid = gridOf(plan);
  const nSlots = plan.slots.length;
  const slotValues = new Array<Value>(nSlots);
  const slotHas = new Array<boolean>(nSlots);
  const { columnSlots, bareSlot } = layout;
  const lookup = (name: string): Value => {
    if (name.startsWith(SLOT_PREFIX)) return slotValues[Number(name.slice(1))];
    return null;
  };
  // Functions whose bucket values depend on their neighbours (integral), computed per group.
  const seriesValues = plan.slots.map((slot, s) => {
    if (slot.fn.resultSeries === undefined) return undefined;
    const buckets = [...g.buckets.keys()].sort((a, b) => a - b).map((idx) => {
      const start = grid.start(idx);
      const end = grid.start(idx + 1);
      return {
        idx,
        state: g.buckets.get(idx)![s],
        startMs: start.ms + start.subMs / 1e6,
        endMs: end.ms + end.subMs / 1e6,
      };
    });
    return slot.fn.resultSeries(buckets, slot.params);
  });
  // `only`: the slots this row holds (the others read as having no point).
  const emit = (
    states: unknown[] | undefined,
    time: Instant,
    idx: number,
    only?: (slot: number) => boolean,
  ) => {
    let selTime: Instant | undefined;
    let aux: Value[] | undefined;
    for (let s = 0; s < nSlots; s++) {
      const fn = plan.slots[s].fn;
      let r: Reduced | undefined;
      if (only !== undefined && !only(s)) r = undefined;
      else if (states && seriesValues[s] !== undefined) {
        const v = seriesValues[s]!.get(idx);
        r = v === undefined ? undefined : { value: v };
      } else if (states) r = fn.result(states[s], plan.slots[s].params);
      slotHas[s] = r !== undefined;
      // count's 0 in empty buckets is InfluxDB's fill(null) of GROUP BY time only.
      if (r === undefined) slotValues[s] = range ? fn.emptyValue : null;
      else {
        slotValues[s] = r.value;
        // Only a lone selector's row takes its point's time (a GROUP BY time row never does).
        if (r.ms !== undefined && plan.selectorTime) selTime = { ms: r.ms, subMs: r.subMs ?? 0 };
        if (s === 0) aux = r.aux;
      }
    }
    aux ??= (states?.[0] as { aux?: Value[] } | undefined)?.aux;
    // Loops, not map/every with closures: one row per bucket, a GROUP BY time answer makes many.
    // Arrays of their exact size (pushing onto [] reserves 17 slots).
    const nColumns = plan.columns.length;
    const cells = new Array<Value>(nColumns);
    const empty = new Array<boolean>(nColumns);
    for (let k = 0; k < nColumns; k++) {
      const c = plan.columns[k];
      cells[k] = bareSlot[k] >= 0
        ? (slotValues[bareSlot[k]] ?? null)
        : c.aux !== undefined
        ? (aux?.[c.aux] ?? null)
        : evalExpr(c.expr, lookup);
      const ss = columnSlots[k];
      let none = ss.length > 0;
      for (let j = 0; j < ss.length && none; j++) none = !slotHas[ss[j]];
      empty[k] = none;
    }
    budget?.charge(rowBytes);
    rows.times.push(plan.selectorTime && selTime ? selTime : time);
    rows.cells.push(cells);
    rows.empty.push(empty);
  };
  // distinct, top, bottom, sample: one row per point of the bucket.
  const emitMulti = (
    states: unknown[] | undefined,
    time: Instant,
    _idx?: number,
    _only?: unknown,
  ) => {
    const m = plan.multi!;
    const fn = plan.slots[m].fn;
    const points = states ? fn.results!(states[m], plan.slots[m].params) : [];
    if (points.length === 0) {
      emit(undefined, time, -1);
      return;
    }
    for (const r of points) {
      slotValues[m] = r.value;
      slotHas[m] = true;
      const cells = plan.columns.map((c) =>
        c.aux !== undefined ? (r.aux?.[c.aux] ?? null) : evalExpr(c.expr, lookup)
      );
      budget?.charge(rowBytes);
      const own = fn.pointTimes && r.ms !== undefined;
      rows.times.push(own ? { ms: r.ms!, subMs: r.subMs ?? 0 } : time);
      rows.cells.push(cells);
      rows.empty.push(columnSlots.map(() => false));
    }
  };
  const emitOne = plan.multi !== undefined ? emitMulti : emit;
  if (range === undefined) {
    const states = g.buckets.get(0);
    if (states === undefined) return rows;
    for (const { only, time } of layout.parts) {
      emitOne(states, time, 0, only);
      // Without GROUP BY time, functions that produced no point (percentile out of range)
      // leave no row, as InfluxDB.
      let none = true;
      for (let s = 0; s < nSlots && none; s++) {
        if ((only === undefined || only(s)) && slotHas[s]) none = false;
      }
      if (plan.multi === undefined && nSlots > 0 && none) {
        rows.times.pop();
        rows.cells.pop();
        rows.empty.pop();
      }
    }
    return rows;
  }
  const noFill = plan.slots.length > 0 && plan.slots.every((sl) => sl.fn.noFill);
  // fill(none) and integral emit only buckets with points: walk those, not the whole grid.
  const sparse = plan.fill.mode === "none" || noFill;
  const indices = sparse
    ? [...g.buckets.keys()].filter((i) => i >= range[0] && i <= range[1]).sort((a, b) => a - b)
    : undefined;
  const n = indices === undefined ? range[1] - range[0] + 1 : indices.length;
  for (let k = 0; k < n; k++) {
    if ((k & 1023) === 1023) await budget?.tick();
    const idx = indices === undefined ? range[0] + k : indices[k];
    const states = g.buckets.get(idx);
    if (states === undefined && plan.fill.mode === "none") continue;
    if (noFill && seriesValues.every((m) => m?.get(idx) === undefined)) continue;
    emitOne(states, grid.start(idx), idx);
  }
  return rows;
}

function rawRows(g: GroupPartial): Rows {
  return {
    // A raw row is an instant itself (ms, subMs): no copy per row.
    times: g.rows,
    cells: g.rows.map((r) => r.values),
    empty: g.rows.map(() => []),
  };
}

/**
 * Runs a transformation; one that computes in steps (holt_winters' fit) lets the event loop
 * run between them, so a long fit neither blocks other requests nor outlives a kill.
 */
async function transform(
  fn: TransformFunction,
  seq: Sequence,
  params: unknown,
  budget: QueryBudget | undefined,
): Promise<Sequence> {
  if (fn.steps === undefined || budget === undefined) return fn.apply(seq, params);
  const steps = fn.steps(seq, params);
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    await budget.tick();
  }
}

/**
 * Runs transformation columns over their series, in the query's time order (InfluxDB computes
 * derivative(), difference() ... over ORDER BY time DESC as the points come); keeps the rows
 * InfluxDB keeps.
 */
async function applyTransforms(
  plan: SelectPlan,
  rows: Rows,
  budget: QueryBudget | undefined,
): Promise<void> {
  const tcols = plan.columns.flatMap((c, i) => (c.transform ? [i] : []));
  if (tcols.length === 0) return;
  const produced = new Array<boolean>(rows.times.length).fill(false);
  let appended = false;
  // Row indices in the order the query runs in.
  const order = rows.times.map((_, i) => i);
  if (plan.descending) order.reverse();
  // The bucket read beyond the range feeds only the transformations that InfluxDB feeds it.
  const extra = extraRows(plan, rows);
  for (const c of tcols) {
    const { fn, params } = plan.columns[c].transform!;
    const seq: Sequence = { ms: [], subMs: [], values: [] };
    for (const i of order) {
      const v = rows.cells[i][c];
      if (extra?.[i] && !fn.extraBucket) {
        rows.cells[i][c] = null;
        continue;
      }
      if (typeof v === "number" || typeof v === "bigint" || (fn.anyType && v !== null)) {
        seq.ms.push(rows.times[i].ms);
        seq.subMs.push(rows.times[i].subMs);
        seq.values.push(v as number | bigint);
      }
      rows.cells[i][c] = null;
    }
    budget?.charge(seq.values.length * SEQUENCE_ROW_BYTES);
    const res = await transform(fn, seq, params, budget);
    if (fn.newTimes) {
      // Forecasts (holt_winters) may lie past the last row: outer-join them on time.
      const at = new Map<string, number>();
      rows.times.forEach((t, i) => at.set(t.ms + ":" + t.subMs, i));
      for (let k = 0; k < res.values.length; k++) {
        let i = at.get(res.ms[k] + ":" + res.subMs[k]);
        if (i === undefined) {
          i = rows.times.length;
          rows.times.push({ ms: res.ms[k], subMs: res.subMs[k] });
          rows.cells.push(new Array<Value>(plan.columns.length).fill(null));
          rows.empty.push(new Array<boolean>(plan.columns.length).fill(false));
          produced.push(false);
          appended = true;
        }
        rows.cells[i][c] = res.values[k];
        produced[i] = true;
      }
      continue;
    }
    // Outputs are a subset of the inputs' times, in the same order: walk both.
    let k = 0;
    for (const i of order) {
      if (k >= res.values.length) break;
      const t = rows.times[i];
      if (t.ms === res.ms[k] && t.subMs === res.subMs[k]) {
        rows.cells[i][c] = res.values[k++];
        produced[i] = true;
      }
    }
  }
  if (appended) {
    const sorted = rows.times.map((_, i) => i).sort((a, b) =>
      rows.times[a].ms - rows.times[b].ms || rows.times[a].subMs - rows.times[b].subMs
    );
    rows.times = sorted.map((i) => rows.times[i]);
    rows.cells = sorted.map((i) => rows.cells[i]);
    rows.empty = sorted.map((i) => rows.empty[i]);
    const p = sorted.map((i) => produced[i]);
    produced.length = 0;
    produced.push(...p);
  }
  // Expressions around transformations (abs(derivative(...))) apply to what they produced.
  for (const c of tcols) {
    const post = plan.columns[c].post;
    if (post === undefined) continue;
    for (let i = 0; i < rows.times.length; i++) {
      if (!produced[i]) continue;
      const v = rows.cells[i][c];
      if (v === null) continue;
      rows.cells[i][c] = evalExpr(post, (name) => (name === POST_INPUT ? v : null));
    }
  }
  // Transformations alone emit only the rows they computed; beside other columns every row stays.
  if (tcols.length === plan.columns.length) {
    const keep = produced.flatMap((p, i) => (p ? [i] : []));
    rows.times = keep.map((i) => rows.times[i]);
    rows.cells = keep.map((i) => rows.cells[i]);
    rows.empty = keep.map((i) => rows.empty[i]);
  }
}

/**
 * Per row: true when it lies outside the statement's own range, in the bucket read beyond it
 * for the transformations that need a previous value (undefined when none was read).
 */
function extraRows(plan: SelectPlan, rows: Rows): boolean[] | undefined {
  const range = plan.outputRange;
  if (range === undefined) return undefined;
  const grid = gridOf(plan);
  const first = grid.indexOfNanos(range.minNs);
  const last = grid.indexOfNanos(range.maxNs);
  return rows.times.map((t) => {
    const idx = grid.index(t.ms, t.subMs);
    return (plan.hasMin && idx < first) || idx > last;
  });
}

/**
 * Drops the bucket read beyond the range for transformations (see SelectPlan.outputRange)
 * once they have used it.
 */
function trimToOutput(plan: SelectPlan, rows: Rows): void {
  const extra = extraRows(plan, rows);
  if (extra === undefined) return;
  const keep: number[] = [];
  for (let i = 0; i < rows.times.length; i++) if (!extra[i]) keep.push(i);
  if (keep.length === rows.times.length) return;
  rows.times = keep.map((i) => rows.times[i]);
  rows.cells = keep.map((i) => rows.cells[i]);
  rows.empty = keep.map((i) => rows.empty[i]);
}

/**
 * fill() of `columns`, in the query's time order, as InfluxDB's fill iterator runs (with ORDER
 * BY time DESC, `previous` is the later bucket's value, and `linear` interpolates from it).
 * Rows flagged in `skip` are left out (neither filled nor read).
 */
function applyFill(plan: SelectPlan, rows: Rows, columns: readonly number[], skip?: boolean[]) {
  const fill = plan.fill;
  if (fill.mode === "null" || fill.mode === "none") return;
  const order = rows.times.map((_, i) => i).filter((i) => !skip?.[i]);
  if (plan.descending) order.reverse();
  const n = order.length;
  const grid = gridOf(plan);
  const bucket = (i: number) => grid.index(rows.times[i].ms, rows.times[i].subMs);
  for (const c of columns) {
    if (fill.mode === "value") {
      for (const i of order) if (rows.empty[i][c]) rows.cells[i][c] = fill.value;
    } else if (fill.mode === "previous") {
      let prev: Value = null;
      for (const i of order) {
        if (rows.empty[i][c]) rows.cells[i][c] = prev;
        else prev = rows.cells[i][c];
      }
    } else {
      // linear: between two rows with values, InfluxDB's y = m*x + b over bucket numbers.
      let last = -1;
      for (let k = 0; k < n; k++) {
        const i = order[k];
        if (rows.empty[i][c]) continue;
        const next = rows.cells[i][c];
        if (last >= 0 && k - last > 1) {
          const previous = rows.cells[order[last]][c];
          const from = bucket(order[last]), to = bucket(i);
          for (let j = last + 1; j < k; j++) {
            rows.cells[order[j]][c] = linear(bucket(order[j]), from, to, previous, next);
          }
        }
        last = k;
      }
    }
  }
}

/** The columns that are no transformation. */
function plainColumns(plan: SelectPlan): number[] {
  return plan.columns.flatMap((c, i) => (c.transform ? [] : [i]));
}

/**
 * Fills each transformation's input (the aggregate in its cells) before it runs: InfluxDB's
 * fill iterator wraps the inner aggregate call, over the range that call reads (with the
 * bucket before the range for the transformations that read one).
 */
function fillTransformInputs(plan: SelectPlan, rows: Rows): void {
  const extra = extraRows(plan, rows);
  plan.columns.forEach((c, i) => {
    if (c.transform === undefined) return;
    applyFill(plan, rows, [i], c.transform.fn.extraBucket ? undefined : extra);
  });
}

/**
 * A column with no value at a row another column has (a transformation that produced nothing
 * there, any column at a forecast's time): what InfluxDB's cursor leaves there. Its row map
 * keeps the series' last values, so fill(previous) shows the column's previous value; fill(x)
 * shows x; the other fills null.
 */
function fillMissingCells(plan: SelectPlan, rows: Rows): void {
  const fill = plan.fill;
  if (plan.columns.length < 2 || (fill.mode !== "value" && fill.mode !== "previous")) return;
  const order = rows.times.map((_, i) => i);
  if (plan.descending) order.reverse();
  for (let c = 0; c < plan.columns.length; c++) {
    let prev: Value = null;
    for (const i of order) {
      const v = rows.cells[i][c];
      if (v !== null) prev = v;
      else rows.cells[i][c] = fill.mode === "value" ? fill.value : prev;
    }
  }
}

/** influxql's linearFloat / linearInteger: the value at `at` on the line between two points. */
function linear(at: number, from: number, to: number, a: Value, b: Value): Value {
  if (typeof a === "bigint" || typeof b === "bigint") {
    if (typeof a === "string" || typeof a === "boolean" || a === null) return null;
    if (typeof b === "string" || typeof b === "boolean" || b === null) return null;
    const m = Number(BigInt(b) - BigInt(a)) / (to - from);
    return BigInt(Math.trunc(m * (at - from) + Number(a)));
  }
  if (typeof a !== "number" || typeof b !== "number") return null;
  const m = (b - a) / (to - from);
  return m * (at - from) + a;
}

function slotsOf(e: Expr): number[] {
  const out: number[] = [];
  walkExpr(e, (x) => {
    if (x.kind === "var" && x.name.startsWith(SLOT_PREFIX)) out.push(Number(x.name.slice(1)));
  });
  return out;
}
