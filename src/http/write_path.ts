/**
 * The one write path every HTTP format goes through after decoding: the ingest pipeline
 * (schemas, validation, transformations — when configured), then the storage engine.
 * Rejections from both are reported against the index of the decoded point.
 * @module
 */
import type { Point } from "../core/mod.ts";
import type { Rejection, WriteOutcome } from "../storage/mod.ts";
import type { AppContext } from "./app.ts";

/**
 * What the ingest pipeline does to a batch before it is stored. Implemented by src/schema.
 * `points` are the points to store (possibly transformed, dropped or added); `rejected` the
 * input points refused, by their index in the input, with the rule they broke.
 */
export interface IngestPipeline {
  process(
    database: string,
    points: Point[],
  ): Promise<{ points: Point[]; rejected: Rejection[] }>;
}

/** Runs the pipeline (if any) and writes what it lets through. */
export async function writePoints(
  ctx: AppContext,
  database: string,
  retentionPolicy: string | undefined,
  points: Point[],
): Promise<WriteOutcome> {
  let toStore = points;
  let refused: Rejection[] = [];
  if (ctx.pipeline && points.length > 0) {
    const processed = await ctx.pipeline.process(database, points);
    toStore = processed.points;
    refused = processed.rejected;
  }
  if (toStore.length === 0) return { accepted: 0, rejected: refused };
  const outcome = await ctx.engine.write(database, retentionPolicy, toStore);
  // Type conflicts found by the engine are indexed in the pipeline's output, which may differ
  // from the input when the pipeline dropped or added points.
  return { accepted: outcome.accepted, rejected: [...refused, ...outcome.rejected] };
}
