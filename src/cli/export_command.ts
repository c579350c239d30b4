/**
 * `epochnexus export --db NAME [--rp RP] [--start T] [--end T] [--measurement M]...
 * [--format lp|csv|ndjson] [--out FILE] [--url URL] [--token T]`: asks the server for the export's
 * plan (windows of bounded size), then streams each window to the file (or stdout), with a
 * progress bar on stderr (values, bytes, rate, ETA). Memory stays bounded on both sides whatever
 * the size: the server holds one window, this command one chunk.
 *
 * The output reads back with `epochnexus import` (the summary prints the options a CSV needs).
 * A partly written file is removed when the export fails.
 * @module
 */
import cliProgress from "cli-progress";
import { EpochError } from "../core/mod.ts";
import { denoFileSystem, httpFetch, systemClock, writeStdout } from "../runtime/mod.ts";
import type { FileHandle } from "../core/mod.ts";

/** Options of the export command. */
export interface ExportOptions {
  url: string;
  db: string;
  rp?: string;
  /** RFC3339 or integer nanoseconds. */
  start?: string;
  end?: string;
  measurements?: string[];
  format: "lp" | "csv" | "ndjson";
  /** A file; stdout when absent or `-`. */
  out?: string;
  /** An API token, or `user:password`. */
  token?: string;
  /** Most values per window (the server's default when absent). */
  windowValues?: number;
  /** Show the progress bar. @default {true when writing to a file} */
  progress?: boolean;
  /** Where the summary goes. @default {console.error} */
  print?: (line: string) => void;
}

/** What an export did. */
export interface ExportSummary {
  values: number;
  bytes: number;
  seconds: number;
  windows: number;
}

interface PlanAnswer {
  database: string;
  retentionPolicy: string;
  values: number;
  windows: { measurement: string; start: string; end: string; values: number }[];
  csvImport: string;
}

/** The Authorization header of `--token`. */
export function authHeaders(token: string | undefined): Record<string, string> {
  if (!token) return {};
  return { authorization: token.includes(":") ? `Token ${token}` : `Bearer ${token}` };
}

/** Runs the export; resolves with its summary. */
export async function runExport(options: ExportOptions): Promise<ExportSummary> {
  const print = options.print ?? ((line: string) => console.error(line));
  const headers = authHeaders(options.token);
  const base = new URL("/api/v1/export", options.url);
  const params = new URLSearchParams({ db: options.db });
  if (options.rp) params.set("rp", options.rp);
  if (options.start) params.set("start", options.start);
  if (options.end) params.set("end", options.end);
  for (const m of options.measurements ?? []) params.append("measurement", m);
  if (options.windowValues) params.set("window_values", String(options.windowValues));
  const planned = await httpFetch(`${base}/plan?${params}`, { headers });
  if (!planned.ok) throw await answerError(planned, "export plan");
  const plan = await planned.json() as PlanAnswer;

  const toFile = options.out !== undefined && options.out !== "-";
  const file: FileHandle | undefined = toFile
    ? await denoFileSystem.open(options.out!, { write: true, create: true, truncate: true })
    : undefined;
  const started = systemClock.monotonicMs();
  let bytes = 0, done = 0;
  const bar = (options.progress ?? toFile)
    ? new cliProgress.SingleBar({
      format: "{bar} {percentage}% | {done}/{total} values | {mb} MB | {rate} values/s | " +
        "ETA {eta_formatted}",
      hideCursor: true,
      fps: 5,
      etaBuffer: 20,
    }, cliProgress.Presets.shades_classic)
    : undefined;
  const stats = () => {
    const seconds = (systemClock.monotonicMs() - started) / 1000;
    return {
      done,
      mb: (bytes / 1e6).toFixed(1),
      rate: seconds > 0 ? Math.round(done / seconds) : 0,
    };
  };
  bar?.start(Math.max(plan.values, 1), 0, stats());
  const write = async (chunk: Uint8Array) => {
    bytes += chunk.length;
    if (!file) return await writeStdout(chunk);
    for (let at = 0; at < chunk.length;) at += await file.write(chunk.subarray(at));
  };
  try {
    for (const [i, w] of plan.windows.entries()) {
      const p = new URLSearchParams({
        db: plan.database,
        rp: plan.retentionPolicy,
        measurement: w.measurement,
        start: w.start,
        end: w.end,
        format: options.format,
        header: String(i === 0),
      });
      if (options.windowValues) p.set("window_values", String(options.windowValues));
      for (const m of options.measurements ?? []) p.append("columns", m);
      const answer = await httpFetch(`${base}?${p}`, { headers });
      if (!answer.ok || !answer.body) throw await answerError(answer, "export");
      for await (const chunk of answer.body) {
        await write(chunk);
        bar?.update(done, stats());
      }
      done += w.values;
      bar?.update(done, stats());
    }
    await file?.datasync();
  } catch (error) {
    bar?.stop();
    file?.close();
    if (toFile) await denoFileSystem.remove(options.out!).catch(() => {});
    throw error;
  }
  bar?.stop();
  file?.close();
  const seconds = (systemClock.monotonicMs() - started) / 1000;
  print(
    `exported ${done} values of ${plan.database}.${plan.retentionPolicy} in ` +
      `${plan.windows.length} windows (${(bytes / 1e6).toFixed(1)} MB) in ${
        seconds.toFixed(1)
      } s, ` +
      `${(bytes / 1e6 / Math.max(seconds, 1e-3)).toFixed(1)} MB/s`,
  );
  if (options.format !== "lp") {
    print(`read it back with: epochnexus import FILE ${importHint(plan, options.format)}`);
  }
  return { values: done, bytes, seconds, windows: plan.windows.length };
}

function importHint(plan: PlanAnswer, format: "csv" | "ndjson" | "lp"): string {
  return format === "csv" ? plan.csvImport : "--format ndjson --precision ns";
}

/** An error for a refused HTTP answer, with the server's message. */
export async function answerError(response: Response, what: string): Promise<EpochError> {
  const text = await response.text().catch(() => "");
  let message = text.slice(0, 500);
  try {
    const parsed = JSON.parse(text);
    message = parsed?.error?.message ?? parsed?.error ?? message;
  } catch { /* not JSON */ }
  return new EpochError(
    response.status === 404 ? "not_found" : response.status === 401 ? "unauthenticated" : "unknown",
    `${what} failed: HTTP ${response.status}: ${message}`,
  );
}
