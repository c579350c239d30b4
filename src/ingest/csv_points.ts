/**
 * CSV ingest (`text/csv`), tokenized by `csv_tokenizer.ts` (RFC 4180: quoted values with
 * embedded commas, quotes and newlines; a byte-order mark; `\r\n`, `\n` or `\r`).
 *
 * ```csv
 * time,measurement,host,region,usage,count,up
 * 2023-03-15T13:20:00Z,cpu,a,us-east,0.5,3,true
 * 1678886401,cpu,b,us-west,0.25,4,false
 * ```
 *
 * - The first row is the header: column names.
 * - Time: the column named `timeColumn` (`time` by default): RFC3339, or an epoch number in
 *   `precision` (`auto` by default: by magnitude, as the JSON API). No such column, or an
 *   empty cell: the caller's `defaultTime`.
 * - Measurement: the column named `measurementColumn` (`measurement` by default) when the header
 *   has it, else the `measurement` option; one of the two is required.
 * - Tags: the columns named in `tags`; an empty cell means no tag.
 * - Every other column is a field. Its type is `types[column]` when declared (`float`,
 *   `integer`, `unsigned`, `boolean`, `string`), else inferred from the first `inferRows` data
 *   rows: all integers → integer; all numbers → float; all `true`/`false` → boolean; else
 *   string. An empty cell means the field is absent from that row. A later value that does not
 *   fit its column's type rejects its row (record number, column, value seen).
 * - Errors: a bad row is reported with its 1-based record number (data rows, the header not
 *   counted), the column and the reason, and the other rows are kept. Broken CSV syntax (an
 *   unclosed quote, a quote inside a bare value) stops decoding with a {@linkcode ParseError}
 *   naming the line and column.
 * - Text is UTF-8: a row holding other bytes is rejected (naming the offset of the first), a
 *   header holding them refuses the body; the tokenizer turns them into U+FFFD.
 * @module
 */
import {
  compactInteger,
  FieldType,
  INT64_MAX,
  INT64_MIN,
  ParseError,
  type Point,
  sortTags,
  type Tag,
  TooLargeError,
  UINT64_MAX,
  ValidationError,
} from "../core/mod.ts";
import type { DecodedBatch, IngestIssue } from "./batches.ts";
import {
  decodeJsonRecord,
  isRecordError,
  type JsonPrecision,
  recordInstant,
  withDecoderCaches,
} from "./json_points.ts";
import { FieldCollector } from "./_packed_fields.ts";
import { Utf8Watch } from "./_utf8.ts";
import { type CsvRecord, CsvSyntaxError, CsvTokenizer } from "./csv_tokenizer.ts";
import type { FieldLayouts, Instant } from "../core/mod.ts";

/** A CSV column's field type. */
export type CsvFieldType = "float" | "integer" | "unsigned" | "boolean" | "string";

const TYPES: readonly CsvFieldType[] = ["float", "integer", "unsigned", "boolean", "string"];

/** Options of {@linkcode decodeCsvStream}. */
export interface CsvOptions {
  /** Time of rows without a time. */
  defaultTime: Instant;
  /** Unit of epoch times. @default {"auto"} */
  precision?: JsonPrecision;
  /** Name of the time column. @default {"time"} */
  timeColumn?: string;
  /** Name of the measurement column. @default {"measurement"} */
  measurementColumn?: string;
  /** Measurement of every row when the header has no measurement column. */
  measurement?: string;
  /** Columns that are tags. */
  tags?: readonly string[];
  /** Declared field types by column. */
  types?: Readonly<Record<string, CsvFieldType>>;
  /** Data rows read before field types are fixed. @default {1000} */
  inferRows?: number;
  /** Rows per yielded batch. @default {1000} */
  batchRows?: number;
  /**
   * Longest record held while waiting for its end, in bytes (a quoted field may hold newlines,
   * so one record can be long): past it the body is refused. @default {4194304}
   */
  maxRecordBytes?: number;
  /** The shared field layouts of the points decoded (one per database on a server). */
  layouts?: FieldLayouts;
}

/** Parses `usage:float,count:integer` into declared types. @throws {ValidationError} */
export function parseCsvTypes(text: string): Record<string, CsvFieldType> {
  const out: Record<string, CsvFieldType> = {};
  for (const part of text.split(",")) {
    if (part.trim() === "") continue;
    const colon = part.lastIndexOf(":");
    const name = part.slice(0, colon).trim();
    const type = part.slice(colon + 1).trim() as CsvFieldType;
    if (colon <= 0 || !TYPES.includes(type)) {
      throw new ValidationError(
        `invalid types entry ${JSON.stringify(part)}: expected column:type with type one of ` +
          TYPES.join(", "),
      );
    }
    out[name] = type;
  }
  return out;
}

