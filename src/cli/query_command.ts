/**
 * `epochnexus query "<q>" [--url URL] [--db NAME] [--epoch UNIT] [--format table|json|csv]`:
 * runs statements against a server through the native `POST /query` (so without `--db` it uses
 * the server's default database) and prints the answer, by default as readable tables (one per
 * series). `--token` authenticates: an API token (`Authorization: Bearer`), or `user:password`
 * (`Authorization: Token user:password`).
 * @module
 */
import { httpFetch, writeStdout } from "../runtime/mod.ts";

/** Options of the query command. */
export interface QueryCommandOptions {
  url: string;
  db?: string;
  epoch?: string;
  format: "table" | "json" | "csv";
  /** An API token, or `user:password`. */
  token?: string;
}

interface WireSeries {
  name?: string;
  tags?: Record<string, string>;
  columns: string[];
  values?: unknown[][];
}
interface WireResult {
  statement_id: number;
  series?: WireSeries[];
  error?: string;
  messages?: { level: string; text: string }[];
}

/** Runs the command; returns the process exit code (0 ok, 1 a statement failed, 2 no answer). */
export async function runQueryCommand(q: string, options: QueryCommandOptions): Promise<number> {
  // The native JSON form: without --db it queries the server's default database.
  const request: Record<string, string> = { query: q };
  if (options.db) request.db = options.db;
  if (options.epoch) request.epoch = options.epoch;
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (options.format === "csv") headers.accept = "application/csv";
  if (options.token) {
    headers.authorization = options.token.includes(":")
      ? `Token ${options.token}`
      : `Bearer ${options.token}`;
  }
  let response: Response;
  try {
    response = await httpFetch(`${options.url.replace(/\/$/, "")}/query`, {
      method: "POST",
      headers,
      body: JSON.stringify(request),
    });
  } catch (error) {
    console.error(`cannot reach ${options.url}: ${(error as Error).message}`);
    return 2;
  }
  const text = await response.text();
  if (options.format !== "table") {
    await writeStdout(text.endsWith("\n") ? text : text + "\n");
    return response.ok ? 0 : 1;
  }
  let body: { results?: WireResult[]; error?: string | { message: string } };
  try {
    body = JSON.parse(text);
  } catch {
    console.error(`unexpected answer (HTTP ${response.status}): ${text.slice(0, 500)}`);
    return 2;
  }
  if (body.error) {
    console.error(`error: ${typeof body.error === "string" ? body.error : body.error.message}`);
    return 1;
  }
  await writeStdout(formatResults(body.results ?? []));
  return (body.results ?? []).some((r) => r.error) ? 1 : 0;
}

/** Renders results as aligned text tables, one per series, as the influx shell does. */
export function formatResults(results: WireResult[]): string {
  let out = "";
  for (const result of results) {
    if (result.error) {
      out += `statement ${result.statement_id}: error: ${result.error}\n\n`;
      continue;
    }
    for (const m of result.messages ?? []) out += `${m.level}: ${m.text}\n`;
    for (const series of result.series ?? []) {
      const title = [series.name ? `name: ${series.name}` : ""]
        .concat(Object.entries(series.tags ?? {}).map(([k, v]) => `tags: ${k}=${v}`))
        .filter(Boolean);
      if (title.length) out += title.join("\n") + "\n";
      out += table(series.columns, series.values ?? []) + "\n";
    }
    if (!result.series?.length && !result.messages?.length) out += "(no results)\n\n";
  }
  return out;
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

function table(columns: string[], rows: unknown[][]): string {
  const cells = rows.map((r) => columns.map((_, i) => cell(r[i])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const line = (parts: string[]) =>
    parts.map((p, i) => p.padEnd(widths[i])).join(" ").trimEnd() + "\n";
  return line(columns) + line(widths.map((w) => "-".repeat(w))) +
    cells.map(line).join("");
}
