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
import { gridOf, type GroupPartial, type ShardPartial, sortRows } from "./shard_exec.ts";

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
  const groups = [...merged.groups.values()].sort(compareGroups);
  // ORDER BY time DESC reverses the series order too, as InfluxDB does.
  if (plan.descending) groups.reverse();
  const bucketed = plan.aggregate && plan.interval !== undefined;
  const out: ResultSeries[] = [];
  for (const g of groups) {
    await budget?.tick();
    // Each series lays out its buckets from its own first one (no lower time bound) or the
    // WHERE range: every answer's bucket count is checked before its rows are made.
    const range = bucketed ? bucketRange(plan, g) : undefined;
    if (range !== undefined) budget?.checkBuckets(range[1] - range[0] + 1);
    const rows = plan.aggregate ? await aggregateRows(plan, g, range, budget) : rawRows(g);
    // A group whose functions produced no point in any bucket (percentile out of range) is no
    // series at all, as InfluxDB.
    if (
      plan.aggregate && range !== undefined && plan.multi === undefined && rows.empty.length > 0 &&
      rows.empty.every((cols) => cols.every((e, c) => e || plan.columns[c].aux !== undefined))
    ) continue;
    await applyTransforms(plan, rows, budget);
    if (plan.aggregate && plan.interval) applyFill(plan, rows);
    let idx = rows.times.map((_, i) => i);
    if (plan.descending) idx.reverse();
    if (plan.offset > 0 || plan.limit > 0) {
      idx = idx.slice(plan.offset, plan.limit > 0 ? plan.offset + plan.limit : undefined);
    }
    if (idx.length === 0) continue;
    const series: ResultSeries = {
      name: g.measurement,
      columns: ["time", ...plan.columns.map((c) => c.name)],
      values: idx.map((i) => [rows.times[i], ...rows.cells[i]]),
      timeColumn: true,
    };
    if (plan.groupBy === "*" || plan.groupBy.length > 0) series.tags = g.tags;
    if (plan.timezone !== undefined) series.timezone = plan.timezone;
    out.push(series);
  }
  if (plan.soffset > 0 || plan.slimit > 0) {
    return out.slice(plan.soffset, plan.slimit > 0 ? plan.soffset + plan.slimit : undefined);
  }
  return out;
}

