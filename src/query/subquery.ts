/**
 * Subqueries: `SELECT ... FROM (SELECT ...)`. The inner statement is executed first; its result
 * series become the series of a virtual shard that the outer plan reads like any other, so
 * every function, clause and nesting depth works over subqueries unchanged.
 *
 * Mapping, as InfluxDB 1.6 does it: the inner statement runs with the outer query's GROUP BY
 * tags, interval and SLIMIT pushed down ({@linkcode pushDown}); its result's name is the
 * measurement, its GROUP BY tags are the series' tags, and its columns are fields (a tag it
 * selects too). Rows of one inner series that share a timestamp (raw rows of several series
 * without GROUP BY) are kept: they go to parallel lanes of the same tags, since a column holds
 * one value per time.
 *
 * InfluxDB's outer query reads the inner one as a single stream, in the order the inner query
 * emits its rows: per shard group, its series interleaved by a heap merge (go_heap_merge.ts).
 * {@linkcode emitOrder} replays that order, and {@linkcode ResultShard.rowOrder} hands each
 * row's place in it to the outer query, which keeps rows of equal time in that order.
 *
 * @module
 */
import { FieldType, type FieldValue, seriesKey, type Tag } from "../core/point.ts";
import { instantFromNanos } from "../core/time.ts";
import type { Dimension, Expr, SelectStatement } from "./ast.ts";
import { someExpr } from "./expr_walk.ts";
import { lookupFunction } from "./functions/mod.ts";
import { compileRegex } from "./eval.ts";
import { goHeapMerge } from "./go_heap_merge.ts";
import type { ResultSeries, Value } from "./result.ts";
import { isInstant } from "./result.ts";
import type { FieldColumn, SeriesRef, ShardReader } from "./store.ts";
import { keyPart } from "./tag_set_key.ts";

interface Lane {
  ref: SeriesRef;
  times: { ms: number; subMs: number }[];
  /** Column name -> value per row (null where absent). */
  cells: Map<string, Value[]>;
}

/** How the inner query emits its rows (see {@linkcode emitOrder}). */
export interface EmitOrderOptions {
  /** The shard group duration of the inner query's policy (ns); 0 for one shard. */
  shardNs: bigint;
  descending: boolean;
  /**
   * The inner raw query's auxiliary fields in InfluxDB's order (plan.ts rawTies): rows of equal
   * time compare by them while they are strings. Result row cell `column + 1`.
   */
  ties: readonly { column: number; tag: boolean }[];
  /** The outer query's GROUP BY tags: the inner streams are ordered by them first. */
  outerTags: readonly string[] | "*";
  /**
   * Raw inner rows are interleaved by the heap merge; an aggregate's rows of one time come out
   * in series order.
   */
  interleave: boolean;
}

/**
 * Each row's place in the order InfluxDB's inner query emits them: shard group after shard
 * group (by time, reversed for ORDER BY time DESC), and within one the result series (in
 * key order, reversed for DESC) heap-merged by the outer query's GROUP BY tags, time, then the
 * inner auxiliary strings. Returns one array of places per series.
 */
