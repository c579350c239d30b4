/**
 * The native JSON ingest format (`POST /ingest`, `Content-Type: application/json`): one
 * record or an array of records.
 *
 * ```json
 * {"timestamp": 1678886400, "measurement": "cpu_usage", "value": 0.75,
 *  "tags": {"host": "server1", "region": "us-east"}}
 * ```
 *
 * A record has these keys, and no others (an unknown key is an error naming it):
 *
 * - `measurement` (required): a non-empty string.
 * - `tags` (optional): an object of strings. An empty string means "no tag" and is dropped.
 * - `fields`: an object of field values, and/or `value`: one value, stored as the field named
 *   `value`. At least one field is required.
 * - `timestamp` (optional; the caller's `defaultTime` when absent): see below.
 *
 * Field values, one convention for each type:
 *
 * | JSON                               | field type                                    |
 * | ---------------------------------- | --------------------------------------------- |
 * | a number (`0.75`, `3`)             | float (as in line protocol without a suffix)  |
 * | a string (`"ok"`, `"NaN"`, `"42i"`)| string, always                                |
 * | `true` / `false`                   | boolean                                       |
 * | `{"integer": "-9223372036854775808"}` | integer (int64), exact                     |
 * | `{"unsigned": "18446744073709551615"}` | unsigned (uint64), exact                  |
 *
 * `{"integer": ...}` and `{"unsigned": ...}` take a decimal string, which carries every
 * 64-bit value exactly, or a JSON number that is an exact integer. Strings are never
 * reinterpreted: `"42i"` is the string `42i`.
 *
 * Timestamps: a number, a string of digits, or an RFC3339 time (`"2023-03-15T13:20:00Z"`,
 * with up to nine fraction digits and any offset). Numbers and digit strings are read in the
 * caller's precision; the default, `"auto"`, picks it from the magnitude:
 *
 * | absolute value  | read as      |
 * | --------------- | ------------ |
 * | < 1e11          | seconds      |
 * | < 1e14          | milliseconds |
 * | < 1e17          | microseconds |
 * | otherwise       | nanoseconds  |
 *
 * (1e11 s is the year 5138; 1e11 ms is 1973-03-03, so current times in seconds,
 * milliseconds, microseconds and nanoseconds all land in their own band.) Integer
 * timestamps are exact even beyond 2^53, as numbers or as strings; a fraction
 * (`1678886400.25`) is accepted and rounded to the nanosecond at double precision. A time
 * outside InfluxDB's range (±9223372036854775806 ns) is an error.
 *
 * Errors: malformed JSON throws a {@linkcode ParseError} with line and column; a bad record
 * is reported in `errors` (its 0-based index in the array, the key at fault and the reason)
 * and the other records are kept.
 *
 * Points are `PackedPoint`s: the fields' keys and types in the order of the record (`value`
 * last) as a layout shared through the `layouts` option, and the values of the point's own.
 *
 * @module
 */

import {
  checkTimeRange,
  compactInteger,
  FieldLayouts,
  FieldType,
  type Instant,
  instantFromNanos,
  INT64_MAX,
  INT64_MIN,
  ParseError,
  parseRFC3339Nanos,
  type Point,
  type Precision,
  PRECISION_NS,
  sortTags,
  type Tag,
  UINT64_MAX,
  ValidationError,
} from "../core/mod.ts";
import { findJsonSyntaxProblem, lineColumn } from "./_json_syntax.ts";
import { scanUtf8 } from "./_utf8.ts";
import { precisionSpec } from "./_timestamp.ts";
import { precisionHint, precisionHintText } from "./time_hint.ts";
import { FieldCollector } from "./_packed_fields.ts";

/** A timestamp precision, or `"auto"` to pick it by magnitude (see the module doc). */
export type JsonPrecision = Precision | "auto";

/** Options of {@linkcode decodeJsonPoints} and {@linkcode pointFromJsonObject}. */
export interface JsonPointsOptions {
  /** Unit of numeric timestamps. @default {"auto"} */
  precision?: JsonPrecision;
  /** Time of records without a timestamp (the request's arrival time). */
  defaultTime: Instant;
  /**
   * Hands out one shared Tag object per tag key and value, so the series key of a point is
   * remembered (core's `seriesKey` memo) rather than rebuilt for every point. Decoders of a
   * body share one; without it every tag is a fresh object.
   */
  tags?: TagInterner;
  /**
   * The shared field layouts of the points decoded (see `PackedPoint`): the server passes one
   * per database, so every body's points of the same fields share one layout. Decoders of a
   * body without one make their own.
   */
  layouts?: FieldLayouts;
}

/**
 * One Tag object per (key, value) seen, bounded: past `maxTags` the table starts over, so a
 * body of unbounded cardinality costs at most that many entries. Tags handed out are shared by
 * many points: nothing may change them in place (the write path never does).
 */
