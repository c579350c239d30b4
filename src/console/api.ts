/// <reference lib="dom" />
/**
 * The page's one door to its node. Paths are relative, so the console works behind a proxy
 * that serves the node under a sub-path. Every request carries the signed-in credentials; a
 * 401 asks the login form (one prompt for all requests waiting) and retries with what the user
 * typed, so with authentication off nothing is ever asked.
 * @module
 */
import { authorizationHeader, type Credentials, readCredentials } from "./credentials.ts";
import { parseAnswer, type QueryResult, readResult } from "./results.ts";

const CREDENTIALS_KEY = "epochnexus.console.credentials";

/** Shows the login form with the server's reason; resolves with what the user typed. */
export type LoginPrompt = (reason: string) => Promise<Credentials>;

/** A request that failed, with the server's message. */
export class ApiError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
    this.name = "ApiError";
  }
}

/** A query's answer and how long it took. */
export interface QueryAnswer {
  result: QueryResult;
  raw: unknown;
  status: number;
  elapsedMs: number;
}

/** The node's HTTP API as the console uses it. */
export class Api {
  #credentials: Credentials | undefined;
  #pendingLogin: Promise<Credentials> | undefined;
  /** The node's version (`X-Influxdb-Version` of its answers). */
  version = "";

  constructor(private readonly login: LoginPrompt) {
    // Per tab: closing the tab signs out; nothing lands in localStorage.
    this.#credentials = readCredentials(sessionStorage.getItem(CREDENTIALS_KEY));
  }

  /** Who is signed in, if anyone. */
  get credentials(): Credentials | undefined {
    return this.#credentials;
  }

  /** Forgets the credentials. */
  signOut(): void {
    this.#credentials = undefined;
    sessionStorage.removeItem(CREDENTIALS_KEY);
  }

  /** Fetches `path` (relative), signing in when the node asks for it. */
  async request(path: string, init: RequestInit = {}): Promise<Response> {
    // Bounded: each round waits on the user; a wrong password is answered on the form itself.
    for (let attempt = 0; attempt < 20; attempt++) {
      const headers = new Headers(init.headers);
      if (this.#credentials) headers.set("authorization", authorizationHeader(this.#credentials));
      const response = await fetch(path, { ...init, headers });
      this.version = response.headers.get("x-influxdb-version") ?? this.version;
      if (response.status !== 401) return response;
      const reason = await errorText(response);
      this.#pendingLogin ??= this.login(
        this.#credentials
          ? `Sign-in refused: ${reason}`
          : `This node asks you to sign in (${reason}).`,
      ).finally(() => this.#pendingLogin = undefined);
      this.#credentials = await this.#pendingLogin;
      sessionStorage.setItem(CREDENTIALS_KEY, JSON.stringify(this.#credentials));
    }
    throw new ApiError("too many sign-in attempts", 401);
  }

  /** Runs InfluxQL (POST, so statements that change data work too), times in milliseconds. */
  async query(query: string, database: string, signal?: AbortSignal): Promise<QueryAnswer> {
    const started = performance.now();
    const body = new URLSearchParams({ q: query, epoch: "ms" });
    if (database) body.set("db", database);
    const response = await this.request("query", { method: "POST", body, signal });
    const text = await response.text();
    const elapsedMs = performance.now() - started;
    let raw: unknown;
    try {
      raw = parseAnswer(text);
    } catch {
      throw new ApiError(`HTTP ${response.status}: ${text.slice(0, 300)}`, response.status);
    }
    return { result: readResult(raw), raw, status: response.status, elapsedMs };
  }

  /** The rows of a SHOW statement's series, all series together. */
  async show(query: string, database: string): Promise<unknown[][]> {
    const { result } = await this.query(query, database);
    if (result.errors.length) throw new ApiError(result.errors[0].message, 400);
    return result.tables.flatMap((t) => t.rows);
  }

  /** GETs JSON; undefined for 404 and 501 (a feature this node does not run). */
  async getJson<T>(path: string): Promise<T | undefined> {
    const response = await this.request(path);
    if (response.status === 404 || response.status === 501) {
      await response.body?.cancel();
      return undefined;
    }
    if (!response.ok) throw new ApiError(await errorText(response), response.status);
    return await response.json() as T;
  }

  /** POSTs JSON and returns the JSON answer, whatever its status. */
  async postJson(path: string, body: unknown): Promise<{ status: number; body: unknown }> {
    const response = await this.request(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    try {
      return { status: response.status, body: JSON.parse(text) };
    } catch {
      throw new ApiError(`HTTP ${response.status}: ${text.slice(0, 300)}`, response.status);
    }
  }

  /** The node's metrics in the Prometheus text format. */
  async metrics(): Promise<string> {
    const response = await this.request("metrics");
    if (!response.ok) throw new ApiError(await errorText(response), response.status);
    return await response.text();
  }
}

/** The message of an error answer: `{"error": {"message"}}`, `{"error": "..."}` or its text. */
export async function errorText(response: Response): Promise<string> {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    const error = body?.error;
    if (typeof error === "string") return error;
    if (typeof error?.message === "string") return error.message;
  } catch { /* not JSON */ }
  return text.trim().slice(0, 300) || `HTTP ${response.status}`;
}