type Role = { kind: "time" | "measurement" | "tag" | "skip" } | {
  kind: "field";
  type?: CsvFieldType;
};

const INTEGER = /^[+-]?\d+$/;
// One way to match each digit run: `\d+\.?\d*` split a long run between \d+ and \d* in every
// way before failing (quadratic: a 70 KB cell of digits took 8 s, found by tests/fuzz).
const FLOAT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const BOOLEAN = /^(true|false|TRUE|FALSE|True|False)$/;
const UNSIGNED = /^\+?\d+$/;

/** The narrowest type holding every value seen. */
function inferType(values: string[]): CsvFieldType {
  let integer = true, float = true, boolean = true;
  for (const v of values) {
    if (integer && !INTEGER.test(v)) integer = false;
    if (float && !FLOAT.test(v)) float = false;
    if (boolean && !BOOLEAN.test(v)) boolean = false;
    if (!integer && !float && !boolean) return "string";
  }
  if (values.length === 0) return "string";
  return integer ? "integer" : float ? "float" : boolean ? "boolean" : "string";
}

/** The JSON-API form of a cell, or a reason it does not fit. */
function fieldValue(cell: string, type: CsvFieldType): unknown {
  switch (type) {
    case "string":
      return cell;
    case "float": {
      const v = cell.trim();
      if (!FLOAT.test(v)) return undefined;
      return Number(v);
    }
    case "integer": {
      const v = cell.trim();
      return INTEGER.test(v) ? { integer: v.replace(/^\+/, "") } : undefined;
    }
    case "unsigned": {
      const v = cell.trim();
      return UNSIGNED.test(v) ? { unsigned: v.replace(/^\+/, "") } : undefined;
    }
    case "boolean": {
      const v = cell.trim();
      return BOOLEAN.test(v) ? v.toLowerCase() === "true" : undefined;
    }
  }
}

/**
 * Adds a cell as a field of its column's type, as {@linkcode fieldValue} and the JSON API would
 * read it; false when the row would be refused for it (the caller then asks them why).
 */
function addCell(fields: FieldCollector, key: string, cell: string, type: CsvFieldType): boolean {
  if (type === "string") {
    if (!cell.isWellFormed()) return false;
    fields.add(key, FieldType.String, cell);
    return true;
  }
  const v = cell.trim();
  switch (type) {
    case "float": {
      const n = FLOAT.test(v) ? Number(v) : NaN;
      if (!Number.isFinite(n)) return false;
      fields.add(key, FieldType.Float, n);
      return true;
    }
    case "integer": {
      if (!INTEGER.test(v)) return false;
      // Up to 15 digits a double is exact: no BigInt (an allocation per value) for the usual.
      if (v.length <= 15) {
        fields.add(key, FieldType.Integer, Number(v) + 0); // + 0: "-0" is the integer 0
        return true;
      }
      const n = BigInt(v);
      if (n < INT64_MIN || n > INT64_MAX) return false;
      fields.add(key, FieldType.Integer, compactInteger(n));
      return true;
    }
    case "unsigned": {
      if (!UNSIGNED.test(v)) return false;
      if (v.length <= 15) {
        fields.add(key, FieldType.Unsigned, Number(v) + 0);
        return true;
      }
      const n = BigInt(v);
      if (n > UINT64_MAX) return false;
      fields.add(key, FieldType.Unsigned, compactInteger(n));
      return true;
    }
    case "boolean":
      if (!BOOLEAN.test(v)) return false;
      fields.add(key, FieldType.Boolean, v.toLowerCase() === "true");
      return true;
  }
}

/**
 * Decodes a CSV byte stream into batches of points. Reads only as fast as the consumer pulls.
 *
 * @throws {ValidationError} when the header lacks what the options name (a tag column, a
 *   measurement), or holds a column twice.
 * @throws {ParseError} for broken CSV syntax, with its line and column.
 */
