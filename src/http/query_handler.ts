/**
 * Queries. `GET|POST /query?q=&db=&epoch=&pretty=` answers as InfluxDB 1.x does: 200 with
 * `{"results": [...]}` (statement errors inside the results), 400
 * `{"error":"error parsing query: ..."}` for a query that does not parse. `POST /query` with a
 * JSON body `{"query": "...", "db": "..."}` is the native form (the seed's example): the same
 * answer shape, errors in the native shape, and the default database when none is named.
 *
 * Both take `consistency` (a cluster's reads): `leader`, the default, sees every write
 * acknowledged before the query (each partition is read after a ReadIndex barrier); `any` reads
 * the nearest replica as it is (this node's own where it holds one) and may miss recent writes.
 * @module
 */
import { authorizeStatements, holds, isPrivileged, type Principal } from "../auth/mod.ts";
import { Privilege } from "../cluster/mod.ts";
import {
  EpochError,
  ParseError,
  PermissionDeniedError,
  type PlainAnswer,
  type PlainRequest,
  TooLargeError,
  ValidationError,
} from "../core/mod.ts";
import {
  checkQuerySize,
  csvFailure,
  DEFAULT_QUERY_LIMITS,
  encodeChunks,
  encodeCsv,
  encodeJson,
  type EpochUnit,
  executeQuery,
  isWriteStatement,
  jsonChunks,
  jsonChunksStreamed,
  jsonString,
  limitHit,
  printStatement,
  type QueryLimits,
  QueryRegistry,
  type ReadConsistency,
  type Statement,
  type StatementResult,
  STATEMENTS,
  streamedChunks,
} from "../query/mod.ts";

type QueryResult = StatementResult[];
import { type AppContext, forgetDroppedDatabases } from "./app.ts";
import { BOOTSTRAP_MESSAGE, BOOTSTRAP_PRINCIPAL, errorResponse } from "./auth_gate.ts";
import { readBody } from "./body.ts";
import { influxError, nativeError, responseOf } from "./responses.ts";
import { noteDatabase } from "./access_log.ts";

interface QueryRequest {
  q: string;
  db?: string;
  rp?: string;
  epoch?: EpochUnit;
  pretty: boolean;
  params?: Record<string, unknown>;
  /** `chunked=true`: newline-delimited result objects, `chunkSize` rows per line. */
  chunked?: boolean;
  chunkSize?: number;
  /** `consistency=leader` (default) or `any` (a cluster: the nearest replica, maybe stale). */
  consistency?: ReadConsistency;
}

/** Query limits of a server (config keys query_timeout_ms, max_select_* ...). */
export interface QuerySettings extends QueryLimits {}

interface QueryState {
  limits: QueryLimits;
  registry: QueryRegistry;
}

// Settings per storage engine (one per server): set by `configureQueries`, read per request.
const STATES = new WeakMap<object, QueryState>();

/**
 * Sets the query limits of the server that serves `engine` (called once at startup by
 * `serve`); without it queries run with {@linkcode DEFAULT_QUERY_LIMITS}. The registry behind SHOW QUERIES / KILL QUERY
 * and max-concurrent-queries lives here too.
 */
export function configureQueries(
  engine: object,
  settings: QuerySettings,
  now: () => number,
): void {
  STATES.set(engine, {
    limits: settings,
    registry: new QueryRegistry({ now, maxConcurrent: settings.maxConcurrent }),
  });
}

/** Queries running now on the server of `ctx` (`/metrics`). */
export function runningQueries(ctx: AppContext): number {
  return STATES.get(ctx.engine)?.registry.running ?? 0;
}

function stateOf(ctx: AppContext): QueryState {
  let s = STATES.get(ctx.engine);
  if (s === undefined) {
    s = {
      limits: DEFAULT_QUERY_LIMITS,
      registry: new QueryRegistry({ now: () => ctx.clock.monotonicMs() }),
    };
    STATES.set(ctx.engine, s);
  }
  return s;
}

// InfluxDB 1.6 converts to u, ms, s, m and h; any other value (n, ns, µ, x ...) answers ns.
const EPOCHS = new Set(["ns", "u", "ms", "s", "m", "h"]);

/** What answering a query reads of its request besides the parameters. */
type QueryHead = Pick<PlainRequest, "method" | "headers" | "signal">;

