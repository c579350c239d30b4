/**
 * A raw SELECT streamed to the encoder: rows are made window by window per series and merged
 * into the answer's order as they are encoded, so a query holds about
 * {@linkcode BYTES_IN_FLIGHT} of rows at a time instead of its whole answer (TSBS's
 * high-cpu-all answers half a million rows).
 *
 * The order is the materialized path's exactly (coordinator.ts mergeShards and finish): groups
 * sorted (reversed under ORDER BY time DESC), then shard after shard, and within a shard the
 * group's series heap-merged as influxd merges them. The merge takes the same heap steps over
 * the same rows ({@linkcode GoHeapMerger}); the windows (raw_windows.ts) only decide how many of
 * a series' rows are held at once.
 *
 * Plans that need all rows before the first is known (LIMIT/OFFSET, SLIMIT, transformations,
 * aggregates) or whose shards answer a partial elsewhere (a cluster's remote partitions, a
 * subquery's result) are not streamed.
 *
 * @module
 */
import type { FieldColumn, FieldPart } from "../core/column.ts";
import { evalTagCondition } from "./eval.ts";
import { tagFilterOf } from "./condition.ts";
import { compareGroups, rawRowLess } from "./coordinator.ts";
import { type BatchedInput, GoHeapMerger } from "./go_heap_merge.ts";
import type { QueryBudget } from "./limits.ts";
import type { SelectPlan } from "./plan.ts";
import { rowsPerSeries } from "./raw_edge.ts";
import { firstAtOrAfter, SeriesWindows } from "./raw_windows.ts";
import type { ResultSeries, SeriesPiece, SeriesStream } from "./result.ts";
import {
  concatRun,
  type FieldSource,
  groupKeyOf,
  groupTags,
  inKeyOrder,
  type RawRow,
  rawRowBytes,
  rawRowsIn,
  selectedFields,
  type ShardTarget,
  tagValue,
} from "./shard_exec.ts";
import type { SeriesRef, ShardReader } from "./store.ts";
import { ResultShard } from "./subquery.ts";

/**
 * What a group's series hold at once in one shard, about (their windows share it, as charged
 * to the memory budget, which counts a row about twice what V8 takes): this, or a quarter of
 * the query's budget when that is smaller. Smaller windows cost CPU: each is a read and a
 * row-making pass per series (64 MiB: TSBS's high-cpu-all costs what it cost held whole).
 */
const BYTES_IN_FLIGHT = 64 * 1024 * 1024;
/** The fewest points a series' window is made for (fewer windows for many series). */
const MIN_WINDOW_POINTS = 64;
/** Rows per piece handed to the encoder. */
const PIECE_ROWS = 4096;
/** Every whole block as its statistics: windows need only counts and time bounds. */
const EVERY_BLOCK = { summarize: () => true };
/** Every block decoded (as views, never concatenated). */
const NO_SUMMARIES = { summarize: () => false };

/** True when the plan's raw rows can be streamed over these shards (see the module doc). */
export function streamable(plan: SelectPlan, targets: readonly ShardTarget[]): boolean {
  if (plan.aggregate || rowsPerSeries(plan) !== Infinity) return false;
  if (plan.limit > 0 || plan.offset > 0 || plan.slimit > 0 || plan.soffset > 0) return false;
  if (plan.columns.some((c) => c.transform !== undefined) || plan.outputRange) return false;
  // A reader that runs plans itself (remote partitions) or a subquery's result (its own row
  // order) answers partials: the materialized path merges those.
  return targets.every((t) => t.reader.runPlan === undefined && !(t.reader instanceof ResultShard));
}

/** The series of one output group, per shard (target index), in key order. */
interface StreamGroup {
  measurement: string;
  tags: Record<string, string>;
  shards: Map<number, { series: SeriesRef; rowFilter: boolean }[]>;
}

/**
 * Lists the series of the plan's groups and answers a stream of their rows; undefined when no
 * row is made at all (the statement answers no series). The first piece is made here, so a
 * statement that fails at once (a limit) fails as a materialized one does.
 * @throws {EpochError} a limit (series, points, memory) or a kill before the first piece.
 */
export async function openRawStream(
  plan: SelectPlan,
  targets: readonly ShardTarget[],
  budget: QueryBudget,
  onEnd: (error?: unknown) => void,
): Promise<SeriesStream | undefined> {
  const stream = new RawStream(plan, targets, listGroups(plan, targets, budget), budget, onEnd);
  try {
    if (await stream.start()) return stream;
  } catch (e) {
    stream.close();
    throw e;
  }
  stream.close();
  return undefined;
}

