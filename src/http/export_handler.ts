/**
 * Export (READ on the database):
 *
 * - `GET /api/v1/export/plan?db=&rp=&start=&end=&measurement=...&window_values=` -> the windows
 *   the export is cut into (`{"values", "windows": [{"measurement", "start", "end", "values"}],
 *   "fieldTypes", "tagKeys", "csvImport"}`; times are nanosecond strings);
 * - `GET /api/v1/export?db=&rp=&start=&end=&measurement=...&format=lp|csv|ndjson` -> the points,
 *   streamed window by window as the client reads (one window in memory at a time). CSV: a
 *   header row unless `header=false`; with `measurement`, its columns cover the measurements
 *   named by `columns=` (repeated; all when absent), so windows fetched apart share them.
 *
 * `start` (inclusive) and `end` (exclusive) are RFC3339 or integer nanoseconds; absent: all
 * time. `measurement` may repeat; absent: every measurement.
 * @module
 */
import { FIELD_TYPE_NAMES, parseRFC3339Nanos, ValidationError } from "../core/mod.ts";
import {
  csvImportHint,
  EXPORT_FORMATS,
  type ExportFormat,
  type ExportPlan,
  type ExportScope,
  planExport,
  type PointFormatter,
  pointFormatter,
  windowPoints,
} from "../ops/mod.ts";
import type { AppContext } from "./app.ts";
import { json, nativeError } from "./responses.ts";

const PLAN = "/api/v1/export/plan";
const EXPORT = "/api/v1/export";

/** True for the export routes. */
export function isExportRoute(path: string): boolean {
  return path === EXPORT || path === PLAN;
}

const CONTENT_TYPES: Record<ExportFormat, string> = {
  lp: "text/plain; charset=utf-8",
  csv: "text/csv; charset=utf-8",
  ndjson: "application/x-ndjson",
};

/** Answers the export routes. */
export async function handleExport(
  ctx: AppContext,
  request: Request,
  url: URL,
): Promise<Response> {
  if (request.method !== "GET") {
    const r = nativeError(new ValidationError("method not allowed: use GET", { httpStatus: 405 }));
    r.headers.set("allow", "GET");
    return r;
  }
  try {
    const scope = scopeOf(url);
    const windowValues = url.searchParams.has("window_values")
      ? Number(url.searchParams.get("window_values"))
      : undefined;
    const nowNs = ctx.clock.nowNanos();
    const plan = await planExport(ctx.engine, scope, {
      windowValues,
      nowNs,
      signal: request.signal,
    });
    if (url.pathname === PLAN) {
      return json({
        database: plan.database,
        retentionPolicy: plan.retentionPolicy,
        start: plan.startNs.toString(),
        end: plan.endNs.toString(),
        values: plan.values,
        windows: plan.windows.map((w) => ({
          measurement: w.measurement,
          start: w.startNs.toString(),
          end: w.endNs.toString(),
          values: w.values,
        })),
        fieldTypes: Object.fromEntries(
          [...plan.fieldTypes].map((
            [m, types],
          ) => [m, Object.fromEntries([...types].map(([f, t]) => [f, FIELD_TYPE_NAMES[t]]))]),
        ),
        tagKeys: Object.fromEntries(plan.tagKeys),
        csvImport: csvImportHint(plan),
      });
    }
    const format = (url.searchParams.get("format") ?? "lp") as ExportFormat;
    if (!EXPORT_FORMATS.includes(format)) {
      throw new ValidationError(
        `format must be one of ${EXPORT_FORMATS.join(", ")}, not ${JSON.stringify(format)}`,
      );
    }
    // CSV columns are the union over the measurements `columns` names (all when absent), so a
    // client that fetches an export window by window gets the same columns in each.
    const columnsOf = url.searchParams.getAll("columns");
    const columns = format === "csv" && url.searchParams.has("measurement")
      ? await planExport(ctx.engine, {
        ...scope,
        measurements: columnsOf.length > 0 ? columnsOf : undefined,
      }, { windowValues: Number.MAX_SAFE_INTEGER, nowNs })
      : plan;
    const formatter = pointFormatter(format, columns);
    const header = url.searchParams.get("header") !== "false" ? formatter.header() : "";
    const chunks = exportChunks(ctx, plan, formatter, header, nowNs, request.signal);
    const body = new ReadableStream<Uint8Array>({
      // Pulled: the next series is read only when the client has taken the last.
      async pull(controller) {
        try {
          const next = await chunks.next();
          if (next.done) controller.close();
          else controller.enqueue(next.value);
        } catch (error) {
          ctx.logger.error("export failed midway", { error: String(error) });
          controller.error(error);
        }
      },
      async cancel() {
        await chunks.return(undefined);
      },
    });
    return new Response(body, {
      headers: {
        "content-type": CONTENT_TYPES[format],
        "x-epochnexus-export-values": String(plan.values),
      },
    });
  } catch (error) {
    return nativeError(error);
  }
}

/** The export's text, a series at a time. */
async function* exportChunks(
  ctx: AppContext,
  plan: ExportPlan,
  formatter: PointFormatter,
  header: string,
  nowNs: bigint,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  if (header !== "") yield encoder.encode(header);
  for (const w of plan.windows) {
    const batches = windowPoints(ctx.engine, w, {
      database: plan.database,
      retentionPolicy: plan.retentionPolicy,
      fieldTypes: plan.fieldTypes.get(w.measurement)!,
      nowNs,
      signal,
    });
    for await (const batch of batches) {
      if (batch.length > 0) yield encoder.encode(formatter.format(batch));
    }
  }
}

/** The database, policy, time range and measurements of an export request. */
function scopeOf(url: URL): ExportScope {
  const p = url.searchParams;
  const database = p.get("db") ?? "";
  if (database === "") throw new ValidationError("db is required");
  const measurements = p.getAll("measurement");
  return {
    database,
    retentionPolicy: p.get("rp") || undefined,
    startNs: timeParam(p.get("start"), "start"),
    endNs: timeParam(p.get("end"), "end"),
    measurements: measurements.length > 0 ? measurements : undefined,
  };
}

/** An RFC3339 time or integer nanoseconds; undefined when absent. */
export function timeParam(text: string | null, name: string): bigint | undefined {
  if (text === null || text === "") return undefined;
  if (/^-?\d+$/.test(text)) return BigInt(text);
  const ns = parseRFC3339Nanos(text);
  if (ns === undefined) {
    throw new ValidationError(
      `${name} must be an RFC3339 time or integer nanoseconds, not ${JSON.stringify(text)}`,
    );
  }
  return ns;
}