export class TagInterner {
  readonly #maxTags: number;
  #byKey = new Map<string, Map<string, Tag>>();
  #size = 0;

  constructor(maxTags = 100_000) {
    this.#maxTags = maxTags;
  }

  /** The shared Tag of `key` = `value`. */
  tag(key: string, value: string): Tag {
    let values = this.#byKey.get(key);
    if (values === undefined) {
      if (this.#size >= this.#maxTags) this.#clear();
      this.#byKey.set(key, values = new Map());
    }
    let tag = values.get(value);
    if (tag === undefined) {
      if (this.#size >= this.#maxTags) {
        this.#clear();
        this.#byKey.set(key, values = new Map());
      }
      values.set(value, tag = { key, value });
      this.#size++;
    }
    return tag;
  }

  #clear(): void {
    this.#byKey = new Map();
    this.#size = 0;
  }
}

/** One record that could not be decoded. */
export interface RecordError {
  /** 0-based index of the record in the array (0 for a single object). */
  record: number;
  /** The key at fault: `measurement`, `tags.host`, `fields.usage`, `value`, `timestamp` ... */
  field?: string;
  /** What is wrong, naming the value seen. */
  reason: string;
}

/** Decoded points and the errors of the records that failed. */
export interface JsonPointsResult {
  points: Point[];
  errors: RecordError[];
  /** Records that failed past the `maxErrors` listed: counted, not listed. */
  unlistedErrors: number;
  /** The 0-based record of each point (parallel to `points`). */
  records: number[];
}

/** Thrown by {@linkcode pointFromJsonObject} for a record that cannot be decoded. */
export class JsonRecordError extends ValidationError {
  /** 0-based index of the record. */
  readonly record: number;
  /** The key at fault, when there is one. */
  readonly field?: string;
  /** The reason without the record prefix. */
  readonly reason: string;

  constructor(record: number, reason: string, field?: string) {
    super(`record ${record}: ${reason}`, { details: { record, field } });
    this.name = "JsonRecordError";
    this.record = record;
    this.field = field;
    this.reason = reason;
  }

  /** The plain-object form reported in {@linkcode JsonPointsResult.errors}. */
  toRecordError(): RecordError {
    return this.field === undefined
      ? { record: this.record, reason: this.reason }
      : { record: this.record, field: this.field, reason: this.reason };
  }
}

/**
 * Decodes a JSON body: one record or an array of records. A bad record is reported and the
 * others kept; past `maxErrors` errors are only counted (`unlistedErrors`).
 *
 * @example
 * ```ts
 * const { points } = decodeJsonPoints(
 *   '{"timestamp": 1678886400, "measurement": "cpu_usage", "value": 0.75,' +
 *     ' "tags": {"host": "server1", "region": "us-east"}}',
 *   { defaultTime: { ms: 0, subMs: 0 } },
 * );
 * // points[0]: cpu_usage, tags host/region, field value = 0.75 (float),
 * //   timeMs 1678886400000 (2023-03-15T13:20:00Z)
 * ```
 * @throws {ParseError} when the text is not JSON (with line and column).
 * @throws {ValidationError} when it is JSON but neither an object nor an array.
 */
export function decodeJsonPoints(
  body: string | Uint8Array,
  options: JsonBodyOptions,
): JsonPointsResult {
  const decoder = new JsonBodyDecoder(body, options);
  decoder.parseMore();
  return decoder.decode();
}

/** Options of {@linkcode JsonBodyDecoder} and {@linkcode decodeJsonPoints}. */
export interface JsonBodyOptions extends JsonPointsOptions {
  /** Errors listed at most; the others are counted in `unlistedErrors`. @default {1000} */
  maxErrors?: number;
  /**
   * Arrays of at least this many characters are parsed element by element, as far as
   * `parseMore` is asked to go; smaller bodies in one JSON.parse. @default {1048576}
   */
  slicedParseChars?: number;
}

/**
 * A JSON body parsed and decoded a slice at a time, so that a caller can let other work run
 * between slices. A big array (`slicedParseChars`, 1 MiB by default) is not given to one
 * JSON.parse, which would hold the event loop for the whole body (a second for 25 MB): it is
 * parsed piece by piece, as far as {@linkcode parseMore} is asked to go. Bytes are decoded as
 * strict UTF-8: a record holding bytes that are not UTF-8 is rejected, naming the byte, and the
 * others are kept.
 *
 * @example
 * ```ts
 * const decoder = new JsonBodyDecoder('[{"measurement":"m","value":1}]', {
 *   defaultTime: { ms: 0, subMs: 0 },
 * });
 * while (!decoder.parseMore(1_000_000)) { } // let other work run here
 * while (decoder.remaining > 0) decoder.decode(10_000); // 1 point
 * ```
 */