function listGroups(
  plan: SelectPlan,
  targets: readonly ShardTarget[],
  budget: QueryBudget,
): StreamGroup[] {
  const isField = (name: string, type?: string) =>
    type === "tag" ? false : type === "field" ? true : plan.fieldTypes.has(name);
  const groups = new Map<string, StreamGroup>();
  targets.forEach((target, t) => {
    const filter = plan.condition !== undefined && target.reader.seriesWhere !== undefined
      ? tagFilterOf(plan.condition, isField)
      : undefined;
    for (const m of target.measurements) {
      const list = inKeyOrder(
        filter !== undefined ? target.reader.seriesWhere!(m, filter) : target.reader.series(m),
      );
      for (const series of list) {
        let rowFilter = false;
        if (plan.condition) {
          const tri = evalTagCondition(plan.condition, (k) => tagValue(series.tags, k), isField);
          if (tri === false) continue;
          rowFilter = tri === undefined;
        }
        const tags = groupTags(plan, series);
        const key = groupKeyOf(m, tags);
        let group = groups.get(key);
        if (group === undefined) {
          groups.set(key, group = { measurement: m, tags, shards: new Map() });
        }
        let inShard = group.shards.get(t);
        if (inShard === undefined) group.shards.set(t, inShard = []);
        inShard.push({ series, rowFilter });
        budget.addSeries();
      }
    }
  });
  const sorted = [...groups.values()].sort(compareGroups);
  if (plan.descending) sorted.reverse();
  return sorted;
}

/**
 * One series' rows, a window at a time, in the query's time order. Its fields are read over an
 * outer window of whole blocks (each block decoded once), held as columns, and made into rows
 * an inner window of about `want` points at a time.
 */
class SeriesCursor implements BatchedInput<RawRow> {
  items: RawRow[] = [];
  #outer: SeriesWindows | undefined;
  #inner: SeriesWindows | undefined;
  #held: WindowColumns | undefined;
  #charged = 0;

  constructor(
    readonly plan: SelectPlan,
    readonly reader: ShardReader,
    readonly series: SeriesRef,
    readonly rowFilter: boolean,
    readonly budget: QueryBudget,
    readonly want: number,
  ) {}

  async refill(): Promise<boolean> {
    this.release();
    const plan = this.plan;
    this.#outer ??= new SeriesWindows(
      await this.#parts(),
      plan.minNs,
      plan.maxNs,
      this.want,
      plan.descending,
    );
    for (;;) {
      const window = this.#inner?.next();
      if (window === undefined) {
        const outer = this.#outer.next();
        if (outer === undefined) {
          this.#held = this.#inner = undefined;
          return false;
        }
        this.#held = new WindowColumns(this.reader, this.series, outer);
        const parts = await this.#held.parts(selectedFields(plan));
        this.#inner = new SeriesWindows(
          parts,
          outer.minNs,
          outer.maxNs,
          this.want,
          plan.descending,
          true,
        );
        continue;
      }
      await this.budget.tick();
      const rows = await rawRowsIn(
        plan,
        this.#held!,
        this.series,
        this.rowFilter,
        window,
        this.budget,
      );
      if (rows.length === 0) continue;
      if (plan.descending) rows.reverse();
      this.#charged = rows.length * rawRowBytes(plan);
      this.budget.charge(this.#charged);
      this.items = rows;
      return true;
    }
  }

  /** Drops the rows held (they were all handed on). */
  release(): void {
    this.items = [];
    this.budget.release(this.#charged);
    this.#charged = 0;
  }

  /** Where the selected fields' points lie; none (one window) for a reader without statistics. */
  async #parts(): Promise<FieldPart[][]> {
    const reader = this.reader;
    if (reader.readFieldSummaries === undefined) return [];
    const out: FieldPart[][] = [];
    for (const f of selectedFields(this.plan)) {
      out.push(
        await reader.readFieldSummaries(
          this.series,
          f,
          this.plan.minNs,
          this.plan.maxNs,
          EVERY_BLOCK,
        ),
      );
    }
    return out;
  }
}

/**
 * A series' fields over one window, each read once as views of its decoded blocks; reads
 * inside the window are slices of them (a field read whole is concatenated, as the shard
 * would).
 */
class WindowColumns implements FieldSource {
  readonly #parts = new Map<string, FieldColumn[]>();

