/**
 * Subqueries: `SELECT ... FROM (SELECT ...)`. The inner statement is executed first; its result
 * series become the series of a virtual shard that the outer plan reads like any other, so
 * every function, clause and nesting depth works over subqueries unchanged.
 *
 * Mapping, as InfluxDB 1.6 does it: the inner result's name is the measurement, its GROUP BY
 * tags (and tags it selected as columns) are the series' tags, its other columns are fields.
 * Rows of one inner series that share a timestamp (raw rows of several series without GROUP
 * BY) are kept: they go to parallel lanes of the same tags, since a column holds one value per
 * time.
 *
 * @module
 */
import { FieldType, type FieldValue, type Tag } from "../core/point.ts";
import { instantFromNanos } from "../core/time.ts";
import type { ResultSeries, Value } from "./result.ts";
import { isInstant } from "./result.ts";
import type { FieldColumn, SeriesRef, ShardReader } from "./store.ts";

interface Lane {
  ref: SeriesRef;
  times: { ms: number; subMs: number }[];
  /** Column name -> value per row (null where absent). */
  cells: Map<string, Value[]>;
}

/**
 * A read-only shard over result series. `tagColumns` names columns that hold tag values (tags
 * selected in the inner query): they become series tags instead of fields.
 */
export class ResultShard implements ShardReader {
  #lanes = new Map<string, Lane[]>();
  #types = new Map<string, Map<string, FieldType>>();

  constructor(results: readonly ResultSeries[], tagColumns: ReadonlySet<string>) {
    let id = 0;
    for (const s of results) {
      if (!s.timeColumn) continue;
      const m = s.name;
      const types = this.#types.get(m) ?? new Map<string, FieldType>();
      this.#types.set(m, types);
      const fieldCols: [string, number][] = [];
      const tagCols: [string, number][] = [];
      s.columns.forEach((c, i) => {
        if (i === 0) return;
        (tagColumns.has(c) ? tagCols : fieldCols).push([c, i]);
      });
      for (const [c, i] of fieldCols) {
        const t = columnType(s.values.map((r) => r[i] as Value));
        if (t !== undefined && !types.has(c)) types.set(c, t);
      }
      // Rows split by the values of selected tag columns, then into lanes of distinct times.
      const byTags = new Map<string, Lane[]>();
      for (const row of s.values) {
        const time = row[0];
        if (!isInstant(time)) continue;
        const tags: Record<string, string> = { ...(s.tags ?? {}) };
        for (const [c, i] of tagCols) {
          const v = row[i];
          if (typeof v === "string" && v !== "") tags[c] = v;
        }
        const sorted: Tag[] = Object.keys(tags).sort().filter((k) => tags[k] !== "").map((k) => ({
          key: k,
          value: tags[k],
        }));
        const key = m + sorted.map((t) => `,${t.key}=${t.value}`).join("");
        let lanes = byTags.get(key);
        if (lanes === undefined) byTags.set(key, lanes = []);
        let lane = lanes.find((l) => {
          const last = l.times[l.times.length - 1];
          return last.ms < time.ms || (last.ms === time.ms && last.subMs < time.subMs);
        });
        if (lane === undefined) {
          const laneKey = lanes.length === 0 ? key : `${key}\u0000${lanes.length}`;
          lane = {
            ref: { id: id++, key: laneKey, measurement: m, tags: sorted },
            times: [],
            cells: new Map(fieldCols.map(([c]) => [c, []])),
          };
          lanes.push(lane);
        }
        lane.times.push({ ms: time.ms, subMs: time.subMs });
        for (const [c, i] of fieldCols) lane.cells.get(c)!.push(row[i] as Value);
      }
      const all = this.#lanes.get(m) ?? [];
      for (const lanes of byTags.values()) all.push(...lanes);
      this.#lanes.set(m, all);
    }
  }

  measurements(): string[] {
    return [...this.#lanes.keys()].sort();
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
