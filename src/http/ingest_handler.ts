/**
 * `POST /ingest`: the native write API. The decoder is picked by Content-Type:
 *
 * | Content-Type             | body                                                  | read     |
 * | ------------------------ | ----------------------------------------------------- | -------- |
 * | `application/json`       | one native JSON record or an array of them            | whole    |
 * | `application/x-ndjson`   | one native JSON record per line                       | streamed |
 * | `text/plain`             | InfluxDB line protocol                                | streamed |
 * | `text/csv`               | a header row, then one point per row (csv_points.ts)  | streamed |
 * | `application/x-protobuf` | `epochnexus.ingest.v1.WriteRequest`                   | whole    |
 *
 * Streamed bodies are decoded as they arrive and committed in batches (`batchPoints` points or
 * `batchBytes` body bytes), one batch in flight: the body is read no faster than the writes
 * commit, and memory stays bounded whatever its size. Whole bodies are limited to
 * `maxBodyBytes`, streamed ones to `maxStreamBytes` (both after gunzip: `Content-Encoding:
 * gzip` works on every format, and a gzip bomb stops at the limit with 413).
 *
 * Partial failure, the same for every format: valid points are written, invalid ones reported.
 * The answer is 200 `{"accepted": N, "rejected": 0}`, or 400 with the native error shape,
 * `accepted`, `rejected` and the first `maxListedErrors` errors (line or record, column or
 * field, reason). Points not written because their partition has no leader make it a 503
 * with Retry-After (`unavailable` counts them; the errors name them).
 *
 * `?atomic=true` (or a protobuf message's `atomic`) makes the request all-or-nothing: the body
 * is decoded whole (within `maxBodyBytes`), and any bad record, schema or pipeline rejection,
 * field-type conflict (within the request or with stored data) or point beyond retention writes
 * nothing (write_path.ts's `writePointsAtomically`).
 *
 * Overload: at most `maxConcurrentWrites` write requests at once holding at most
 * `maxQueuedBytes`; beyond that 429 with `Retry-After` at once (no queue).
 * @module
 */
import {
  EpochError,
  instantFromNanos,
  isPrecision,
  type Point,
  type Precision,
  ValidationError,
} from "../core/mod.ts";
import {
  commitBatches,
  type CommitOptions,
  decodeCsvStream,
  type DecodedBatch,
  decodeLineProtocolStream,
  decodeNdjsonStream,
  decodeProtobufWrite,
  type IngestIssue,
  type IngestSummary,
  JsonBodyDecoder,
  parseCsvTypes,
  STREAM_READ_BYTES,
  type StreamReservation,
  WriteAdmission,
} from "../ingest/mod.ts";
import type { Config } from "../config/mod.ts";
import { type AppContext, fieldLayouts, lineProtocolCache } from "./app.ts";
import { bodyStream, readBody } from "./body.ts";
import { databaseExists, writePoints, writePointsAtomically } from "./write_path.ts";
import { json, nativeError } from "./responses.ts";
import {
  failedSummary,
  parsePrecision,
  unavailableWrite,
  WARNING_HEADER,
} from "./write_handler.ts";
import { recordWrite, type WriteFormat, WriteTally } from "./write_metrics.ts";

const FORMATS: Record<string, WriteFormat> = {
  "application/json": "json",
  "application/x-ndjson": "ndjson",
  "text/plain": "line_protocol",
  "text/csv": "csv",
  "application/x-protobuf": "protobuf",
};

/** Content types `/ingest` accepts. */
export const INGEST_CONTENT_TYPES = [
  "application/json",
  "application/x-ndjson",
  "text/plain",
  "text/csv",
  "application/x-protobuf",
] as const;

/** Tuning of the write paths (`AppContext.ingest`; config keys `ingest_*`). */
export interface IngestSettings {
  /** Points per committed batch. */
  batchPoints: number;
  /** Body bytes per committed batch (the in-flight byte budget of a streamed request). */
  batchBytes: number;
  /** Largest streamed body (after gunzip). */
  maxStreamBytes: number;
  /** Longest line of NDJSON or line protocol. */
  maxLineBytes: number;
  /** Errors listed in an answer (all are counted). */
  maxListedErrors: number;
  /** Write requests served at once. */
  maxConcurrentWrites: number;
  /** Bytes all write requests may hold at once. */
  maxQueuedBytes: number;
  /** `Retry-After` of a 429. */
  retryAfterSeconds: number;
}