export function emitOrder(results: readonly ResultSeries[], o: EmitOrderOptions): number[][] {
  // The series in key order, reversed for ORDER BY time DESC (as finish() lists them): the
  // inner query reads them as one tag set of the outer query, which InfluxDB reverses so.
  const order = results.map((_, i) => i);
  // An aggregate's rows of one time come out in ascending series order either way.
  if (!o.interleave && o.descending) order.reverse();
  const shardMs = Number(o.shardNs / 1_000_000n);
  const shardOf = (s: number, r: number): number => {
    const t = results[s].values[r][0];
    return shardMs > 0 && isInstant(t) ? Math.floor(t.ms / shardMs) : 0;
  };
  const byShard = new Map<number, { s: number; r: number }[][]>();
  for (const [k, s] of order.entries()) {
    const rows = results[s].values;
    for (let r = 0; r < rows.length; r++) {
      const shard = shardOf(s, r);
      let streams = byShard.get(shard);
      if (streams === undefined) byShard.set(shard, streams = order.map(() => []));
      streams[k].push({ s, r });
    }
  }
  const tagKey = (s: number) => {
    const tags = results[s].tags ?? {};
    const keys = o.outerTags === "*" ? Object.keys(tags).sort() : [...o.outerTags].sort();
    return keys.map((k) => `${k}=${tags[k] ?? ""}`).join(",");
  };
  const tie = (s: number, r: number, t: { column: number; tag: boolean }) => {
    if (t.column < 0) return undefined;
    const v = results[s].values[r][t.column + 1];
    if (typeof v === "string") return v;
    return t.tag && v === null ? "" : undefined;
  };
  const desc = o.descending;
  const less = (a: { s: number; r: number }, b: { s: number; r: number }): boolean => {
    const ka = tagKey(a.s), kb = tagKey(b.s);
    if (ka !== kb) return desc ? ka > kb : ka < kb;
    const ta = results[a.s].values[a.r][0], tb = results[b.s].values[b.r][0];
    if (isInstant(ta) && isInstant(tb) && (ta.ms !== tb.ms || ta.subMs !== tb.subMs)) {
      const before = ta.ms < tb.ms || (ta.ms === tb.ms && ta.subMs < tb.subMs);
      return desc ? !before : before;
    }
    if (!o.interleave) return a.s !== b.s && (order.indexOf(a.s) < order.indexOf(b.s));
    for (const t of o.ties) {
      const x = tie(a.s, a.r, t), y = tie(b.s, b.r, t);
      if (x === undefined || y === undefined) return false;
      if (x === y) continue;
      return desc ? x > y : x < y;
    }
    return false;
  };
  const places = results.map((s) => new Array<number>(s.values.length).fill(0));
  let next = 0;
  const shards = [...byShard.keys()].sort((a, b) => (desc ? b - a : a - b));
  for (const shard of shards) {
    for (const { s, r } of goHeapMerge(byShard.get(shard)!, less)) places[s][r] = next++;
  }
  return places;
}

/**
 * The outer query's GROUP BY * and GROUP BY /re/ when it reads subqueries, rewritten as
 * InfluxDB 1.6 does before it runs (influxql FieldDimensions): into the tags its sources group
 * by, `keys` (a measurement's tag keys, a subquery's own GROUP BY tags). A tag a subquery
 * selects as a column is a field of its result, never a dimension: `SELECT mean(v) FROM
 * (SELECT v, host FROM cpu) GROUP BY *` is one series. Other dimensions are kept as they are.
 */
export function expandOuterDimensions(
  dimensions: readonly Dimension[],
  keys: ReadonlySet<string>,
): Dimension[] {
  const sorted = [...keys].sort();
  return dimensions.flatMap((d): Dimension[] => {
    if (d.kind === "wildcard") return sorted.map((name) => ({ kind: "tag", name }));
    if (d.kind !== "regex") return [d];
    const re = compileRegex(d.pattern);
    return sorted.filter((k) => re.test(k)).map((name) => ({ kind: "tag", name }));
  });
}

/**
 * The inner statement as InfluxDB 1.6 runs it under an outer one
 * (query.newIteratorOptionsSubstatement):
 * - grouped also by the tags the outer query groups by (pushedDimensions in executor.ts):
 *   `SELECT mean(v) FROM (SELECT v FROM cpu) GROUP BY host` means per host, and `SELECT max(m)
 *   FROM (SELECT mean(v) AS m FROM cpu GROUP BY time(10m)) GROUP BY host` takes the maximum of
 *   each host's own means. The name is a tag of the inner sources, never a column alias: `GROUP
 *   BY alias` groups by a tag of that name (none);
 * - an aggregate without GROUP BY time over the outer query's intervals;
 * - with the outer SLIMIT and SOFFSET added to its own, windowing tag sets of the outer GROUP BY
 *   tags (per shard, as InfluxDB's engine does), and not applied again outside.
 */
export function pushDown(
  inner: SelectStatement,
  outer: SelectStatement,
  tags: readonly string[],
  outerTime: Dimension | undefined,
): SelectStatement {
  const grouped = pushDimensions(inner, tags, outerTime);
  if (!outer.slimit && !outer.soffset) return grouped;
  const limited: SelectStatement = {
    ...grouped,
    slimit: (inner.slimit ?? 0) + (outer.slimit ?? 0),
    soffset: (inner.soffset ?? 0) + (outer.soffset ?? 0),
  };
  // An outer GROUP BY * or /re/ over an inner GROUP BY * names tags only the inner query knows
  // (`tags` lacks them): they are expanded over its tags when it is planned.
  const expands = (s: SelectStatement) =>
    s.dimensions.some((d) => d.kind === "wildcard" || d.kind === "regex");
  limited.slimitBy = expands(outer) && expands(inner)
    ? outer.dimensions.filter((d) =>
      d.kind === "tag" || d.kind === "wildcard" || d.kind === "regex"
    )
    : tags.map((name) => ({ kind: "tag", name }));
  return limited;
}

