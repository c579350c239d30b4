/**
 * Runs a {@linkcode SelectPlan} against one shard and returns its partial result: for
 * aggregate plans, mergeable states per group and time bucket; for raw plans, rows per group
 * sorted by time. The coordinator merges partials from every shard (coordinator.ts).
 *
 * @module
 */
import { FieldType, type Tag } from "../core/point.ts";
import type { Expr } from "./ast.ts";
import { tagFilterOf } from "./condition.ts";
import { castValue, evalExpr, evalTagCondition, type Lookup } from "./eval.ts";
import { walkExpr } from "./expr_walk.ts";
import { CalendarGrid, Grid, ZonedGrid } from "./grid.ts";
import type { SelectPlan } from "./plan.ts";
import type { Value } from "./result.ts";
import { keyPart } from "./tag_set_key.ts";
import type { FieldColumn, FieldPart, FieldPartsOptions, SeriesRef, ShardReader } from "./store.ts";
import { ValidationError } from "../core/errors.ts";
import { type AddContext, KEPT_POINT_BYTES } from "./functions/mod.ts";
import type { QueryBudget } from "./limits.ts";
import { edgeRows, rowsPerSeries } from "./raw_edge.ts";
import { GroupFinder } from "./group_finder.ts";

/** A raw row: its time and one cell per planned column. */
export interface RawRow {
  ms: number;
  subMs: number;
  /** The series key, which orders rows of equal time (as InfluxDB does). */
  key: string;
  values: Value[];
}

/** One output group (measurement + group-by tag values) of one shard. */
export interface GroupPartial {
  measurement: string;
  /** Group-by tags (absent keys as ""); empty without GROUP BY tags. */
  tags: Record<string, string>;
  /** Aggregate plans: bucket index -> one state per slot. */
  buckets: Map<number, unknown[]>;
  /** Raw plans: rows sorted by time. */
  rows: RawRow[];
}

/** A shard's partial result, keyed by group. */
export interface ShardPartial {
  groups: Map<string, GroupPartial>;
  /**
   * Raw rows read from a subquery: each row's place in the order the inner query emitted it,
   * which the outer query keeps (see subquery.ts).
   */
  rowOrder?: (row: RawRow) => number | undefined;
  /** Read from a subquery's result: its SLIMIT was applied by the inner query (subquery.ts). */
  fromSubquery?: boolean;
}

/** What reading a series' fields needs of a shard (a streamed SELECT's window holds them). */
export type FieldSource = Pick<ShardReader, "readField" | "readFieldSummaries">;

/** Which measurements of a shard a plan reads: names resolved by the caller. */
export interface ShardTarget {
  reader: ShardReader;
  measurements: readonly string[];
}

/**
 * The grid of each plan, kept while its interval and anchor hold: the coordinator asks for it
 * once per group, and a GROUP BY over a million series built a million grids (BigInt math each).
 */
const grids = new WeakMap<SelectPlan, { interval: unknown; anchor: bigint; grid: Grid }>();

/** Builds the grid a plan buckets by (shared by shards and coordinator). */
export function gridOf(plan: SelectPlan): Grid {
  const anchor = plan.hasMin ? plan.minNs : 0n;
  const known = grids.get(plan);
  if (known !== undefined && known.interval === plan.interval && known.anchor === anchor) {
    return known.grid;
  }
  let grid: Grid;
  if (plan.interval?.months !== undefined) {
    grid = new CalendarGrid(plan.interval, anchor, plan.interval.zone);
  } else if (plan.interval?.zone !== undefined) {
    grid = new ZonedGrid(plan.interval, anchor, plan.interval.zone);
  } else grid = new Grid(plan.interval, anchor);
  grids.set(plan, { interval: plan.interval, anchor, grid });
  return grid;
}

/** The rows of an aggregate plan's group: none, shared (frozen: a push is a bug and throws). */
export const NO_ROWS: RawRow[] = Object.freeze([]) as unknown as RawRow[];

/** The key of a group: measurement and tag values, one key per distinct group (tag_set_key.ts). */
export function groupKeyOf(measurement: string, tags: Record<string, string>): string {
  let key = keyPart(measurement);
  for (const k of Object.keys(tags)) key += keyPart(k) + keyPart(tags[k]);
  return key;
}

export function tagValue(tags: readonly Tag[], key: string): string {
  for (const t of tags) if (t.key === key) return t.value;
  return "";
}

export function groupTags(plan: SelectPlan, series: SeriesRef): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of plan.groupBy) out[k] = tagValue(series.tags, k);
  return out;
}

/** Runs `plan` over one shard. */
export async function runShard(
  plan: SelectPlan,
  target: ShardTarget,
  budget?: QueryBudget,
): Promise<ShardPartial> {
  const finder = new GroupFinder(plan.groupBy);
  const found: GroupPartial[] = [];
  await visitSeries(
    plan,
    target,
    budget,
    (m, series) => finder.get(m, series),
    (series, group) => {
      finder.set(group.measurement, series, group);
      found.push(group);
    },
  );
  // Raw rows stay in series order: the coordinator merges each group's series as influxd
  // does (coordinator.ts seriesMerged), which needs no sort by time here.
  return keyedOnDemand(found);
}

/** The groups of a partial made by {@linkcode keyedOnDemand}, as made (not copied by spreads). */
const FOUND = Symbol("groups as found");

/**
 * A partial whose `groups` Map is keyed on first use: a query over one shard never needs the
 * keys (finish() takes {@linkcode groupsOf}), and making and hashing a concatenated key per
 * group was 13% of a GROUP BY over 100k series.
 */
function keyedOnDemand(found: GroupPartial[]): ShardPartial {
  let keyed: Map<string, GroupPartial> | undefined;
  const partial = {
    get groups(): Map<string, GroupPartial> {
      if (keyed === undefined) {
        keyed = new Map();
        for (const g of found) keyed.set(groupKeyOf(g.measurement, g.tags), g);
      }
      return keyed;
    },
  } as ShardPartial;
  // Not enumerable: a partial made from this one by a spread (`{ ...p, groups }`) lists its own.
  Object.defineProperty(partial, FOUND, { value: found, enumerable: false });
  return partial;
}