/** The defaults of {@linkcode IngestSettings}. */
export const DEFAULT_INGEST_SETTINGS: Readonly<IngestSettings> = {
  batchPoints: 5000,
  batchBytes: 8 * 1024 * 1024,
  maxStreamBytes: 64 * 1024 ** 3,
  maxLineBytes: 1024 * 1024,
  maxListedErrors: 100,
  maxConcurrentWrites: 64,
  maxQueuedBytes: 256 * 1024 * 1024,
  retryAfterSeconds: 1,
};

/** The settings from a node's configuration (`serve` passes them as `AppContext.ingest`). */
export function ingestSettingsFromConfig(config: Config): IngestSettings {
  return {
    ...DEFAULT_INGEST_SETTINGS,
    batchPoints: config.ingest_batch_points,
    batchBytes: config.ingest_batch_bytes,
    maxStreamBytes: config.max_stream_bytes,
    maxLineBytes: config.max_line_bytes,
    maxConcurrentWrites: config.max_concurrent_writes,
    maxQueuedBytes: config.max_queued_write_bytes,
  };
}

/** Characters of a big JSON array parsed, and records decoded, between two looks at the clock. */
const JSON_SLICE_CHARS = 256 * 1024;
const JSON_SLICE_RECORDS = 2000;
/** Decoding work between two turns of the event loop, in milliseconds. */
const PAUSE_EVERY_MS = 20;

const admissions = new WeakMap<AppContext, WriteAdmission>();

/** The settings of a context, defaults filled in. */
export function ingestSettings(ctx: AppContext): IngestSettings {
  return { ...DEFAULT_INGEST_SETTINGS, ...ctx.ingest };
}

/**
 * Admits a write request that will hold up to `bytes` in memory; returns its release.
 * @throws {OverloadError} beyond the bounds (429 with Retry-After).
 */
export function admitWrite(ctx: AppContext, bytes: number): () => void {
  return admissionOf(ctx).admit(bytes);
}

/**
 * The commit options of a streamed write: the settings, with a batch size asked again before
 * each batch, smaller while many writes are in flight (`WriteAdmission.batchShare`), so 64
 * writers do not each hold a whole body of decoded points; and the request's reservation, told
 * what its batches hold ({@linkcode admitStreamedWrite}).
 */
export function streamedCommitOptions(
  ctx: AppContext,
  settings: IngestSettings,
  memory?: StreamReservation,
): CommitOptions {
  const admission = admissionOf(ctx);
  return {
    ...settings,
    batchPoints: () => admission.batchShare(settings.batchPoints),
    memory,
  };
}

function admissionOf(ctx: AppContext): WriteAdmission {
  let admission = admissions.get(ctx);
  if (!admission) {
    const s = ingestSettings(ctx);
    admission = new WriteAdmission({
      maxConcurrent: s.maxConcurrentWrites,
      maxQueuedBytes: s.maxQueuedBytes,
      retryAfterSeconds: s.retryAfterSeconds,
    });
    admissions.set(ctx, admission);
  }
  return admission;
}

/** The bytes a body read whole holds: its declared length when plain, else the limit. */
export function wholeBodyBytes(request: Request, limit: number): number {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  const identity = (request.headers.get("content-encoding") ?? "identity") === "identity";
  // A plain body of known length holds at most its length (small writes reserve little).
  return Math.min(limit, Number.isFinite(declared) && identity ? declared : Infinity);
}

/**
 * Admits a streamed write (`/write`; `/ingest`'s NDJSON, line protocol and CSV): it reserves
 * what it holds when it starts, one read of the body (its length if smaller), and then what its
 * batches hold as they fill and commit (pass the reservation to
 * {@linkcode streamedCommitOptions}), not the most they could hold (2 batches and a line, 17
 * MiB by default, which let only 15 chunked bodies in at once).
 * @throws {OverloadError} beyond the bounds (429 with Retry-After).
 */