/** Answers InfluxDB's `/query`. */
export async function handleInfluxQuery(
  ctx: AppContext,
  request: Request,
  url: URL,
  principal: Principal,
): Promise<Response> {
  let query: QueryRequest;
  try {
    query = await influxQueryRequest(ctx, request, url);
  } catch (error) {
    return influxError(error);
  }
  if (query.db) noteDatabase(request, query.db); // a POST's form body may name it
  return responseOf(await answerInfluxQuery(ctx, request, query, principal));
}

/**
 * Whether {@linkcode handleInfluxQueryPlain} answers this `/query` request as
 * {@linkcode handleInfluxQuery} would: a GET, or a POST whose body was read whole and is a plain
 * form (neither JSON, the native query, nor multipart, nor compressed, nor past the body limit:
 * those take the fetch path).
 */
export function isPlainQuery(ctx: AppContext, request: PlainRequest): boolean {
  if (request.method === "GET") return true;
  if (request.method !== "POST" || request.body === undefined) return false;
  if (request.body.byteLength > ctx.maxBodyBytes) return false;
  const type = (request.headers.get("content-type") ?? "").toLowerCase();
  if (type.startsWith("application/json") || type.startsWith("multipart/form-data")) return false;
  const encoding = request.headers.get("content-encoding");
  return encoding === null || encoding.toLowerCase().trim() === "identity";
}

/**
 * Answers a `/query` that {@linkcode isPlainQuery} takes, from its URL (and a POST's form body),
 * as {@linkcode handleInfluxQuery} does: a small answer as plain bytes (the server's direct
 * path writes them without a `Response`).
 */
export function handleInfluxQueryPlain(
  ctx: AppContext,
  request: PlainRequest,
  principal: Principal,
): Promise<PlainAnswer | Response> {
  let query: QueryRequest;
  try {
    const values = request.url.searchParams;
    query = queryParameters(request.body === undefined ? values : withForm(values, request.body));
  } catch (error) {
    return Promise.resolve(influxError(error));
  }
  if (query.db) noteDatabase(request, query.db); // a POST's form body may name it
  return answerInfluxQuery(ctx, request, query, principal);
}

async function answerInfluxQuery(
  ctx: AppContext,
  request: QueryHead,
  query: QueryRequest,
  principal: Principal,
): Promise<PlainAnswer | Response> {
  try {
    const refusal = authorize(ctx, principal, query, request.method === "GET");
    if (refusal) return errorResponse({ influx: true }, refusal);
    if (query.chunked && !wantsCsv(request)) return streamChunks(ctx, request, query, principal);
    // The JSON answer streams a last raw SELECT's rows as it writes them (raw_stream.ts).
    const stream = !query.pretty && !wantsCsv(request);
    const results = await run(ctx, query, request.method === "GET", principal, request.signal, {
      stream,
    });
    return encode(request, results, query);
  } catch (error) {
    if (error instanceof ParseError) {
      // InfluxDB ends the body with a newline, as its other answers.
      return new Response(
        `{"error":${jsonString(`error parsing query: ${error.message}`)}}\n`,
        {
          status: 400,
          headers: { "content-type": "application/json" },
        },
      );
    }
    if (!(error instanceof EpochError)) ctx.logger.error("query failed", { error: String(error) });
    return influxError(error);
  }
}