  constructor(
    readonly reader: ShardReader,
    readonly series: SeriesRef,
    readonly window: { minNs: bigint; maxNs: bigint },
  ) {}

  /** The fields' columns as parts (for cutting the window finer). */
  async parts(fields: readonly string[]): Promise<FieldPart[][]> {
    const out: FieldPart[][] = [];
    for (const f of fields) {
      out.push((await this.#columns(f)).map((column) => ({ kind: "column", column })));
    }
    return out;
  }

  async readField(
    series: SeriesRef,
    field: string,
    minNs: bigint,
    maxNs: bigint,
  ): Promise<FieldColumn | undefined> {
    const pieces = await this.#slices(series, field, minNs, maxNs);
    if (pieces.length === 0) return undefined;
    return pieces.length === 1 ? pieces[0] : concatRun(pieces);
  }

  /** The field's points in the range as decoded columns (never statistics). */
  async readFieldSummaries(
    series: SeriesRef,
    field: string,
    minNs: bigint,
    maxNs: bigint,
  ): Promise<FieldPart[]> {
    return (await this.#slices(series, field, minNs, maxNs)).map((column) => ({
      kind: "column",
      column,
    }));
  }

  async #slices(
    series: SeriesRef,
    field: string,
    minNs: bigint,
    maxNs: bigint,
  ): Promise<FieldColumn[]> {
    if (series !== this.series || minNs < this.window.minNs || maxNs > this.window.maxNs) {
      throw new Error(`BUG: a read outside the window held for ${this.series.key}`);
    }
    const out: FieldColumn[] = [];
    for (const c of await this.#columns(field)) {
      const piece = sliceColumn(c, minNs, maxNs);
      if (piece.length > 0) out.push(piece);
    }
    return out;
  }

  async #columns(field: string): Promise<FieldColumn[]> {
    let parts = this.#parts.get(field);
    if (parts !== undefined) return parts;
    const { minNs, maxNs } = this.window;
    const reader = this.reader;
    const listed = reader.readFieldSummaries === undefined
      ? undefined
      : await reader.readFieldSummaries(this.series, field, minNs, maxNs, NO_SUMMARIES);
    if (listed !== undefined && listed.every((p) => p.kind === "column")) {
      parts = listed.map((p) => (p as { column: FieldColumn }).column).filter((c) => c.length > 0);
    } else {
      // A reader without parts, or one that summarised blocks anyway: the field read whole.
      const column = await reader.readField(this.series, field, minNs, maxNs);
      parts = column === undefined || column.length === 0 ? [] : [column];
    }
    this.#parts.set(field, parts);
    return parts;
  }
}

/** The points of a time-ordered column in [minNs, maxNs], as views where it can. */
function sliceColumn(c: FieldColumn, minNs: bigint, maxNs: bigint): FieldColumn {
  const from = firstAtOrAfter(c, minNs);
  const to = firstAtOrAfter(c, maxNs + 1n);
  if (from === 0 && to === c.length) return c;
  return {
    type: c.type,
    length: to - from,
    timesMs: c.timesMs.subarray(from, to),
    timesSubMs: c.timesSubMs.subarray(from, to),
    values: Array.isArray(c.values) ? c.values.slice(from, to) : c.values.subarray(from, to),
  };
}

