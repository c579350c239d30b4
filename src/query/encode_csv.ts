/**
 * The CSV answer InfluxDB 1.x gives for `Accept: application/csv`: per statement a header
 * `name,tags,time,<columns>` (repeated when the columns change), one line per row with the
 * series name and its `k=v,k=v` tags, times as integer epochs (ns unless `epoch` says
 * otherwise), and a blank line between statements. Errors and empty results write nothing
 * there; a failure before any row is answered alone, as InfluxDB answers a request's error
 * ({@linkcode csvFailure}).
 *
 * @module
 */
import { formatFloatPlain } from "./_format_float.ts";
import { epochString, type EpochUnit } from "./encode_json.ts";
import type { StatementResult, Value } from "./result.ts";
import { isInstant } from "./result.ts";

/** Options of {@linkcode encodeCsv}. */
export interface CsvOptions {
  /** Epoch unit of the time column. @default "ns" */
  epoch?: EpochUnit;
}

/** Encodes statement results as InfluxDB's CSV body. */
export function encodeCsv(results: readonly StatementResult[], options: CsvOptions = {}): string {
  const blocks: string[] = [];
  const unit = options.epoch ?? "ns";
  for (const r of results) {
    if (!r.series || r.series.length === 0) continue;
    let out = "";
    let header = "";
    for (const s of r.series) {
      const h = ["name", "tags", ...s.columns].map(csvField).join(",");
      if (h !== header) {
        out += h + "\n";
        header = h;
      }
      const tags = s.tags
        ? Object.keys(s.tags).sort().map((k) => `${k}=${s.tags![k]}`).join(",")
        : "";
      const prefix = csvField(s.name) + "," + csvField(tags);
      for (const row of s.values) {
        let line = prefix;
        for (const v of row) line += "," + (isInstant(v) ? epochString(v, unit) : csvValue(v));
        out += line + "\n";
      }
    }
    blocks.push(out);
  }
  return blocks.join("\n");
}

/**
 * The statement error of results that failed before writing any row, or undefined. InfluxDB
 * 1.6 drops statement errors from CSV (200 and an empty body, checked against influxd 1.6.7),
 * which hides a failure such as the memory budget behind what reads as "no data": it is
 * answered instead as InfluxDB answers a request's error, `error` and the message, with the
 * error's status. A failure after rows keeps them (200), as InfluxDB.
 */
export function csvFailure(
  results: readonly StatementResult[],
): { status: number; body: string } | undefined {
  for (const r of results) {
    if (r.series !== undefined && r.series.some((s) => s.values.length > 0)) return undefined;
    if (r.error !== undefined) {
      return { status: r.errorStatus ?? 400, body: `error\n${csvField(r.error)}\n` };
    }
  }
  return undefined;
}

function csvValue(v: Value): string {
  switch (typeof v) {
    case "number":
      return formatFloatPlain(v);
    case "bigint":
      return v.toString();
    case "boolean":
      return v ? "true" : "false";
    case "string":
      return csvField(v);
    default:
      return "";
  }
}

/** Quotes a field as Go's encoding/csv does. */
function csvField(s: string): string {
  if (s === "") return s;
  if (/[",\r\n]/.test(s) || s[0] === " " || s[0] === "\t") {
    return '"' + s.replaceAll('"', '""') + '"';
  }
  return s;
}
