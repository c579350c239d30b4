/**
 * `epochnexus import FILE... [--url URL] [--db NAME] [--format lp|csv|ndjson] ...`: reads
 * line protocol, CSV or NDJSON files (`-` is stdin; `.gz` files are gunzipped), decodes them
 * here with the server's own decoders, and writes the points through the client writer
 * (batches, retries with backoff, bounded memory: reading waits when the writer's buffer is
 * full). Shows a progress bar on stderr (points, bytes, rate, and the ETA when the size is
 * known) and ends with a summary of what was rejected, where and why.
 *
 * The format comes from `--format`, else the extension: `.lp` `.line` `.txt` → line
 * protocol, `.csv` → CSV, `.ndjson` `.jsonl` → NDJSON (a `.gz` suffix is looked through).
 * Exit code: 0 when every point was written, 1 when some were rejected, 2 on bad usage.
 * @module
 */
import cliProgress from "cli-progress";
import { instantFromNanos } from "../core/mod.ts";
import { PointWriter, type WriteFailure } from "../client/mod.ts";
import {
  decodeCsvStream,
  type DecodedBatch,
  decodeLineProtocolStream,
  decodeNdjsonStream,
  type IngestIssue,
  parseCsvTypes,
} from "../ingest/mod.ts";
import { denoFileSystem, httpFetch, systemClock, systemRng } from "../runtime/mod.ts";
import { parsePrecision } from "../http/write_handler.ts";

/** An input format. */
export type ImportFormat = "lp" | "csv" | "ndjson";

/** Options of the import command. */
export interface ImportOptions {
  url: string;
  db: string;
  rp?: string;
  format?: ImportFormat;
  /** Timestamp unit: line protocol `ns` by default; CSV and NDJSON `auto`. */
  precision?: string;
  /** CSV: measurement when the file has no measurement column. */
  measurement?: string;
  /** CSV: tag columns. */
  tags?: string[];
  /** CSV: declared types, `col:type,...`. */
  types?: string;
  /** CSV: the time column. */
  timeColumn?: string;
  /** Points per request. */
  batchPoints?: number;
  /** Show the progress bar. @default {true} */
  progress?: boolean;
  /** Where the summary goes. @default {console.error} */
  print?: (line: string) => void;
}

/** What an import did. */
export interface ImportSummary {
  written: number;
  rejected: number;
  bytes: number;
  seconds: number;
  /** The first rejects, `file:line: reason`. */
  rejects: string[];
}

/** The format of a file name, or undefined. */
export function formatOf(path: string): ImportFormat | undefined {
  const name = path.toLowerCase().replace(/\.gz$/, "");
  if (/\.(lp|line|txt)$/.test(name)) return "lp";
  if (name.endsWith(".csv")) return "csv";
  if (/\.(ndjson|jsonl)$/.test(name)) return "ndjson";
  return undefined;
}

const MAX_LISTED = 20;

