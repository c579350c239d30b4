/**
 * `POST /write?db=&rp=&precision=`: line protocol, answered exactly as InfluxDB 1.x answers:
 * 204 when everything was written; 400 `{"error":"partial write: ... dropped=N"}` naming each bad
 * line while the good lines are written; 404 for an unknown database; 413 past the body limit.
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
import { admitWrite, ingestSettings, reservedBytes } from "./ingest_handler.ts";
import { writePoints } from "./write_path.ts";
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
    if (!ctx.engine.hasDatabase(db)) {
      // InfluxDB quotes the name in this message.
      throw new NotFoundError(`database not found: ${JSON.stringify(db)}`);
    }
    const precision = parsePrecision(url.searchParams.get("precision"));
    // `rp=` (empty, as node-influx sends it) is the default policy, as in InfluxDB.
    const rp = url.searchParams.get("rp") || undefined;
    // Streamed: decoded and committed batch by batch, so memory stays bounded.
    const settings = ingestSettings(ctx);
    const release = admitWrite(ctx, reservedBytes(request, ctx.maxBodyBytes, true, settings));
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
      summary = await commitBatches(lines, write, settings).catch((error) => {
        recordWrite(ctx.metrics, tally, failedSummary(error));
        throw error;
      });
    } finally {
      release();
    }
    const conflicting = summary.rejected - summary.unparsable;
    recordWrite(ctx.metrics, tally, summary);
    const warning = tally.warning();
    if (summary.rejected === 0) {
      const answer = new Response(null, { status: 204 });
      if (warning) answer.headers.set(WARNING_HEADER, warning);
      return answer;
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
