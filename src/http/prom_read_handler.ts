/**
 * `POST /api/v1/prom/read?db=&rp=`: Prometheus remote_read, as InfluxDB 1.x serves it, so
 * Prometheus can use EpochNexus as its long-term store. The request is a snappy-compressed
 * ReadRequest (src/ingest/prom_remote_read.ts); each query becomes one InfluxQL SELECT of the
 * float field `value` (what remote_write stores) over the measurements its `__name__` matchers
 * select, `GROUP BY *`, run through the query executor, so a cluster's fan-out, the per-query
 * limits and the query memory budget apply as to any /query. Mapping back: the measurement is
 * `__name__`, the non-empty tags are the other labels.
 *
 * Matchers keep Prometheus' meaning: regexes are anchored (`^(?:re)$`, RE2, linear time); `=""`
 * means the label is absent or empty and `!=""` that it is present, as InfluxQL's tag
 * comparisons already treat an absent tag as empty. Only the SAMPLES response type is served:
 * a request that accepts only STREAMED_XOR_CHUNKS is refused with 400.
 *
 * One request is bounded as a whole, not only query by query: at most
 * {@linkcode MAX_READ_QUERIES} queries (Prometheus sends one per request, InfluxDB 1.x accepts
 * only one), and `query_timeout_ms` counts from the request's start, so a few hundred KB of
 * repeated queries cannot keep the server busy for minutes.
 * @module
 */
import type { Principal } from "../auth/mod.ts";
import {
  type Clock,
  EpochError,
  NotFoundError,
  OverloadError,
  TooLargeError,
  ValidationError,
} from "../core/mod.ts";
import {
  compressSnappy,
  decodePromReadRequest,
  encodePromReadResponse,
  type LabelMatcher,
  type PromReadQuery,
  type PromReadSeries,
  RESPONSE_SAMPLES,
  uncompressSnappy,
  unsupportedResponseTypes,
} from "../ingest/mod.ts";
import {
  compileRegex,
  isInstant,
  limitHit,
  QueryInterruptedError,
  QueryMemory,
  quoteIdent,
  type StatementResult,
} from "../query/mod.ts";
import type { AppContext } from "./app.ts";
import { readBody } from "./body.ts";
import { queryLimitsOf, runReadQuery } from "./query_handler.ts";
import { nativeError } from "./responses.ts";

/**
 * The most queries one remote_read request may hold. Prometheus sends one query per request and
 * InfluxDB 1.x refuses more than one; a few more serve other clients (a query per selector)
 * while one request stays a bounded amount of work. More is a 413 before any query runs.
 */
export const MAX_READ_QUERIES = 100;

/** Answers a remote_read request. */
export async function handlePromRead(
  ctx: AppContext,
  request: Request,
  url: URL,
  principal: Principal,
): Promise<Response> {
  try {
    const db = url.searchParams.get("db") || ctx.defaultDatabase;
    const rp = url.searchParams.get("rp") || undefined;
    if (!ctx.engine.hasDatabase(db)) {
      throw new NotFoundError(`database not found: ${db}`, { details: { database: db } });
    }
    const raw = await readBody(request, ctx.maxBodyBytes, { passThrough: ["snappy"] });
    const read = decodePromReadRequest(
      uncompressSnappy(raw, ctx.maxBodyBytes, "remote_read request"),
    );
    const types = read.acceptedResponseTypes;
    if (types.length > 0 && !types.includes(RESPONSE_SAMPLES)) {
      throw unsupportedResponseTypes(types);
    }
    if (read.queries.length > MAX_READ_QUERIES) {
      throw new TooLargeError(
        `remote_read request has ${read.queries.length} queries; at most ${MAX_READ_QUERIES} are ` +
          `answered in one request (Prometheus sends one): send them in several requests`,
        { details: { queries: read.queries.length, max: MAX_READ_QUERIES } },
      );
    }
    // Each query's rows are charged to its own budget while it runs; the answers kept for the
    // whole request are charged here, so repeating a query cannot multiply what is held.
    const limits = queryLimitsOf(ctx);
    const held = new QueryMemory(limits.maxMemoryBytes ?? 0);
    const results: PromReadSeries[][] = [];
    using deadline = new RequestDeadline(request.signal, ctx.clock, limits.timeoutMs ?? 0);
    for (const [i, query] of read.queries.entries()) {
      const where = `query ${i + 1}`;
      deadline.check(where);
      const series = await answerQuery(ctx, principal, db, rp, query, where, deadline.signal);
      held.charge(answerBytes(series), () => `remote_read ${where}`);
      results.push(series);
    }
    return new Response(compressSnappy(encodePromReadResponse(results)), {
      headers: {
        "content-type": "application/x-protobuf",
        "content-encoding": "snappy",
      },
    });
  } catch (error) {
    if (!(error instanceof EpochError)) {
      ctx.logger.error("remote_read failed", { error: String(error) });
    }
    return nativeError(error);
  }
}

