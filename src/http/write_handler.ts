/**
 * `POST /write?db=&rp=&precision=`: line protocol, answered exactly as InfluxDB 1.x answers:
 * 204 when everything was written; 400 `{"error":"partial write: ... dropped=N"}` naming each bad
 * line while the good lines are written; 404 for an unknown database; 413 past the body limit.
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
import { influxError, json } from "./responses.ts";

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
    let summary: IngestSummary;
    try {
      const lines = decodeLineProtocolStream(bodyStream(request, ctx.maxBodyBytes), {
        precision,
        defaultTime: instantFromNanos(ctx.clock.nowNanos()),
        cache: lineProtocolCache(ctx, db),
        maxLineBytes: settings.maxLineBytes,
      });
      summary = await commitBatches(lines, (points) => writePoints(ctx, db, rp, points), settings);
    } finally {
      release();
    }
    const conflicting = summary.rejected - summary.unparsable;
    countWrite(ctx, summary.accepted, summary.unparsable, conflicting);
    if (summary.rejected === 0) return new Response(null, { status: 204 });
    const reasons = summary.errors.map((e) =>
      e.text !== undefined
        ? `unable to parse '${e.text}': ${e.reason} (line ${e.line}, column ${e.column})`
        : e.reason
    );
    if (summary.rejected > summary.errors.length) {
      reasons.push(`(${summary.rejected - summary.errors.length} more errors not listed)`);
    }
    if (summary.accepted === 0 && conflicting === 0) {
      return json({ error: reasons.join("\n") }, 400);
    }
    return json(
      { error: `partial write: ${reasons.join("\n")} dropped=${conflicting}` },
      400,
    );
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

/** Counts written and rejected points. */
export function countWrite(
  ctx: AppContext,
  written: number,
  unparsable: number,
  conflicting: number,
): void {
  if (written) ctx.metrics.add("epochnexus_points_written_total", {}, written);
  if (unparsable) {
    ctx.metrics.add("epochnexus_points_rejected_total", { reason: "parse" }, unparsable);
  }
  if (conflicting) {
    ctx.metrics.add("epochnexus_points_rejected_total", { reason: "field_type" }, conflicting);
  }
}