function pushDimensions(
  inner: SelectStatement,
  tags: readonly string[],
  outerTime: Dimension | undefined,
): SelectStatement {
  const added: Dimension[] = [];
  if (!inner.dimensions.some((d) => d.kind === "wildcard")) {
    const named = new Set(inner.dimensions.flatMap((d) => (d.kind === "tag" ? [d.name] : [])));
    for (const name of tags) if (!named.has(name)) added.push({ kind: "tag", name });
  }
  // An aggregate without GROUP BY time runs over the outer query's intervals (InfluxDB: "if
  // there is no interval for this subquery, but the outer query has an interval, inherit it").
  if (
    outerTime !== undefined && !inner.dimensions.some((d) => d.kind === "time") &&
    inner.fields.some((f) => someExpr(f.expr, isAggregateCall))
  ) added.push(outerTime);
  if (added.length === 0) return inner;
  return { ...inner, dimensions: [...inner.dimensions, ...added] };
}

/**
 * The outer statement with `name::tag` read as `name` where `name` is a tag an inner query
 * selected: the subquery's result holds it as a field (ResultShard), which InfluxDB 1.6 types
 * Tag, so `SELECT host::tag FROM (SELECT host, v FROM cpu)` and `WHERE host::tag = 'a'` read it.
 */
export function readSelectedTagsAsFields(
  stmt: SelectStatement,
  tags: ReadonlySet<string>,
): SelectStatement {
  if (tags.size === 0) return stmt;
  const untag = <T>(x: T): T => {
    if (Array.isArray(x)) return x.map(untag) as T;
    if (x === null || typeof x !== "object" || Object.getPrototypeOf(x) !== Object.prototype) {
      return x;
    }
    const node = x as Record<string, unknown>;
    if (node.kind === "var" && node.type === "tag" && tags.has(node.name as string)) {
      return { kind: "var", name: node.name } as T;
    }
    if (node.kind === "subquery") return x;
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, untag(v)])) as T;
  };
  const out = { ...stmt, fields: untag(stmt.fields) };
  if (stmt.condition !== undefined) out.condition = untag(stmt.condition);
  return out;
}

function isAggregateCall(e: Expr): boolean {
  return e.kind === "call" && lookupFunction(e.name)?.kind === "aggregate";
}

/**
 * A read-only shard over result series: their tags are the inner query's GROUP BY tags, and
 * every other column is a field, a tag the inner query selected too (InfluxDB 1.6 maps it as
 * a field of the result: `count(host)` counts it, GROUP BY * does not group by it).
 */
export class ResultShard implements ShardReader {
  #lanes = new Map<string, Lane[]>();
  /** The keys the lanes of each measurement are named by (a row's order is found by them). */
  #laneKeys = new Map<string, Set<string>>();
  #types = new Map<string, Map<string, FieldType>>();
  /** `series key|ms|subMs` -> the row's place in the inner query's emit order. */
  #places = new Map<string, number>();

  /** `places`: per result series, each row's place in the inner emit order (emitOrder). */
  constructor(results: readonly ResultSeries[], places?: readonly (readonly number[])[]) {
    let id = 0;
    for (const [sIndex, s] of results.entries()) {
      if (!s.timeColumn) continue;
      const m = s.name;
      const types = this.#types.get(m) ?? new Map<string, FieldType>();
      this.#types.set(m, types);
      const fieldCols: [string, number][] = [];
      s.columns.forEach((c, i) => {
        if (i > 0) fieldCols.push([c, i]);
      });
      for (const [c, i] of fieldCols) {
        const t = columnType(s.values.map((r) => r[i] as Value));
        if (t !== undefined && !types.has(c)) types.set(c, t);
      }
      // Rows split by their tags, then into lanes of distinct times.
      const byTags = new Map<string, Lane[]>();
      const laneKeys = this.#laneKeys.get(m) ?? new Set<string>();
      this.#laneKeys.set(m, laneKeys);
      for (const [rIndex, row] of s.values.entries()) {
        const time = row[0];
        if (!isInstant(time)) continue;
        const tags: Readonly<Record<string, string>> = s.tags ?? {};
        const sorted: Tag[] = Object.keys(tags).sort().filter((k) => tags[k] !== "").map((k) => ({
          key: k,
          value: tags[k],
        }));
        // Keyed by the tag set itself (a tag value may hold `,`, `=` or NUL); each lane is named
        // by its series key as storage writes it, made unique within the measurement.
        let setKey = "";
        for (const t of sorted) setKey += keyPart(t.key) + keyPart(t.value);
        let lanes = byTags.get(setKey);
        if (lanes === undefined) byTags.set(setKey, lanes = []);
        let lane = lanes.find((l) => {
          const last = l.times[l.times.length - 1];
          return last.ms < time.ms || (last.ms === time.ms && last.subMs < time.subMs);
        });
        if (lane === undefined) {
          const laneKey = uniqueKey(seriesKey(m, sorted), laneKeys);
          lane = {
            ref: { id: id++, key: laneKey, measurement: m, tags: sorted },
            times: [],
            cells: new Map(fieldCols.map(([c]) => [c, []])),
          };
          lanes.push(lane);
        }
        lane.times.push({ ms: time.ms, subMs: time.subMs });
        for (const [c, i] of fieldCols) lane.cells.get(c)!.push(row[i] as Value);
        const place = places?.[sIndex]?.[rIndex];
        if (place !== undefined) {
          this.#places.set(`${lane.ref.key}|${time.ms}|${time.subMs}`, place);
        }
      }
      const all = this.#lanes.get(m) ?? [];
      for (const lanes of byTags.values()) all.push(...lanes);
      this.#lanes.set(m, all);
    }
  }

