/**
 * InfluxDB's chunked `/query` answer (`chunked=true`): newline-delimited result objects, one
 * series (or at most `chunk_size` of its rows) per line. A line is marked `"partial":true` at
 * the series level when more rows of the same series follow, and at the statement level when
 * more lines of the same statement follow — byte for byte as InfluxDB 1.6.7 writes them.
 *
 * @module
 */
import { encodeResult, encodeSeries, type JsonOptions } from "./encode_json.ts";
import type { ResultSeries, StatementResult } from "./result.ts";

/** Options of {@linkcode encodeChunks}. */
export interface ChunkOptions extends JsonOptions {
  /** Rows per line; InfluxDB's default is 10000. */
  chunkSize?: number;
}

/**
 * The lines of one statement result (each with its trailing newline).
 *
 * @example
 * ```ts
 * for (const r of results) for (const line of encodeChunks(r, { chunkSize: 100 })) write(line);
 * ```
 */
export function encodeChunks(r: StatementResult, options: ChunkOptions = {}): string[] {
  const size = options.chunkSize && options.chunkSize > 0 ? options.chunkSize : 10000;
  if (r.error !== undefined || !r.series || r.series.length === 0) {
    return [`{"results":[${encodeResult(r, options)}]}\n`];
  }
  const pieces: { json: string; partial: boolean }[] = [];
  for (const s of r.series) {
    const n = s.values.length;
    for (let from = 0; from < n || from === 0; from += size) {
      const values = s.values.slice(from, from + size);
      const json = encodeSeries({ ...s, values }, options);
      const partial = from + size < n;
      pieces.push({ json: partial ? json.slice(0, -1) + ',"partial":true}' : json, partial });
      if (n === 0) break;
    }
  }
  const messages = r.messages && r.messages.length > 0
    ? `,"messages":[${
      r.messages.map((m) => `{"level":${JSON.stringify(m.level)},"text":${JSON.stringify(m.text)}}`)
        .join(",")
    }]`
    : "";
  return pieces.map((p, i) => {
    const last = i === pieces.length - 1;
    return `{"results":[{"statement_id":${r.statementId},"series":[${p.json}]${
      last ? messages : ""
    }${last ? "" : ',"partial":true'}}]}\n`;
  });
}

/**
 * The lines of a streamed statement result ({@linkcode StatementResult.stream}), as
 * {@linkcode encodeChunks} writes its materialized form: a line is written once it is known
 * whether more rows of its series, or more lines of the statement, follow. A failure on the way
 * ends the answer with a line holding the statement's error. The stream is closed at the end.
 */
export async function* streamedChunks(
  r: StatementResult,
  options: ChunkOptions = {},
): AsyncGenerator<string, void, undefined> {
  const stream = r.stream;
  if (stream === undefined) {
    yield* encodeChunks(r, options);
    return;
  }
  const size = options.chunkSize && options.chunkSize > 0 ? options.chunkSize : 10000;
  const line = (json: string, partial: boolean) =>
    `{"results":[{"statement_id":${r.statementId},"series":[${json}]${
      partial ? ',"partial":true' : ""
    }}]}\n`;
  const piece = (s: ResultSeries, values: ResultSeries["values"], partial: boolean) => {
    const json = encodeSeries({ ...s, values }, options);
    return partial ? json.slice(0, -1) + ',"partial":true}' : json;
  };
  // The current series' rows not yet written, and its last whole line held back until it is
  // known whether anything follows it.
  let current: ResultSeries | undefined;
  let rows: ResultSeries["values"] = [];
  let held: string | undefined;
  let any = false;
  try {
    try {
      for (;;) {
        const next = await stream.next();
        if (next === undefined) break;
        if (!next.continues && current !== undefined) {
          if (held !== undefined) yield line(held, true);
          held = piece(current, rows, false);
          rows = [];
        }
        current = next.series;
        any = true;
        for (const row of next.series.values) rows.push(row);
        // More than a line's rows: a full line whose series goes on.
        while (rows.length > size) {
          if (held !== undefined) yield line(held, true);
          held = piece(current, rows.slice(0, size), true);
          rows = rows.slice(size);
        }
      }
    } catch (e) {
      if (held !== undefined) yield line(held, true);
      if (current !== undefined && rows.length > 0) yield line(piece(current, rows, true), true);
      const error = e instanceof Error ? e.message : String(e);
      yield `{"results":[${encodeResult({ statementId: r.statementId, error }, options)}]}\n`;
      return;
    }
    if (!any) {
      yield `{"results":[${encodeResult({ statementId: r.statementId }, options)}]}\n`;
      return;
    }
    if (held !== undefined) yield line(held, true);
    yield line(piece(current!, rows, false), false);
  } finally {
    stream.close();
  }
}
