/**
 * What the write doors count, per format: points written and refused (by cause), body bytes,
 * the size of each batch handed to storage, and points whose timestamps lie decades from now
 * (the precision trap). A {@linkcode WriteTally} follows one request; {@linkcode recordWrite}
 * adds it to the server's metrics when the request ends.
 * @module
 */
import { type Point, type Precision, SIZE_BUCKETS } from "../core/mod.ts";
import { farTimestamps, precisionHintText } from "../ingest/mod.ts";
import type { Metrics } from "./metrics.ts";
import type { PathOutcome, RejectCause } from "./write_path.ts";

/** The format of a write, as `/metrics` labels it. */
export type WriteFormat =
  | "line_protocol"
  | "json"
  | "ndjson"
  | "csv"
  | "protobuf"
  | "prom_remote_write"
  | "connect";

const WRITTEN = "epochnexus_points_written_total";
const REJECTED = "epochnexus_points_rejected_total";
const BYTES = "epochnexus_write_bytes_total";
const BATCH = "epochnexus_write_batch_points";
const FAR = "epochnexus_points_far_timestamp_total";

/** Declares the write families (createApp calls it). */
export function declareWriteMetrics(m: Metrics): void {
  m.counter(WRITTEN, "Points acknowledged as durable, by format.");
  m.counter(REJECTED, "Points refused, by format and reason.");
  m.counter(
    BYTES,
    "Request body bytes decoded, by format and outcome (written: every point; partial: some; " +
      "refused: none).",
  );
  m.histogram(BATCH, "Points per batch handed to storage, by format.", SIZE_BUCKETS);
  m.counter(
    FAR,
    "Points written with a timestamp more than 30 years from now (a precision mistake?), by " +
      "format.",
  );
}

/** One write request's figures, kept while its batches commit. */
export class WriteTally {
  readonly format: WriteFormat;
  /** Refused points by cause, beyond the ones that did not decode. */
  readonly causes = new Map<RejectCause, number>();
  /** Points whose time lies far from now, and the precision the first one suggests. */
  far = 0;
  hint: Precision | undefined;
  readonly #metrics: Metrics;
  /** The request's precision when it is explicit (far times are then checked), and now. */
  readonly #times: { precision: Precision; nowMs: number } | undefined;

  constructor(
    metrics: Metrics,
    format: WriteFormat,
    times?: { precision: Precision; nowMs: number },
  ) {
    this.#metrics = metrics;
    this.format = format;
    this.#times = times;
  }

  /** Counts `n` points refused for `cause`. */
  refuse(cause: RejectCause, n: number): void {
    if (n > 0) this.causes.set(cause, (this.causes.get(cause) ?? 0) + n);
  }

  /**
   * Notes a batch about to be written: its size, and its points whose time lies far from now
   * (one comparison each).
   */
  batch(points: readonly Point[]): void {
    this.#metrics.observe(BATCH, { format: this.format }, points.length);
    if (this.#times) {
      const far = farTimestamps(points, this.#times.precision, this.#times.nowMs);
      this.far += far.count;
      this.hint ??= far.hint;
    }
  }

  /** Counts an outcome's refusals by cause. */
  outcome(outcome: PathOutcome): void {
    for (const r of outcome.rejected) this.refuse(r.cause, 1);
  }

  /** Wraps a batch write with {@linkcode batch} and {@linkcode outcome}. */
  counted<T extends PathOutcome>(
    write: (points: Point[]) => Promise<T>,
  ): (points: Point[]) => Promise<T> {
    return async (points) => {
      this.batch(points);
      const outcome = await write(points);
      this.outcome(outcome);
      return outcome;
    };
  }

  /** The warning for the answer, when the timestamps look like another precision. */
  warning(): string | undefined {
    if (this.hint === undefined) return undefined;
    return `${this.far} points have timestamps more than 30 years from now; ` +
      precisionHintText(this.hint);
  }
}

/** What a request did, for {@linkcode recordWrite}. */
export interface WriteSummary {
  accepted: number;
  /** Records that did not decode. */
  unparsable: number;
  /** Body bytes decoded. */
  bytes: number;
}

/** Adds a finished request's figures to the server's metrics. */
export function recordWrite(metrics: Metrics, tally: WriteTally, summary: WriteSummary): void {
  const format = tally.format;
  if (summary.accepted > 0) metrics.add(WRITTEN, { format }, summary.accepted);
  tally.refuse("parse", summary.unparsable);
  let refused = 0;
  for (const [reason, n] of tally.causes) {
    metrics.add(REJECTED, { format, reason }, n);
    refused += n;
  }
  if (summary.bytes > 0) {
    const outcome = refused === 0 ? "written" : summary.accepted > 0 ? "partial" : "refused";
    metrics.add(BYTES, { format, outcome }, summary.bytes);
  }
  if (tally.far > 0) metrics.add(FAR, { format }, tally.far);
}