  measurements(): string[] {
    return [...this.#lanes.keys()].sort();
  }

  /** A row's place in the inner query's emit order (undefined without one). */
  rowOrder(key: string, ms: number, subMs: number): number | undefined {
    return this.#places.get(`${key}|${ms}|${subMs}`);
  }

  series(measurement: string): SeriesRef[] {
    return (this.#lanes.get(measurement) ?? []).map((l) => l.ref);
  }

  fieldTypes(measurement: string): Map<string, FieldType> {
    return this.#types.get(measurement) ?? new Map();
  }

  readField(
    series: SeriesRef,
    field: string,
    minNs: bigint,
    maxNs: bigint,
  ): Promise<FieldColumn | undefined> {
    const lane = this.#lanes.get(series.measurement)?.find((l) => l.ref.id === series.id);
    const cells = lane?.cells.get(field);
    const type = this.#types.get(series.measurement)?.get(field);
    if (lane === undefined || cells === undefined || type === undefined) {
      return Promise.resolve(undefined);
    }
    const lo = instantFromNanos(minNs), hi = instantFromNanos(maxNs);
    const ms: number[] = [], sub: number[] = [], values: FieldValue[] = [];
    for (let i = 0; i < lane.times.length; i++) {
      const t = lane.times[i];
      const v = cells[i];
      if (v === null) continue;
      if (t.ms < lo.ms || (t.ms === lo.ms && t.subMs < lo.subMs)) continue;
      if (t.ms > hi.ms || (t.ms === hi.ms && t.subMs > hi.subMs)) continue;
      ms.push(t.ms);
      sub.push(t.subMs);
      values.push(convert(v, type));
    }
    if (ms.length === 0) return Promise.resolve(undefined);
    return Promise.resolve({
      type,
      length: ms.length,
      timesMs: Float64Array.from(ms),
      timesSubMs: Float64Array.from(sub),
      values: type === FieldType.Float ? Float64Array.from(values as number[]) : values,
    });
  }
}

/**
 * `key`, or `key` NUL n with the first n that `taken` does not hold yet (the lanes of one tag
 * set, or two tag sets whose series keys read alike); added to `taken`.
 */
function uniqueKey(key: string, taken: Set<string>): string {
  let unique = key;
  for (let n = 1; taken.has(unique); n++) unique = `${key}\u0000${n}`;
  taken.add(unique);
  return unique;
}

/** The field type of a result column: integer when every number is whole, as counts are. */
function columnType(values: Value[]): FieldType | undefined {
  let t: FieldType | undefined;
  for (const v of values) {
    if (v === null) continue;
    const vt = typeof v === "bigint"
      ? FieldType.Integer
      : typeof v === "number"
      ? (Number.isInteger(v) ? FieldType.Integer : FieldType.Float)
      : typeof v === "string"
      ? FieldType.String
      : FieldType.Boolean;
    if (t === undefined) t = vt;
    else if (t !== vt) {
      if ((t === FieldType.Integer && vt === FieldType.Float) || t === FieldType.Float) {
        t = FieldType.Float;
      }
    }
  }
  return t;
}

function convert(v: Value, type: FieldType): FieldValue {
  if (type === FieldType.Float && typeof v === "bigint") return Number(v);
  return v as FieldValue;
}