/** Answers the native `POST /query` with a JSON body. */
export async function handleNativeQuery(
  ctx: AppContext,
  request: Request,
  url: URL,
  principal: Principal,
): Promise<Response> {
  try {
    const body = new TextDecoder().decode(await readBody(request, ctx.maxBodyBytes));
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (error) {
      throw new ParseError(`request body is not valid JSON: ${(error as Error).message}`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new ValidationError('request body must be a JSON object like {"query": "SELECT ..."}');
    }
    const o = parsed as Record<string, unknown>;
    const q = o.query ?? o.q;
    if (typeof q !== "string" || q.trim() === "") {
      throw new ValidationError('missing "query": a string of InfluxQL statements');
    }
    for (const key of ["db", "rp", "epoch", "consistency"] as const) {
      if (o[key] !== undefined && typeof o[key] !== "string") {
        throw new ValidationError(`"${key}" must be a string, got ${JSON.stringify(o[key])}`);
      }
    }
    const query: QueryRequest = {
      q,
      db: (o.db as string | undefined) ?? url.searchParams.get("db") ?? ctx.defaultDatabase,
      rp: o.rp as string | undefined,
      epoch: checkEpoch((o.epoch as string | undefined) ?? url.searchParams.get("epoch")),
      pretty: o.pretty === true,
      params: o.params as Record<string, unknown> | undefined,
      consistency: checkConsistency(
        (o.consistency as string | undefined) ?? url.searchParams.get("consistency"),
      ),
    };
    if (query.db) noteDatabase(request, query.db);
    const refusal = authorize(ctx, principal, query, false);
    if (refusal) return errorResponse({ influx: false }, refusal);
    if (query.db === ctx.defaultDatabase && !ctx.engine.hasDatabase(query.db)) {
      await ctx.engine.createDatabase(query.db);
    }
    const results = await run(ctx, query, false, principal, request.signal);
    return responseOf(encode(request, results, query));
  } catch (error) {
    if (!(error instanceof EpochError)) ctx.logger.error("query failed", { error: String(error) });
    return nativeError(error);
  }
}

async function influxQueryRequest(
  ctx: AppContext,
  request: Request,
  url: URL,
): Promise<QueryRequest> {
  // A GET reads the URL's own parameters; only a POST merges its body into a copy.
  const values = url.searchParams;
  if (request.method !== "POST") return queryParameters(values);
  const body = await readQueryForm(ctx, request);
  const type = request.headers.get("content-type") ?? "";
  if (!type.toLowerCase().startsWith("multipart/form-data")) {
    return queryParameters(withForm(values, body));
  }
  const merged = new URLSearchParams(values);
  for (const [k, v] of await multipartForm(body, type)) {
    merged.set(k, typeof v === "string" ? v : await v.text());
  }
  return queryParameters(merged);
}

/**
 * A multipart form body's fields. The Content-Type is passed as sent: its boundary is
 * case-sensitive (a browser's `----WebKitFormBoundaryAbC...`), so lowercasing it made every
 * such form unreadable. A malformed form is the client's error (400), not the server's.
 */
async function multipartForm(body: Uint8Array, type: string): Promise<FormData> {
  try {
    return await new Response(body as Uint8Array<ArrayBuffer>, {
      headers: { "content-type": type },
    }).formData();
  } catch (error) {
    throw new ValidationError(
      `cannot read the multipart form body of /query (Content-Type ${JSON.stringify(type)}): ` +
        (error as Error).message,
    );
  }
}

/** Room a `/query` form body has for its parameters besides `q` (db, epoch, params ...). */
const FORM_ROOM_BYTES = 64 * 1024;

/**
 * A `/query` POST's form body, at most what a query of `max_query_bytes` needs: each byte of it
 * percent-encoded (3 bytes), plus room for the other parameters. A body declaring more is
 * refused before a byte is read, one without a length as soon as it reads past it: a 10 MB form
 * was read, URL-decoded and re-encoded before the query's own size check refused it.
 * @throws {TooLargeError} (413) naming max_query_bytes.
 */
async function readQueryForm(ctx: AppContext, request: Request): Promise<Uint8Array> {
  const maxQuery = stateOf(ctx).limits.maxQueryBytes ?? 0;
  const limit = maxQuery > 0 ? 3 * maxQuery + FORM_ROOM_BYTES : Infinity;
  if (limit >= ctx.maxBodyBytes) return await readBody(request, ctx.maxBodyBytes);
  try {
    return await readBody(request, limit);
  } catch (error) {
    if (!(error instanceof TooLargeError)) throw error;
    throw new TooLargeError(
      `query is too long: the form body is over ${limit} bytes, the most a query of ` +
        `max_query_bytes (${maxQuery}) takes percent-encoded with ${FORM_ROOM_BYTES} bytes of ` +
        "other parameters",
      { details: { limit } },
    );
  }
}

/** The URL's parameters with a url-encoded form body's values over them (a POST's). */
function withForm(values: URLSearchParams, body: Uint8Array): URLSearchParams {
  const merged = new URLSearchParams(values);
  for (const [k, v] of new URLSearchParams(new TextDecoder().decode(body))) merged.set(k, v);
  return merged;
}

/** The query's parameters (`q`, `db`, `epoch` ...) from the URL's and a form body's values. */
function queryParameters(values: URLSearchParams): QueryRequest {
  const q = values.get("q");
  if (!q) throw new ValidationError(`missing required parameter "q"`);
  let params: Record<string, unknown> | undefined;
  const rawParams = values.get("params");
  if (rawParams) {
    try {
      params = JSON.parse(rawParams);
    } catch (error) {
      throw new ValidationError(`error parsing query parameters: ${(error as Error).message}`);
    }
  }
  const chunkSizeText = values.get("chunk_size");
  let chunkSize: number | undefined;
  if (chunkSizeText) {
    chunkSize = Number(chunkSizeText);
    if (!Number.isInteger(chunkSize) || chunkSize < 0) {
      throw new ValidationError(`invalid chunk_size ${JSON.stringify(chunkSizeText)}`);
    }
  }
  return {
    q,
    db: values.get("db") ?? undefined,
    rp: values.get("rp") ?? undefined,
    epoch: checkEpoch(values.get("epoch")),
    pretty: values.get("pretty") === "true",
    params,
    chunked: values.get("chunked") === "true",
    chunkSize,
    consistency: checkConsistency(values.get("consistency")),
  };
}

/** `consistency=`: absent or `leader` (the default), or `any`. */
function checkConsistency(value: string | null | undefined): ReadConsistency | undefined {
  if (value === null || value === undefined || value === "") return undefined;
  if (value === "leader" || value === "any") return value;
  throw new ValidationError(
    `invalid consistency ${JSON.stringify(value)}: use leader (the default: every acknowledged ` +
      `write is seen) or any (the nearest replica, maybe stale)`,
  );
}

/**
 * `chunked=true`: each statement's lines are written as soon as the statement finishes, and a
 * last raw SELECT's as its rows are read. A syntax error is still a 400 with one JSON object,
 * as InfluxDB.
 */
function streamChunks(
  ctx: AppContext,
  request: QueryHead,
  query: QueryRequest,
  principal: Principal,
): Response {
  const encoder = new TextEncoder();
  const options = { epoch: query.epoch, chunkSize: query.chunkSize };
  const lines: string[] = [];
  let push: ((line: string) => void) | undefined;
  // A last raw SELECT streams its rows: its lines are written as they are read, after the run.
  let streamed: StatementResult | undefined;
  const onResult = (r: StatementResult) => {
    if (r.stream !== undefined) {
      streamed = r;
      return;
    }
    for (const line of encodeChunks(r, options)) {
      if (push) push(line);
      else lines.push(line);
    }
  };
  // A syntax error is a 400 before anything streams: parse up front (the run finds it kept).
  checkQuerySize(query.q, stateOf(ctx).limits);
  STATEMENTS.parse(query.q);
  let failure: unknown;
  const settled = run(ctx, query, request.method === "GET", principal, request.signal, {
    onResult,
    stream: true,
  }).then(
    () => {},
    (e) => {
      failure = e;
    },
  );
  let rest: AsyncGenerator<string, void, undefined> | undefined;
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      for (const line of lines) controller.enqueue(encoder.encode(line));
      push = (line) => controller.enqueue(encoder.encode(line));
      await settled;
      push = undefined;
      if (cancelled) {
        // The client left before the statements ran: no one will pull what they opened.
        streamed?.stream?.close();
        return;
      }
      if (failure !== undefined) {
        if (!(failure instanceof EpochError)) {
          ctx.logger.error("query failed", { error: String(failure) });
        }
        const message = failure instanceof Error ? failure.message : String(failure);
        controller.enqueue(encoder.encode(JSON.stringify({ error: message }) + "\n"));
      }
      if (streamed !== undefined) rest = streamedChunks(streamed, options);
      else controller.close();
    },
    async pull(controller) {
      if (rest === undefined) return;
      const next = await rest.next();
      if (next.done) controller.close();
      else controller.enqueue(encoder.encode(next.value));
    },
    async cancel() {
      cancelled = true;
      streamed?.stream?.close();
      await rest?.return();
    },
  }, { highWaterMark: 0 });
  return new Response(body, { headers: { "content-type": "application/json" } });
}

