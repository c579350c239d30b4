/**
 * InfluxDB's `/query` JSON answer as a sequence of byte chunks, the same bytes as
 * {@linkcode encodeJson} (not `pretty`): rows are written straight into a byte buffer, each
 * chunk handed out once it passes {@linkcode CHUNK_BYTES}, so a large raw answer is never one
 * string (nor a string per row, nor a UTF-8 copy of the whole). With `consume`, each row is
 * released as it is written: what is not yet sent shrinks as the answer streams.
 *
 * @module
 */
import type { Instant } from "../core/time.ts";
import {
  encodeTime,
  type EpochUnit,
  goFloat,
  type JsonOptions,
  jsonString,
} from "./encode_json.ts";
import type { ResultSeries, StatementResult, Value } from "./result.ts";
import { isInstant } from "./result.ts";
import { formatInZone } from "./zone.ts";

/** A chunk is handed out once it holds this many bytes (a row may take it past). */
export const CHUNK_BYTES = 64 * 1024;

/** Options of {@linkcode jsonChunks}. */
export interface JsonChunksOptions extends Omit<JsonOptions, "pretty"> {
  /** Release each series' rows as they are written (the caller will not read them again). */
  consume?: boolean;
  /** Bytes per chunk. @default {CHUNK_BYTES} */
  chunkBytes?: number;
}

/** Appends ASCII and UTF-8 text to a growing byte buffer, handed out chunk by chunk. */
class ByteSink {
  #buf: Uint8Array<ArrayBuffer>;
  #at = 0;
  readonly #encoder = new TextEncoder();

  /** Bytes of the next buffer: small for the first (most answers are a few hundred bytes). */
  #nextSize: number;

  constructor(readonly chunkBytes: number) {
    this.#nextSize = Math.min(4096, chunkBytes + 1024);
    this.#buf = new Uint8Array(0);
  }

  get size(): number {
    return this.#at;
  }