/** Runs the import; resolves with its summary. */
export async function runImport(files: string[], options: ImportOptions): Promise<ImportSummary> {
  const print = options.print ?? ((line: string) => console.error(line));
  const formats = files.map((f) => {
    const format = options.format ?? formatOf(f);
    if (!format) {
      throw new ImportUsageError(
        `cannot tell the format of ${f === "-" ? "stdin" : f}: use --format lp, csv or ndjson`,
      );
    }
    return format;
  });
  const rejects: string[] = [];
  let localRejected = 0;
  const writer = new PointWriter({
    url: options.url,
    database: options.db,
    retentionPolicy: options.rp,
    batchPoints: options.batchPoints ?? 5000,
  }, {
    fetch: (input, init) => httpFetch(input, init),
    clock: systemClock,
    random: systemRng,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  });
  const started = systemClock.monotonicMs();
  let points = 0, bytes = 0;
  let summary!: ImportSummary;
  let total = 0, known = true;
  for (const f of files) {
    const size = f === "-" ? null : (await denoFileSystem.stat(f))?.size;
    if (size === undefined) throw new ImportUsageError(`no such file: ${f}`);
    if (size === null || f.endsWith(".gz")) known = false;
    else total += size;
  }
  const bar = options.progress === false ? undefined : new cliProgress.SingleBar({
    format: known
      ? "{bar} {percentage}% | {points} points | {mb}/{totalMb} MB | {rate} points/s | ETA {eta_formatted}"
      : "{points} points | {mb} MB | {rate} points/s",
    hideCursor: true,
    fps: 5,
    etaBuffer: 50,
  }, cliProgress.Presets.shades_classic);
  bar?.start(known ? Math.max(total, 1) : 0, 0, stats(0, 0, total, 0));

  try {
    for (let i = 0; i < files.length; i++) {
      const file = files[i];
      const label = file === "-" ? "stdin" : file;
      const source = decode(
        await readStream(file, (n) => (bytes += n)),
        formats[i],
        options,
      );
      for await (const batch of source) {
        for (const e of batch.errors) {
          localRejected++;
          if (rejects.length < MAX_LISTED) rejects.push(`${label}:${where(e)} ${e.reason}`);
        }
        if (batch.points.length > 0) await writer.write(batch.points);
        points += batch.points.length;
        bar?.update(
          known ? bytes : 0,
          stats(points, bytes, total, (systemClock.monotonicMs() - started) / 1000),
        );
      }
    }
  } finally {
    const report = await writer.close();
    bar?.update(
      known ? total : 0,
      stats(points, bytes, total, (systemClock.monotonicMs() - started) / 1000),
    );
    bar?.stop();
    for (const f of report.failures) {
      if (rejects.length < MAX_LISTED) rejects.push(`server: ${describe(f)}`);
    }
    const seconds = (systemClock.monotonicMs() - started) / 1000;
    const rejected = localRejected + report.failed;
    print(
      `imported ${report.written} points (${(bytes / 1e6).toFixed(1)} MB) in ${
        seconds.toFixed(1)
      } s` +
        `, ${Math.round(report.written / Math.max(seconds, 1e-3))} points/s; ` +
        `${rejected} rejected (${localRejected} unparsable, ${report.failed} refused by the server)`,
    );
    for (const r of rejects) print(`  ${r}`);
    if (rejected > rejects.length) print(`  ... and ${rejected - rejects.length} more`);
    summary = { written: report.written, rejected, bytes, seconds, rejects };
  }
  return summary;
}

/** Bad usage (exit code 2). */
export class ImportUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ImportUsageError";
  }
}

function stats(points: number, bytes: number, total: number, seconds: number) {
  return {
    points,
    mb: (bytes / 1e6).toFixed(1),
    totalMb: (total / 1e6).toFixed(1),
    rate: seconds > 0 ? Math.round(points / seconds) : 0,
  };
}

function where(e: IngestIssue): string {
  if (e.line !== undefined) return `${e.line}:`;
  if (e.record !== undefined) return ` record ${e.record}${e.column ? ` column ${e.column}` : ""}:`;
  return "";
}

function describe(f: WriteFailure): string {
  const lines = f.lines?.length ? ` (e.g. ${f.lines[0]})` : "";
  return `${f.points} points: ${f.reason.split("\n")[0]}${lines}`;
}

function decode(
  stream: ReadableStream<Uint8Array>,
  format: ImportFormat,
  options: ImportOptions,
): AsyncIterable<DecodedBatch> {
  const defaultTime = instantFromNanos(systemClock.nowNanos());
  switch (format) {
    case "lp":
      return decodeLineProtocolStream(stream, {
        precision: parsePrecision(options.precision ?? null),
        defaultTime,
        maxLineBytes: 64 * 1024 * 1024,
      });
    case "ndjson":
      return decodeNdjsonStream(stream, {
        precision: jsonPrecision(options.precision),
        defaultTime,
        maxLineBytes: 64 * 1024 * 1024,
      });
    case "csv":
      return decodeCsvStream(stream, {
        precision: jsonPrecision(options.precision),
        defaultTime,
        measurement: options.measurement,
        tags: options.tags,
        types: options.types ? parseCsvTypes(options.types) : undefined,
        timeColumn: options.timeColumn,
      });
  }
}

function jsonPrecision(p: string | undefined) {
  if (p === undefined || p === "auto") return "auto" as const;
  return parsePrecision(p);
}

/** A file (or stdin) as a byte stream, read as the consumer pulls; gunzipped for `.gz`. */
async function readStream(
  path: string,
  counted: (n: number) => void,
): Promise<ReadableStream<Uint8Array>> {
  // /dev/stdin keeps stdin on the runtime's file system (Linux and macOS).
  const handle = await denoFileSystem.open(path === "-" ? "/dev/stdin" : path, { read: true });
  const buffer = new Uint8Array(1024 * 1024);
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const n = await handle.read(buffer);
      if (n === null || n === 0) {
        await handle.close();
        controller.close();
        return;
      }
      counted(n);
      controller.enqueue(buffer.slice(0, n));
    },
    async cancel() {
      await handle.close();
    },
  }, { highWaterMark: 0 });
  return path.endsWith(".gz")
    ? stream.pipeThrough(new DecompressionStream("gzip") as TransformStream<Uint8Array, Uint8Array>)
    : stream;
}