function wantsCsv(request: QueryHead): boolean {
  const accept = request.headers.get("accept") ?? "";
  return accept.includes("application/csv") || accept.includes("text/csv");
}

function checkEpoch(epoch: string | null | undefined): EpochUnit | undefined {
  if (epoch === null || epoch === undefined || epoch === "") return undefined;
  return EPOCHS.has(epoch) ? epoch as EpochUnit : "ns";
}

/**
 * Checks every statement of the query before any runs (InfluxDB does the same): the error to
 * answer 403 with, or undefined. Privileged statements that pass go to the audit log. With
 * authentication on, a statement that changes anything is refused over GET (405): a link or an
 * image on a page must not drop a database with the credentials a browser remembers.
 * @throws {ParseError} for a query that does not parse (answered 400 by the caller).
 */
function authorize(
  ctx: AppContext,
  principal: Principal,
  query: QueryRequest,
  overGet: boolean,
): EpochError | undefined {
  if (principal.kind === "open" && !ctx.auth?.audit) return undefined;
  const statements = STATEMENTS.parse(query.q);
  const db = query.db ?? "";
  if (overGet && principal.kind !== "open") {
    const change = statements.find(isWriteStatement);
    if (change) {
      return new EpochError(
        "invalid_argument",
        `error authorizing query: '${printStatement(change)}' changes data or users and is ` +
          "refused over GET, please use a POST request instead",
        { httpStatus: 405 },
      );
    }
  }
  if (principal === BOOTSTRAP_PRINCIPAL) {
    if (!statements.every((s) => s.kind === "create_user" && s.admin)) {
      return new PermissionDeniedError(`error authorizing query: ${BOOTSTRAP_MESSAGE}`);
    }
  } else {
    const refusal = authorizeStatements(principal, statements, db);
    if (refusal) {
      ctx.logger.warn("query denied", { user: principal.name, reason: refusal });
      return new PermissionDeniedError(`error authorizing query: ${refusal}`);
    }
  }
  audit(ctx, principal, statements, db);
  return undefined;
}

