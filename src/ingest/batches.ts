/**
 * Decoded batches and the loop that commits them with backpressure. Every streaming decoder
 * (NDJSON, line protocol, CSV) yields {@linkcode DecodedBatch}es; {@linkcode commitBatches}
 * groups them into writes of a bounded size and keeps at most one write in flight, so the body
 * is read no faster than writes commit and memory stays bounded whatever the body size:
 * at most one write in flight plus one batch being filled, plus the decoder's chunk.
 *
 * No IO of its own: the caller passes the function that writes a batch.
 * @module
 */
import { EpochError, type Point } from "../core/mod.ts";
import type { StreamReservation } from "./admission.ts";

/** One record that could not be decoded or written. */
export interface IngestIssue {
  /** 1-based line of the body (line-oriented formats: NDJSON, line protocol). */
  line?: number;
  /** 1-based record number (CSV data rows, protobuf points). */
  record?: number;
  /** 1-based byte column (line protocol) or column name (CSV). */
  column?: number | string;
  /** The field or key at fault, when there is one. */
  field?: string;
  /** What is wrong, naming the value seen. */
  reason: string;
  /** The offending text, cut short (line protocol). */
  text?: string;
}

/** What a decoder yields for a piece of a body. */
export interface DecodedBatch {
  points: Point[];
  /** Records of this piece that failed to decode. */
  errors: IngestIssue[];
  /**
   * More records of this piece that failed to decode, counted but not listed (a decoder keeps
   * a bounded list, so a body of a million bad records does not hold a million issues).
   */
  unlistedErrors?: number;
  /**
   * Where each point came from (`{line}` or `{record}`), parallel to `points`, so that a
   * point rejected by the write is reported at its source. Absent: reported by point index.
   */
  origins?: IngestIssue["line"][];
  /** Which kind of number `origins` holds. @default {"line"} */
  originKind?: "line" | "record";
  /** Body bytes this piece decoded (for the in-flight byte budget). */
  bytes: number;
  /**
   * Body bytes the decoder holds after this piece that no batch's `bytes` counts: an unfinished
   * line or record (up to `max_line_bytes`, across many reads), rows read but not yielded yet.
   * @default {0}
   */
  heldBytes?: number;
}

/** What a write of one batch did (the storage engine's answer). */
export interface BatchOutcome {
  accepted: number;
  /** Points refused, by their index in the written batch. */
  rejected: { index: number; reason: string }[];
  /**
   * Of `rejected`, the points not written because their partition had no leader (a cluster):
   * a retry may write them. @default {0}
   */
  unavailable?: number;
}

/** Options of {@linkcode commitBatches}. */
export interface CommitOptions {
  /**
   * Points per write, or a function asked before each decision: the HTTP handlers shrink the
   * batch while many writes are in flight, so the decoded points all of them hold stay bounded.
   * @default {5000}
   */
  batchPoints?: number | (() => number);
  /** Decoded body bytes per write: a batch is written once it holds this much. @default {4 MiB} */
  batchBytes?: number;
  /** At most this many issues are kept for the answer (all are counted). @default {100} */
  maxListedErrors?: number;
  /**
   * Told the body bytes the batches hold (the one filling and the one being written) as they
   * change; while it is `short` of room, what is pending is written at once rather than grown
   * (the HTTP handlers' {@linkcode StreamReservation}).
   */
  memory?: Pick<StreamReservation, "hold" | "short">;
}

/** The result of a streamed ingest. */
export interface IngestSummary {
  accepted: number;
  /** Records that failed to decode plus points the write refused. */
  rejected: number;
  /** Of `rejected`, those that failed to decode. */
  unparsable: number;
  /** The first `maxListedErrors` issues, in body order per kind. */
  errors: IngestIssue[];
  /** Body bytes decoded. */
  bytes: number;
  /**
   * Of `rejected`, the points not written because their partition had no leader. The first
   * batch with such points ends the write: the client retries the request, and writing the
   * rest meanwhile would wait for the same leader batch after batch.
   */
  unavailable: number;
  /**
   * Set when the write ended early on unavailable points: the last line (or record) of the body
   * that was written or tried; nothing after it was written.
   */
  stoppedAfter?: { line?: number; record?: number };
}

/**
 * Pulls batches from `source` and writes them through `write` in groups of at most
 * `batchPoints` points (or `batchBytes` body bytes), one write in flight at a time: the next
 * group fills while the previous one commits, and `source` is not pulled again until that
 * commit is done. A write that reports `unavailable` points ends it: nothing after that batch
 * is written, and the summary says where it stopped. If `write` or the source throws, the
 * source is closed and the error
 * propagates; the points of earlier writes stay written, and an {@linkcode EpochError} gets
 * `details.accepted` and `details.rejected` saying how many.
 *
 * @example
 * ```ts
 * const summary = await commitBatches(decodeNdjson(body.getReader(), options), (points) =>
 *   engine.write("db", undefined, points)
 * );
 * ```
 */