  /** Writes a string: ASCII byte by byte, the rest through the UTF-8 encoder. */
  text(s: string): void {
    const n = s.length;
    this.#reserve(n);
    const buf = this.#buf;
    let at = this.#at;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.#at = at;
        this.#utf8(s.slice(i));
        return;
      }
      buf[at++] = c;
    }
    this.#at = at;
  }

  bytes(b: Uint8Array): void {
    this.#reserve(b.length);
    this.#buf.set(b, this.#at);
    this.#at += b.length;
  }

  byte(c: number): void {
    this.#reserve(1);
    this.#buf[this.#at++] = c;
  }

  /** The bytes written since the last take (a view of a buffer not written again). */
  take(): Uint8Array<ArrayBuffer> {
    const out = this.#buf.subarray(0, this.#at);
    // The next buffer is made on the next write (none after the last chunk), whole-chunk sized:
    // the answer is a large one.
    this.#buf = new Uint8Array(0);
    this.#nextSize = this.chunkBytes + 1024;
    this.#at = 0;
    return out;
  }

  #utf8(s: string): void {
    // At most 3 bytes per UTF-16 unit.
    this.#reserve(3 * s.length);
    const { written } = this.#encoder.encodeInto(s, this.#buf.subarray(this.#at));
    this.#at += written;
  }

  #reserve(n: number): void {
    if (this.#at + n <= this.#buf.length) return;
    const grown = new Uint8Array(Math.max(2 * this.#buf.length, this.#nextSize, this.#at + n));
    grown.set(this.#buf.subarray(0, this.#at));
    this.#buf = grown;
  }
}

const COMMA = 0x2c, OPEN = 0x5b, CLOSE = 0x5d;

/**
 * The chunks of {@linkcode encodeJson}'s answer (without `pretty`), in order; their
 * concatenation is that answer's UTF-8 bytes.
 */
export function* jsonChunks(
  results: readonly StatementResult[],
  options: JsonChunksOptions = {},
): Generator<Uint8Array<ArrayBuffer>, void, undefined> {
  const w = new AnswerWriter(options);
  w.sink.text('{"results":[');
  for (let r = 0; r < results.length; r++) {
    const result = results[r];
    if (r > 0) w.sink.byte(COMMA);
    w.sink.text(`{"statement_id":${result.statementId}`);
    if (result.series && result.series.length > 0) {
      w.sink.text(',"series":[');
      for (let k = 0; k < result.series.length; k++) {
        if (k > 0) w.sink.byte(COMMA);
        yield* w.series(result.series[k]);
      }
      w.sink.byte(CLOSE);
    }
    w.tail(result);
  }
  w.sink.text("]}\n");
  yield w.sink.take();
}

/**
 * {@linkcode jsonChunks} for results whose last one may be streamed
 * ({@linkcode StatementResult.stream}): its pieces are read as the answer is written, each
 * released once written. A failure on the way ends the open series and puts the error into
 * the statement's result (`"series":[...],"error":"..."`): the answer stays one JSON document.
 * The stream is closed at the end, on a failure and when the reader stops early.
 */
export async function* jsonChunksStreamed(
  results: readonly StatementResult[],
  options: JsonChunksOptions = {},
): AsyncGenerator<Uint8Array<ArrayBuffer>, void, undefined> {
  const last = results[results.length - 1];
  const stream = last?.stream;
  if (stream === undefined) {
    yield* jsonChunks(results, options);
    return;
  }
  try {
    const w = new AnswerWriter(options);
    const sink = w.sink;
    // Everything before the streamed statement, then its opening.
    const before = jsonChunks(results.slice(0, -1), options);
    let head = new Uint8Array(0);
    for (const chunk of before) {
      if (head.length > 0) yield head;
      head = chunk;
    }
    // The materialized part ends with "]}\n": the streamed result goes in its place.
    sink.bytes(head.subarray(0, head.length - 3));
    if (results.length > 1) sink.byte(COMMA);
    sink.text(`{"statement_id":${last.statementId}`);
    let seriesOpen = false, anySeries = false;
    let error: string | undefined;
    try {
      for (;;) {
        const piece = await stream.next();
        if (piece === undefined) break;
        if (!piece.continues || !seriesOpen) {
          if (seriesOpen) sink.text("]}");
          sink.text(anySeries ? "," : ',"series":[');
          anySeries = seriesOpen = true;
          sink.text(seriesHead(piece.series));
          sink.text(
            `${piece.series.columns.length > 0 || hasHead(piece.series) ? "," : ""}"values":[`,
          );
        } else sink.byte(COMMA);
        yield* w.rows(piece.series);
      }
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    if (seriesOpen) sink.text("]}");
    if (anySeries) sink.byte(CLOSE);
    w.tail(error === undefined ? last : { ...last, error });
    sink.text("]}\n");
    yield sink.take();
  } finally {
    stream.close();
  }
}

/** Writes an answer's parts into one byte sink (shared by the two encoders above). */
class AnswerWriter {
  readonly sink: ByteSink;
  // Strings repeat in a raw answer (tag columns): each is escaped and encoded once.
  readonly #strings = new Map<string, Uint8Array>();
  readonly #encoder = new TextEncoder();
  readonly string = (s: string): void => {
    let b = this.#strings.get(s);
    if (b === undefined) {
      if (this.#strings.size >= 4096) this.#strings.clear();
      b = this.#encoder.encode(jsonString(s));
      this.#strings.set(s, b);
    }
    this.sink.bytes(b);
  };

  constructor(readonly options: JsonChunksOptions) {
    this.sink = new ByteSink(options.chunkBytes ?? CHUNK_BYTES);
  }

  /** One series object, `{...}`; yields each chunk as it fills. */
  *series(s: ResultSeries): Generator<Uint8Array<ArrayBuffer>, void, undefined> {
    const sink = this.sink;
    sink.text(seriesHead(s));
    if (s.values.length > 0) {
      sink.text(`${s.columns.length > 0 || hasHead(s) ? "," : ""}"values":[`);
      yield* this.rows(s);
      sink.byte(CLOSE);
    }
    sink.text("}");
  }

  /** The rows of a series, comma-separated; with `consume`, each released once written. */
  *rows(s: ResultSeries): Generator<Uint8Array<ArrayBuffer>, void, undefined> {
    const sink = this.sink, options = this.options;
    const rows = s.values;
    const inZone = s.timezone !== undefined && options.epoch === undefined ? s.timezone : undefined;
    // A frozen answer (shared by its maker) is read, never released.
    const release = options.consume === true && !Object.isFrozen(rows);
    for (let i = 0; i < rows.length; i++) {
      if (i > 0) sink.byte(COMMA);
      writeRow(sink, rows[i], this.string, inZone, options.epoch);
      if (release) (rows as unknown[])[i] = undefined;
      if (sink.size >= sink.chunkBytes) yield sink.take();
    }
    if (release && !Object.isFrozen(s)) s.values = [];
  }

  /** A result's messages and error, and its closing brace. */
  tail(result: StatementResult): void {
    const sink = this.sink;
    if (result.messages && result.messages.length > 0) {
      sink.text(
        `,"messages":[${
          result.messages.map((m) =>
            `{"level":${jsonString(m.level)},"text":${jsonString(m.text)}}`
          )
            .join(",")
        }]`,
      );
    }
    if (result.error !== undefined && result.error !== "") {
      sink.text(`,"error":${jsonString(result.error)}`);
    }
    sink.text("}");
  }
}

function hasHead(s: ResultSeries): boolean {
  return s.name !== "" || (s.tags !== undefined && Object.keys(s.tags).length > 0);
}

/** `{"name":..,"tags":{..},"columns":[..]` of a series (encode_json.ts's order). */
function seriesHead(s: ResultSeries): string {
  const parts: string[] = [];
  if (s.name !== "") parts.push(`"name":${jsonString(s.name)}`);
  if (s.tags && Object.keys(s.tags).length > 0) {
    const keys = Object.keys(s.tags).sort();
    parts.push(
      `"tags":{${keys.map((k) => `${jsonString(k)}:${jsonString(s.tags![k])}`).join(",")}}`,
    );
  }
  if (s.columns.length > 0) parts.push(`"columns":[${s.columns.map(jsonString).join(",")}]`);
  return "{" + parts.join(",");
}

function writeRow(
  sink: ByteSink,
  row: readonly (Value | Instant)[],
  string: (s: string) => void,
  zone: string | undefined,
  epoch: EpochUnit | undefined,
): void {
  sink.byte(OPEN);
  for (let c = 0; c < row.length; c++) {
    if (c > 0) sink.byte(COMMA);
    const v = row[c];
    switch (typeof v) {
      case "number":
        sink.text(goFloat(v));
        break;
      case "string":
        string(v);
        break;
      case "bigint":
        sink.text(v.toString());
        break;
      case "boolean":
        sink.text(v ? "true" : "false");
        break;
      default:
        if (!isInstant(v as Value | Instant)) sink.text("null");
        else if (zone !== undefined) {
          sink.text(`"${formatInZone((v as Instant).ms, (v as Instant).subMs, zone)}"`);
        } else sink.text(encodeTime(v as Instant, epoch));
    }
  }
  sink.byte(CLOSE);
}
