/**
 * `POST /write?db=&rp=&precision=`: line protocol, answered exactly as InfluxDB 1.x answers:
 * 204 when everything was written; 400 `{"error":"partial write: ... dropped=N"}` naming each bad
 * line while the good lines are written; 404 for an unknown database; 413 past the body limit.
 * A cluster adds one answer: 503 with Retry-After when points were not written because their
 * partition has no leader (see {@linkcode unavailableWrite}).
 *
 * Timestamps decades from now that read as now in another precision (seconds sent as the
 * default nanoseconds) are written, as InfluxDB writes them, and the answer says so in a
 * `X-Epochnexus-Warning` header: the status and body stay InfluxDB's, which clients parse.
 * @module
 */
import {
  EpochError,
  instantFromNanos,
  isPrecision,
  NotFoundError,
  type Precision,
  ValidationError,
} from "../core/mod.ts";
import { commitBatches, decodeLineProtocolStream, type IngestSummary } from "../ingest/mod.ts";
import { type AppContext, lineProtocolCache } from "./app.ts";
import { bodyStream } from "./body.ts";
import { admitStreamedWrite, ingestSettings, streamedCommitOptions } from "./ingest_handler.ts";
import { databaseExists, writePoints } from "./write_path.ts";
import { recordWrite, WriteTally } from "./write_metrics.ts";
import { influxError, json } from "./responses.ts";

/** The header that carries a write's warning (timestamps far from now) beside its answer. */
export const WARNING_HEADER = "x-epochnexus-warning";

/** Answers InfluxDB's /write. */
export async function handleInfluxWrite(
  ctx: AppContext,
  request: Request,
  url: URL,
): Promise<Response> {
  const db = url.searchParams.get("db") ?? "";
  if (!db) return influxError(new ValidationError("database is required"));
  try {
    if (!(await databaseExists(ctx, db))) {
      // InfluxDB quotes the name in this message.
      throw new NotFoundError(`database not found: ${JSON.stringify(db)}`);
    }
    const precision = parsePrecision(url.searchParams.get("precision"));
    // `rp=` (empty, as node-influx sends it) is the default policy, as in InfluxDB.
    const rp = url.searchParams.get("rp") || undefined;
    // Streamed: decoded and committed batch by batch, so memory stays bounded.
    const settings = ingestSettings(ctx);
    const reservation = admitStreamedWrite(ctx, request, ctx.maxBodyBytes);
    const now = instantFromNanos(ctx.clock.nowNanos());
    const tally = new WriteTally(ctx.metrics, "line_protocol", { precision, nowMs: now.ms });
    let summary: IngestSummary;
    try {
      const lines = decodeLineProtocolStream(bodyStream(request, ctx.maxBodyBytes), {
        precision,
        defaultTime: now,
        cache: lineProtocolCache(ctx, db),
        maxLineBytes: settings.maxLineBytes,
      });
      const write = tally.counted((points) => writePoints(ctx, db, rp, points));
      const options = streamedCommitOptions(ctx, settings, reservation);
      summary = await commitBatches(lines, write, options).catch((error) => {
        recordWrite(ctx.metrics, tally, failedSummary(error));
        throw error;
      });
    } finally {
      reservation.release();
    }
    const conflicting = summary.rejected - summary.unparsable - summary.unavailable;
    recordWrite(ctx.metrics, tally, summary);
    const warning = tally.warning();
    if (summary.rejected === 0) {
      const answer = new Response(null, { status: 204 });
      if (warning) answer.headers.set(WARNING_HEADER, warning);
      return answer;
    }
    if (summary.unavailable > 0) {
      const retry = unavailableWrite(summary);
      return json({ error: retry.message }, 503, {
        "retry-after": String(retry.retryAfterSeconds),
      });
    }
    const reasons = summary.errors.map((e) =>
      e.text !== undefined
        ? `unable to parse '${e.text}': ${e.reason} (line ${e.line}, column ${e.column})`
        : e.reason
    );
    if (summary.rejected > summary.errors.length) {
      reasons.push(`(${summary.rejected - summary.errors.length} more errors not listed)`);
    }
    const answer = summary.accepted === 0 && conflicting === 0
      ? json({ error: reasons.join("\n") }, 400)
      : json({ error: `partial write: ${reasons.join("\n")} dropped=${conflicting}` }, 400);
    if (warning) answer.headers.set(WARNING_HEADER, warning);
    return answer;
  } catch (error) {
    if (!(error instanceof EpochError)) {
      ctx.logger.error("write failed", { db, error: String(error) });
    }
    return influxError(error);
  }
}

/** InfluxDB's precision parameter: ns (default), u, ms, s, m, h. */
export function parsePrecision(value: string | null): Precision {
  if (value === null || value === "" || value === "n") return "ns";
  if (!isPrecision(value)) {
    throw new ValidationError(
      `invalid precision ${JSON.stringify(value)}: use ns, u, ms, s, m or h`,
    );
  }
  return value;
}

/**
 * What a write that failed midway (413, a lost connection) had written: an
 * {@linkcode EpochError} from `commitBatches` carries the count in its details.
 */
export function failedSummary(error: unknown): { accepted: number; unparsable: number; bytes: 0 } {
  const accepted = error instanceof EpochError ? Number(error.details.accepted ?? 0) : 0;
  return { accepted, unparsable: 0, bytes: 0 };
}

/**
 * The error of a write that left points unwritten because their partition had no leader: 503
 * with Retry-After, whatever else the request got wrong, since a retry may write them (writes
 * are idempotent: the points already written are written again unchanged). The message says how
 * many were written and names each point not written by its line or record (the first
 * `maxListedErrors` issues) and where the write stopped.
 */
export function unavailableWrite(summary: IngestSummary): EpochError {
  const listed = summary.errors.map((e) => `${where(e)}${e.reason}`);
  if (summary.rejected > summary.errors.length) {
    listed.push(`(${summary.rejected - summary.errors.length} more not listed)`);
  }
  const stop = summary.stoppedAfter;
  if (stop !== undefined) listed.push(`nothing after ${position(stop)} was written`);
  return new EpochError(
    "unavailable",
    `${summary.unavailable} points not written: their partition has no leader, retry the ` +
      `request (${summary.accepted} written, ${summary.rejected} not): ${listed.join("\n")}`,
    {
      retryAfterSeconds: 1,
      details: {
        accepted: summary.accepted,
        rejected: summary.rejected,
        unavailable: summary.unavailable,
        errors: summary.errors,
        ...(stop !== undefined && { stoppedAfter: stop }),
      },
    },
  );
}

/** `line 3: ` or `record 3: ` (empty for an issue with neither). */
function where(issue: { line?: number; record?: number }): string {
  const at = position(issue);
  return at === "" ? "" : `${at}: `;
}

function position(issue: { line?: number; record?: number }): string {
  if (issue.line !== undefined) return `line ${issue.line}`;
  if (issue.record !== undefined) return `record ${issue.record}`;
  return "";
}
