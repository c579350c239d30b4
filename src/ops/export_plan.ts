/**
 * Cutting an export into windows: one measurement over a time range holding at most a given
 * number of values, so that exporting any amount of data holds one window at a time. The sizes
 * come from `count(*)` over a grid of time buckets (answered from block statistics where whole
 * blocks fall inside a bucket); a bucket over the budget is counted again on a finer grid.
 * Everything goes through the query engine, so it works on one node and across a cluster alike.
 * @module
 */
import { type FieldType, MAX_TIME_NS, MIN_TIME_NS, ValidationError } from "../core/mod.ts";
import {
  executeQuery,
  isInstant,
  type QueryStore,
  quoteIdent,
  type ShardReader,
  type StatementResult,
} from "../query/mod.ts";

/** One window of an export: a measurement's values in [startNs, endNs). */
export interface ExportWindow {
  measurement: string;
  startNs: bigint;
  /** Exclusive. */
  endNs: bigint;
  /** Values (one per field of a point) the window held when it was planned. */
  values: number;
}

/** What an export covers. */
export interface ExportScope {
  database: string;
  /** The retention policy; the database's default when absent. */
  retentionPolicy?: string;
  /** Inclusive; the earliest time when absent. */
  startNs?: bigint;
  /** Exclusive; beyond the latest time when absent. */
  endNs?: bigint;
  /** Only these measurements (all when absent). */
  measurements?: readonly string[];
}

/** The plan of an export: its windows in measurement then time order, and every field's type. */
export interface ExportPlan {
  database: string;
  retentionPolicy: string;
  startNs: bigint;
  endNs: bigint;
  windows: ExportWindow[];
  /** The sum of the windows' values. */
  values: number;
  /** measurement -> field -> type. */
  fieldTypes: Map<string, Map<string, FieldType>>;
  /** measurement -> its tag keys, sorted. */
  tagKeys: Map<string, string[]>;
}

/** Buckets per grid: the count query of a range answers at most this many rows. */
const GRID = 1024n;
const MS_NS = 1_000_000n;
/** A window never spans fewer nanoseconds than this unless the budget forces it. */
const MIN_STEP_NS = 1n;
/** Values per window by default: ~50 MB of decoded rows at worst. */
export const DEFAULT_WINDOW_VALUES = 500_000;

/** Options of {@linkcode planExport}. */
export interface PlanOptions {
  /** Most values per window. @default {DEFAULT_WINDOW_VALUES} */
  windowValues?: number;
  /** now() of the count queries (nothing here depends on it). */
  nowNs: bigint;
  signal?: AbortSignal;
}

/**
 * Plans an export.
 * @throws {NotFoundError} for an unknown database or retention policy.
 */
export async function planExport(
  store: QueryStore,
  scope: ExportScope,
  options: PlanOptions,
): Promise<ExportPlan> {
  const budget = options.windowValues ?? DEFAULT_WINDOW_VALUES;
  if (!Number.isInteger(budget) || budget < 1) {
    throw new ValidationError(`window values must be a positive integer, got ${budget}`);
  }
  const rp = scope.retentionPolicy || store.defaultRetentionPolicy(scope.database);
  if (!store.retentionPolicies(scope.database).some((p) => p.name === rp)) {
    throw new ValidationError(`retention policy not found: ${rp}`, { httpStatus: 404 });
  }
  const startNs = scope.startNs ?? MIN_TIME_NS;
  const endNs = scope.endNs ?? MAX_TIME_NS + 1n;
  if (endNs <= startNs) {
    throw new ValidationError(`the export's end (${endNs}) must come after its start (${startNs})`);
  }
  const readers = await shardsOf(store, scope.database, rp, startNs, endNs - 1n);
  const fieldTypes = new Map<string, Map<string, FieldType>>();
  const tagKeys = new Map<string, Set<string>>();
  for (const reader of readers) {
    for (const m of reader.measurements()) {
      if (scope.measurements && !scope.measurements.includes(m)) continue;
      let types = fieldTypes.get(m);
      if (!types) fieldTypes.set(m, types = new Map());
      for (const [field, type] of reader.fieldTypes(m)) {
        if (!types.has(field)) types.set(field, type);
      }
      let keys = tagKeys.get(m);
      if (!keys) tagKeys.set(m, keys = new Set());
      if (reader.tagKeys) { for (const k of reader.tagKeys(m)) keys.add(k); }
      else for (const s of reader.series(m)) for (const t of s.tags) keys.add(t.key);
    }
  }
  const windows: ExportWindow[] = [];
  const counter = new Counter(store, scope.database, rp, options);
  for (const measurement of [...fieldTypes.keys()].sort()) {
    windows.push(...await counter.windows(measurement, startNs, endNs, budget));
  }
  return {
    database: scope.database,
    retentionPolicy: rp,
    startNs,
    endNs,
    windows,
    values: windows.reduce((n, w) => n + w.values, 0),
    fieldTypes,
    tagKeys: new Map([...tagKeys].map(([m, keys]) => [m, [...keys].sort()])),
  };
}

