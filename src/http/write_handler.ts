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
import { parseLineProtocol } from "../ingest/mod.ts";
import { type AppContext, lineProtocolCache } from "./app.ts";
import { readBody } from "./body.ts";
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
    const body = await readBody(request, ctx.maxBodyBytes);
    const parsed = parseLineProtocol(body, {
      precision,
      defaultTime: instantFromNanos(ctx.clock.nowNanos()),
      cache: lineProtocolCache(ctx, db),
    });
    const rp = url.searchParams.get("rp") ?? undefined;
    const outcome = parsed.points.length > 0
      ? await writePoints(ctx, db, rp, parsed.points)
      : { accepted: 0, rejected: [] };
    countWrite(ctx, outcome.accepted, parsed.errors.length, outcome.rejected.length);
    const reasons = [
      ...parsed.errors.map((e) =>
        `unable to parse '${e.text}': ${e.reason} (line ${e.line}, column ${e.column})`
      ),
      ...outcome.rejected.map((r) => r.reason),
    ];
    if (reasons.length === 0) return new Response(null, { status: 204 });
    if (parsed.points.length === 0) return json({ error: reasons.join("\n") }, 400);
    return json(
      { error: `partial write: ${reasons.join("\n")} dropped=${outcome.rejected.length}` },
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
