/**
 * `POST /api/v1/prom/write?db=&rp=`: Prometheus remote_write (snappy-compressed protobuf,
 * `Content-Encoding: snappy`, as Prometheus, vmagent and Grafana Agent send it; gzip is also
 * accepted). Samples become points as documented in src/ingest/prom_remote_write.ts:
 * `__name__` → measurement, other labels → tags, the sample → float field `value` at its
 * millisecond timestamp. Answers 204 when every sample was written (NaN/±Inf staleness
 * markers are skipped), 503 with Retry-After when samples were not written because their
 * partition has no leader, else 400 with the native error shape listing the first errors;
 * Prometheus does not retry a 4xx, and retries a 429/5xx.
 * @module
 */
import { EpochError, NotFoundError } from "../core/mod.ts";
import { commitBatches, decodePromWrite, uncompressSnappy } from "../ingest/mod.ts";
import { type AppContext, fieldLayouts } from "./app.ts";
import { readBody } from "./body.ts";
import { admitWrite, ingestAnswer, ingestSettings } from "./ingest_handler.ts";
import { nativeError } from "./responses.ts";
import { databaseExists, writePoints } from "./write_path.ts";
import { WriteTally } from "./write_metrics.ts";

/** Answers a remote_write request. */
export async function handlePromWrite(
  ctx: AppContext,
  request: Request,
  url: URL,
): Promise<Response> {
  try {
    const db = url.searchParams.get("db") || ctx.defaultDatabase;
    const rp = url.searchParams.get("rp") || undefined;
    if (!(await databaseExists(ctx, db))) {
      if (db !== ctx.defaultDatabase) {
        throw new NotFoundError(`database not found: ${db}`, { details: { database: db } });
      }
      await ctx.engine.createDatabase(db);
    }
    const settings = ingestSettings(ctx);
    // Snappy-compressed: the raw body plus its expansion (remote_write batches expand ~5x).
    const declared = Number(request.headers.get("content-length") ?? NaN);
    const expected = Number.isFinite(declared)
      ? Math.min(ctx.maxBodyBytes, declared * 10)
      : ctx.maxBodyBytes;
    const release = admitWrite(ctx, expected);
    try {
      const encoding = (request.headers.get("content-encoding") ?? "").toLowerCase().trim();
      const raw = await readBody(request, ctx.maxBodyBytes, { passThrough: ["snappy"] });
      // Prometheus always compresses with snappy; a body without the header is still snappy.
      const body = encoding === "gzip" || encoding === "x-gzip" || encoding === "identity"
        ? raw
        : uncompressSnappy(raw, ctx.maxBodyBytes);
      const decoded = decodePromWrite(body, { layouts: fieldLayouts(ctx, db) });
      const tally = new WriteTally(ctx.metrics, "prom_remote_write");
      const summary = await commitBatches(
        (async function* () {
          yield decoded.batch;
        })(),
        tally.counted((points) => writePoints(ctx, db, rp, points)),
        settings,
      );
      // Staleness markers: not stored, counted.
      tally.refuse("non_finite", decoded.skipped);
      if (summary.rejected === 0) {
        ingestAnswer(ctx, summary, tally); // counts the write
        return new Response(null, { status: 204 });
      }
      return ingestAnswer(ctx, summary, tally);
    } finally {
      release();
    }
  } catch (error) {
    if (!(error instanceof EpochError)) {
      ctx.logger.error("remote_write failed", { error: String(error) });
    }
    return nativeError(error);
  }
}