/** The groups of a partial, in no particular order (without making its keys when it can). */
export function groupsOf(partial: ShardPartial): GroupPartial[] {
  const found = (partial as { [FOUND]?: GroupPartial[] })[FOUND];
  return found !== undefined ? found.slice() : [...partial.groups.values()];
}

/**
 * One series' part of a shard's result: its own group partial (states and rows of that series
 * alone). Folding these in series-key order with {@linkcode mergePartials} gives exactly what
 * {@linkcode runShard} gives over the shard that holds them all, which is how a cluster's
 * partitions answer a coordinator.
 */
export interface SeriesPartial {
  /** The series key. */
  key: string;
  /** The group it folds into (measurement and group-by tags). */
  groupKey: string;
  group: GroupPartial;
}

/** Runs `plan` over one shard, series by series (see {@linkcode SeriesPartial}). */
export async function runShardBySeries(
  plan: SelectPlan,
  target: ShardTarget,
  budget?: QueryBudget,
): Promise<SeriesPartial[]> {
  const out: SeriesPartial[] = [];
  await visitSeries(
    plan,
    target,
    budget,
    () => undefined,
    (series, group) =>
      out.push({ key: series.key, groupKey: groupKeyOf(group.measurement, group.tags), group }),
  );
  return out;
}

/**
 * Reads every series of the target that the condition may pass into a group: `groupOf`
 * returns the group to add into (undefined for a new one), `added` receives a new group that
 * got points.
 */
async function visitSeries(
  plan: SelectPlan,
  target: ShardTarget,
  budget: QueryBudget | undefined,
  groupOf: (measurement: string, series: SeriesRef) => GroupPartial | undefined,
  added: (series: SeriesRef, group: GroupPartial) => void,
): Promise<void> {
  const grid = gridOf(plan);
  const isField = (name: string, type?: string) =>
    type === "tag" ? false : type === "field" ? true : plan.fieldTypes.has(name);
  // The condition's tag terms let an indexed reader skip the series they exclude; the whole
  // condition is still evaluated on each series below.
  const filter = plan.condition !== undefined && target.reader.seriesWhere !== undefined
    ? tagFilterOf(plan.condition, isField)
    : undefined;
  for (const m of target.measurements) {
    const types = target.reader.fieldTypes(m);
    const aggregator = plan.aggregate
      ? new SeriesAggregator(plan, aggregateSetup(plan, types), grid, target.reader, types, budget)
      : undefined;
    // Series in key order: InfluxDB folds per-series partials in this order, in reverse key
    // order with ORDER BY time DESC (float sums and means depend on it to the last bit).
    let seriesList = inKeyOrder(
      filter !== undefined ? target.reader.seriesWhere!(m, filter) : target.reader.series(m),
    );
    if (plan.aggregate && plan.descending) seriesList = seriesList.slice().reverse();
    for (const series of seriesList) {
      if (budget !== undefined) await budget.tick();
      let rowFilter = false;
      if (plan.condition) {
        const tri = evalTagCondition(
          plan.condition,
          (k) => tagValue(series.tags, k),
          isField,
        );
        if (tri === false) continue;
        rowFilter = tri === undefined;
      }
      // The group and its key are made once, for the group's first series with points.
      let group = groupOf(m, series);
      const fresh = group === undefined;
      group ??= {
        measurement: m,
        tags: groupTags(plan, series),
        buckets: new Map(),
        rows: plan.aggregate ? NO_ROWS : [],
      };
      budget?.addSeries();
      const got = aggregator !== undefined
        ? await aggregator.add(series, group, rowFilter)
        : await rawSeries(plan, target.reader, series, group, rowFilter, budget);
      if (fresh && got) added(series, group);
    }
  }
}

/** The series sorted by key; the list itself when it already is (indexed readers keep it so). */
export function inKeyOrder(list: readonly SeriesRef[]): readonly SeriesRef[] {
  for (let i = 1; i < list.length; i++) {
    if (list[i - 1].key > list[i].key) {
      return list.slice().sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    }
  }
  return list;
}

/** Sorts rows by time, then series key (a no-op when they already are: one series). */
export function sortRows(rows: RawRow[]): void {
  let sorted = true;
  for (let i = 1; i < rows.length && sorted; i++) {
    const a = rows[i - 1], b = rows[i];
    if (
      a.ms > b.ms ||
      (a.ms === b.ms && (a.subMs > b.subMs || (a.subMs === b.subMs && a.key > b.key)))
    ) {
      sorted = false;
    }
  }
  if (sorted) return;
  rows.sort((a, b) =>
    a.ms - b.ms || a.subMs - b.subMs || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
  );
}

async function readColumns(
  plan: SelectPlan,
  reader: FieldSource,
  series: SeriesRef,
  names: Iterable<string>,
  budget?: QueryBudget,
  range: TimeWindow = plan,
): Promise<Map<string, FieldColumn>> {
  const out = new Map<string, FieldColumn>();
  for (const name of names) {
    const col = await reader.readField(series, name, range.minNs, range.maxNs);
    if (col !== undefined && col.length > 0) {
      budget?.addPoints(col.length);
      out.set(name, col);
      await budget?.batch();
    }
  }
  return out;
}

/**
 * Reads the fields of one series row by row, in time order, without allocating per row: one
 * cursor per column, advanced to the current instant; `get` is the row's Lookup.
 */
class RowReader {
  readonly #cols: FieldColumn[];
  readonly #index = new Map<string, number>();
  readonly #pos: Int32Array;
  #ms = 0;
  #sub = 0;
  readonly get: Lookup;