class RawStream implements SeriesStream {
  readonly #plan: SelectPlan;
  readonly #targets: readonly ShardTarget[];
  #groups: StreamGroup[];
  readonly #budget: QueryBudget;
  readonly #onEnd: (error?: unknown) => void;
  readonly #less: (a: RawRow, b: RawRow) => boolean;
  readonly #columns: string[];
  readonly #rowsInFlight: number;
  /** The group being read, and the next of its shards (an index into the shard order). */
  #g = 0;
  #s = 0;
  #shardOrder: number[];
  #merger: GoHeapMerger<RawRow> | undefined;
  #cursors: SeriesCursor[] = [];
  /** A piece of the current group was handed out (the next continues its series). */
  #started = false;
  #pending: SeriesPiece | undefined;
  #ended = false;
  /** Releases the holds on the targets' files. */
  readonly #releases: (() => void)[];
  /** What ended the stream midway (a limit, a kill, the deadline), told to `onEnd`. */
  #error: unknown;
  /** A kill or the deadline, met while nobody asked for the next piece. */
  #aborted: unknown;
  /** Ends the stream when the query is killed or times out, even if the client reads no more. */
  readonly #onAbort = () => {
    try {
      this.#budget.checkSignal();
    } catch (e) {
      this.#aborted = e;
      this.#error ??= e;
    }
    this.close();
  };

  constructor(
    plan: SelectPlan,
    targets: readonly ShardTarget[],
    groups: StreamGroup[],
    budget: QueryBudget,
    onEnd: (error?: unknown) => void,
  ) {
    this.#plan = plan;
    this.#targets = targets;
    this.#groups = groups;
    this.#budget = budget;
    this.#onEnd = onEnd;
    this.#less = rawRowLess(plan);
    this.#columns = ["time", ...plan.columns.map((c) => c.name)];
    const budgetBytes = budget.memory.maxBytes > 0 ? budget.memory.maxBytes / 4 : Infinity;
    this.#rowsInFlight = Math.min(BYTES_IN_FLIGHT, budgetBytes) / rawRowBytes(plan);
    this.#shardOrder = targets.map((_, i) => i);
    if (plan.descending) this.#shardOrder.reverse();
    // A slow client may read for longer than a compaction's retired files stay open.
    this.#releases = targets.flatMap((t) => t.reader.hold !== undefined ? [t.reader.hold()] : []);
    // A client that stops reading would otherwise keep the holds (and retired files) forever.
    budget.signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** Makes the first piece; false when there is none. */
  async start(): Promise<boolean> {
    this.#pending = await this.#read();
    return this.#pending !== undefined;
  }

  async next(): Promise<SeriesPiece | undefined> {
    if (this.#aborted !== undefined) throw this.#aborted; // never a cut answer read as whole
    if (this.#pending !== undefined) {
      const p = this.#pending;
      this.#pending = undefined;
      return p;
    }
    let piece: SeriesPiece | undefined;
    try {
      piece = await this.#read();
    } catch (e) {
      this.#error ??= e;
      throw e;
    }
    if (piece === undefined) this.close();
    return piece;
  }

  close(): void {
    this.#budget.signal?.removeEventListener("abort", this.#onAbort);
    for (const release of this.#releases.splice(0)) release();
    for (const c of this.#cursors) c.release();
    this.#cursors = [];
    this.#merger = undefined;
    this.#groups = [];
    this.#pending = undefined;
    if (!this.#ended) {
      this.#ended = true;
      this.#onEnd(this.#error);
    }
  }

  async #read(): Promise<SeriesPiece | undefined> {
    while (this.#g < this.#groups.length) {
      const group = this.#groups[this.#g];
      const rows: RawRow[] = [];
      while (rows.length < PIECE_ROWS) {
        if (this.#merger === undefined && !(await this.#openShard(group))) break;
        await this.#merger!.take(rows, PIECE_ROWS - rows.length);
        if (this.#merger!.done) this.#merger = undefined;
      }
      const continues = this.#started;
      if (rows.length === PIECE_ROWS) {
        this.#started = true;
        return this.#piece(group, rows, continues);
      }
      this.#g++;
      this.#s = 0;
      this.#started = false;
      if (rows.length > 0) return this.#piece(group, rows, continues);
    }
    return undefined;
  }

  /** Opens the group's next shard that holds series of it; false when none is left. */
  async #openShard(group: StreamGroup): Promise<boolean> {
    while (this.#s < this.#shardOrder.length) {
      const t = this.#shardOrder[this.#s++];
      const list = group.shards.get(t);
      if (list === undefined) continue;
      // Series in key order, reversed under ORDER BY time DESC (as influxd reverses them).
      const ordered = this.#plan.descending ? list.slice().reverse() : list;
      const want = Math.max(MIN_WINDOW_POINTS, Math.floor(this.#rowsInFlight / list.length));
      const reader = this.#targets[t].reader;
      this.#cursors = ordered.map((s) =>
        new SeriesCursor(this.#plan, reader, s.series, s.rowFilter, this.#budget, want)
      );
      const merger = await GoHeapMerger.open(this.#cursors, this.#less);
      if (merger.done) continue;
      this.#merger = merger;
      return true;
    }
    return false;
  }

  #piece(group: StreamGroup, rows: RawRow[], continues: boolean): SeriesPiece {
    const plan = this.#plan;
    const series: ResultSeries = {
      name: group.measurement,
      columns: this.#columns,
      // A raw row is an instant itself (ms, subMs), as in finish().
      values: rows.map((r) => [r, ...r.values]),
      timeColumn: true,
    };
    if (plan.groupBy.length > 0) series.tags = group.tags;
    if (plan.timezone !== undefined) series.timezone = plan.timezone;
    return { series, continues };
  }
}
