/**
 * The Connect-RPC ingest service (`epochnexus.ingest.v1.IngestService`, from
 * proto/epochnexus/ingest/v1/ingest.proto): `Write` (unary) and `WriteStream` (client
 * streaming). Served over Connect, gRPC and gRPC-Web by the same router. Messages go through
 * the same decoder as `POST /ingest` with `application/x-protobuf` (their wire bytes), so the
 * validation rules and error reasons are the ones of every other format.
 *
 * The service does no IO itself: the caller passes an {@linkcode IngestWriter}.
 * @module
 */
import { toBinary } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createConnectRouter,
  createContextKey,
  type HandlerContext,
} from "@connectrpc/connect";
import type { Compression, UniversalHandler } from "@connectrpc/connect/protocol";
import {
  EpochError,
  type FieldLayouts,
  type Instant,
  type Point,
  TooLargeError,
} from "../core/mod.ts";
import {
  commitBatches,
  type CommitOptions,
  type DecodedBatch,
  decodeProtobufWrite,
  type IngestIssue,
  type IngestSummary,
} from "../ingest/mod.ts";
import {
  IngestService,
  WriteRequestSchema,
  WriteStreamRequestSchema,
} from "./gen/epochnexus/ingest/v1/ingest_pb.ts";
import { badMessagesAsInvalidArgument } from "./bad_message.ts";

/** Where the service writes (the HTTP layer's write path). */
export interface IngestWriter {
  /** The database when a request names none. */
  defaultDatabase: string;
  /** Errors listed in an answer. */
  maxListedErrors: number;
  /** The time of points without one. */
  now(): Instant;
  /** Checks the database exists (creating the default one) before anything is decoded. */
  prepare(database: string): Promise<void>;
  /**
   * The shared field layouts of a database's points (the decoder's own per call when absent):
   * the points of the same fields share one layout across calls.
   */
  layouts?(database: string): FieldLayouts;
  /**
   * Writes one batch; rejections by index in `points`, `unavailable` of them not written
   * because their partition had no leader.
   */
  write(
    database: string,
    retentionPolicy: string | undefined,
    points: Point[],
  ): Promise<
    { accepted: number; rejected: { index: number; reason: string }[]; unavailable: number }
  >;
  /**
   * Writes one batch all or nothing (the request's `atomic`): `refused` when any point was
   * rejected (schema, pipeline, field-type conflict, retention), and then nothing was stored.
   * Rejections by index in `points`, or -1 for a point the pipeline transformed.
   */
  writeAtomically(
    database: string,
    retentionPolicy: string | undefined,
    points: Point[],
  ): Promise<{
    accepted: number;
    rejected: { index: number; reason: string }[];
    unavailable: number;
    refused: boolean;
  }>;
  /**
   * Admits a call (bounds on concurrent writes and the bytes they hold): how to commit its
   * batches, with its reservation as `memory` so it counts what they hold, and its release.
   * `messageBytes`: what the call holds before its batches (a unary call's message, read whole);
   * a stream holds one read.
   * @throws {EpochError} resource_exhausted when overloaded.
   */
  admit(messageBytes?: number): AdmittedWrite;
}

/** A call admitted by {@linkcode IngestWriter.admit}. */
export interface AdmittedWrite {
  /** How to commit the call's batches; `memory` is told the message bytes they hold. */
  commit: CommitOptions;
  /** Ends the call's reservation (idempotent). */
  release(): void;
}

/** Options of {@linkcode ingestHandlers}. */
export interface IngestHandlerOptions {
  /**
   * The largest request message (the body of a unary call, each message of a stream), in
   * bytes: beyond it the call is refused with `resource_exhausted` (HTTP 413 for a unary Connect
   * call: bad_message.ts) before the message is buffered when its length is declared up front.
   */
  maxMessageBytes: number;
  /** The most bytes of messages one `WriteStream` call may send (as `max_stream_bytes`). */
  maxStreamBytes: number;
  /** Encodings a call's messages may come in (gzip); none when absent. */
  acceptCompression?: Compression[];
}

/**
 * The handlers of IngestService for every protocol (Connect, gRPC, gRPC-Web), with the size
 * limit and with undecodable messages answered `invalid_argument` (bad_message.ts).
 */