function audit(
  ctx: AppContext,
  principal: Principal,
  statements: readonly Statement[],
  db: string,
): void {
  const record = ctx.auth?.audit;
  if (!record) return;
  for (const stmt of statements) {
    if (!isPrivileged(stmt, db) && stmt.kind !== "create_user") continue;
    // printStatement redacts passwords.
    record({ user: principal.name, database: db, statement: printStatement(stmt) });
  }
}

/** The query limits the server of `ctx` applies (its memory budget, for remote_read's answer). */
export function queryLimitsOf(ctx: AppContext): QueryLimits {
  return stateOf(ctx).limits;
}

/**
 * Runs read-only InfluxQL for another API (remote_read) as `principal`, with the server's query
 * limits, memory budget and registry, as /query would.
 */
export function runReadQuery(
  ctx: AppContext,
  principal: Principal,
  q: string,
  db: string,
  rp: string | undefined,
  params: Record<string, unknown>,
  signal: AbortSignal,
): Promise<QueryResult> {
  return run(ctx, { q, db, rp, params, pretty: false }, true, principal, signal);
}

async function run(
  ctx: AppContext,
  query: QueryRequest,
  readOnly: boolean,
  principal: Principal,
  signal?: AbortSignal,
  how: { onResult?: (r: StatementResult) => void; stream?: boolean } = {},
): Promise<QueryResult> {
  const onResult = how.onResult;
  const state = stateOf(ctx);
  const started = ctx.clock.monotonicMs();
  const timing = new StatementTiming(ctx, started);
  // A streamed statement is timed, counted and logged when its stream ends, not when its first
  // piece is ready.
  let streamed: { r: StatementResult; statement: Statement } | undefined;
  let results: QueryResult;
  try {
    results = await executeQuery(ctx.engine, query.q, {
      database: query.db || undefined,
      retentionPolicy: query.rp || undefined,
      nowNs: ctx.clock.nowNanos(),
      params: query.params,
      consistency: query.consistency,
      readOnly,
      limits: state.limits,
      registry: state.registry,
      signal,
      stream: how.stream,
      onResult: (r, statement) => {
        if (statement.kind === "drop_database" && r.error === undefined) {
          forgetDroppedDatabases(ctx);
        }
        if (r.stream !== undefined) streamed = { r, statement };
        else timing.done(r, statement);
        onResult?.(r);
      },
      onStreamEnd: (error) => {
        if (streamed === undefined) return; // ended before it was answered (no rows, a limit)
        const { r, statement } = streamed;
        const message = error === undefined
          ? undefined
          : error instanceof Error
          ? error.message
          : String(error);
        timing.done(message === undefined ? r : { ...r, error: message }, statement);
        timing.logIfSlow(query, principal);
      },
      users: ctx.auth?.directory,
      continuousQueries: ctx.jobs,
      canSeeDatabase: principal.isAdmin()
        ? undefined
        : (name) => holds(principal, name, Privilege.read),
    });
  } catch (error) {
    // Refused whole: too long a text, or too many queries running.
    const limit = error instanceof EpochError ? limitHit(error.message) : undefined;
    if (limit) ctx.metrics.add("epochnexus_query_limits_hit_total", { limit });
    throw error;
  }
  if (streamed === undefined) timing.logIfSlow(query, principal);
  return results;
}