/**
 * One deadline for all the queries of a request: `query_timeout_ms` (0: none) from its start.
 * The signal stops a query running past it (the executor checks it as it goes); `check` is asked
 * between queries by the clock, since queries that never wait on IO give a timer no turn to fire.
 */
class RequestDeadline {
  readonly signal: AbortSignal;
  readonly #timeout = new AbortController();
  readonly #timer?: ReturnType<typeof setTimeout>;
  readonly #endMs: number;

  constructor(client: AbortSignal, readonly clock: Clock, timeoutMs: number) {
    this.#endMs = timeoutMs > 0 ? clock.monotonicMs() + timeoutMs : Infinity;
    if (timeoutMs <= 0) {
      this.signal = client;
      return;
    }
    this.#timer = setTimeout(() => this.#expire(), timeoutMs);
    this.signal = AbortSignal.any([client, this.#timeout.signal]);
  }

  /** @throws {EpochError} `deadline_exceeded` naming the query, once the client left or time is up. */
  check(where: string): void {
    if (!this.signal.aborted && this.clock.monotonicMs() >= this.#endMs) this.#expire();
    if (!this.signal.aborted) return;
    const reason = this.signal.reason;
    const message = reason instanceof EpochError ? reason.message : "query killed";
    throw new EpochError("deadline_exceeded", `remote_read ${where}: ${message}`, {
      details: { limit: limitHit(message) ?? "killed" },
    });
  }

  [Symbol.dispose](): void {
    clearTimeout(this.#timer);
  }

  #expire(): void {
    this.#timeout.abort(new QueryInterruptedError("query-timeout limit exceeded"));
  }
}

/** An estimate of what a query's answer holds: two numbers a sample, strings two bytes a unit. */
function answerBytes(series: PromReadSeries[]): number {
  let bytes = 0;
  for (const s of series) {
    bytes += 64 + 16 * s.values.length;
    for (const l of s.labels) bytes += 64 + 2 * (l.name.length + l.value.length);
  }
  return bytes;
}

/** A Prometheus regex, anchored and compiled (RE2), or a 400 naming the matcher. */
function anchored(m: LabelMatcher, where: string): { pattern: string; test(s: string): boolean } {
  const pattern = `^(?:${m.value})$`;
  try {
    const re = compileRegex(pattern);
    return { pattern, test: (s) => re.matches(s) };
  } catch (error) {
    throw new ValidationError(
      `${where}: matcher ${m.name}${m.type === "RE" ? "=~" : "!~"}${JSON.stringify(m.value)}: ${
        (error as Error).message
      }`,
      { cause: error },
    );
  }
}

/**
 * A matcher as a test of label values (Prometheus' semantics; absent is ""), its regex compiled
 * once however many values it is asked about.
 */
function matcherTest(m: LabelMatcher, where: string): (value: string) => boolean {
  switch (m.type) {
    case "EQ":
      return (value) => value === m.value;
    case "NEQ":
      return (value) => value !== m.value;
    case "RE": {
      const re = anchored(m, where);
      return (value) => re.test(value);
    }
    case "NRE": {
      const re = anchored(m, where);
      return (value) => !re.test(value);
    }
  }
}

/**
 * A regex literal InfluxQL's lexer reads back as `pattern`: a bare `/` is escaped; a pair
 * starting with `\` is kept (the lexer keeps it, `\/` meaning `/` either way); a raw newline,
 * which the lexer refuses, is written as the regex escape `\n`.
 */
function regexLiteral(pattern: string): string {
  let out = "/";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\" && i + 1 < pattern.length) {
      const next = pattern[++i];
      out += next === "\n" ? "\\n" : c + next;
    } else if (c === "/") out += "\\/";
    else if (c === "\n") out += "\\n";
    else out += c;
  }
  return out + "/";
}

/** The measurements the `__name__` matchers select; one EQ needs no listing. */
async function measurementsOf(
  ctx: AppContext,
  principal: Principal,
  db: string,
  rp: string | undefined,
  names: LabelMatcher[],
  where: string,
  signal: AbortSignal,
): Promise<string[]> {
  const tests = names.map((m) => matcherTest(m, where)); // a bad regex: 400 before any listing
  const eq = names.find((m) => m.type === "EQ");
  if (eq !== undefined) return tests.every((test) => test(eq.value)) ? [eq.value] : [];
  const listing = expectOk(
    await runReadQuery(ctx, principal, "SHOW MEASUREMENTS", db, rp, {}, signal),
    where,
  );
  const all = (listing.series?.[0]?.values ?? []).map((row) => String(row[0]));
  return all.filter((name) => tests.every((test) => test(name)));
}

/** One query's series. */
async function answerQuery(
  ctx: AppContext,
  principal: Principal,
  db: string,
  rp: string | undefined,
  query: PromReadQuery,
  where: string,
  signal: AbortSignal,
): Promise<PromReadSeries[]> {
  const names = query.matchers.filter((m) => m.name === "__name__");
  const labels = query.matchers.filter((m) => m.name !== "__name__");
  if (query.endMs < query.startMs) return [];
  const measurements = await measurementsOf(ctx, principal, db, rp, names, where, signal);
  if (measurements.length === 0) return [];
  // Label values go in as bound parameters (no quoting to get wrong), regexes as literals.
  const params: Record<string, string> = {};
  const conditions = [
    `time >= ${BigInt(query.startMs) * 1_000_000n}`,
    `time <= ${BigInt(query.endMs) * 1_000_000n + 999_999n}`,
  ];
  for (const [i, m] of labels.entries()) {
    // `time` is never a tag (InfluxQL reads it as the time column even with `::tag`): as a
    // label it is absent, so its matcher either holds for every series or for none.
    if (m.name === "time") {
      if (matcherTest(m, where)("")) continue;
      return [];
    }
    // `::tag`: a label is a tag, never the field `value` or the time column of the same name.
    const tag = `${quoteIdent(m.name)}::tag`;
    if (m.type === "EQ" || m.type === "NEQ") {
      params[`p${i}`] = m.value;
      conditions.push(`${tag} ${m.type === "EQ" ? "=" : "!="} $p${i}`);
    } else {
      const re = anchored(m, where);
      conditions.push(`${tag} ${m.type === "RE" ? "=~" : "!~"} ${regexLiteral(re.pattern)}`);
    }
  }
  const statement = `SELECT "value" FROM ${measurements.map(quoteIdent).join(",")} WHERE ${
    conditions.join(" AND ")
  } GROUP BY *`;
  const result = expectOk(
    await runReadQuery(ctx, principal, statement, db, rp, params, signal),
    where,
  );
  return seriesOf(result);
}

/** The statement's series as remote_read series; a value that is not a number is left out. */
function seriesOf(result: StatementResult): PromReadSeries[] {
  const out: PromReadSeries[] = [];
  for (const s of result.series ?? []) {
    const tags = s.tags ?? {};
    const pairs = [{ name: "__name__", value: s.name }];
    // A tag `__name__` (line protocol may write one) would be a second name: the measurement is it.
    for (const [name, value] of Object.entries(tags)) {
      if (value !== "" && name !== "__name__") pairs.push({ name, value });
    }
    pairs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const series: PromReadSeries = { labels: pairs, timestampsMs: [], values: [] };
    for (const row of s.values) {
      const time = row[0], value = row[1];
      if (!isInstant(time)) continue;
      const v = typeof value === "number" ? value : typeof value === "bigint" ? Number(value) : NaN;
      if (Number.isNaN(v)) continue;
      series.timestampsMs.push(time.ms);
      series.values.push(v);
    }
    if (series.values.length > 0) out.push(series);
  }
  return out;
}

/**
 * The statement's result, or its error with a status: a size limit is 413, too many queries
 * 429, a timeout or KILL QUERY 504.
 */
function expectOk(results: StatementResult[], where: string): StatementResult {
  const r = results[0];
  if (r?.error === undefined) return r ?? { statementId: 0 };
  const message = `remote_read ${where}: ${r.error}`;
  const limit = limitHit(r.error);
  if (limit === "max_concurrent_queries") throw new OverloadError(message);
  if (limit === "query_timeout" || limit === "killed") {
    throw new EpochError("deadline_exceeded", message, { details: { limit } });
  }
  if (limit !== undefined) throw new TooLargeError(message, { details: { limit } });
  throw new EpochError(r.errorCode ?? "invalid_argument", message);
}