export function ingestHandlers(
  writer: IngestWriter,
  options: IngestHandlerOptions,
): UniversalHandler[] {
  const router = createConnectRouter({
    readMaxBytes: options.maxMessageBytes,
    acceptCompression: options.acceptCompression ?? [],
    requestGate: (context) => admitUnaryWrite(context, writer, options.maxMessageBytes),
  });
  registerIngestService(router, writer, options);
  return router.handlers.map(badMessagesAsInvalidArgument);
}

/** Registers IngestService on a Connect router. */
export function registerIngestService(
  router: ConnectRouter,
  writer: IngestWriter,
  limits: { maxStreamBytes?: number } = {},
): void {
  const maxStreamBytes = limits.maxStreamBytes ?? Infinity;
  router.service(IngestService, {
    async write(request, context) {
      return await guarded(context.values.get(ADMITTED) ?? writer, async (commit) => {
        const database = request.database || writer.defaultDatabase;
        await writer.prepare(database);
        const decoded = decodeProtobufWrite(toBinary(WriteRequestSchema, request), {
          defaultTime: writer.now(),
          layouts: writer.layouts?.(database),
        });
        if (request.atomic) {
          commit.memory?.hold(decoded.batch.bytes);
          return answer(
            await writeAtomically(writer, database, request.retentionPolicy, decoded.batch),
            writer.maxListedErrors,
          );
        }
        const summary = await commitBatches(
          once(decoded.batch),
          (points) => writer.write(database, request.retentionPolicy || undefined, points),
          { ...commit, maxListedErrors: writer.maxListedErrors },
        );
        return answer(summary, writer.maxListedErrors);
      });
    },
    async writeStream(requests) {
      return await guarded(writer, async (commit) => {
        let database: string | undefined;
        let retentionPolicy: string | undefined;
        let record = 1;
        let streamed = 0, messages = 0;
        const batches = async function* (): AsyncGenerator<DecodedBatch> {
          for await (const message of requests) {
            if (database === undefined) {
              database = message.database || writer.defaultDatabase;
              retentionPolicy = message.retentionPolicy || undefined;
              await writer.prepare(database);
            }
            const bytes = toBinary(WriteStreamRequestSchema, message);
            streamed += bytes.length;
            messages++;
            if (streamed > maxStreamBytes) {
              throw new TooLargeError(
                `WriteStream sent more than ${maxStreamBytes} bytes (the limit, ` +
                  `max_stream_bytes): refused from message ${messages} on`,
                { details: { limit: maxStreamBytes } },
              );
            }
            const decoded = decodeProtobufWrite(bytes, {
              defaultTime: writer.now(),
              firstRecord: record,
              layouts: writer.layouts?.(database!),
            });
            record += message.points.length;
            yield decoded.batch;
          }
        };
        const summary = await commitBatches(
          batches(),
          (points) => writer.write(database!, retentionPolicy, points),
          { ...commit, maxListedErrors: writer.maxListedErrors },
        );
        return answer(summary, writer.maxListedErrors);
      });
    },
  });
}

/**
 * All or nothing: a point that fails to decode, breaks its schema, conflicts with a stored
 * field type or lies beyond retention refuses the whole request; the first error says so and
 * the others name each bad point's record.
 */
async function writeAtomically(
  writer: IngestWriter,
  database: string,
  retentionPolicy: string,
  batch: DecodedBatch,
): Promise<IngestSummary> {
  const summary: IngestSummary = {
    accepted: 0,
    rejected: batch.errors.length,
    unparsable: batch.errors.length,
    errors: [...batch.errors],
    bytes: batch.bytes,
    unavailable: 0,
  };
  let refused = batch.errors.length > 0;
  if (!refused) {
    const outcome = await writer.writeAtomically(
      database,
      retentionPolicy || undefined,
      batch.points,
    );
    summary.accepted = outcome.accepted;
    summary.unavailable = outcome.unavailable;
    refused = outcome.refused;
    summary.rejected += outcome.rejected.length;
    for (const r of outcome.rejected) {
      const record = r.index >= 0 ? batch.origins?.[r.index] ?? r.index + 1 : undefined;
      summary.errors.push(
        record === undefined ? { reason: r.reason } : { record, reason: r.reason },
      );
    }
  }
  if (refused) {
    const first = summary.errors[0];
    summary.errors.unshift({
      reason: `atomic write refused: nothing was written (${summary.rejected} bad of ${
        batch.points.length + batch.errors.length
      } points; first: ${first?.record !== undefined ? `record ${first.record}: ` : ""}${
        first?.reason ?? "?"
      })`,
    });
  }
  return summary;
}