  constructor(cols: Map<string, FieldColumn>, series: SeriesRef) {
    this.#cols = [...cols.values()];
    [...cols.keys()].forEach((k, i) => this.#index.set(k, i));
    this.#pos = new Int32Array(this.#cols.length);
    this.get = (name, type) => {
      if (type !== "tag") {
        const c = this.#index.get(name);
        if (c !== undefined) {
          const col = this.#cols[c];
          const i = this.#pos[c];
          if (i < col.length && col.timesMs[i] === this.#ms && col.timesSubMs[i] === this.#sub) {
            return col.values[i] as Value;
          }
        }
        // `name::field` reads a field only: a tag of that name is no answer (InfluxDB: null).
        if (type === "field") return null;
      }
      for (const t of series.tags) if (t.key === name) return t.value;
      return null;
    };
  }

  /** Moves every cursor to the first point at or after (ms, subMs), in any order (a search). */
  seek(ms: number, subMs: number): Lookup {
    this.#ms = ms;
    this.#sub = subMs;
    for (let c = 0; c < this.#cols.length; c++) this.#pos[c] = lowerBound(this.#cols[c], ms, subMs);
    return this.get;
  }

  /** Moves every cursor to the first point at or after (ms, subMs); times must not decrease. */
  at(ms: number, subMs: number): Lookup {
    this.#ms = ms;
    this.#sub = subMs;
    for (let c = 0; c < this.#cols.length; c++) {
      const col = this.#cols[c];
      let i = this.#pos[c];
      while (
        i < col.length &&
        (col.timesMs[i] < ms || (col.timesMs[i] === ms && col.timesSubMs[i] < subMs))
      ) i++;
      this.#pos[c] = i;
    }
    return this.get;
  }
}

function lookupAt(
  cols: Map<string, FieldColumn>,
  cursors: Map<string, number>,
  series: SeriesRef,
  ms: number,
  subMs: number,
): Lookup {
  // Advance each column's cursor to the first point at or after (ms, subMs).
  for (const [name, col] of cols) {
    let i = cursors.get(name) ?? 0;
    while (
      i < col.length &&
      (col.timesMs[i] < ms || (col.timesMs[i] === ms && col.timesSubMs[i] < subMs))
    ) i++;
    cursors.set(name, i);
  }
  return (name, type) => {
    if (type !== "tag") {
      const col = cols.get(name);
      if (col !== undefined) {
        const i = cursors.get(name)!;
        if (i < col.length && col.timesMs[i] === ms && col.timesSubMs[i] === subMs) {
          return col.values[i] as Value;
        }
      }
      if (type === "field") return null;
    }
    for (const t of series.tags) if (t.key === name) return t.value;
    return null;
  };
}

/** Keeps the points of `col` where `condition` holds (other fields joined on time). */
function filterColumn(
  col: FieldColumn,
  field: string,
  others: Map<string, FieldColumn>,
  series: SeriesRef,
  condition: Expr,
): FieldColumn {
  const cols = new Map(others);
  cols.set(field, col);
  const reader = new RowReader(cols, series);
  const keep: number[] = [];
  for (let i = 0; i < col.length; i++) {
    const row = reader.at(col.timesMs[i], col.timesSubMs[i]);
    if (evalExpr(condition, row) === true) keep.push(i);
  }
  if (keep.length === col.length) return col;
  const timesMs = new Float64Array(keep.length);
  const timesSubMs = new Float64Array(keep.length);
  const values = col.values instanceof Float64Array
    ? new Float64Array(keep.length)
    : new Array(keep.length);
  keep.forEach((src, dst) => {
    timesMs[dst] = col.timesMs[src];
    timesSubMs[dst] = col.timesSubMs[src];
    values[dst] = col.values[src];
  });
  return { type: col.type, length: keep.length, timesMs, timesSubMs, values };
}

/**
 * What aggregating a series needs that depends only on the plan and the measurement's field
 * types, worked out once per measurement rather than per series.
 */
interface AggregateSetup {
  /** The distinct fields the slots read, in slot order. */
  fields: string[];
  /** Per slot: its field's index in `fields`. */
  fieldOf: number[];
  /** Per field: the slots that read it. */
  slotsOf: number[][];
  /** Per field: every function of its slots takes whole-block statistics for its type. */
  summarizable: boolean[];
  /** The fields among the auxiliary columns (tags come from the series). */
  auxFields: string[];
}

function aggregateSetup(plan: SelectPlan, types: Map<string, FieldType>): AggregateSetup {
  const isField = (name: string, type?: string) =>
    type === "tag" ? false : type === "field" ? true : plan.fieldTypes.has(name);
  const fields: string[] = [];
  const fieldOf: number[] = [];
  const slotsOf: number[][] = [];
  plan.slots.forEach((sl, s) => {
    let f = fields.indexOf(sl.field);
    if (f < 0) {
      f = fields.push(sl.field) - 1;
      slotsOf.push([]);
    }
    fieldOf.push(f);
    slotsOf[f].push(s);
  });
  const summarizable = fields.map((field, f) => {
    const type = types.get(field);
    return type !== undefined && slotsOf[f].every((s) => {
      const sl = plan.slots[s];
      return sl.cast === undefined && sl.fn.summarizes?.(type) === true &&
        sl.fn.checkType(type) === undefined;
    });
  });
  const auxFields = plan.aux.filter((a) => isField(a.name, a.type)).map((a) => a.name);
  return { fields, fieldOf, slotsOf, summarizable, auxFields };
}

/**
 * What the query holds, roughly, in V8 bytes, charged to its memory budget: a bucket (map
 * entry and state array) plus each slot's state; a raw row (object, cells array and its share
 * of the result arrays) plus each cell.
 */
const BUCKET_BYTES = 96;
const SLOT_STATE_BYTES = 64;
const RAW_ROW_BYTES = 300;
const RAW_CELL_BYTES = 40;

/** Parts options that summarise no block (every block decoded, as views). */
const NO_SUMMARIES = { summarize: () => false };

/**
 * Points (or raw instants) of one series handled between two checks of the query's budget: a
 * series of millions of points would otherwise run whole before a kill, its deadline or a
 * client gone away is noticed (some 1-5 ms of work, as a block or two).
 */
const POINTS_PER_BATCH = 4096;
const BATCH_MASK = POINTS_PER_BATCH - 1;

/**
 * Aggregates the series of one measurement into their groups, one series at a time: made once
 * per measurement and reused, so a GROUP BY over every series makes no closures, context or
 * scratch arrays per series (a third of that query's CPU was the garbage collector).
 */
class SeriesAggregator {
  readonly #bucketBytes: number;
  readonly #ctx: AddContext;
  readonly #summaryOptions: FieldPartsOptions;
  /** Per field of the current series: 1 when its parts were read (summaries and views). */
  readonly #summarized: Uint8Array;
  readonly #partsOf: (FieldPart[] | undefined)[];
  #group: GroupPartial | undefined;
  #series: SeriesRef | undefined;
  #auxCols: Map<string, FieldColumn> | undefined;

  constructor(
    readonly plan: SelectPlan,
    readonly setup: AggregateSetup,
    readonly grid: Grid,
    readonly reader: ShardReader,
    readonly types: Map<string, FieldType>,
    readonly budget: QueryBudget | undefined,
  ) {
    this.#bucketBytes = BUCKET_BYTES + SLOT_STATE_BYTES * plan.slots.length;
    // `series` is set before each series' adds; functions read it during the call only.
    this.#ctx = {
      series: undefined as unknown as SeriesRef,
      sorted: reader.sortedColumns === true,
      descending: plan.descending,
    };
    this.#summaryOptions = { summarize: grid.sameBucket };
    this.#summarized = new Uint8Array(setup.fields.length);
    this.#partsOf = new Array(setup.fields.length);
  }

  /** Adds one series' points into `group`. @returns whether it had any. */
  async add(series: SeriesRef, group: GroupPartial, rowFilter: boolean): Promise<boolean> {
    const { plan, setup, grid, reader, types, budget } = this;
    const { fields, slotsOf } = setup;
    this.#series = series;
    this.#group = group;
    this.#ctx.series = series;
    const auxCols = this.#auxCols = plan.aux.length > 0
      ? await readColumns(plan, reader, series, setup.auxFields)
      : undefined;
    let added = false;
    // Fields are read as parts: whole blocks inside one bucket as their statistics when every
    // function of the field takes a summary (count, min, max, first, last, spread, integer
    // sum), the rest as views of the decoded blocks, aggregated part by part in time order (the
    // same additions in the same order as over one merged column, without copying into one).
    const summarized = this.#summarized;
    const partsOf = this.#partsOf;
    summarized.fill(0);
    partsOf.fill(undefined);
    let fit = 0;
    if (reader.readFieldSummaries !== undefined && !rowFilter && auxCols === undefined) {
      for (let f = 0; f < fields.length; f++) {
        const summarize = setup.summarizable[f];
        const parts = await reader.readFieldSummaries(
          series,
          fields[f],
          plan.minNs,
          plan.maxNs,
          summarize ? this.#summaryOptions : NO_SUMMARIES,
        );
        // A reader may ignore the option: a summary across a bucket boundary, or of a field
        // whose functions cannot take one, sends the field to readField below.
        let fits = true;
        for (const p of parts) {
          if (
            p.kind === "summary" &&
            (!summarize ||
              !grid.sameBucket(p.minTimeMs, p.minTimeSubMs, p.maxTimeMs, p.maxTimeSubMs))
          ) {
            fits = false;
            break;
          }
        }
        if (!fits) continue;
        summarized[f] = 1;
        partsOf[f] = parts;
        fit++;
      }
      // Types are checked where a field has data, in slot order, as for columns read whole.
      for (let s = 0; s < plan.slots.length && fit > 0; s++) {
        const f = setup.fieldOf[s];
        const parts = partsOf[f];
        if (setup.summarizable[f] || parts === undefined || parts.length === 0) continue;
        const { cast, fn } = plan.slots[s];
        const first = (parts[0] as { column: FieldColumn }).column;
        const type = types.get(fields[f]) ??
          (cast === undefined ? first.type : castColumn(first, cast).type);
        const bad = fn.checkType(type);
        if (bad !== undefined) throw new ValidationError(bad);
      }
      for (let f = 0; f < fields.length && fit > 0; f++) {
        const parts = partsOf[f];
        if (parts === undefined || parts.length === 0) continue;
        const slots = slotsOf[f];
        if (!setup.summarizable[f]) {
          // Decoded blocks only: one add per bucket run, as over the merged column (float sums
          // and means are exact only so), stitching the runs a block boundary splits.
          const columns: FieldColumn[] = [];
          for (const part of parts) {
            const c = (part as { column: FieldColumn }).column;
            if (c.length === 0) continue;
            budget?.addPoints(c.length);
            columns.push(c);
          }
          if (columns.length === 0) continue;
          for (const i of slots) {
            const cast = plan.slots[i].cast;
            await this.#addStitched(
              i,
              cast === undefined ? columns : columns.map((c) => castColumn(c, cast)),
            );
          }
          added = true;
          continue;
        }
        for (const part of parts) {
          if (part.kind === "column") {
            if (part.column.length === 0) continue;
            budget?.addPoints(part.column.length);
            for (const i of slots) {
              const cast = plan.slots[i].cast;
              await this.#addRuns(
                i,
                cast === undefined ? part.column : castColumn(part.column, cast),
              );
            }
          } else {
            if (part.count === 0) continue;
            if (budget !== undefined) {
              budget.summaryBlocks++;
              await budget.tick(); // a summary is cheap: counted as a series is
            }
            const states = this.#statesAt(grid.index(part.minTimeMs, part.minTimeSubMs));
            for (const i of slots) plan.slots[i].fn.addSummary!(states[i], part);
          }
          added = true;
        }
      }
    }
    if (fit === fields.length) return added;
    const needed = fit === 0 ? fields : fields.filter((_, f) => summarized[f] !== 1);
    const cols = await readColumns(plan, reader, series, needed, budget);
    const condCols = rowFilter
      ? await readColumns(plan, reader, series, plan.conditionFields)
      : new Map<string, FieldColumn>();
    for (let s = 0; s < plan.slots.length; s++) {
      const slot = plan.slots[s];
      if (summarized[setup.fieldOf[s]] === 1) continue;
      let col = cols.get(slot.field);
      if (col === undefined) continue;
      if (slot.cast !== undefined) col = castColumn(col, slot.cast);
      const type = types.get(slot.field) ?? col.type;
      const bad = slot.fn.checkType(type);
      if (bad !== undefined) throw new ValidationError(bad);
      if (rowFilter && plan.condition) {
        col = filterColumn(col, slot.field, condCols, series, plan.condition);
        if (col.length === 0) continue;
      }
      added = true;
      await this.#addRuns(s, col);
    }
    return added;
  }

  /** The current group's states of bucket `idx`, made (and charged) on first use. */
  #statesAt(idx: number): unknown[] {
    const group = this.#group!;
    let states = group.buckets.get(idx);
    if (states === undefined) {
      this.budget?.chargeState(this.#bucketBytes);
      const slots = this.plan.slots;
      states = new Array(slots.length);
      for (let s = 0; s < slots.length; s++) states[s] = slots[s].fn.init(slots[s].params);
      group.buckets.set(idx, states);
    }
    return states;
  }

  async #addRuns(s: number, col: FieldColumn): Promise<void> {
    const { plan, grid, budget } = this;
    const auxCols = this.#auxCols;
    const series = this.#series!;
    const slot = plan.slots[s];
    if (slot.fn.keepsPoints) budget?.chargeState(col.length * KEPT_POINT_BYTES);
    const n = col.length;
    let batchEnd = POINTS_PER_BATCH;
    for (let i = 0; i < n;) {
      if (i >= batchEnd && budget !== undefined) {
        await budget.batch();
        batchEnd = i + POINTS_PER_BATCH;
      }
      const j = grid.runEnd(col.timesMs, col.timesSubMs, i, n);
      const states = this.#statesAt(grid.index(col.timesMs[i], col.timesSubMs[i]));
      if (auxCols === undefined) slot.fn.add(states[s], col, i, j, this.#ctx);
      else if (slot.fn.keepsAux) {
        slot.fn.add(states[s], col, i, j, {
          series,
          aux: (k) => auxValues(plan, auxCols, series, col.timesMs[k], col.timesSubMs[k]),
        });
      } else addWithAux(plan, slot.fn, states[s] as Picked, col, i, j, auxCols, series);
      i = j;
    }
  }

  /**
   * A slot's runs over time-ordered, disjoint columns: a run that reaches a column's end may go
   * on in the next column (same bucket); its pieces are added in one call.
   */
  async #addStitched(s: number, columns: readonly FieldColumn[]): Promise<void> {
    const { plan, grid, budget } = this;
    const ctx = this.#ctx;
    const fn = plan.slots[s].fn;
    if (fn.keepsPoints) {
      for (const c of columns) budget?.chargeState(c.length * KEPT_POINT_BYTES);
    }
    let pending: FieldColumn[] | undefined;
    let pendingIdx = 0;
    const flush = () => {
      if (pending!.length > 1 && fn.addPieces !== undefined) {
        fn.addPieces(this.#statesAt(pendingIdx)[s], pending!, ctx);
        pending = undefined;
        return;
      }
      const col = pending!.length === 1 ? pending![0] : concatRun(pending!);
      fn.add(this.#statesAt(pendingIdx)[s], col, 0, col.length, ctx);
      pending = undefined;
    };
    for (let p = 0; p < columns.length; p++) {
      // Each column is a block (or a head's run): the bucket state lives in `pending`, so
      // letting the event loop run between blocks changes no addition.
      if (p > 0) await budget?.batch();
      const col = columns[p];
      const n = col.length;
      for (let i = 0; i < n;) {
        const j = grid.runEnd(col.timesMs, col.timesSubMs, i, n);
        const idx = grid.index(col.timesMs[i], col.timesSubMs[i]);
        if (pending !== undefined && idx !== pendingIdx) flush();
        if (j === n && p + 1 < columns.length) {
          (pending ??= []).push(runOf(col, i, j));
          pendingIdx = idx;
        } else if (pending !== undefined) {
          pending.push(runOf(col, i, j));
          flush();
        } else fn.add(this.#statesAt(idx)[s], col, i, j, ctx);
        i = j;
      }
    }
    if (pending !== undefined) flush();
  }
}

async function rawSeries(
  plan: SelectPlan,
  reader: ShardReader,
  series: SeriesRef,
  group: GroupPartial,
  rowFilter: boolean,
  budget?: QueryBudget,
): Promise<boolean> {
  const need = rowsPerSeries(plan);
  let rows: RawRow[];
  if (need === Infinity) {
    rows = group.rows;
    const before = rows.length;
    const added = await collectRawRows(plan, reader, series, {
      out: rows,
      rowFilter,
      budget,
      range: plan,
    });
    budget?.charge((rows.length - before) * rawRowBytes(plan));
    return added;
  }
  // LIMIT: the rows at the plan's end only (raw_edge.ts).
  const newest = plan.descending;
  const collect = async (minNs: bigint, maxNs: bigint, count: number) => {
    const out: RawRow[] = [];
    const range = { minNs, maxNs };
    await collectRawRows(plan, reader, series, { out, rowFilter, budget, range, count, newest });
    return out;
  };
  if (reader.readFieldSummaries !== undefined) {
    const summaries = { readFieldSummaries: reader.readFieldSummaries.bind(reader) };
    rows = await edgeRows(plan, summaries, series, selectedFields(plan), need, collect);
  } else rows = await collect(plan.minNs, plan.maxNs, need);
  budget?.charge(rows.length * rawRowBytes(plan));
  for (const r of rows) group.rows.push(r);
  return rows.length > 0;
}

/** What one raw row of `plan` holds, roughly (charged to the query's memory budget). */
export function rawRowBytes(plan: SelectPlan): number {
  return RAW_ROW_BYTES + RAW_CELL_BYTES * plan.columns.length;
}

/** A time range, both ends inclusive, in int64 ns. */
interface TimeWindow {
  minNs: bigint;
  maxNs: bigint;
}

const SELECTED_FIELDS = new WeakMap<SelectPlan, string[]>();

/** The fields the columns of a raw plan read (a row is made where one of them has a point). */
export function selectedFields(plan: SelectPlan): string[] {
  let out = SELECTED_FIELDS.get(plan);
  if (out !== undefined) return out;
  const names = new Set<string>();
  const isField = (name: string, type?: string) =>
    type === "tag" ? false : type === "field" ? true : plan.fieldTypes.has(name);
  for (const c of plan.columns) forEachVar(c.expr, (n, t) => isField(n, t) && names.add(n));
  out = [...names];
  SELECTED_FIELDS.set(plan, out);
  return out;
}

/** What {@linkcode collectRawRows} makes. */
interface RawJob {
  /** Receives the rows, in time order. */
  out: RawRow[];
  /** The condition must be evaluated on each row (it names fields). */
  rowFilter: boolean;
  budget?: QueryBudget;
  range: TimeWindow;
  /** At most this many rows: the newest (`newest`) or the oldest of the range. */
  count?: number;
  newest?: boolean;
}

/**
 * The rows of one series in `range` (both ends inclusive), in time order: a window of a
 * streamed raw SELECT (raw_stream.ts). `rowFilter`: the condition must be evaluated per row.
 */
export async function rawRowsIn(
  plan: SelectPlan,
  reader: FieldSource,
  series: SeriesRef,
  rowFilter: boolean,
  range: TimeWindow,
  budget?: QueryBudget,
): Promise<RawRow[]> {
  const out: RawRow[] = [];
  await collectRawRows(plan, reader, series, { out, rowFilter, budget, range });
  return out;
}

/** Makes the rows of one series in `job.range` into `job.out`, in time order; true when any. */
async function collectRawRows(
  plan: SelectPlan,
  reader: FieldSource,
  series: SeriesRef,
  job: RawJob,
): Promise<boolean> {
  const { out, rowFilter, budget, range } = job;
  // A field condition that no row without its fields can pass (`usage_user > 90`) is evaluated
  // once per instant of the condition's own columns; the other fields are then read only at the
  // instants that passed (sparse columns picked from the decoded blocks, no merged copy).
  let passed: Float64Array | undefined;
  let cols: Map<string, FieldColumn>;
  if (
    rowFilter && plan.condition !== undefined && plan.conditionFields.length > 0 &&
    evalExpr(plan.condition, new RowReader(new Map(), series).get) !== true
  ) {
    cols = await readColumns(plan, reader, series, plan.conditionFields, budget, range);
    passed = passingInstants(plan.condition, cols, series);
    for (const name of plan.rawFields) {
      if (cols.has(name)) continue;
      if (reader.readFieldSummaries === undefined) {
        const col = await reader.readField(series, name, range.minNs, range.maxNs);
        if (col === undefined || col.length === 0) continue;
        budget?.addPoints(col.length);
        cols.set(name, pickInstants([{ kind: "column", column: col }], passed));
        continue;
      }
      const parts = await reader.readFieldSummaries(
        series,
        name,
        range.minNs,
        range.maxNs,
        NO_SUMMARIES,
      );
      let n = 0;
      let summaries = false;
      for (const part of parts) {
        if (part.kind === "column") n += part.column.length;
        else summaries = true;
      }
      if (summaries) {
        // A reader may ignore NO_SUMMARIES: the field is read whole instead.
        const col = await reader.readField(series, name, range.minNs, range.maxNs);
        if (col === undefined || col.length === 0) continue;
        budget?.addPoints(col.length);
        cols.set(name, pickInstants([{ kind: "column", column: col }], passed));
        continue;
      }
      if (n === 0) continue;
      budget?.addPoints(n);
      // Kept even when empty: a field with data but none at these instants reads as null.
      cols.set(name, pickInstants(parts, passed));
    }
  } else cols = await readColumns(plan, reader, series, plan.rawFields, budget, range);
  if (cols.size === 0) return false;
  const condOnly = new Set(plan.conditionFields);
  const selected: FieldColumn[] = [];
  const isField = (name: string, type?: string) =>
    type === "tag" ? false : type === "field" ? true : plan.fieldTypes.has(name);
  for (const c of plan.columns) {
    forEachVar(c.expr, (name, type) => {
      if (isField(name, type)) {
        condOnly.delete(name);
        const col = cols.get(name);
        if (col !== undefined && !selected.includes(col)) selected.push(col);
      }
    });
  }
  if (selected.length === 0) return false;
  // Walk the union of the selected columns' timestamps.
  const pos = new Int32Array(selected.length);
  const rows = new RowReader(cols, series);
  let added = false;
  const simple = plan.columns.map((c) => (c.expr.kind === "var" ? c.expr : undefined));
  const readsField = plan.columns.map((c) => columnReadsField(c.expr, isField));
  // A computed column (sqrt(x), s + 1) makes a row when one of its fields has a point there,
  // even when the result is null (a string argument), as InfluxDB.
  const fieldsOf = plan.columns.map((c) => {
    const names: string[] = [];
    if (c.expr.kind !== "var") forEachVar(c.expr, (n, t) => isField(n, t) && names.push(n));
    return names;
  });
  // One output row at an instant where a selected column has a point (and the condition held).
  const addRow = (row: Lookup, ms: number, sub: number): boolean => {
    const values = new Array<Value>(plan.columns.length);
    let anyField = false;
    for (let c = 0; c < plan.columns.length; c++) {
      const v = simple[c];
      const val = v !== undefined
        ? (v.type === undefined || v.type === "field" || v.type === "tag"
          ? (row(v.name, v.type) ?? null)
          : castValue(row(v.name, v.type) ?? null, v.type))
        : evalExpr(plan.columns[c].expr, row);
      values[c] = val;
      if (val !== null && readsField[c]) anyField = true;
      else if (!anyField) { for (const n of fieldsOf[c]) if (row(n) != null) anyField = true; }
    }
    if (!anyField) return false;
    out.push({ ms, subMs: sub, key: series.key, values });
    return true;
  };
  // LIMIT: from one end, seeking each instant, until enough rows are made.
  if (job.count !== undefined) {
    const start = out.length;
    const newest = job.newest === true;
    let made = 0;
    const instant = new Float64Array(2);
    const cursor = new Int32Array(selected.length);
    if (newest) { for (let k = 0; k < selected.length; k++) cursor[k] = selected[k].length; }
    const nPassed = passed === undefined ? 0 : passed.length >> 1;
    for (let k = 0; made < job.count; k++) {
      let ms: number, sub: number;
      if (passed !== undefined) {
        if (k >= nPassed) break;
        const p = newest ? nPassed - 1 - k : k;
        ms = passed[2 * p];
        sub = passed[2 * p + 1];
        if (!presentAt(selected, ms, sub)) continue;
      } else {
        const more = newest
          ? previousInstant(selected, cursor, instant)
          : nextInstant(selected, cursor, instant);
        if (!more) break;
        ms = instant[0];
        sub = instant[1];
      }
      const row = rows.seek(ms, sub);
      if (passed === undefined && rowFilter && plan.condition) {
        if (evalExpr(plan.condition, row) !== true) continue;
      }
      if (addRow(row, ms, sub)) made++;
    }
    if (newest) {
      for (let a = start, b = out.length - 1; a < b; a++, b--) [out[a], out[b]] = [out[b], out[a]];
    }
    return made > 0;
  }
  // Only the instants where the condition passed are visited (see above).
  if (passed !== undefined) {
    const n = passed.length >> 1;
    for (let p = 0; p < n; p++) {
      if ((p & BATCH_MASK) === BATCH_MASK) await budget?.batch();
      const ms = passed[2 * p], sub = passed[2 * p + 1];
      let present = false;
      for (let k = 0; k < selected.length; k++) {
        const c = selected[k];
        let i = pos[k];
        const tm = c.timesMs;
        while (i < c.length && (tm[i] < ms || (tm[i] === ms && c.timesSubMs[i] < sub))) i++;
        if (i < c.length && tm[i] === ms && c.timesSubMs[i] === sub) {
          present = true;
          i++;
        }
        pos[k] = i;
      }
      if (!present) continue;
      if (addRow(rows.at(ms, sub), ms, sub)) added = true;
    }
    return added;
  }
  const instant = new Float64Array(2);
  for (let k = 0; nextInstant(selected, pos, instant); k++) {
    if ((k & BATCH_MASK) === BATCH_MASK) await budget?.batch();
    const ms = instant[0], sub = instant[1];
    const row = rows.at(ms, sub);
    if (rowFilter && plan.condition && evalExpr(plan.condition, row) !== true) continue;
    if (addRow(row, ms, sub)) added = true;
  }
  return added;
}

/** The index of the first point of `col` at or after (ms, subMs). */
function lowerBound(col: FieldColumn, ms: number, subMs: number): number {
  let lo = 0, hi = col.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const t = col.timesMs[mid];
    if (t < ms || (t === ms && col.timesSubMs[mid] < subMs)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** True when one of the columns has a point at (ms, subMs). */
function presentAt(columns: readonly FieldColumn[], ms: number, subMs: number): boolean {
  for (const c of columns) {
    const i = lowerBound(c, ms, subMs);
    if (i < c.length && c.timesMs[i] === ms && c.timesSubMs[i] === subMs) return true;
  }
  return false;
}

/**
 * The points of time-ordered parts at `instants` ((ms, subMs) pairs in time order): a column
 * holding exactly the points a row reader would find at those instants.
 */
function pickInstants(parts: readonly FieldPart[], instants: Float64Array): FieldColumn {
  const n = instants.length >> 1;
  const timesMs = new Float64Array(n);
  const timesSubMs = new Float64Array(n);
  let type: FieldColumn["type"] | undefined;
  let floats: Float64Array | undefined;
  let others: FieldColumn["values"][number][] | undefined;
  let out = 0;
  let p = 0;
  for (const part of parts) {
    if (part.kind !== "column" || part.column.length === 0) continue;
    const c = part.column;
    if (type === undefined) {
      type = c.type;
      if (c.values instanceof Float64Array) floats = new Float64Array(n);
      else others = [];
    }
    const tm = c.timesMs, ts = c.timesSubMs;
    let lo = 0;
    for (; p < n; p++) {
      const ms = instants[2 * p], sub = instants[2 * p + 1];
      const lastMs = tm[c.length - 1], lastSub = ts[c.length - 1];
      if (ms > lastMs || (ms === lastMs && sub > lastSub)) break;
      // First point at or after the instant (binary search from the previous one).
      let hi = c.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (tm[mid] < ms || (tm[mid] === ms && ts[mid] < sub)) lo = mid + 1;
        else hi = mid;
      }
      if (lo < c.length && tm[lo] === ms && ts[lo] === sub) {
        timesMs[out] = ms;
        timesSubMs[out] = sub;
        if (floats !== undefined) floats[out] = (c.values as Float64Array)[lo];
        else others!.push(c.values[lo]);
        out++;
      }
    }
  }
  return {
    type: type ?? FieldType.Float,
    length: out,
    timesMs: timesMs.subarray(0, out),
    timesSubMs: timesSubMs.subarray(0, out),
    values: floats !== undefined ? floats.subarray(0, out) : (others ?? []),
  } as FieldColumn;
}

/**
 * One step of a k-way merge over the instants of time-ordered columns: writes the earliest
 * instant not yet passed into `out` as (ms, subMs), moves past it every column that has it, and
 * returns false when all are done.
 */
function nextInstant(
  columns: readonly FieldColumn[],
  pos: Int32Array,
  out: Float64Array,
): boolean {
  let ms = Infinity, sub = Infinity;
  for (let k = 0; k < columns.length; k++) {
    const c = columns[k];
    const i = pos[k];
    if (i < c.length) {
      const t = c.timesMs[i];
      if (t < ms || (t === ms && c.timesSubMs[i] < sub)) {
        ms = t;
        sub = c.timesSubMs[i];
      }
    }
  }
  if (ms === Infinity) return false;
  for (let k = 0; k < columns.length; k++) {
    const c = columns[k];
    const i = pos[k];
    if (i < c.length && c.timesMs[i] === ms && c.timesSubMs[i] === sub) pos[k] = i + 1;
  }
  out[0] = ms;
  out[1] = sub;
  return true;
}

/**
 * {@linkcode nextInstant} backwards: `end` holds each column's end (exclusive), moved down past
 * the latest instant not yet passed, which is written into `out`; false when all are done.
 */
function previousInstant(
  columns: readonly FieldColumn[],
  end: Int32Array,
  out: Float64Array,
): boolean {
  let ms = -Infinity, sub = -Infinity;
  for (let k = 0; k < columns.length; k++) {
    const c = columns[k];
    const i = end[k] - 1;
    if (i >= 0) {
      const t = c.timesMs[i];
      if (t > ms || (t === ms && c.timesSubMs[i] > sub)) {
        ms = t;
        sub = c.timesSubMs[i];
      }
    }
  }
  if (ms === -Infinity) return false;
  for (let k = 0; k < columns.length; k++) {
    const c = columns[k];
    const i = end[k] - 1;
    if (i >= 0 && c.timesMs[i] === ms && c.timesSubMs[i] === sub) end[k] = i;
  }
  out[0] = ms;
  out[1] = sub;
  return true;
}

/**
 * The instants, as (ms, subMs) pairs in time order, at which `condition` holds, evaluated at
 * each instant of the condition's columns `condCols` (the caller checked that it cannot hold
 * where none of them has a point).
 */
function passingInstants(
  condition: Expr,
  condCols: Map<string, FieldColumn>,
  series: SeriesRef,
): Float64Array {
  if (condCols.size === 0) return new Float64Array(0);
  const list = [...condCols.values()];
  const reader = new RowReader(condCols, series);
  let out = new Float64Array(64);
  let n = 0;
  const keep = (ms: number, sub: number, row: Lookup) => {
    if (evalExpr(condition, row) !== true) return;
    if (n + 2 > out.length) {
      const grown = new Float64Array(out.length * 2);
      grown.set(out);
      out = grown;
    }
    out[n++] = ms;
    out[n++] = sub;
  };
  if (list.length === 1) {
    const c = list[0];
    for (let i = 0; i < c.length; i++) {
      keep(c.timesMs[i], c.timesSubMs[i], reader.at(c.timesMs[i], c.timesSubMs[i]));
    }
    return out.subarray(0, n);
  }
  const pos = new Int32Array(list.length);
  const instant = new Float64Array(2);
  while (nextInstant(list, pos, instant)) {
    keep(instant[0], instant[1], reader.at(instant[0], instant[1]));
  }
  return out.subarray(0, n);
}

/** A selector's state as selectors.ts keeps it, plus the auxiliary values of its point. */
interface Picked {
  has: boolean;
  value: Value;
  ms: number;
  subMs: number;
  aux?: Value[];
}

function addWithAux(
  plan: SelectPlan,
  fn: SelectPlan["slots"][number]["fn"],
  state: Picked,
  col: FieldColumn,
  from: number,
  to: number,
  auxCols: Map<string, FieldColumn>,
  series: SeriesRef,
): void {
  const before = state.has ? [state.ms, state.subMs, state.value] : undefined;
  fn.add(state, col, from, to);
  if (
    before !== undefined && before[0] === state.ms && before[1] === state.subMs &&
    before[2] === state.value
  ) return;
  const row = lookupAt(auxCols, new Map(), series, state.ms, state.subMs);
  state.aux = plan.aux.map((a) => row(a.name, a.type) ?? null);
}

/** A numeric column converted for `f::integer` / `f::float` (other types read as empty). */
/** Points [from, to) of a column (views, no copy). */
function runOf(col: FieldColumn, from: number, to: number): FieldColumn {
  if (from === 0 && to === col.length) return col;
  return {
    type: col.type,
    length: to - from,
    timesMs: col.timesMs.subarray(from, to),
    timesSubMs: col.timesSubMs.subarray(from, to),
    values: col.values instanceof Float64Array
      ? col.values.subarray(from, to)
      : col.values.slice(from, to),
  };
}

/** One column of consecutive runs (the pieces of one bucket's run, in time order). */
/** One column of the pieces' points, in their order (a copy). */
export function concatRun(pieces: readonly FieldColumn[]): FieldColumn {
  let n = 0;
  for (const p of pieces) n += p.length;
  const timesMs = new Float64Array(n);
  const timesSubMs = new Float64Array(n);
  const floats = pieces[0].values instanceof Float64Array ? new Float64Array(n) : undefined;
  const others: FieldColumn["values"][number][] = [];
  let at = 0;
  for (const p of pieces) {
    timesMs.set(p.timesMs, at);
    timesSubMs.set(p.timesSubMs, at);
    if (floats !== undefined) floats.set(p.values as Float64Array, at);
    else for (let k = 0; k < p.length; k++) others.push(p.values[k]);
    at += p.length;
  }
  return {
    type: pieces[0].type,
    length: n,
    timesMs,
    timesSubMs,
    values: floats ?? others,
  } as FieldColumn;
}

function castColumn(col: FieldColumn, cast: "integer" | "float"): FieldColumn {
  const numeric = col.type === FieldType.Float || col.type === FieldType.Integer ||
    col.type === FieldType.Unsigned;
  if (!numeric) return { ...col, length: 0 };
  if (cast === "float") {
    if (col.values instanceof Float64Array) return col;
    return {
      ...col,
      type: FieldType.Float,
      values: Float64Array.from(col.values as (number | bigint)[], (v) => Number(v)),
    };
  }
  if (col.type !== FieldType.Float) return col;
  const values: number[] = new Array(col.length);
  for (let i = 0; i < col.length; i++) values[i] = Math.trunc(col.values[i] as number);
  return { ...col, type: FieldType.Integer, values };
}

/** The auxiliary values at one instant (binary search in each column). */
function auxValues(
  plan: SelectPlan,
  cols: Map<string, FieldColumn>,
  series: SeriesRef,
  ms: number,
  subMs: number,
): Value[] {
  return plan.aux.map((a) => {
    if (a.type !== "tag") {
      const col = cols.get(a.name);
      if (col !== undefined) {
        let lo = 0, hi = col.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          const t = col.timesMs[mid];
          if (t < ms || (t === ms && col.timesSubMs[mid] < subMs)) lo = mid + 1;
          else hi = mid;
        }
        if (lo < col.length && col.timesMs[lo] === ms && col.timesSubMs[lo] === subMs) {
          return col.values[lo] as Value;
        }
        if (a.type === "field" || plan.fieldTypes.has(a.name)) return null;
      }
      if (a.type === "field") return null;
    }
    for (const t of series.tags) if (t.key === a.name) return t.value;
    return null;
  });
}

function forEachVar(e: Expr, fn: (name: string, type?: string) => void): void {
  walkExpr(e, (x) => {
    if (x.kind === "var") fn(x.name, x.type);
  });
}

function columnReadsField(e: Expr, isField: (n: string, t?: string) => boolean): boolean {
  let reads = false;
  forEachVar(e, (n, t) => {
    if (isField(n, t)) reads = true;
  });
  return reads;
}