export class JsonBodyDecoder {
  readonly #text: string;
  #records: unknown[] = [];
  readonly #options: JsonPointsOptions;
  readonly #maxErrors: number;
  /** Records refused before decoding (their bytes are not UTF-8), with the reason. */
  readonly #refused: ReadonlyMap<number, string>;
  /** Where the scan of a big array goes on (-1: everything parsed). */
  #scan = -1;
  /** No piece of the big array parsed yet. */
  #first = true;
  #next = 0;
  #listed = 0;

  /**
   * Takes the body; a small one (or one that is not an array) is parsed at once.
   * @throws {ParseError} when it is not JSON (with line and column).
   * @throws {ValidationError} when it is JSON but neither an object nor an array.
   */
  constructor(body: string | Uint8Array, options: JsonBodyOptions) {
    let text: string;
    let refused: ReadonlyMap<number, string> = new Map();
    if (typeof body === "string") text = body;
    else {
      try {
        text = strictJsonText.decode(body);
      } catch {
        // Rare: find the bad bytes, then the records they are in. Bytes >= 0x80 are never JSON
        // syntax, so the lenient text parses as the body would have.
        text = lenientJsonText.decode(body);
        refused = recordsNotUtf8(body);
      }
    }
    this.#text = text;
    this.#options = withDecoderCaches(options);
    this.#maxErrors = options.maxErrors ?? 1000;
    this.#refused = refused;
    let start = 0;
    while (start < text.length && isJsonSpace(text.charCodeAt(start))) start++;
    const sliced = options.slicedParseChars ?? SLICED_PARSE_CHARS;
    if (text.length >= sliced && text.charCodeAt(start) === 0x5b) {
      this.#scan = start + 1; // just past the [
      return;
    }
    const parsed = parseJson(text);
    if (Array.isArray(parsed)) this.#records = parsed;
    else if (parsed !== null && typeof parsed === "object") this.#records = [parsed];
    else {
      throw new ValidationError(
        `expected a JSON object or an array of objects, got ${describe(parsed)}`,
      );
    }
  }

