/**
 * The points of one export window, read through the query engine (`SELECT * ... GROUP BY *` over
 * the window's range) and typed by the fields' declared types, so that integers, unsigned
 * integers and floats with integral values come out as what was written, every 64-bit value and
 * nanosecond timestamp exact.
 * @module
 */
import { type Field, FieldType, type Point, type Tag, ValidationError } from "../core/mod.ts";
import {
  executeQuery,
  isInstant,
  type QueryStore,
  quoteIdent,
  type ResultSeries,
} from "../query/mod.ts";
import type { ExportWindow } from "./export_plan.ts";

/** Options of {@linkcode windowPoints}. */
export interface WindowPointsOptions {
  database: string;
  retentionPolicy: string;
  /** field -> type of the window's measurement. */
  fieldTypes: ReadonlyMap<string, FieldType>;
  nowNs: bigint;
  signal?: AbortSignal;
}

/**
 * The window's points, one array per series (in series key order, each in time order).
 * @throws {ValidationError} when the query engine refuses the window's query.
 */
export async function* windowPoints(
  store: QueryStore,
  window: ExportWindow,
  options: WindowPointsOptions,
): AsyncGenerator<Point[]> {
  const source = `${quoteIdent(options.database)}.${quoteIdent(options.retentionPolicy)}.` +
    quoteIdent(window.measurement);
  const q = `SELECT * FROM ${source} WHERE time >= ${window.startNs} AND time < ${window.endNs} ` +
    "GROUP BY *";
  const [result] = await executeQuery(store, q, {
    database: options.database,
    nowNs: options.nowNs,
    signal: options.signal,
  });
  if (result.error) throw new ValidationError(`export: ${result.error} (${q})`);
  for (const series of result.series ?? []) yield seriesPoints(series, options.fieldTypes);
}

/** A result series of `SELECT * ... GROUP BY *` back into points. */
export function seriesPoints(
  series: ResultSeries,
  types: ReadonlyMap<string, FieldType>,
): Point[] {
  const tags: Tag[] = Object.keys(series.tags ?? {}).sort()
    .filter((k) => series.tags![k] !== "")
    .map((key) => ({ key, value: series.tags![key] }));
  const columns = series.columns;
  const columnTypes = columns.map((c) => types.get(c));
  const points: Point[] = [];
  for (const row of series.values) {
    const time = row[0];
    if (!isInstant(time)) continue;
    const fields: Field[] = [];
    for (let c = 1; c < columns.length; c++) {
      const v = row[c];
      if (v === null || isInstant(v)) continue;
      fields.push({ key: columns[c], type: typeOf(v, columnTypes[c]), value: v });
    }
    if (fields.length === 0) continue;
    points.push({ measurement: series.name, tags, fields, timeMs: time.ms, timeSubMs: time.subMs });
  }
  return points;
}

/** The declared type, else what the value itself tells. */
function typeOf(v: number | bigint | string | boolean, declared: FieldType | undefined): FieldType {
  if (declared !== undefined) return declared;
  if (typeof v === "string") return FieldType.String;
  if (typeof v === "boolean") return FieldType.Boolean;
  if (typeof v === "bigint") return FieldType.Integer;
  return FieldType.Float;
}