export async function* decodeCsvStream(
  stream: ReadableStream<Uint8Array>,
  options: CsvOptions,
): AsyncGenerator<DecodedBatch> {
  // The tokenizer turns bytes that are not UTF-8 into U+FFFD: the watch notes where they were,
  // and the records holding them are rejected.
  const utf8 = new Utf8Watch();
  const reader = stream.pipeThrough(utf8.stream()).getReader();
  const tokenizer = new CsvTokenizer();
  const jsonOptions = withDecoderCaches({
    precision: options.precision,
    defaultTime: options.defaultTime,
    layouts: options.layouts,
  });
  const fields = new FieldCollector();
  const batchRows = options.batchRows ?? 1000;
  const inferRows = options.inferRows ?? 1000;
  const maxRecord = options.maxRecordBytes ?? 4 * 1024 * 1024;
  let header: string[] | undefined;
  let roles: Role[] = [];
  /** Body bytes read. */
  let consumed = 0;
  let lastBytes = 0;
  /** How many of `utf8.invalid` are behind the records read so far. */
  let badSeen = 0;
  let record = 0;
  let lookahead: CsvRecord[] | undefined = [];
  let batch: DecodedBatch = newBatch();
  let done = false;
  try {
    let ended = false;
    while (!ended) {
      let rows: CsvRecord[];
      try {
        const next = await reader.read();
        ended = next.done;
        consumed += next.value?.length ?? 0;
        rows = ended ? tokenizer.finish() : tokenizer.push(next.value!);
      } catch (error) {
        throw csvError(error);
      }
      const open = tokenizer.openRecord;
      if (!ended && open !== undefined && consumed - open.start > maxRecord) {
        throw new TooLargeError(
          `CSV: a record longer than ${maxRecord} bytes (the limit) starts at line ${open.line} ` +
            `(byte offset ${open.start} of the body)`,
          { details: { limit: maxRecord, line: open.line, offset: open.start } },
        );
      }
      for (const row of rows) {
        if (header === undefined) {
          const bad = notUtf8(row.end);
          if (bad !== undefined) throw new ValidationError(`CSV header: ${bad}`);
          header = row.cells;
          roles = columnRoles(header, options);
          continue;
        }
        if (lookahead !== undefined) {
          lookahead.push(row);
          if (lookahead.length < inferRows) continue;
          inferColumns(roles, lookahead);
          for (const r of lookahead) decodeRow(r, ++record);
          lookahead = undefined;
        } else decodeRow(row, ++record);
        if (batch.points.length + batch.errors.length >= batchRows) yield take();
      }
      // Broken syntax after these rows: met once they are (a bad header is told first).
      if (tokenizer.error) throw csvError(tokenizer.error);
      // Once per read, so that what this stream holds (the types' lookahead, an unfinished
      // record) is counted against the write bound as it grows, not only every batchRows rows.
      if (!ended) yield take();
    }
    if (header === undefined) {
      throw new ValidationError("CSV body is empty: expected a header row");
    }
    if (lookahead !== undefined) {
      inferColumns(roles, lookahead);
      for (const r of lookahead) decodeRow(r, ++record);
    }
    done = true;
    yield take();
  } finally {
    if (!done) reader.cancel().catch(() => {});
    reader.releaseLock();
  }

  function take(): DecodedBatch {
    const out = batch;
    out.heldBytes = consumed - lastBytes;
    batch = newBatch();
    return out;
  }

  /** Why the bytes up to `end` (a record's) are not UTF-8, or undefined; passes them. */
  function notUtf8(end: number): string | undefined {
    const bad = utf8.invalid;
    if (badSeen === bad.length || bad[badSeen] >= end) return undefined;
    const at = bad[badSeen];
    while (badSeen < bad.length && bad[badSeen] < end) badSeen++;
    // Forget the passed offsets once they are half the list: amortized linear. Splicing them
    // off at each record was quadratic (a body of 40k records holding bad bytes took 2 s).
    if (badSeen >= 1024 && badSeen * 2 >= bad.length) {
      bad.splice(0, badSeen);
      badSeen = 0;
    }
    return `not valid UTF-8 (a bad byte at offset ${at} of the body)`;
  }

  /**
   * The point of a row's cells, built straight into a packed point (no record object per row
   * decoded again by the JSON API's rules: that took ~60% more CPU per value, most of it GC);
   * undefined when the row is refused for something (its reason is then found the slow way).
   */
  function rowPoint(cells: string[]): Point | undefined {
    let measurement = options.measurement;
    let timestamp: string | undefined;
    const tags: Tag[] = [];
    fields.begin();
    for (let c = 0; c < cells.length; c++) {
      const cell = cells[c];
      const role = roles[c];
      switch (role.kind) {
        case "time": {
          const t = cell.trim();
          if (t !== "") timestamp = t;
          break;
        }
        case "measurement":
          measurement = cell;
          break;
        case "tag":
          if (cell === "") break;
          if (header![c] === "" || !cell.isWellFormed()) return undefined;
          tags.push(jsonOptions.tags.tag(header![c], cell));
          break;
        case "field":
          if (cell !== "" && !addCell(fields, header![c], cell, role.type!)) return undefined;
          break;
      }
    }
    if (fields.length === 0 || !measurement || !measurement.isWellFormed()) return undefined;
    const time = timestamp === undefined
      ? options.defaultTime
      : recordInstant(timestamp, jsonOptions);
    if (time === undefined) return undefined;
    return fields.point(jsonOptions.layouts, measurement, sortTags(tags), time);
  }

  function decodeRow(row: CsvRecord, n: number): void {
    batch.bytes += row.end - lastBytes;
    lastBytes = row.end;
    const issue = (reason: string, column?: string): IngestIssue =>
      column === undefined ? { record: n, reason } : { record: n, column, reason };
    const notText = notUtf8(row.end);
    if (notText !== undefined) {
      batch.errors.push(issue(notText));
      return;
    }
    const cells = row.cells;
    if (cells.length !== header!.length) {
      batch.errors.push(
        issue(`expected ${header!.length} columns (as the header), got ${cells.length}`),
      );
      return;
    }
    const point = rowPoint(cells);
    if (point !== undefined) {
      batch.points.push(point);
      batch.origins!.push(n);
      return;
    }
    // A row refused: decoded again as a JSON-API record, which says why (the same rules).
    let measurement = options.measurement;
    let timestamp: string | undefined;
    const tags: Record<string, string> = {};
    const fields: Record<string, unknown> = {};
    let fieldCount = 0;
    for (let c = 0; c < cells.length; c++) {
      const cell = cells[c];
      const role = roles[c];
      switch (role.kind) {
        case "time":
          if (cell.trim() !== "") timestamp = cell.trim();
          break;
        case "measurement":
          measurement = cell;
          break;
        case "tag":
          if (cell !== "") tags[header![c]] = cell;
          break;
        case "field": {
          if (cell === "") break;
          const value = fieldValue(cell, role.type!);
          if (value === undefined) {
            batch.errors.push(
              issue(
                `column ${JSON.stringify(header![c])}: ${
                  JSON.stringify(cell)
                } is not a valid ${role.type}`,
                header![c],
              ),
            );
            return;
          }
          fields[header![c]] = value;
          fieldCount++;
          break;
        }
      }
    }
    if (fieldCount === 0) {
      batch.errors.push(issue("no field values in this row"));
      return;
    }
    const decoded = decodeJsonRecord({ measurement, tags, fields, timestamp }, n, jsonOptions);
    if (!isRecordError(decoded)) {
      batch.points.push(decoded);
      batch.origins!.push(n);
      return;
    }
    const column = decoded.field === "timestamp"
      ? (options.timeColumn ?? "time")
      : decoded.field === "measurement"
      ? (options.measurementColumn ?? "measurement")
      : decoded.field?.replace(/^(fields|tags)\./, "");
    batch.errors.push(issue(decoded.reason, column));
  }
}

