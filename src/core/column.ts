/**
 * The data shapes storage hands to the query engine: a decoded column of one field, and the
 * statistics of a whole block. Both rooms use them, so they live in the shared leaf.
 * @module
 */
import type { FieldType, FieldValue } from "./point.ts";

/**
 * The values of one field of one series over a time range: sorted by time ascending, one value
 * per timestamp (the last write won already). `values` is a Float64Array for floats, and an
 * array of {@linkcode FieldValue} otherwise (integers as number when safe, bigint beyond).
 */
export interface FieldColumn {
  type: FieldType;
  length: number;
  timesMs: Float64Array;
  timesSubMs: Float64Array;
  values: Float64Array | FieldValue[];
}

/** Statistics of one block of one field: enough for count/sum/mean/min/max/first/last. */
export interface BlockSummary {
  kind: "summary";
  type: FieldType;
  count: number;
  minTimeMs: number;
  minTimeSubMs: number;
  maxTimeMs: number;
  maxTimeSubMs: number;
  /** Numbers only (float, integer, unsigned); integer sums are exact (bigint when unsafe). */
  sum?: number | bigint;
  min?: FieldValue;
  minTimeOfMin?: { ms: number; subMs: number };
  max?: FieldValue;
  minTimeOfMax?: { ms: number; subMs: number };
  /** The value at minTime and at maxTime. */
  first: FieldValue;
  last: FieldValue;
}

/** One part of a field read with block statistics: a whole-block summary or decoded values. */
export type FieldPart = BlockSummary | { kind: "column"; column: FieldColumn };
