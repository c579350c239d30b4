/**
 * Backup and restore (admin only; `epochnexus backup` and `restore` call these):
 *
 * - `GET /api/v1/backup` -> the metadata as of now (databases, partitions, retention policies,
 *   users, ...), read after a barrier on the metadata group: the backup's starting point.
 * - `POST /api/v1/backup/partition/<group id>` `{"have": [{path, size, footer}], "since": ms}` ->
 *   the partition's files (`src/ops/backup_frames.ts`), from a replica that has confirmed a read
 *   and flushed after the call, so they hold every write acknowledged before it; the files the
 *   backup already holds are listed, not sent.
 * - `POST /api/v1/restore` `{"meta": ..., "databases": [...], "rename": {"old": "new"},
 *   "users": true}` -> recreates the backup's databases (and users, for a whole restore) here;
 *   a database that exists and holds data is refused with 409. The points follow through the
 *   write path (`epochnexus restore` reads them from the backup's files).
 * @module
 */
import { MAX_TIME_NS, MIN_TIME_NS, NotFoundError, ValidationError } from "../core/mod.ts";
import type {
  BackupExport,
  BackupMetadata,
  RestoreOutcome,
  RestoreSelection,
  SnapshotChunk,
} from "../cluster/mod.ts";
import { encodeChunk, encodeDone, encodeFailure, shardsOf } from "../ops/mod.ts";
import type { AppContext } from "./app.ts";
import { readBody } from "./body.ts";
import { json, nativeError } from "./responses.ts";
import { methodNotAllowed } from "./routes.ts";

/** What the backup routes need from the node. */
export interface BackupApi {
  metadata(): Promise<BackupMetadata>;
  partition(groupId: number, request: BackupExport): AsyncIterable<SnapshotChunk>;
  restore(meta: unknown, selection: RestoreSelection): Promise<RestoreOutcome>;
}

const BACKUP = "/api/v1/backup";
const PARTITION = "/api/v1/backup/partition/";
const RESTORE = "/api/v1/restore";

/** True for the backup and restore routes. */
export function isBackupRoute(path: string): boolean {
  return path === BACKUP || path === RESTORE || path.startsWith(PARTITION);
}

/** Answers the backup and restore routes. */
export async function handleBackup(
  ctx: AppContext,
  request: Request,
  url: URL,
): Promise<Response> {
  const api = ctx.cluster?.backup;
  if (!api) return nativeError(new NotFoundError("this node cannot back up or restore"));
  try {
    if (url.pathname === BACKUP) {
      if (request.method !== "GET") return methodNotAllowed("GET");
      return json(await api.metadata());
    }
    if (request.method !== "POST") return methodNotAllowed("POST");
    const body = await jsonBody(request);
    if (url.pathname === RESTORE) return json(await restore(ctx, api, body));
    const groupId = Number(url.pathname.slice(PARTITION.length));
    if (!Number.isInteger(groupId) || groupId < 1) {
      throw new ValidationError(`no partition group ${url.pathname.slice(PARTITION.length)}`);
    }
    return partitionStream(ctx, api.partition(groupId, exportRequest(body)));
  } catch (error) {
    return nativeError(error);
  }
}

async function jsonBody(request: Request): Promise<Record<string, unknown>> {
  const text = new TextDecoder().decode(await readBody(request, 256 * 1024 * 1024));
  if (text.trim() === "") return {};
  try {
    const parsed = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) return parsed;
  } catch { /* below */ }
  throw new ValidationError("the request body must be a JSON object");
}

function exportRequest(body: Record<string, unknown>): BackupExport {
  const have = body.have ?? [];
  if (!Array.isArray(have)) throw new ValidationError("have must be a list of files");
  for (const [i, f] of have.entries()) {
    if (
      typeof f?.path !== "string" || typeof f?.size !== "number" || typeof f?.footer !== "string"
    ) {
      throw new ValidationError(`have[${i}] needs path, size and footer`);
    }
  }
  const since = body.since;
  if (since !== undefined && typeof since !== "number") {
    throw new ValidationError("since must be milliseconds since the epoch");
  }
  return { have, sinceMs: since };
}

/** The chunks as frames, pulled by the client; a failure midway ends with an error frame. */
function partitionStream(ctx: AppContext, chunks: AsyncIterable<SnapshotChunk>): Response {
  const iterator = chunks[Symbol.asyncIterator]();
  let ended = false;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (ended) return;
      try {
        const next = await iterator.next();
        if (next.done) {
          ended = true;
          controller.enqueue(encodeDone());
          controller.close();
        } else controller.enqueue(encodeChunk(next.value));
      } catch (error) {
        ended = true;
        ctx.logger.error("partition backup failed midway", { error: String(error) });
        controller.enqueue(encodeFailure(error instanceof Error ? error.message : String(error)));
        controller.close();
      }
    },
    async cancel() {
      await iterator.return?.(undefined);
    },
  });
  return new Response(body, { headers: { "content-type": "application/octet-stream" } });
}

async function restore(
  ctx: AppContext,
  api: BackupApi,
  body: Record<string, unknown>,
): Promise<RestoreOutcome> {
  const meta = body.meta;
  if (typeof meta !== "object" || meta === null) {
    throw new ValidationError("meta (the backup's metadata) is required");
  }
  const databases = body.databases;
  if (databases !== undefined && !isStrings(databases)) {
    throw new ValidationError("databases must be a list of names");
  }
  const rename = body.rename ?? {};
  if (typeof rename !== "object" || rename === null || !isStrings(Object.values(rename))) {
    throw new ValidationError("rename must map names to names");
  }
  const names = new Map(Object.entries(rename as Record<string, string>));
  const emptyExisting = new Set<string>();
  const backedUp = databases ?? databaseNames(meta);
  for (const name of backedUp) {
    const target = names.get(name) ?? name;
    if (ctx.engine.hasDatabase(target) && await holdsNothing(ctx, target)) {
      emptyExisting.add(target);
    }
  }
  return await api.restore(meta, {
    databases,
    rename: names,
    users: body.users === true,
    emptyExisting,
  });
}

function isStrings(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === "string");
}

function databaseNames(meta: unknown): string[] {
  const dbs = (meta as { databases?: { name?: unknown }[] }).databases;
  return Array.isArray(dbs) ? dbs.map((d) => String(d?.name)) : [];
}

/** True when no retention policy of the database holds a measurement. */
async function holdsNothing(ctx: AppContext, database: string): Promise<boolean> {
  for (const rp of ctx.engine.retentionPolicies(database)) {
    const readers = await shardsOf(ctx.engine, database, rp.name, MIN_TIME_NS, MAX_TIME_NS);
    if (readers.some((r) => r.measurements().length > 0)) return false;
  }
  return true;
}