function newBatch(): DecodedBatch {
  return { points: [], errors: [], origins: [], originKind: "record", bytes: 0 };
}

function columnRoles(header: string[], options: CsvOptions): Role[] {
  const timeColumn = options.timeColumn ?? "time";
  const measurementColumn = options.measurementColumn ?? "measurement";
  const tags = new Set(options.tags ?? []);
  const seen = new Set<string>();
  const roles = header.map((name): Role => {
    if (seen.has(name)) {
      throw new ValidationError(`CSV header: column ${JSON.stringify(name)} appears twice`);
    }
    seen.add(name);
    if (name === timeColumn) return { kind: "time" };
    if (name === measurementColumn) return { kind: "measurement" };
    if (tags.has(name)) return { kind: "tag" };
    if (name === "") return { kind: "skip" };
    return { kind: "field", type: options.types?.[name] };
  });
  for (const t of tags) {
    if (!seen.has(t)) {
      throw new ValidationError(
        `tag column ${JSON.stringify(t)} is not in the CSV header (${header.join(",")})`,
      );
    }
  }
  for (const name of Object.keys(options.types ?? {})) {
    if (!seen.has(name)) {
      throw new ValidationError(
        `typed column ${JSON.stringify(name)} is not in the CSV header (${header.join(",")})`,
      );
    }
  }
  if (!seen.has(measurementColumn) && !options.measurement) {
    throw new ValidationError(
      `no measurement: the CSV header has no ${
        JSON.stringify(measurementColumn)
      } column and no measurement parameter was given`,
    );
  }
  return roles;
}

function inferColumns(roles: Role[], rows: CsvRecord[]): void {
  for (let c = 0; c < roles.length; c++) {
    const role = roles[c];
    if (role.kind !== "field" || role.type !== undefined) continue;
    const values: string[] = [];
    for (const r of rows) {
      const v = r.cells[c];
      if (v !== undefined && v !== "") values.push(v.trim());
    }
    role.type = inferType(values);
  }
}

/** The tokenizer's syntax errors as a ParseError (a 400 naming the line and column). */
function csvError(error: unknown): Error {
  if (!(error instanceof CsvSyntaxError)) return error as Error;
  return new ParseError(
    `malformed CSV at line ${error.line}: ${error.reason} at column ${error.column}: ` +
      error.detail,
    { line: error.line, column: error.column, cause: error },
  );
}