async function* once(batch: DecodedBatch): AsyncGenerator<DecodedBatch> {
  yield batch;
}

/** The fields of WriteResponse and WriteStreamResponse (the same shape). */
interface Answer {
  accepted: bigint;
  rejected: bigint;
  errors: { record: bigint; field: string; reason: string }[];
}

/**
 * The response of a write; points not written because their partition had no leader make it an
 * `unavailable` error instead (the client retries), naming them as the HTTP doors do.
 */
function answer(summary: IngestSummary, max: number): Answer {
  if (summary.unavailable > 0) {
    const listed = summary.errors.slice(0, max).map((e) =>
      `${e.record !== undefined ? `record ${e.record}: ` : ""}${e.reason}`
    );
    const stop = summary.stoppedAfter?.record;
    if (stop !== undefined) listed.push(`nothing after record ${stop} was written`);
    throw new EpochError(
      "unavailable",
      `${summary.unavailable} points not written: their partition has no leader, retry the ` +
        `request (${summary.accepted} written, ${summary.rejected} not): ${listed.join("\n")}`,
      { retryAfterSeconds: 1 },
    );
  }
  return {
    accepted: BigInt(summary.accepted),
    rejected: BigInt(summary.rejected),
    errors: summary.errors.slice(0, max).map((e: IngestIssue) => ({
      record: BigInt(e.record ?? 0),
      field: e.field ?? "",
      reason: e.reason,
    })),
  };
}

/** A unary `Write` admitted before its message was read ({@linkcode admitUnaryWrite}). */
const ADMITTED = createContextKey<AdmittedWrite | undefined>(undefined);

/**
 * The request gate (before any request byte is read): a unary `Write` is read whole before it
 * is decoded, so it is admitted here for the message it declares (Content-Length), or for the
 * largest message when it declares none or is compressed (its size is known only once read).
 * Many concurrent large calls are refused (resource_exhausted, HTTP 429) instead of each being
 * buffered and parsed before admission saw it. The reservation ends with the call.
 */
function admitUnaryWrite(
  context: HandlerContext,
  writer: IngestWriter,
  maxMessageBytes: number,
): void {
  if (context.method.name !== "Write") return;
  const header = context.requestHeader;
  const length = Number(header.get("content-length") ?? NaN);
  const compressed = ["content-encoding", "connect-content-encoding", "grpc-encoding"].some(
    (name) => (header.get(name) ?? "identity") !== "identity",
  );
  const declared = Number.isSafeInteger(length) && length >= 0 && !compressed;
  let admitted: AdmittedWrite;
  try {
    admitted = writer.admit(declared ? Math.min(length, maxMessageBytes) : maxMessageBytes);
  } catch (error) {
    throw connectErrorOf(error);
  }
  context.values.set(ADMITTED, admitted);
  // The call may end before the implementation runs (an unreadable message, a client gone).
  context.signal.addEventListener("abort", () => admitted.release(), { once: true });
}

/**
 * Runs a call under admission control, turning EpochErrors into ConnectErrors. `admission`:
 * the writer (admits now), or a call admitted already (released here all the same).
 */
async function guarded<T>(
  admission: IngestWriter | AdmittedWrite,
  call: (commit: CommitOptions) => Promise<T>,
): Promise<T> {
  try {
    const admitted = "admit" in admission ? admission.admit() : admission;
    try {
      return await call(admitted.commit);
    } finally {
      admitted.release();
    }
  } catch (error) {
    throw connectErrorOf(error);
  }
}

/** An EpochError as the ConnectError of its code; anything else unchanged. */
function connectErrorOf(error: unknown): unknown {
  if (!(error instanceof EpochError)) return error;
  return new ConnectError(
    error.message,
    CODES[error.code] ?? Code.Unknown,
    undefined,
    undefined,
    error,
  );
}

const CODES: Partial<Record<EpochError["code"], Code>> = {
  canceled: Code.Canceled,
  invalid_argument: Code.InvalidArgument,
  deadline_exceeded: Code.DeadlineExceeded,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  permission_denied: Code.PermissionDenied,
  resource_exhausted: Code.ResourceExhausted,
  failed_precondition: Code.FailedPrecondition,
  aborted: Code.Aborted,
  out_of_range: Code.OutOfRange,
  unimplemented: Code.Unimplemented,
  internal: Code.Internal,
  unavailable: Code.Unavailable,
  data_loss: Code.DataLoss,
  unauthenticated: Code.Unauthenticated,
};
