/**
 * `epochnexus import FILE...`: reads line protocol, CSV or NDJSON files (`-` is stdin; `.gz`
 * files are gunzipped), decodes them here with the server's own decoders, and writes the points
 * through the client writer (batches, retries with backoff, bounded memory: reading waits when
 * the writer's buffer is full). A progress bar on stderr follows every file (which one, points,
 * bytes, rate, and the ETA when the sizes are known: compressed files count their compressed
 * bytes); the summary counts in points and names each rejected point's `file:line` (or record).
 *
 * The points go to EpochNexus's `/ingest` (`--api native`), which names every point it refuses,
 * so a point refused by the server (a field type, a schema) is reported at its line too;
 * `--api influx` writes to `/write` for an InfluxDB 1.x server.
 *
 * The format comes from `--format`, else the extension: `.lp` `.line` `.txt` → line
 * protocol, `.csv` → CSV, `.ndjson` `.jsonl` → NDJSON (a `.gz` suffix is looked through).
 * Exit code: 0 when every point was written, 1 when some were rejected, 2 on bad usage.
 * @module
 */
import cliProgress from "cli-progress";
import { instantFromNanos, type Precision } from "../core/mod.ts";
import { PointWriter, type WriteFailure } from "../client/mod.ts";
import {
  decodeCsvStream,
  type DecodedBatch,
  decodeLineProtocolStream,
  decodeNdjsonStream,
  farTimestamps,
  type IngestIssue,
  parseCsvTypes,
  precisionHintText,
} from "../ingest/mod.ts";
import { denoFileSystem, httpFetch, stdinStream, systemClock, systemRng } from "../runtime/mod.ts";
import { parsePrecision } from "../http/write_handler.ts";
import { UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { authorization } from "./query_client.ts";
import { CONNECTION_OPTIONS } from "./query_command.ts";

/** An input format. */
export type ImportFormat = "lp" | "csv" | "ndjson";

/** Options of {@linkcode runImport}. */
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
  /** `native` (EpochNexus's /ingest) or `influx` (/write). @default {"native"} */
  api?: "native" | "influx";
  /** An API token, or `user:password`. */
  token?: string;
  /** Where the summary goes. @default {console.error} */
  print?: (line: string) => void;
  /** Makes a path as typed absolute (the caller's folder). @default {as it is} */
  resolvePath?: (path: string) => string;
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

/** The `import` command. */
export const importCommand: Command = {
  name: "import",
  summary: "Write line protocol, CSV or NDJSON files (or stdin) to a server.",
  usage: "import [options] FILE... | -",
  options: [
    ...CONNECTION_OPTIONS,
    { name: "db", value: "NAME", help: "the database", defaultText: "epochnexus" },
    { name: "rp", value: "NAME", help: "the retention policy" },
    { name: "format", value: "FORMAT", help: "lp, csv or ndjson", defaultText: "by extension" },
    {
      name: "precision",
      value: "UNIT",
      help: "timestamp unit: ns, u, ms, s, m, h or auto (by magnitude)",
      defaultText: "ns for lp, auto for csv and ndjson",
    },
    { name: "measurement", value: "NAME", help: "CSV: the measurement of every row" },
    { name: "tags", value: "COLS", help: "CSV: the tag columns, comma-separated" },
    { name: "types", value: "COL:TYPE,...", help: "CSV: field types (float, integer, ...)" },
    { name: "time-column", value: "COL", help: "CSV: the time column", defaultText: "time" },
    { name: "batch-points", value: "N", help: "points per request", defaultText: "5000" },
    { name: "progress", value: "true|false", help: "show the progress bar", defaultText: "true" },
    {
      name: "api",
      value: "API",
      help: "native (EpochNexus's /ingest) or influx (/write, for InfluxDB 1.x)",
      defaultText: "native",
    },
  ],
  details: `Files: .lp .line .txt (line protocol), .csv, .ndjson .jsonl, each optionally .gz; - is
standard input (give --format). Paths are relative to the directory you run the command from.
Exit code 1 when a point was rejected; the summary names each one's file:line (the first 20).

examples:
  epochnexus import data.lp cpu.csv events.ndjson.gz --db telegraf --tags host
  cat data.lp | epochnexus import - --format lp --precision s`,
  async run({ flags, positional }, context) {
    if (positional.length === 0) throw new UsageError("import needs at least one FILE (or -)");
    if (flags.format && !["lp", "csv", "ndjson"].includes(flags.format)) {
      throw new UsageError(`--format must be lp, csv or ndjson, not ${flags.format}`);
    }
    if (flags.api && flags.api !== "native" && flags.api !== "influx") {
      throw new UsageError(`--api must be native or influx, not ${flags.api}`);
    }
    const batchPoints = flags["batch-points"] ? Number(flags["batch-points"]) : undefined;
    if (batchPoints !== undefined && !(Number.isInteger(batchPoints) && batchPoints > 0)) {
      throw new UsageError(
        `--batch-points must be a positive integer, not ${flags["batch-points"]}`,
      );
    }
    if (flags.precision && flags.precision !== "auto") {
      try {
        parsePrecision(flags.precision);
      } catch (error) {
        throw new UsageError(`--precision: ${(error as Error).message}`);
      }
    }
    const summary = await runImport(positional, {
      resolvePath: context.resolvePath,
      url: flags.url ?? context.defaultUrl,
      db: flags.db ?? "epochnexus",
      rp: flags.rp,
      format: flags.format as ImportFormat | undefined,
      precision: flags.precision,
      measurement: flags.measurement,
      tags: flags.tags?.split(",").filter((t) => t !== ""),
      types: flags.types,
      timeColumn: flags["time-column"],
      batchPoints,
      progress: flags.progress !== "false",
      api: flags.api as "native" | "influx" | undefined,
      token: flags.token,
    });
    return summary.rejected > 0 || summary.failed ? 1 : 0;
  },
};

/** A file to import, sized when it is a file. */
interface Source {
  path: string;
  label: string;
  format: ImportFormat;
  /** Bytes on disk (compressed for `.gz`); undefined for stdin. */
  size?: number;
}

/** Runs the import of `files` (as typed; `-` is stdin); resolves with its summary. */
export async function runImport(
  files: readonly string[],
  options: ImportOptions,
): Promise<ImportSummary & { failed?: string }> {
  const print = options.print ?? ((line: string) => console.error(line));
  const resolve = options.resolvePath ?? ((p: string) => p);
  const sources: Source[] = [];
  for (const typed of files) {
    const path = typed === "-" ? typed : resolve(typed);
    const label = typed === "-" ? "stdin" : typed;
    const format = options.format ?? formatOf(path);
    if (!format) {
      throw new UsageError(`cannot tell the format of ${label}: use --format lp, csv or ndjson`);
    }
    const size = path === "-" ? undefined : (await denoFileSystem.stat(path))?.size;
    if (path !== "-" && size === undefined) {
      throw new UsageError(`no such file: ${label}${label === path ? "" : ` (${path})`}`);
    }
    sources.push({ path, label, format, size });
  }
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = authorization(options.token);
  // A server that does not answer fails the import at once, not after the writer's retries.
  const unreachable = await ping(options.url, headers);
  if (unreachable) {
    print(`cannot reach ${options.url}: ${unreachable}`);
    return { written: 0, rejected: 0, bytes: 0, seconds: 0, rejects: [], failed: unreachable };
  }

  const rejects: string[] = [];
  let undecoded = 0;
  const writer = new PointWriter({
    url: options.url,
    database: options.db,
    retentionPolicy: options.rp,
    batchPoints: options.batchPoints ?? 5000,
    api: options.api ?? "native",
    headers,
  }, {
    fetch: (input, init) => httpFetch(input, init),
    clock: systemClock,
    random: systemRng,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  });
  const started = systemClock.monotonicMs();
  const total = sources.reduce((n, s) => n + (s.size ?? 0), 0);
  const known = sources.every((s) => s.size !== undefined);
  let points = 0, bytes = 0, far = 0;
  let hint: Precision | undefined;
  let current = "";
  const bar = options.progress === false ? undefined : new cliProgress.SingleBar({
    format: known
      ? "{file} {bar} {percentage}% | {points} points | {mb}/{totalMb} MB | {rate} points/s | ETA {eta_formatted}"
      : "{file} {points} points | {mb} MB | {rate} points/s",
    hideCursor: true,
    fps: 5,
    etaBuffer: 50,
  }, cliProgress.Presets.shades_classic);
  const progress = () => {
    const seconds = (systemClock.monotonicMs() - started) / 1000;
    return {
      file: current,
      points,
      mb: (bytes / 1e6).toFixed(1),
      totalMb: (total / 1e6).toFixed(1),
      rate: seconds > 0 ? Math.round(points / seconds) : 0,
    };
  };
  bar?.start(known ? Math.max(total, 1) : 0, 0, progress());

  let summary!: ImportSummary;
  try {
    for (let i = 0; i < sources.length; i++) {
      const source = sources[i];
      current = sources.length > 1 ? `[${i + 1}/${sources.length}] ${name(source.label)}` : "";
      const precision = precisionOf(source.format, options.precision);
      const decoded = decode(
        await readStream(source.path, (n) => (bytes += n)),
        source.format,
        options,
        precision,
      );
      for await (const batch of decoded) {
        for (const e of batch.errors) {
          undecoded++;
          if (rejects.length < MAX_LISTED) rejects.push(`${source.label}${where(e)}: ${e.reason}`);
        }
        undecoded += batch.unlistedErrors ?? 0;
        if (batch.points.length > 0) {
          if (precision !== "auto") {
            const f = farTimestamps(batch.points, precision, systemClock.nowMs());
            far += f.count;
            hint ??= f.hint;
          }
          await writer.write(batch.points, origins(source.label, batch));
        }
        points += batch.points.length;
        bar?.update(known ? bytes : 0, progress());
      }
    }
  } finally {
    const report = await writer.close();
    bar?.update(known ? total : 0, progress());
    bar?.stop();
    for (const f of report.failures) {
      for (const line of describe(f)) if (rejects.length < MAX_LISTED) rejects.push(line);
    }
    const seconds = (systemClock.monotonicMs() - started) / 1000;
    const rejected = undecoded + report.failed;
    const from = sources.length === 1 ? sources[0].label : `${sources.length} files`;
    print(
      `imported ${report.written} points from ${from} (${(bytes / 1e6).toFixed(1)} MB) in ` +
        `${seconds.toFixed(1)} s (${Math.round(report.written / Math.max(seconds, 1e-3))} ` +
        `points/s); ${rejected} points rejected` +
        (rejected > 0
          ? ` (${undecoded} did not decode, ${report.failed} refused by the server)`
          : ""),
    );
    for (const r of rejects) print(`  ${r}`);
    if (rejected > rejects.length) print(`  ... and ${rejected - rejects.length} more`);
    if (hint !== undefined) {
      print(
        `warning: ${far} points have timestamps more than 30 years from now; ` +
          precisionHintText(hint).replace("pass precision=", "pass --precision "),
      );
    }
    summary = { written: report.written, rejected, bytes, seconds, rejects };
  }
  return summary;
}

/** Undefined when the server answers `/ping`, else why not. */
async function ping(url: string, headers: Record<string, string>): Promise<string | undefined> {
  try {
    const r = await httpFetch(`${url.replace(/\/+$/, "")}/ping`, { headers });
    await r.body?.cancel();
    return r.status < 500 ? undefined : `HTTP ${r.status} from /ping`;
  } catch (error) {
    return (error as Error).message;
  }
}

function name(label: string): string {
  return label.slice(label.lastIndexOf("/") + 1);
}

function precisionOf(format: ImportFormat, given: string | undefined): Precision | "auto" {
  if (given === "auto") return "auto";
  if (given !== undefined) return parsePrecision(given);
  return format === "lp" ? "ns" : "auto";
}

/** `file:line` (or `file: record N`) of each point of a batch, when the decoder said. */
function origins(label: string, batch: DecodedBatch): (string | undefined)[] | undefined {
  if (!batch.origins) return undefined;
  const record = batch.originKind === "record";
  return batch.origins.map((n) =>
    n === undefined ? undefined : record ? `${label}: record ${n}` : `${label}:${n}`
  );
}

function where(e: IngestIssue): string {
  if (e.line !== undefined) return `:${e.line}`;
  if (e.record !== undefined) return `: record ${e.record}${e.column ? ` column ${e.column}` : ""}`;
  return "";
}

/** A failure's lines for the summary: each named point at its origin, else the reason. */
function describe(f: WriteFailure): string[] {
  if (f.refused && f.refused.length > 0) {
    const out = f.refused.map((r) => `${r.origin ?? "server"}: ${r.reason}`);
    const unnamed = f.points - f.refused.length;
    if (unnamed > 0) out.push(`server: ${unnamed} more points: ${f.reason.split("\n")[0]}`);
    return out;
  }
  const lines = f.lines?.length ? ` (e.g. ${f.lines[0]})` : "";
  return [`server: ${f.points} points: ${f.reason.split("\n")[0]}${lines}`];
}

function decode(
  stream: ReadableStream<Uint8Array>,
  format: ImportFormat,
  options: ImportOptions,
  precision: Precision | "auto",
): AsyncIterable<DecodedBatch> {
  const defaultTime = instantFromNanos(systemClock.nowNanos());
  switch (format) {
    case "lp":
      return decodeLineProtocolStream(stream, {
        precision,
        defaultTime,
        maxLineBytes: 64 * 1024 * 1024,
      });
    case "ndjson":
      return decodeNdjsonStream(stream, { precision, defaultTime, maxLineBytes: 64 * 1024 * 1024 });
    case "csv":
      return decodeCsvStream(stream, {
        precision,
        defaultTime,
        measurement: options.measurement,
        tags: options.tags,
        types: options.types ? parseCsvTypes(options.types) : undefined,
        timeColumn: options.timeColumn,
      });
  }
}

/**
 * A file (or stdin) as a byte stream, read as the consumer pulls; gunzipped for `.gz`. `counted`
 * sees the bytes as stored (compressed), which is what the progress compares with the sizes.
 */
async function readStream(
  path: string,
  counted: (n: number) => void,
): Promise<ReadableStream<Uint8Array>> {
  const raw = path === "-" ? stdinStream() : await fileStream(path);
  const stream = raw.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        counted(chunk.byteLength);
        controller.enqueue(chunk);
      },
    }),
  );
  return path.endsWith(".gz")
    ? stream.pipeThrough(new DecompressionStream("gzip") as TransformStream<Uint8Array, Uint8Array>)
    : stream;
}

async function fileStream(path: string): Promise<ReadableStream<Uint8Array>> {
  const handle = await denoFileSystem.open(path, { read: true });
  const buffer = new Uint8Array(1024 * 1024);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const n = await handle.read(buffer);
      if (n === null || n === 0) {
        handle.close();
        controller.close();
        return;
      }
      controller.enqueue(buffer.slice(0, n));
    },
    cancel() {
      handle.close();
    },
  }, { highWaterMark: 0 });
}