export function admitStreamedWrite(
  ctx: AppContext,
  request: Request,
  limit: number,
): StreamReservation {
  return admissionOf(ctx).admitStream(Math.min(wholeBodyBytes(request, limit), STREAM_READ_BYTES));
}

/**
 * Admits a stream of messages (a Connect ingest call) as {@linkcode admitStreamedWrite} admits
 * a body: one read now (or `bytes`, a unary call's whole message, read before it is decoded),
 * then what its batches hold.
 * @throws {OverloadError} beyond the bounds (429 with Retry-After).
 */
export function admitMessageStream(
  ctx: AppContext,
  bytes: number = STREAM_READ_BYTES,
): StreamReservation {
  return admissionOf(ctx).admitStream(bytes);
}

/** Bytes reserved by the write requests in flight now (tests, metrics). */
export function writeBytesReserved(ctx: AppContext): number {
  return admissionOf(ctx).reservedBytes;
}

/** Answers `POST /ingest`. */
export async function handleIngest(ctx: AppContext, request: Request, url: URL): Promise<Response> {
  try {
    const db = url.searchParams.get("db") || ctx.defaultDatabase;
    const rp = url.searchParams.get("rp") || undefined;
    const type = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
    if (!(INGEST_CONTENT_TYPES as readonly string[]).includes(type)) {
      throw new ValidationError(
        `unsupported Content-Type ${JSON.stringify(type)}: use one of ${
          INGEST_CONTENT_TYPES.join(", ")
        }`,
        { httpStatus: 415, details: { accepted: INGEST_CONTENT_TYPES } },
      );
    }
    const atomic = booleanParam(url, "atomic");
    if (!(await databaseExists(ctx, db))) {
      if (db !== ctx.defaultDatabase) {
        throw new EpochError("not_found", `database not found: ${db}`, {
          details: { database: db },
        });
      }
      await ctx.engine.createDatabase(db);
    }
    const settings = ingestSettings(ctx);
    const streamed = !atomic &&
      (type === "application/x-ndjson" || type === "text/plain" || type === "text/csv");
    const limit = streamed ? settings.maxStreamBytes : ctx.maxBodyBytes;
    const reservation = streamed
      ? admitStreamedWrite(ctx, request, limit)
      : admissionOf(ctx).admitStream(wholeBodyBytes(request, limit));
    const tally = ingestTally(ctx, type, url.searchParams.get("precision"));
    let summary: IngestSummary;
    try {
      let source: AsyncIterable<DecodedBatch>;
      let allOrNothing = atomic;
      if (type === "application/x-protobuf") {
        // Read whole either way; the message's own `atomic` counts as `?atomic=true`.
        const decoded = decodeProtobufWrite(await readBody(request, limit), {
          defaultTime: instantFromNanos(ctx.clock.nowNanos()),
          layouts: fieldLayouts(ctx, db),
        });
        allOrNothing ||= decoded.atomic;
        source = (async function* () {
          yield decoded.batch;
        })();
      } else source = decodeBody(ctx, request, url, type, db, limit, settings);
      summary =
        await (allOrNothing ? writeAtomically(ctx, db, rp, source, settings, tally) : commitBatches(
          source,
          tally.counted((points) => writePoints(ctx, db, rp, points)),
          streamedCommitOptions(ctx, settings, streamed ? reservation : undefined),
        ))
          .catch((error) => {
            recordWrite(ctx.metrics, tally, failedSummary(error));
            throw error;
          });
    } finally {
      reservation.release();
    }
    return ingestAnswer(ctx, summary, tally);
  } catch (error) {
    if (!(error instanceof EpochError)) {
      ctx.logger.error("ingest failed", { error: String(error) });
    }
    return nativeError(error);
  }
}

/**
 * The tally of an `/ingest` request: its format, and whether its timestamps are checked for the
 * precision trap (an explicit precision only: `auto` reads each number by its magnitude).
 */
function ingestTally(ctx: AppContext, type: string, precision: string | null): WriteTally {
  const format = FORMATS[type];
  const nowMs = ctx.clock.nowMs();
  // Protobuf carries nanoseconds, which a client may fill with seconds; line protocol is read
  // in nanoseconds unless the request says otherwise.
  if (format === "protobuf") return new WriteTally(ctx.metrics, format, { precision: "ns", nowMs });
  const implicit = format === "line_protocol" ? "ns" : undefined;
  const p = precision === null || precision === "" ? implicit : precision;
  if (p === undefined || p === "auto" || !isPrecision(p)) {
    return new WriteTally(ctx.metrics, format);
  }
  return new WriteTally(ctx.metrics, format, { precision: p, nowMs });
}