/** The shard readers of a range (fetched from other nodes where the store needs to). */
export function shardsOf(
  store: QueryStore,
  database: string,
  rp: string,
  minNs: bigint,
  maxNs: bigint,
): Promise<ShardReader[]> {
  return store.shardsAsync !== undefined
    ? store.shardsAsync(database, rp, minNs, maxNs)
    : Promise.resolve(store.shards(database, rp, minNs, maxNs));
}

/** Counts values per time bucket and cuts ranges into windows within a budget. */
class Counter {
  constructor(
    readonly store: QueryStore,
    readonly database: string,
    readonly rp: string,
    readonly options: PlanOptions,
  ) {}

  /** Windows of `measurement` over [start, end), each within `budget` values when it can be. */
  async windows(
    measurement: string,
    start: bigint,
    end: bigint,
    budget: number,
  ): Promise<ExportWindow[]> {
    const out: ExportWindow[] = [];
    let open: ExportWindow | undefined;
    for (const bucket of await this.#buckets(measurement, start, end)) {
      if (bucket.values > budget && bucket.endNs - bucket.startNs > MIN_STEP_NS) {
        if (open) out.push(open);
        open = undefined;
        out.push(...await this.windows(measurement, bucket.startNs, bucket.endNs, budget));
        continue;
      }
      // Adjacent buckets join while the sum stays within the budget; the gaps between buckets
      // hold nothing, so a window may span them.
      if (open && open.values + bucket.values <= budget) {
        open.endNs = bucket.endNs;
        open.values += bucket.values;
        continue;
      }
      if (open) out.push(open);
      open = { ...bucket };
    }
    if (open) out.push(open);
    // The windows tile the range (each starts where the previous ends, the first at the start,
    // the last at the end): a point written into a gap after the count is exported too.
    for (let i = 0; i < out.length; i++) out[i].startNs = i === 0 ? start : out[i - 1].endNs;
    if (out.length > 0) out[out.length - 1].endNs = end;
    return out;
  }

  /** Non-empty buckets of a grid over [start, end), clipped to it, with their value counts. */
  async #buckets(measurement: string, start: bigint, end: bigint): Promise<ExportWindow[]> {
    const span = end - start;
    let step = (span + GRID - 1n) / GRID;
    // Whole milliseconds when a step is that long (the executor keeps bucket bounds in ms).
    if (step > MS_NS) step = ((step + MS_NS - 1n) / MS_NS) * MS_NS;
    if (step < MIN_STEP_NS) step = MIN_STEP_NS;
    const source = `${quoteIdent(this.database)}.${quoteIdent(this.rp)}.${quoteIdent(measurement)}`;
    const q = `SELECT count(*) FROM ${source} WHERE time >= ${start} AND time < ${end} ` +
      `GROUP BY time(${step}ns) fill(none)`;
    const result = await this.#run(q);
    const out: ExportWindow[] = [];
    for (const series of result.series ?? []) {
      for (const row of series.values) {
        const t = row[0];
        if (!isInstant(t)) continue;
        let values = 0;
        for (let c = 1; c < row.length; c++) {
          const v = row[c];
          if (typeof v === "number") values += v;
          else if (typeof v === "bigint") values += Number(v);
        }
        if (values === 0) continue;
        const bucketStart = BigInt(t.ms) * 1_000_000n + BigInt(t.subMs);
        out.push({
          measurement,
          startNs: maxBig(bucketStart, start),
          endNs: minBig(bucketStart + step, end),
          values,
        });
      }
    }
    return out.sort((a, b) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0));
  }

  async #run(q: string): Promise<StatementResult> {
    const [result] = await executeQuery(this.store, q, {
      database: this.database,
      nowNs: this.options.nowNs,
      signal: this.options.signal,
    });
    if (result.error) throw new ValidationError(`export plan: ${result.error} (${q})`);
    return result;
  }
}

function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

function maxBig(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