export async function commitBatches(
  source: AsyncIterable<DecodedBatch>,
  write: (points: Point[]) => Promise<BatchOutcome>,
  options: CommitOptions = {},
): Promise<IngestSummary> {
  const given = options.batchPoints ?? 5000;
  const batchPoints = typeof given === "number" ? () => given : given;
  const batchBytes = options.batchBytes ?? 4 * 1024 * 1024;
  const maxListed = options.maxListedErrors ?? 100;
  if (!(batchPoints() >= 1) || !(batchBytes >= 1)) {
    throw new Error(`BUG: commitBatches needs positive sizes, got ${batchPoints()}/${batchBytes}`);
  }
  const summary: IngestSummary = {
    accepted: 0,
    rejected: 0,
    unparsable: 0,
    errors: [],
    bytes: 0,
    unavailable: 0,
  };
  let points: Point[] = [];
  let origins: (number | undefined)[] = [];
  let kind: "line" | "record" = "line";
  let pendingBytes = 0;
  let written = 0; // points handed to write so far (the index base of point-indexed issues)
  let inFlight: Promise<void> | undefined;
  let inFlightBytes = 0;
  let decoderBytes = 0; // the last batch's heldBytes
  const memory = options.memory;

  const note = (issue: IngestIssue) => {
    summary.rejected++;
    if (summary.errors.length < maxListed) summary.errors.push(issue);
  };
  const flush = async () => {
    if (inFlight) await inFlight;
    inFlight = undefined;
    if (points.length === 0) {
      // Full of pieces that gave no points (bad lines, comments): they hold nothing once
      // decoded, so they must not go on counting against the byte bound.
      pendingBytes = 0;
      memory?.hold(decoderBytes);
    }
    if (points.length === 0 || summary.unavailable > 0) return;
    const batch = points, batchOrigins = origins, base = written, batchKind = kind;
    written += batch.length;
    points = [];
    origins = [];
    inFlightBytes = pendingBytes;
    pendingBytes = 0;
    inFlight = write(batch).then((outcome) => {
      summary.accepted += outcome.accepted;
      for (const r of outcome.rejected) {
        const at = batchOrigins[r.index];
        if (at === undefined) note({ record: base + r.index + 1, reason: r.reason });
        else note({ [batchKind]: at, reason: r.reason });
      }
      if (outcome.unavailable) {
        summary.unavailable += outcome.unavailable;
        const last = batchOrigins[batch.length - 1];
        summary.stoppedAfter = last === undefined
          ? { record: base + batch.length }
          : { [batchKind]: last };
      }
    }).finally(() => {
      inFlightBytes = 0;
      memory?.hold(pendingBytes + decoderBytes);
    });
    // Awaited by the next flush, at the end or in the catch below; a failure while the loop
    // waits for the body's next read must not be an unhandled rejection (it ends the process).
    inFlight.catch(() => {});
  };

  let cut = false; // the body went on past a batch that found a partition without leader
  try {
    for await (const batch of source) {
      if (summary.unavailable > 0) {
        cut = true;
        break;
      }
      summary.bytes += batch.bytes;
      pendingBytes += batch.bytes;
      for (const e of batch.errors) {
        summary.unparsable++;
        note(e);
      }
      summary.unparsable += batch.unlistedErrors ?? 0;
      summary.rejected += batch.unlistedErrors ?? 0;
      if (batch.points.length > 0) {
        if (batch.originKind) kind = batch.originKind;
        for (let i = 0; i < batch.points.length; i++) {
          points.push(batch.points[i]);
          origins.push(batch.origins?.[i]);
        }
      }
      decoderBytes = batch.heldBytes ?? 0;
      memory?.hold(pendingBytes + inFlightBytes + decoderBytes);
      const full = points.length >= batchPoints() || pendingBytes >= batchBytes;
      if (full || (memory?.short && points.length > 0)) await flush();
    }
    await flush(); // writes nothing more once a batch found a partition without leader
    if (inFlight) await inFlight;
    if (!cut && points.length === 0) delete summary.stoppedAfter; // nothing was left unwritten
  } catch (error) {
    // Let a write already started settle before reporting, so callers see a quiet engine, and
    // say how much of the body was written before the failure.
    if (inFlight) await inFlight.catch(() => {});
    if (error instanceof EpochError) {
      error.details.accepted = summary.accepted;
      error.details.rejected = summary.rejected;
    }
    throw error;
  }
  return summary;
}