/**
 * The answer to a write: 200 with counts, 503 with Retry-After when points were not written
 * because their partition has no leader, else 400 listing the first errors; a `warnings` list
 * (and the `X-Epochnexus-Warning` header) when its timestamps look like another precision.
 */
export function ingestAnswer(
  ctx: AppContext,
  summary: IngestSummary,
  tally: WriteTally,
): Response {
  recordWrite(ctx.metrics, tally, summary);
  const warning = tally.warning();
  const warnings = warning === undefined ? {} : { warnings: [warning] };
  let answer: Response;
  if (summary.rejected === 0) {
    answer = json({ accepted: summary.accepted, rejected: 0, ...warnings });
  } else if (summary.unavailable > 0) {
    answer = nativeError(unavailableWrite(summary));
  } else {
    const total = summary.accepted + summary.rejected;
    const first = summary.errors[0];
    answer = nativeError(
      new ValidationError(
        `${summary.rejected} of ${total} points rejected (${summary.accepted} written): ` +
          `${where(first)}${first?.reason ?? ""}`,
        {
          details: {
            accepted: summary.accepted,
            rejected: summary.rejected,
            errors: summary.errors,
            ...warnings,
          },
        },
      ),
    );
  }
  if (warning) answer.headers.set(WARNING_HEADER, warning);
  return answer;
}

function where(issue: IngestIssue | undefined): string {
  if (!issue) return "";
  if (issue.line !== undefined) return `line ${issue.line}: `;
  if (issue.record !== undefined) return `record ${issue.record}: `;
  return "";
}

function decodeBody(
  ctx: AppContext,
  request: Request,
  url: URL,
  type: string,
  db: string,
  limit: number,
  settings: IngestSettings,
): AsyncIterable<DecodedBatch> {
  const defaultTime = instantFromNanos(ctx.clock.nowNanos());
  const precisionParam = url.searchParams.get("precision");
  const jsonPrecision = (): Precision | "auto" =>
    precisionParam === null || precisionParam === "auto" ? "auto" : checkPrecision(precisionParam);
  switch (type) {
    case "application/x-ndjson":
      return decodeNdjsonStream(bodyStream(request, limit), {
        precision: jsonPrecision(),
        defaultTime,
        maxLineBytes: settings.maxLineBytes,
        layouts: fieldLayouts(ctx, db),
      });
    case "text/plain":
      // Nanoseconds unless named, as everywhere line protocol is spoken (README: Ingest
      // formats); `precision=auto` reads each timestamp by its magnitude, as JSON does.
      return decodeLineProtocolStream(bodyStream(request, limit), {
        precision: precisionParam === "auto" ? "auto" : parsePrecision(precisionParam),
        defaultTime,
        cache: lineProtocolCache(ctx, db),
        maxLineBytes: settings.maxLineBytes,
      });
    case "text/csv": {
      const p = url.searchParams;
      const tags = p.get("tags");
      const types = p.get("types");
      return decodeCsvStream(bodyStream(request, limit), {
        precision: jsonPrecision(),
        defaultTime,
        timeColumn: p.get("time_column") || undefined,
        measurementColumn: p.get("measurement_column") || undefined,
        measurement: p.get("measurement") || undefined,
        tags: tags ? tags.split(",").map((t) => t.trim()).filter((t) => t !== "") : [],
        types: types ? parseCsvTypes(types) : undefined,
        maxRecordBytes: settings.maxLineBytes,
        layouts: fieldLayouts(ctx, db),
      });
    }
    case "application/json":
      return (async function* () {
        const body = await readBody(request, limit);
        const decoder = new JsonBodyDecoder(body, {
          precision: jsonPrecision(),
          defaultTime,
          maxErrors: settings.maxListedErrors,
          layouts: fieldLayouts(ctx, db),
        });
        // Slice by slice, letting other requests run between slices: a 25 MB body of small
        // records takes seconds to parse and decode, and its points are written as they come.
        let lastPause = ctx.clock.monotonicMs();
        const pause = async () => {
          if (ctx.clock.monotonicMs() - lastPause < PAUSE_EVERY_MS) return;
          await new Promise((resolve) => setTimeout(resolve, 0));
          lastPause = ctx.clock.monotonicMs();
        };
        while (!decoder.parseMore(JSON_SLICE_CHARS)) await pause();
        let bytes = body.length;
        do {
          const slice = decoder.decode(JSON_SLICE_RECORDS);
          yield {
            points: slice.points,
            errors: slice.errors.map((e) => {
              const issue: IngestIssue = { record: e.record + 1, reason: e.reason };
              if (e.field !== undefined) issue.field = e.field;
              return issue;
            }),
            unlistedErrors: slice.unlistedErrors,
            origins: slice.records.map((r) => r + 1),
            originKind: "record",
            bytes,
          };
          bytes = 0;
          await pause();
        } while (decoder.remaining > 0);
      })();
    default:
      throw new Error(`BUG: no decoder for ${type}`);
  }
}

