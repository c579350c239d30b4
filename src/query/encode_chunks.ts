/**
 * InfluxDB's chunked `/query` answer (`chunked=true`): newline-delimited result objects, one
 * series (or at most `chunk_size` of its rows) per line. A line is marked `"partial":true` at
 * the series level when more rows of the same series follow, and at the statement level when
 * more lines of the same statement follow — byte for byte as InfluxDB 1.6.7 writes them.
 *
 * @module
 */
import { encodeResult, encodeSeries, type JsonOptions } from "./encode_json.ts";
import type { StatementResult } from "./result.ts";

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