/**
 * The figures of one request's statements as they finish: each statement's duration by kind,
 * its outcome, the limit it hit or the kill that stopped it; and the slow-query log.
 */
class StatementTiming {
  readonly #ctx: AppContext;
  readonly #started: number;
  #last: number;
  readonly #statements: Statement[] = [];
  readonly #ms: number[] = [];

  constructor(ctx: AppContext, started: number) {
    this.#ctx = ctx;
    this.#started = this.#last = started;
  }

  done(r: StatementResult, statement: Statement): void {
    const now = this.#ctx.clock.monotonicMs();
    const m = this.#ctx.metrics;
    // A statement not executed (an earlier one failed) took no time and is not counted.
    if (r.error !== "not executed") {
      m.observe(
        "epochnexus_query_duration_seconds",
        { kind: statement.kind },
        (now - this.#last) / 1000,
      );
      this.#statements.push(statement);
      this.#ms.push(now - this.#last);
    }
    this.#last = now;
    m.add("epochnexus_queries_total", { outcome: r.error ? "error" : "ok" });
    const limit = r.error ? limitHit(r.error) : undefined;
    if (limit === "killed") m.add("epochnexus_queries_killed_total", { reason: "kill_query" });
    else if (limit === "abandoned") {
      m.add("epochnexus_queries_killed_total", { reason: "client_gone" });
    } else if (limit === "query_timeout") {
      m.add("epochnexus_queries_killed_total", { reason: "timeout" });
    } else if (limit) m.add("epochnexus_query_limits_hit_total", { limit });
  }

  /** Logs the request when it ran for `slowQueryMs` or more; passwords never appear. */
  logIfSlow(query: QueryRequest, principal: Principal): void {
    const threshold = this.#ctx.slowQueryMs ?? 0;
    const ms = this.#last - this.#started;
    if (threshold <= 0 || ms < threshold) return;
    const secret = this.#statements.some((s) =>
      s.kind === "create_user" || s.kind === "set_password"
    );
    let text = secret ? this.#statements.map(printStatement).join("; ") : query.q;
    if (text.length > 2000) text = text.slice(0, 2000) + "...";
    this.#ctx.logger.warn("slow query", {
      ms: Math.round(ms),
      database: query.db ?? "",
      user: principal.name,
      statements: this.#statements.map((s, i) => `${s.kind} ${Math.round(this.#ms[i])} ms`),
      query: text,
    });
  }
}

function encode(
  request: QueryHead,
  results: QueryResult,
  query: QueryRequest,
): PlainAnswer | Response {
  if (wantsCsv(request)) {
    const failure = csvFailure(results);
    if (failure !== undefined) {
      return new Response(failure.body, {
        status: failure.status,
        headers: { "content-type": "text/csv" },
      });
    }
    return new Response(encodeCsv(results, { epoch: query.epoch }), {
      headers: { "content-type": "text/csv" }, // what influxd 1.6.7 sends for Accept: application/csv
    });
  }
  const headers = { "content-type": "application/json" };
  if (query.pretty) {
    return new Response(encodeJson(results, { epoch: query.epoch, pretty: true }), { headers });
  }
  if (results.at(-1)?.stream !== undefined) return streamedJson(results, query, headers);
  // Bytes chunk by chunk, each row released once written: a large answer is never one string.
  const chunks = jsonChunks(results, { epoch: query.epoch, consume: true });
  const first = chunks.next().value!;
  const second = chunks.next();
  if (second.done) {
    // Whole: the server writes it at once, with its length (fetch_bridge.ts, direct.ts).
    return {
      status: 200,
      headers: { ...headers, "content-length": String(first.byteLength) },
      body: first,
    };
  }
  let pending: Uint8Array<ArrayBuffer> | undefined = second.value;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(first);
    },
    pull(controller) {
      if (pending !== undefined) {
        controller.enqueue(pending);
        pending = undefined;
        return;
      }
      const next = chunks.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel() {
      chunks.return();
    },
  }, { highWaterMark: 0 });
  return new Response(body, { headers });
}

/** The JSON answer of results whose last one streams: written as its rows are read. */
function streamedJson(
  results: QueryResult,
  query: QueryRequest,
  headers: Record<string, string>,
): Response {
  const chunks = jsonChunksStreamed(results, { epoch: query.epoch, consume: true });
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await chunks.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel() {
      // Closes the stream also when no chunk was asked for (the generator never ran).
      results.at(-1)?.stream?.close();
      await chunks.return();
    },
  }, { highWaterMark: 0 });
  return new Response(body, { headers });
}