/**
 * All or nothing: decodes everything, refuses the request if any record failed to decode,
 * else hands the points to {@linkcode writePointsAtomically} (pipeline rejections, field-type
 * conflicts within the request or with stored data, points beyond retention: any of them
 * refuses the whole request). Every refusal names the record (line or record number).
 */
async function writeAtomically(
  ctx: AppContext,
  db: string,
  rp: string | undefined,
  source: AsyncIterable<DecodedBatch>,
  settings: IngestSettings,
  tally: WriteTally,
): Promise<IngestSummary> {
  const points: Point[] = [];
  const summary: IngestSummary = {
    accepted: 0,
    rejected: 0,
    unparsable: 0,
    errors: [],
    bytes: 0,
    unavailable: 0,
  };
  const note = (issue: IngestIssue) => {
    summary.rejected++;
    if (summary.errors.length < settings.maxListedErrors) summary.errors.push(issue);
  };
  const origins: (number | undefined)[] = [];
  let kind: "line" | "record" = "record";
  for await (const batch of source) {
    summary.bytes += batch.bytes;
    for (const e of batch.errors) {
      summary.unparsable++;
      note(e);
    }
    summary.unparsable += batch.unlistedErrors ?? 0;
    summary.rejected += batch.unlistedErrors ?? 0;
    if (batch.originKind) kind = batch.originKind;
    for (let i = 0; i < batch.points.length; i++) {
      points.push(batch.points[i]);
      origins.push(batch.origins?.[i]);
    }
  }
  let refused = summary.rejected > 0;
  tally.batch(points);
  // A record that did not decode refuses every point that did.
  if (refused) tally.refuse("atomic", points.length);
  else {
    const outcome = await writePointsAtomically(ctx, db, rp, points);
    tally.outcome(outcome);
    summary.accepted = outcome.accepted;
    summary.unavailable = outcome.unavailable;
    refused = outcome.refused;
    // The points refused only because another one was bad.
    if (refused) tally.refuse("atomic", points.length - outcome.rejected.length);
    for (const r of outcome.rejected) {
      const at = r.index >= 0 ? origins[r.index] : undefined;
      if (r.index < 0) note({ reason: r.reason });
      else if (at === undefined) note({ record: r.index + 1, reason: r.reason });
      else note({ [kind]: at, reason: r.reason });
    }
  }
  if (refused) {
    const first = summary.errors[0];
    summary.errors.unshift({
      reason: `atomic write refused: nothing was written (${summary.rejected} bad of ${
        points.length + summary.unparsable
      } points; first: ${where(first)}${first?.reason ?? "?"})`,
    });
  }
  return summary;
}

function booleanParam(url: URL, name: string): boolean {
  const v = url.searchParams.get(name);
  if (v === null || v === "" || v === "false") return false;
  if (v === "true") return true;
  throw new ValidationError(`invalid ${name} ${JSON.stringify(v)}: use true or false`);
}

function checkPrecision(value: string): Precision {
  if (!isPrecision(value)) {
    throw new ValidationError(
      `invalid precision ${JSON.stringify(value)}: use auto, ns, u, ms, s, m or h`,
    );
  }
  return value;
}
