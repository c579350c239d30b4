/**
 * `POST /ingest`: the native write API. The decoder is picked by Content-Type:
 * `application/json` (one object or an array; the seed's example works as written) and
 * `text/plain` (line protocol). Answers 200 `{"accepted": N, "rejected": 0}`; when some points
 * are refused, 400 with the native error shape, the counts, and the first 100 errors, while the
 * valid points are written.
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
import { decodeJsonPoints, parseLineProtocol } from "../ingest/mod.ts";
import { type AppContext, lineProtocolCache } from "./app.ts";
import { readBody } from "./body.ts";
import { writePoints } from "./write_path.ts";
import { json, nativeError } from "./responses.ts";
import { countWrite, parsePrecision } from "./write_handler.ts";

/** Content types `/ingest` accepts. */
export const INGEST_CONTENT_TYPES = ["application/json", "text/plain"] as const;

/** At most this many per-point errors are listed in an answer. */
const MAX_LISTED_ERRORS = 100;

interface IngestError {
  record?: number;
  /** Index of the decoded point (type conflicts are found after decoding). */
  point?: number;
  line?: number;
  column?: number;
  field?: string;
  reason: string;
}

/** Answers `POST /ingest`. */
export async function handleIngest(ctx: AppContext, request: Request, url: URL): Promise<Response> {
  try {
    const db = url.searchParams.get("db") || ctx.defaultDatabase;
    const rp = url.searchParams.get("rp") || undefined;
    const type = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
    if (!(INGEST_CONTENT_TYPES as readonly string[]).includes(type)) {
      throw new ValidationError(
        `unsupported Content-Type ${JSON.stringify(type)}: use ${
          INGEST_CONTENT_TYPES.join(" or ")
        }`,
        { httpStatus: 415, details: { accepted: INGEST_CONTENT_TYPES } },
      );
    }
    if (!ctx.engine.hasDatabase(db)) {
      if (db !== ctx.defaultDatabase) {
        throw new EpochError("not_found", `database not found: ${db}`, {
          details: { database: db },
        });
      }
      await ctx.engine.createDatabase(db);
    }
    const body = await readBody(request, ctx.maxBodyBytes);
    const defaultTime = instantFromNanos(ctx.clock.nowNanos());
    const precisionParam = url.searchParams.get("precision");
    let points: Point[];
    let errors: IngestError[];
    if (type === "application/json") {
      const precision: Precision | "auto" = precisionParam === null || precisionParam === "auto"
        ? "auto"
        : jsonPrecision(precisionParam);
      const decoded = decodeJsonPoints(new TextDecoder().decode(body), { precision, defaultTime });
      points = decoded.points;
      errors = decoded.errors;
    } else {
      const decoded = parseLineProtocol(body, {
        precision: parsePrecision(precisionParam),
        defaultTime,
        cache: lineProtocolCache(ctx, db),
      });
      points = decoded.points;
      errors = decoded.errors.map((e) => ({ line: e.line, column: e.column, reason: e.reason }));
    }
    const outcome = points.length > 0
      ? await writePoints(ctx, db, rp, points)
      : { accepted: 0, rejected: [] };
    countWrite(ctx, outcome.accepted, errors.length, outcome.rejected.length);
    for (const r of outcome.rejected) {
      errors.push({ point: r.index, reason: r.reason });
    }
    if (errors.length === 0) return json({ accepted: outcome.accepted, rejected: 0 });
    const total = outcome.accepted + errors.length;
    return nativeError(
      new ValidationError(
        `${errors.length} of ${total} points rejected (${outcome.accepted} written): ` +
          errors[0].reason,
        {
          details: {
            accepted: outcome.accepted,
            rejected: errors.length,
            errors: errors.slice(0, MAX_LISTED_ERRORS),
          },
        },
      ),
    );
  } catch (error) {
    if (!(error instanceof EpochError)) {
      ctx.logger.error("ingest failed", { error: String(error) });
    }
    return nativeError(error);
  }
}

function jsonPrecision(value: string): Precision {
  if (!isPrecision(value)) {
    throw new ValidationError(
      `invalid precision ${JSON.stringify(value)}: use auto, ns, u, ms, s, m or h`,
    );
  }
  return value;
}