  /**
   * Parses about `chars` more characters of a big array (all of it by default); true once the
   * whole body is parsed. The array is cut at commas between its elements, and each piece goes
   * to one JSON.parse (native speed, and big integers stay exact as in {@linkcode parseJson}).
   * @throws {ParseError} when the body is not JSON (with line and column).
   */
  parseMore(chars = Infinity): boolean {
    if (this.#scan < 0) return true;
    const text = this.#text, start = this.#scan;
    const target = start + chars;
    if (target >= text.length) return this.#parseRest();
    // Records are objects: `},{` (white space aside) past the target is almost always the
    // boundary between two of them, found without reading the text in between. A piece that
    // ends anywhere else ends inside a value and JSON.parse refuses it (a prefix of a value
    // is never a whole value), so a successful parse proves the cut.
    if (target < text.length) {
      RECORD_BOUNDARY.lastIndex = target;
      const boundary = RECORD_BOUNDARY.exec(text);
      if (boundary !== null) {
        const comma = text.indexOf(",", boundary.index);
        let values: unknown;
        try {
          values = parseExact(`[${text.slice(start, comma)}]`);
        } catch (e) {
          if (!(e instanceof SyntaxError)) throw e;
        }
        if (Array.isArray(values)) {
          for (const v of values) this.#records.push(v);
          this.#first = false;
          this.#scan = comma + 1;
          return false;
        }
      }
    }
    return this.#parseExactPiece(target);
  }

  /** The rest of the array as one piece: no cut to find. */
  #parseRest(): boolean {
    const text = this.#text, start = this.#scan;
    if (this.#first) {
      // Nothing parsed yet: the whole text is the array, and one JSON.parse reads it.
      const parsed = parseJson(text);
      if (!Array.isArray(parsed)) {
        throw new Error("BUG: a body that starts with [ parsed to no array");
      }
      this.#records = parsed;
      this.#first = false;
      this.#scan = -1;
      return true;
    }
    let end = text.length - 1;
    while (end >= start && isJsonSpace(text.charCodeAt(end))) end--;
    const piece = text.slice(start, end);
    const empty = isBlank(piece);
    let values: unknown = [];
    try {
      // `[]` is an empty array; an empty piece after a comma is `[1,]`.
      if (end < start || text.charCodeAt(end) !== 0x5d || (empty && !this.#first)) {
        throw new SyntaxError("malformed JSON array");
      }
      if (!empty) values = parseExact(`[${piece}]`);
    } catch (e) {
      if (!(e instanceof SyntaxError)) throw e;
      throw jsonParseError(text, e); // located in the whole body
    }
    if (this.#records.length === 0) this.#records = values as unknown[];
    else for (const v of values as unknown[]) this.#records.push(v);
    this.#first = false;
    this.#scan = -1;
    return true;
  }

  /** parseMore's sure way: reads the text from the scan on to find the next cut. */
  #parseExactPiece(target: number): boolean {
    const text = this.#text, n = text.length;
    const malformed = (): never => {
      throw jsonParseError(text, new SyntaxError("malformed JSON array"));
    };
    const start = this.#scan;
    let i = start, depth = 0, closed = false;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        // A string: to its closing quote, stepping over escapes.
        for (i++; i < n; i++) {
          const d = text.charCodeAt(i);
          if (d === 0x5c) i++;
          else if (d === 0x22) break;
        }
      } else if (c === 0x5b || c === 0x7b) depth++;
      else if (c === 0x5d || c === 0x7d) {
        if (depth === 0) {
          if (c !== 0x5d) malformed(); // only the array's own ] closes at this level
          closed = true;
          break;
        }
        depth--;
      } else if (c === 0x2c && depth === 0 && i >= target) break;
    }
    if (i >= n) malformed(); // the array is never closed
    const piece = text.slice(start, i);
    const empty = isBlank(piece);
    // `[]` is an empty array; an empty piece anywhere else is `[1,]` or `[,1]`.
    if (empty && !(closed && this.#records.length === 0 && this.#first)) malformed();
    this.#first = false;
    if (!empty) {
      let values: unknown;
      try {
        values = parseExact(`[${piece}]`);
      } catch (e) {
        if (!(e instanceof SyntaxError)) throw e;
        malformed(); // located in the whole body
      }
      for (const v of values as unknown[]) this.#records.push(v);
    }
    if (!closed) {
      this.#scan = i + 1; // past the comma
      return false;
    }
    // Past the closing bracket only white space may follow.
    for (i++; i < n; i++) if (!isJsonSpace(text.charCodeAt(i))) malformed();
    this.#scan = -1;
    return true;
  }

  /** Records not decoded yet. */
  get remaining(): number {
    return this.#records.length - this.#next;
  }

  /** Decodes the next `count` records (all that remain by default). */
  decode(count = Infinity): JsonPointsResult {
    const out: JsonPointsResult = { points: [], errors: [], unlistedErrors: 0, records: [] };
    const end = Math.min(this.#records.length, this.#next + count);
    const records = this.#records, refused = this.#refused;
    for (let k = this.#next; k < end; k++) {
      const value = records[k];
      if (this.#listed >= this.#maxErrors && !isObject(value)) {
        out.unlistedErrors++; // a body of garbage: no reason to word
        continue;
      }
      const notUtf8 = refused.size === 0 ? undefined : refused.get(k);
      const decoded: Point | RecordError = notUtf8 !== undefined
        ? { record: k, reason: notUtf8 }
        : decodeJsonRecord(value, k, this.#options);
      if (!isRecordError(decoded)) {
        out.points.push(decoded);
        out.records.push(k);
      } else if (this.#listed < this.#maxErrors) {
        this.#listed++;
        out.errors.push(decoded);
      } else out.unlistedErrors++;
    }
    this.#next = end;
    return out;
  }
}

/**
 * `options` with a tag interner and field layouts for a decoder of many records, its own when
 * the caller passes none.
 */
export function withDecoderCaches<T extends JsonPointsOptions>(
  options: T,
): T & Required<Pick<JsonPointsOptions, "tags" | "layouts">> {
  if (options.tags && options.layouts) {
    return options as T & Required<Pick<JsonPointsOptions, "tags" | "layouts">>;
  }
  return {
    ...options,
    tags: options.tags ?? new TagInterner(),
    layouts: options.layouts ?? new FieldLayouts(),
  };
}

/** Arrays of at least this many characters are parsed element by element (by default). */
const SLICED_PARSE_CHARS = 1024 * 1024;

function isJsonSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** `}` `,` `{` with any JSON white space between: where one record object ends and the next starts. */
const RECORD_BOUNDARY = /\}[ \t\r\n]*,[ \t\r\n]*\{/g;

function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (!isJsonSpace(text.charCodeAt(i))) return false;
  return true;
}

function isObject(value: unknown): boolean {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Strict, and like JSON.parse's callers before, it drops a leading BOM. */
const strictJsonText = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
const lenientJsonText = new TextDecoder("utf-8", { ignoreBOM: false });

/**
 * The records (elements of the top-level array, or 0 for a body that is one object) holding
 * bytes that are not UTF-8, each with a reason naming the first such byte.
 */
function recordsNotUtf8(bytes: Uint8Array): Map<number, string> {
  const out = new Map<number, string>();
  const offsets = scanUtf8(bytes, true).invalid;
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0; // a BOM
  while (i < bytes.length && bytes[i] <= 0x20) i++;
  const array = bytes[i] === 0x5b; // [
  let depth = 0, inString = false, record = 0, k = 0;
  for (; i < bytes.length && k < offsets.length; i++) {
    // Offsets inside an escape (skipped below) are found on the next byte.
    while (k < offsets.length && offsets[k] <= i) {
      const at = offsets[k++];
      if (!out.has(record)) {
        out.set(
          record,
          `not valid UTF-8: byte 0x${bytes[at].toString(16).padStart(2, "0")} at offset ${at} ` +
            `of the body`,
        );
      }
    }
    const b = bytes[i];
    if (inString) {
      if (b === 0x5c) i++; // backslash: the next byte is escaped
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x5b || b === 0x7b) depth++;
    else if (b === 0x5d || b === 0x7d) depth--;
    else if (b === 0x2c && depth === 1 && array) record++;
  }
  return out;
}

/**
 * An integer literal beyond 2^53 has 16 digits or more, in value position (after `:`, `,` or
 * `[`). Only then does parseJson pay for a reviver; digits inside strings rarely match.
 */
const LONG_INTEGER = /[:,[]\s*-?\d{16}/;
const INTEGER_TEXT = /^-?\d+$/;

/**
 * `JSON.parse`, but integer literals beyond the safe range come back as exact `bigint`s
 * (so nanosecond timestamps and 64-bit integers sent as JSON numbers stay exact).
 *
 * @throws {ParseError} with line and column when the text is not JSON.
 */
export function parseJson(text: string): unknown {
  try {
    return parseExact(text);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    throw jsonParseError(text, e);
  }
}

/** Where and why a text given to {@linkcode parseJsonOrMalformed} is not JSON. */
export class MalformedJson {
  constructor(
    /** 1-based. */
    readonly line: number,
    /** 1-based, in characters (UTF-16 code units). */
    readonly column: number,
    /** Why, without the place (e.g. `unterminated string`). */
    readonly message: string,
  ) {}
}

/**
 * {@linkcode parseJson} returning a {@linkcode MalformedJson} (never a parsed value) instead
 * of throwing, for one record per line, where a body of bad lines would otherwise build an
 * Error and its stack trace per line. `suspect` (say, many lines before were malformed) runs
 * the syntax validator first: JSON.parse's own SyntaxError costs more than the validator.
 */
export function parseJsonOrMalformed(text: string, suspect = false): unknown {
  if (suspect) {
    const problem = findJsonSyntaxProblem(text);
    // Past the validator's depth JSON.parse decides; elsewhere the two agree (see the tests).
    if (problem !== undefined && !problem.tooDeep) {
      return new MalformedJson(problem.line, problem.column, problem.message);
    }
  }
  try {
    return parseExact(text);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    return malformedJson(text, e);
  }
}

/** {@linkcode parseJson} throwing JSON.parse's SyntaxError, not located. */
function parseExact(text: string): unknown {
  if (!LONG_INTEGER.test(text)) return JSON.parse(text);
  return JSON.parse(text, exactIntegers as (key: string, value: unknown) => unknown);
}

function exactIntegers(_key: string, value: unknown, context?: { source?: string }): unknown {
  if (
    typeof value === "number" && !Number.isSafeInteger(value) && context?.source !== undefined &&
    INTEGER_TEXT.test(context.source)
  ) {
    return BigInt(context.source);
  }
  return value;
}

/** The located ParseError of `text`, which JSON.parse refused with `cause`. */
function jsonParseError(text: string, cause: SyntaxError): ParseError {
  const { line, column, message } = malformedJson(text, cause);
  return new ParseError(`malformed JSON at line ${line}, column ${column}: ${message}`, {
    line,
    column,
    cause,
  });
}

function malformedJson(text: string, cause: SyntaxError): MalformedJson {
  const problem = findJsonSyntaxProblem(text);
  if (problem !== undefined) {
    return new MalformedJson(problem.line, problem.column, problem.message);
  }
  // The validator found nothing: fall back on the position in V8's message, if any.
  const at = /position (\d+)/.exec(cause.message);
  const { line, column } = lineColumn(text, at ? Number(at[1]) : text.length);
  return new MalformedJson(line, column, cause.message);
}

/**
 * Decodes one record (an already parsed JSON value). NDJSON and other framings call this per
 * record; parse with {@linkcode parseJson} to keep integers beyond 2^53 exact.
 *
 * @throws {JsonRecordError} naming the record, the key and the reason.
 */
export function pointFromJsonObject(
  value: unknown,
  index: number,
  options: JsonPointsOptions,
): Point {
  const decoded = decodeJsonRecord(value, index, options);
  if (isRecordError(decoded)) {
    throw new JsonRecordError(decoded.record, decoded.reason, decoded.field);
  }
  return decoded;
}

/**
 * {@linkcode pointFromJsonObject} without the exception: the point, or the record's error.
 * Decoders of many records call this one, so that a body of a million bad records costs a
 * million small objects at most, not a million Errors with their stack traces.
 */
export function decodeJsonRecord(
  value: unknown,
  index: number,
  options: JsonPointsOptions,
): Point | RecordError {
  try {
    return pointOf(value, index, options);
  } catch (e) {
    if (!(e instanceof RecordProblem)) throw e;
    return recordError(e.record, e.reason, e.field);
  }
}

/**
 * The instant of a record's `timestamp` value (as the JSON API reads it), or undefined when the
 * record would be refused for it: for decoders that build points without a JSON record (CSV),
 * which ask {@linkcode decodeJsonRecord} for the reason.
 */
export function recordInstant(time: unknown, options: JsonPointsOptions): Instant | undefined {
  try {
    return instantOf(0, time, options.precision ?? "auto", options.defaultTime.ms);
  } catch (e) {
    if (!(e instanceof RecordProblem)) throw e;
    return undefined;
  }
}

/** True when {@linkcode decodeJsonRecord} returned an error. */
export function isRecordError(decoded: Point | RecordError): decoded is RecordError {
  return (decoded as RecordError).reason !== undefined;
}

function recordError(record: number, reason: string, field?: string): RecordError {
  return field === undefined ? { record, reason } : { record, field, reason };
}

/**
 * A record's problem, thrown from deep in the decoding and caught by decodeJsonRecord: a plain
 * object, not an Error, because capturing a stack trace costs more than decoding a record.
 */
class RecordProblem {
  constructor(readonly record: number, readonly reason: string, readonly field?: string) {}
}

/**
 * The point of a record, or its error. Problems found here are returned (most bad records fail
 * here, and a throw costs more than the rest of the record); the helpers below throw a
 * RecordProblem instead.
 */
function pointOf(
  value: unknown,
  index: number,
  options: JsonPointsOptions,
): Point | RecordError {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return recordError(index, `expected an object, got ${describe(value)}`);
  }
  const record = value as Record<string, unknown>;
  let measurement: unknown, tagsValue: unknown, fieldsValue: unknown, time: unknown;
  let hasValue = false;
  for (const key in record) {
    switch (key) {
      case "measurement":
        measurement = record[key];
        break;
      case "tags":
        tagsValue = record[key];
        break;
      case "fields":
        fieldsValue = record[key];
        break;
      case "value":
        hasValue = true;
        break;
      case "timestamp":
        time = record[key];
        break;
      default:
        return recordError(
          index,
          `unknown key ${JSON.stringify(key)} (a record has measurement, tags, fields, value, ` +
            `timestamp)`,
          key,
        );
    }
  }

  if (measurement === undefined) {
    return recordError(index, "missing measurement", "measurement");
  }
  if (typeof measurement !== "string" || measurement === "") {
    return recordError(
      index,
      `measurement: expected a non-empty string, got ${describe(measurement)}`,
      "measurement",
    );
  }

  // Bytes are checked as UTF-8 before parsing, but a `\ud800` escape still makes a string no
  // UTF-8 can hold: refused here, as the storage's string codec would refuse it at flush.
  if (!measurement.isWellFormed()) return notUnicode(index, "measurement", "measurement");

  const tags: Tag[] = [];
  const interner = options.tags;
  if (tagsValue !== undefined && tagsValue !== null) {
    if (typeof tagsValue !== "object" || Array.isArray(tagsValue)) {
      return recordError(
        index,
        `tags: expected an object of strings, got ${describe(tagsValue)}`,
        "tags",
      );
    }
    for (const key in tagsValue) {
      const v = (tagsValue as Record<string, unknown>)[key];
      if (typeof v !== "string") {
        return recordError(
          index,
          `tag ${JSON.stringify(key)}: expected a string, got ${describe(v)}`,
          `tags.${key}`,
        );
      }
      if (key === "") return recordError(index, "tag keys must not be empty", "tags");
      if (!key.isWellFormed() || !v.isWellFormed()) {
        return notUnicode(index, `tag ${JSON.stringify(key)}`, `tags.${key}`);
      }
      if (v !== "") tags.push(interner ? interner.tag(key, v) : { key, value: v });
    }
    sortTags(tags);
  }

  const fields = collected;
  fields.begin();
  if (fieldsValue !== undefined) {
    if (fieldsValue === null || typeof fieldsValue !== "object" || Array.isArray(fieldsValue)) {
      return recordError(
        index,
        `fields: expected an object, got ${describe(fieldsValue)}`,
        "fields",
      );
    }
    for (const key in fieldsValue) {
      if (key === "") return recordError(index, "field keys must not be empty", "fields");
      if (!key.isWellFormed()) {
        return notUnicode(index, `field ${JSON.stringify(key)}`, `fields.${key}`);
      }
      const v = (fieldsValue as Record<string, unknown>)[key];
      addField(fields, index, key, true, v);
    }
  }
  if (hasValue) {
    if (fields.indexOf("value") >= 0) {
      return recordError(
        index,
        'field "value" given twice, as "value" and inside "fields"',
        "value",
      );
    }
    addField(fields, index, "value", false, record.value);
  }
  if (fields.length === 0) {
    return recordError(
      index,
      'no fields: give "fields" (an object of values) or "value"',
      "fields",
    );
  }

  let instant = options.defaultTime;
  if (time !== undefined) {
    instant = instantOf(index, time, options.precision ?? "auto", options.defaultTime.ms);
  }
  return fields.point(options.layouts ?? new FieldLayouts(), measurement, tags, instant);
}

/**
 * The fields of the record being decoded. One for the module: decoding is synchronous, and a
 * record's fields are copied out (values) or into a shared layout (keys, types) before the next.
 */
const collected = new FieldCollector();

const LONE_SURROGATE = "not valid Unicode (a \\u escape of a lone surrogate)";

/** The error of a name holding a lone surrogate. */
function notUnicode(index: number, what: string, field: string): RecordError {
  return recordError(index, `${what}: ${LONE_SURROGATE}`, field);
}

const FIELD_EXPECTED = 'a number, string, boolean, {"integer": "..."} or {"unsigned": "..."}';

/**
 * Adds the field `key` of value `v` to `fields`, or throws its problem. `nested`: the field sits
 * in `fields` (its path is `fields.<key>`, built only for errors).
 */
function addField(
  fields: FieldCollector,
  index: number,
  key: string,
  nested: boolean,
  v: unknown,
): void {
  switch (typeof v) {
    case "number":
      if (!Number.isFinite(v)) {
        throw new RecordProblem(
          index,
          `field ${JSON.stringify(key)}: ${v} is out of range`,
          nested ? `fields.${key}` : key,
        );
      }
      return fields.add(key, FieldType.Float, v);
    case "bigint": {
      // An integer literal beyond 2^53 (see parseJson): still a float, as a JSON number is; one
      // of 309+ digits overflows to Infinity, which InfluxDB refuses too.
      const value = Number(v);
      if (!Number.isFinite(value)) {
        const digits = String(v).replace("-", "");
        throw new RecordProblem(
          index,
          `field ${JSON.stringify(key)}: an integer of ${digits.length} digits is out of ` +
            `range (a float holds up to about 1.8e308)`,
          nested ? `fields.${key}` : key,
        );
      }
      return fields.add(key, FieldType.Float, value);
    }
    case "string":
      if (!v.isWellFormed()) {
        throw new RecordProblem(
          index,
          `field ${JSON.stringify(key)}: ${LONE_SURROGATE}`,
          nested ? `fields.${key}` : key,
        );
      }
      return fields.add(key, FieldType.String, v);
    case "boolean":
      return fields.add(key, FieldType.Boolean, v);
  }
  if (v !== null && typeof v === "object" && !Array.isArray(v)) {
    const keys = Object.keys(v);
    if (keys.length === 1 && (keys[0] === "integer" || keys[0] === "unsigned")) {
      const unsigned = keys[0] === "unsigned";
      const raw = (v as Record<string, unknown>)[keys[0]];
      const n = exactInteger(raw);
      const what = unsigned ? "unsigned" : "integer";
      if (n === undefined) {
        throw new RecordProblem(
          index,
          `field ${JSON.stringify(key)}: {"${what}": ...} takes a decimal string or an exact ` +
            `integer, got ${describe(raw)}`,
          nested ? `fields.${key}` : key,
        );
      }
      const [min, max, range] = unsigned
        ? [0n, UINT64_MAX, "uint64"]
        : [INT64_MIN, INT64_MAX, "int64"];
      if (n < min || n > max) {
        throw new RecordProblem(
          index,
          `field ${
            JSON.stringify(key)
          }: ${what} ${n} is outside the ${range} range [${min}, ${max}]`,
          nested ? `fields.${key}` : key,
        );
      }
      return fields.add(
        key,
        unsigned ? FieldType.Unsigned : FieldType.Integer,
        compactInteger(n),
      );
    }
  }
  throw new RecordProblem(
    index,
    `field ${JSON.stringify(key)}: expected ${FIELD_EXPECTED}, got ${describe(v)}`,
    nested ? `fields.${key}` : key,
  );
}

/** A decimal integer string, a safe integer number, or a bigint, as a bigint. */
function exactInteger(raw: unknown): bigint | undefined {
  if (typeof raw === "string" && INTEGER_TEXT.test(raw)) return BigInt(raw);
  if (typeof raw === "number" && Number.isSafeInteger(raw)) return BigInt(raw);
  if (typeof raw === "bigint") return raw;
  return undefined;
}

/** The precision "auto" picks for a number of this magnitude. */
function autoPrecision(magnitude: number): Precision {
  return magnitude < 1e11 ? "s" : magnitude < 1e14 ? "ms" : magnitude < 1e17 ? "us" : "ns";
}

/** The same for an exact integer (Number() would round 99999999999999999 up to 1e17). */
function autoPrecisionExact(v: bigint): Precision {
  const magnitude = v < 0n ? -v : v;
  return magnitude < 100_000_000_000n
    ? "s"
    : magnitude < 100_000_000_000_000n
    ? "ms"
    : magnitude < 100_000_000_000_000_000n
    ? "us"
    : "ns";
}

function instantOf(
  index: number,
  time: unknown,
  precision: JsonPrecision,
  nowMs: number,
): Instant {
  const fail = (why: string): never => {
    throw new RecordProblem(index, `timestamp ${why}`, "timestamp");
  };
  const outside = (shown: string, p: Precision) => {
    // An explicit precision may be the wrong one: say which the digits look like.
    const hint = precision === "auto" ? undefined : precisionHint(Number(shown), p, nowMs);
    return fail(
      `${shown} (in ${p}) is outside the valid range ` +
        `[-9223372036854775806, 9223372036854775806] nanoseconds` +
        (hint === undefined ? "" : `; ${precisionHintText(hint)}`),
    );
  };
  if (typeof time === "number") {
    if (!Number.isFinite(time)) return fail(`${time} is not a finite number`);
    const p = precision === "auto" ? autoPrecision(Math.abs(time)) : precision;
    const unitNs = Number(PRECISION_NS[p]);
    // Coarse guard first, so that 1e300 never reaches BigInt; exact checks follow.
    if (Math.abs(time) * unitNs > 9.3e18) return outside(String(time), p);
    if (Number.isSafeInteger(time)) {
      if (Math.abs(time) > Number(precisionSpec(p).limit)) return outside(String(time), p);
      return instantOfSafeInteger(time, p);
    }
    if (Number.isInteger(time)) return instantOfBigInt(BigInt(time), p, outside);
    // A fraction: exact to the double's precision, rounded to the nanosecond.
    const msFloat = time * (unitNs / 1e6);
    if (Math.abs(msFloat) > 9223372036854) return outside(String(time), p);
    let ms = Math.floor(msFloat);
    let subMs = Math.round((msFloat - ms) * 1e6);
    if (subMs >= 1e6) {
      subMs -= 1e6;
      ms += 1;
    }
    return { ms, subMs };
  }
  if (typeof time === "bigint") {
    const p = precision === "auto" ? autoPrecisionExact(time) : precision;
    return instantOfBigInt(time, p, outside);
  }
  if (typeof time === "string") {
    if (INTEGER_TEXT.test(time)) {
      const n = BigInt(time);
      const p = precision === "auto" ? autoPrecisionExact(n) : precision;
      return instantOfBigInt(n, p, outside);
    }
    const ns = parseRFC3339Nanos(time);
    if (ns === undefined) {
      return fail(
        `${JSON.stringify(time)} is neither an integer nor an RFC3339 time ` +
          `(like "2023-03-15T13:20:00Z")`,
      );
    }
    try {
      checkTimeRange(ns);
    } catch {
      return fail(`${JSON.stringify(time)} is outside the valid range`);
    }
    return instantFromNanos(ns);
  }
  return fail(`expected a number, a digit string or an RFC3339 string, got ${describe(time)}`);
}

/** A safe integer in precision `p` already checked against the range; no BigInt needed. */
function instantOfSafeInteger(v: number, p: Precision): Instant {
  const unit = Number(PRECISION_NS[p]);
  if (unit >= 1e6) return { ms: v * (unit / 1e6) + 0, subMs: 0 };
  // ns or µs: split at the millisecond; the division may round, so correct by one.
  const perMs = 1e6 / unit;
  let ms = Math.floor(v / perMs);
  let rest = v - ms * perMs;
  if (rest < 0) {
    rest += perMs;
    ms -= 1;
  } else if (rest >= perMs) {
    rest -= perMs;
    ms += 1;
  }
  return { ms: ms + 0, subMs: rest * unit };
}

function instantOfBigInt(
  v: bigint,
  p: Precision,
  outside: (shown: string, p: Precision) => never,
): Instant {
  const ns = v * PRECISION_NS[p];
  try {
    checkTimeRange(ns);
  } catch {
    return outside(v.toString(), p);
  }
  return instantFromNanos(ns);
}

/** Names a JSON value's type for an error message, with the value when short. */
function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  switch (typeof v) {
    case "undefined":
      return "nothing";
    case "object":
      return "an object";
    case "string":
      return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "..." : v)}`;
    case "bigint":
      return `the number ${v}`;
    default:
      return `the ${typeof v} ${String(v)}`;
  }
}
