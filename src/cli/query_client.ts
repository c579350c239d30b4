/**
 * Running statements against a server for the `query` and `shell` commands: the native
 * `POST /query` (so without a database the server's default one is used), the answer rendered
 * as tables (`column`), or as the server's JSON or CSV.
 * @module
 */
import { httpFetch } from "../runtime/mod.ts";
import { formatColumns, parseAnswer, type WireResult } from "./result_table.ts";

/** How answers are shown. */
export type OutputFormat = "column" | "json" | "csv";

/** Where and how statements run. */
export interface QueryTarget {
  url: string;
  db?: string;
  rp?: string;
  /** Time unit of answers: `ns u ms s m h`; absent: RFC3339 times. */
  epoch?: string;
  format: OutputFormat;
  /** Indented JSON (the `json` format). */
  pretty?: boolean;
  /** An API token, or `user:password`. */
  token?: string;
}

/** What running statements printed and how it ended. */
export interface QueryOutcome {
  /** For stdout. */
  output: string;
  /** For stderr (errors of the request). */
  errors: string;
  /** 0 ok, 1 a statement or the request failed, 2 the server could not be reached. */
  code: number;
}

/** The values `format` accepts (`table` is the older name of `column`). */
export function outputFormat(text: string): OutputFormat | undefined {
  if (text === "table") return "column";
  return text === "column" || text === "json" || text === "csv" ? text : undefined;
}

/** The `Authorization` header of a token: `Bearer` for an API token, `Token` for user:password. */
export function authorization(token: string): string {
  return token.includes(":") ? `Token ${token}` : `Bearer ${token}`;
}

/** Runs `statements` and renders the answer. */
export async function runStatements(
  statements: string,
  target: QueryTarget,
): Promise<QueryOutcome> {
  const request: Record<string, unknown> = { query: statements };
  if (target.db) request.db = target.db;
  if (target.rp) request.rp = target.rp;
  if (target.epoch) request.epoch = target.epoch;
  if (target.pretty) request.pretty = true;
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (target.format === "csv") headers.accept = "application/csv";
  if (target.token) headers.authorization = authorization(target.token);
  let response: Response;
  try {
    response = await httpFetch(`${target.url.replace(/\/+$/, "")}/query`, {
      method: "POST",
      headers,
      body: JSON.stringify(request),
    });
  } catch (error) {
    return {
      output: "",
      errors: `cannot reach ${target.url}: ${(error as Error).message}\n`,
      code: 2,
    };
  }
  const text = await response.text();
  let body: { results?: WireResult[]; error?: string | { message: string } } | undefined;
  try {
    if ((response.headers.get("content-type") ?? "").includes("json")) {
      body = parseAnswer(text) as typeof body;
    }
  } catch { /* not JSON: shown as it is */ }
  if (body?.error !== undefined) {
    const message = typeof body.error === "string" ? body.error : body.error.message;
    return { output: "", errors: `ERR: ${message}\n`, code: 1 };
  }
  if (!response.ok) {
    return { output: "", errors: `ERR: HTTP ${response.status}: ${text.slice(0, 500)}\n`, code: 1 };
  }
  const failed = body?.results?.some((r) => r.error) ?? false;
  if (target.format !== "column" || body?.results === undefined) {
    return { output: text.endsWith("\n") ? text : text + "\n", errors: "", code: failed ? 1 : 0 };
  }
  return { output: formatColumns(body.results), errors: "", code: failed ? 1 : 0 };
}
