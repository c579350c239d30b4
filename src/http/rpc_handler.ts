/**
 * Connect-RPC services on the node's fetch handler: one router answers Connect, gRPC and
 * gRPC-Web under `/<package>.<Service>/<Method>` (today `epochnexus.ingest.v1.IngestService`).
 * @module
 */
import { createFetchHandler, type UniversalHandler } from "@connectrpc/connect/protocol";
import { AsyncLocalStorage } from "node:async_hooks";
import { holds, type Principal } from "../auth/mod.ts";
import { Privilege } from "../cluster/mod.ts";
import { instantFromNanos, NotFoundError, PermissionDeniedError } from "../core/mod.ts";
import { ingestHandlers } from "../rpc/mod.ts";
import { type AppContext, fieldLayouts } from "./app.ts";
import { connectGzip } from "./connect_gzip.ts";
import { admitMessageStream, ingestSettings, streamedCommitOptions } from "./ingest_handler.ts";
import { databaseExists, writePoints, writePointsAtomically } from "./write_path.ts";
import { recordWrite, WriteTally } from "./write_metrics.ts";

/** Path prefix of the ingest service. */
export const INGEST_SERVICE_PATH = "/epochnexus.ingest.v1.IngestService/";

/** The caller of the call being served (the router is shared by every call of the app). */
const caller = new AsyncLocalStorage<Principal>();

const routers = new WeakMap<AppContext, Map<string, (request: Request) => Promise<Response>>>();

/** True when `path` belongs to a Connect service served here. */
export function isRpcPath(path: string): boolean {
  return path.startsWith(INGEST_SERVICE_PATH);
}

/** A Connect ingest batch's tally (nanosecond times, checked for the precision trap). */
function rpcTally(ctx: AppContext): WriteTally {
  return new WriteTally(ctx.metrics, "connect", { precision: "ns", nowMs: ctx.clock.nowMs() });
}

/** Answers a Connect, gRPC or gRPC-Web call. */
export async function handleRpc(
  ctx: AppContext,
  request: Request,
  url: URL,
  principal: Principal,
): Promise<Response> {
  let handlers = routers.get(ctx);
  if (!handlers) {
    const settings = ingestSettings(ctx);
    const ingest = ingestHandlers({
      defaultDatabase: ctx.defaultDatabase,
      maxListedErrors: settings.maxListedErrors,
      now: () => instantFromNanos(ctx.clock.nowNanos()),
      async prepare(database) {
        const who = caller.getStore();
        if (!who || !holds(who, database, Privilege.write)) {
          throw new PermissionDeniedError(
            `"${who?.name ?? "anonymous"}" user is not authorized to write to database ` +
              `"${database}"`,
          );
        }
        if (await databaseExists(ctx, database)) return;
        if (database !== ctx.defaultDatabase) {
          throw new NotFoundError(`database not found: ${database}`, { details: { database } });
        }
        await ctx.engine.createDatabase(database);
      },
      layouts: (database) => fieldLayouts(ctx, database),
      // Counted per batch: a stream's batches commit one by one.
      async write(database, rp, points) {
        const tally = rpcTally(ctx);
        tally.batch(points);
        const outcome = await writePoints(ctx, database, rp, points);
        tally.outcome(outcome);
        recordWrite(ctx.metrics, tally, { accepted: outcome.accepted, unparsable: 0, bytes: 0 });
        return outcome;
      },
      async writeAtomically(database, rp, points) {
        const tally = rpcTally(ctx);
        tally.batch(points);
        const outcome = await writePointsAtomically(ctx, database, rp, points);
        tally.outcome(outcome);
        if (outcome.refused) tally.refuse("atomic", points.length - outcome.rejected.length);
        recordWrite(ctx.metrics, tally, { accepted: outcome.accepted, unparsable: 0, bytes: 0 });
        return outcome;
      },
      // As a streamed /ingest: one read, then what its batches hold (not 2 batches up front,
      // which let only 16 calls in at once under the default bound).
      admit: (messageBytes) => {
        const reservation = admitMessageStream(ctx, messageBytes);
        return {
          commit: streamedCommitOptions(ctx, settings, reservation),
          release: () => reservation.release(),
        };
      },
    }, {
      maxMessageBytes: ctx.maxBodyBytes,
      maxStreamBytes: settings.maxStreamBytes,
      acceptCompression: [connectGzip],
    });
    handlers = new Map(
      ingest.map((h: UniversalHandler) => [h.requestPath, createFetchHandler(h)]),
    );
    routers.set(ctx, handlers);
  }
  const handler = handlers.get(url.pathname);
  if (!handler) {
    return new Response(
      JSON.stringify({ code: "unimplemented", message: `no procedure ${url.pathname}` }),
      {
        status: 404,
        headers: { "content-type": "application/json" },
      },
    );
  }
  return await caller.run(principal, () => handler(request));
}
