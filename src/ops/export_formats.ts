/**
 * Exported points as text, in the three formats `epochnexus import` reads back:
 *
 * - `lp`: InfluxDB line protocol, nanosecond timestamps, after the comment lines of
 *   `influx_inspect export`'s DML section (`# DML`, `# CONTEXT-DATABASE:db`,
 *   `# CONTEXT-RETENTION-POLICY:rp`), so `influx -import` reads the file as it is and every
 *   line-protocol reader skips them as comments.
 * - `ndjson`: one native JSON point per line; integers as `{"integer": "..."}` and unsigned as
 *   `{"unsigned": "..."}` (exact), the timestamp as a string of nanoseconds (import it with
 *   `--precision ns`).
 * - `csv`: a header `measurement,time,<tag keys>,<field keys>` (the union over the export), one
 *   row per point, time in nanoseconds, an empty cell for an absent tag or field (so an empty
 *   string field reads back as absent); import it with `--precision ns --tags ... --types ...`
 *   ({@linkcode csvImportHint}).
 * @module
 */
import {
  FIELD_TYPE_NAMES,
  FieldType,
  nanosString,
  type Point,
  ValidationError,
} from "../core/mod.ts";
import { LineProtocolFormatter } from "../ingest/mod.ts";

/** An export format. */
export type ExportFormat = "lp" | "csv" | "ndjson";

/** The formats, for validation. */
export const EXPORT_FORMATS: readonly ExportFormat[] = ["lp", "csv", "ndjson"];

/** What a CSV export's columns are made of, and where the points come from. */
export interface CsvColumns {
  database: string;
  retentionPolicy: string;
  /** measurement -> tag keys. */
  tagKeys: ReadonlyMap<string, readonly string[]>;
  /** measurement -> field -> type. */
  fieldTypes: ReadonlyMap<string, ReadonlyMap<string, FieldType>>;
}

/** Turns points into text lines of one format. */
export interface PointFormatter {
  /** The text before the first point (line protocol's comments, CSV's header row). */
  header(): string;
  /** The points' lines, each ended by a newline. */
  format(points: readonly Point[]): string;
}

/**
 * A formatter of `format`.
 * @throws {ValidationError} for CSV when a name is a tag in one measurement and a field in
 * another, or is `measurement` or `time` (the columns could not be told apart).
 */
export function pointFormatter(format: ExportFormat, columns: CsvColumns): PointFormatter {
  switch (format) {
    case "lp":
      return {
        header: () =>
          `# DML\n# CONTEXT-DATABASE:${columns.database}\n` +
          `# CONTEXT-RETENTION-POLICY:${columns.retentionPolicy}\n`,
        format: formatLines,
      };
    case "ndjson":
      return { header: () => "", format: formatNdjson };
    case "csv":
      return new CsvFormatter(columns);
  }
}

function formatLines(points: readonly Point[]): string {
  const formatter = new LineProtocolFormatter();
  let out = "";
  for (const p of points) out += formatter.line(p) + "\n";
  return out;
}

function formatNdjson(points: readonly Point[]): string {
  let out = "";
  for (const p of points) {
    const tags: Record<string, string> = {};
    for (const t of p.tags) tags[t.key] = t.value;
    let fields = "";
    for (const f of p.fields) {
      const value = f.type === FieldType.Integer
        ? `{"integer":"${f.value}"}`
        : f.type === FieldType.Unsigned
        ? `{"unsigned":"${f.value}"}`
        : f.type === FieldType.Float
        ? floatJson(f.key, f.value as number)
        : JSON.stringify(f.value);
      fields += `${fields === "" ? "" : ","}${JSON.stringify(f.key)}:${value}`;
    }
    out += `{"measurement":${JSON.stringify(p.measurement)},"tags":${JSON.stringify(tags)},` +
      `"fields":{${fields}},"timestamp":"${nanosString(p.timeMs, p.timeSubMs)}"}\n`;
  }
  return out;
}

function floatJson(key: string, x: number): string {
  if (!Number.isFinite(x)) {
    throw new ValidationError(`field ${key}: ${x} cannot be written as JSON`);
  }
  // JSON has no -0 nor a float marker: 3 reads back as the float 3, which it is.
  return Object.is(x, -0) ? "-0.0" : String(x);
}

class CsvFormatter implements PointFormatter {
  readonly #tags: string[];
  readonly #fields: string[];
  readonly #index = new Map<string, number>();

  constructor(columns: CsvColumns) {
    const tags = new Set<string>();
    const fields = new Set<string>();
    for (const keys of columns.tagKeys.values()) for (const k of keys) tags.add(k);
    for (const types of columns.fieldTypes.values()) for (const k of types.keys()) fields.add(k);
    for (const name of [...tags, ...fields]) {
      if (name === "measurement" || name === "time" || (tags.has(name) && fields.has(name))) {
        throw new ValidationError(
          `cannot export as CSV: "${name}" would name two columns (a tag and a field, or the ` +
            `measurement or time column); export as lp or ndjson`,
        );
      }
    }
    this.#tags = [...tags].sort();
    this.#fields = [...fields].sort();
    ["measurement", "time", ...this.#tags, ...this.#fields].forEach((c, i) =>
      this.#index.set(c, i)
    );
  }

  header(): string {
    return ["measurement", "time", ...this.#tags, ...this.#fields].map(csvCell).join(",") + "\n";
  }

  format(points: readonly Point[]): string {
    const width = 2 + this.#tags.length + this.#fields.length;
    let out = "";
    for (const p of points) {
      const row = new Array<string>(width).fill("");
      row[0] = csvCell(p.measurement);
      row[1] = nanosString(p.timeMs, p.timeSubMs);
      for (const t of p.tags) row[this.#index.get(t.key)!] = csvCell(t.value);
      for (const f of p.fields) {
        const v = f.type === FieldType.Float
          ? floatText(f.key, f.value as number)
          : String(f.value);
        row[this.#index.get(f.key)!] = csvCell(v);
      }
      out += row.join(",") + "\n";
    }
    return out;
  }
}

function floatText(key: string, x: number): string {
  if (!Number.isFinite(x)) throw new ValidationError(`field ${key}: ${x} cannot be exported`);
  return Object.is(x, -0) ? "-0" : String(x);
}

function csvCell(text: string): string {
  return /[",\r\n]/.test(text) || /^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * The `epochnexus import` options that read a CSV export back exactly: its tag columns and every
 * field's declared type.
 */
export function csvImportHint(columns: CsvColumns): string {
  const tags = new Set<string>();
  const types = new Map<string, string>();
  for (const keys of columns.tagKeys.values()) for (const k of keys) tags.add(k);
  for (const fields of columns.fieldTypes.values()) {
    for (const [k, t] of fields) if (!types.has(k)) types.set(k, FIELD_TYPE_NAMES[t]);
  }
  const parts = ["--format csv", "--precision ns"];
  if (tags.size > 0) parts.push(`--tags ${[...tags].sort().join(",")}`);
  if (types.size > 0) {
    parts.push(`--types ${[...types].sort().map(([k, t]) => `${k}:${t}`).join(",")}`);
  }
  return parts.join(" ");
}