function compareGroups(a: GroupPartial, b: GroupPartial): number {
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

async function aggregateRows(
  plan: SelectPlan,
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
  const columnSlots = plan.columns.map((c) => slotsOf(c.expr));
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
  const emit = (states: unknown[] | undefined, time: Instant, idx: number) => {
    let selTime: Instant | undefined;
    let aux: Value[] | undefined;
    for (let s = 0; s < nSlots; s++) {
      const fn = plan.slots[s].fn;
      let r: Reduced | undefined;
      if (states && seriesValues[s] !== undefined) {
        const v = seriesValues[s]!.get(idx);
        r = v === undefined ? undefined : { value: v };
      } else if (states) r = fn.result(states[s], plan.slots[s].params);
      slotHas[s] = r !== undefined;
      // count's 0 in empty buckets is InfluxDB's fill(null) of GROUP BY time only.
      if (r === undefined) slotValues[s] = range ? fn.emptyValue : null;
      else {
        slotValues[s] = r.value;
        if (r.ms !== undefined) selTime = { ms: r.ms, subMs: r.subMs ?? 0 };
        if (s === 0) aux = r.aux;
      }
    }
    aux ??= (states?.[0] as { aux?: Value[] } | undefined)?.aux;
    const cells = plan.columns.map((c) =>
      c.aux !== undefined ? (aux?.[c.aux] ?? null) : evalExpr(c.expr, lookup)
    );
    budget?.charge(rowBytes);
    rows.times.push(plan.selectorTime && selTime ? selTime : time);
    rows.cells.push(cells);
    rows.empty.push(columnSlots.map((ss) => ss.length > 0 && ss.every((k) => !slotHas[k])));
  };
  // distinct, top, bottom, sample: one row per point of the bucket.
  const emitMulti = (states: unknown[] | undefined, time: Instant) => {
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
    const epoch = plan.slots.every((sl) => sl.fn.epochTime);
    const t = plan.hasMin && !epoch ? instantFromNanos(plan.minNs) : { ms: 0, subMs: 0 };
    emitOne(states, t, 0);
    // Without GROUP BY time, functions that produced no point (percentile out of range) leave
    // no row, as InfluxDB.
    if (plan.multi === undefined && nSlots > 0 && slotHas.every((h) => !h)) {
      rows.times.pop();
      rows.cells.pop();
      rows.empty.pop();
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

/** Runs transformation columns over their series; keeps rows InfluxDB keeps. */
async function applyTransforms(
  plan: SelectPlan,
  rows: Rows,
  budget: QueryBudget | undefined,
): Promise<void> {
  const tcols = plan.columns.flatMap((c, i) => (c.transform ? [i] : []));
  if (tcols.length === 0) return;
  const produced = new Array<boolean>(rows.times.length).fill(false);
  let appended = false;
  for (const c of tcols) {
    const { fn, params } = plan.columns[c].transform!;
    const seq: Sequence = { ms: [], subMs: [], values: [] };
    for (let i = 0; i < rows.times.length; i++) {
      const v = rows.cells[i][c];
      if (typeof v === "number" || typeof v === "bigint") {
        seq.ms.push(rows.times[i].ms);
        seq.subMs.push(rows.times[i].subMs);
        seq.values.push(v);
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
    // Outputs are a subset of the inputs' times, in order: walk both.
    let k = 0;
    for (let i = 0; i < rows.times.length && k < res.values.length; i++) {
      const t = rows.times[i];
      if (t.ms === res.ms[k] && t.subMs === res.subMs[k]) {
        rows.cells[i][c] = res.values[k++];
        produced[i] = true;
      }
    }
  }
  if (appended) {
    const order = rows.times.map((_, i) => i).sort((a, b) =>
      rows.times[a].ms - rows.times[b].ms || rows.times[a].subMs - rows.times[b].subMs
    );
    rows.times = order.map((i) => rows.times[i]);
    rows.cells = order.map((i) => rows.cells[i]);
    rows.empty = order.map((i) => rows.empty[i]);
    const p = order.map((i) => produced[i]);
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

function applyFill(plan: SelectPlan, rows: Rows): void {
  const fill = plan.fill;
  if (fill.mode === "null" || fill.mode === "none") return;
  const n = rows.cells.length;
  for (let c = 0; c < plan.columns.length; c++) {
    if (fill.mode === "value") {
      for (let i = 0; i < n; i++) if (rows.empty[i][c]) rows.cells[i][c] = fill.value;
    } else if (fill.mode === "previous") {
      let prev: Value = null;
      for (let i = 0; i < n; i++) {
        if (rows.empty[i][c]) rows.cells[i][c] = prev;
        else prev = rows.cells[i][c];
      }
    } else {
      // linear: interpolate numeric gaps between two rows that have values.
      let last = -1;
      for (let i = 0; i < n; i++) {
        if (rows.empty[i][c]) continue;
        const v = rows.cells[i][c];
        if (last >= 0 && i - last > 1) {
          const a = rows.cells[last][c];
          if (typeof a === "number" && typeof v === "number") {
            for (let k = last + 1; k < i; k++) {
              rows.cells[k][c] = a + (v - a) * (k - last) / (i - last);
            }
          }
        }
        last = i;
      }
    }
  }
}

function slotsOf(e: Expr): number[] {
  const out: number[] = [];
  walkExpr(e, (x) => {
    if (x.kind === "var" && x.name.startsWith(SLOT_PREFIX)) out.push(Number(x.name.slice(1)));
  });
  return out;
}
