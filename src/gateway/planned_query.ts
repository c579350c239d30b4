/**
 * Which /query requests the gateway answers itself, and with what: a request whose statements
 * are all SELECT without INTO, naming databases and retention policies the gateway's metadata
 * copy has, is planned here and read from the partitions' leaders (`remote_store.ts`); anything
 * else (statements that change state, SHOW, EXPLAIN, a query that does not parse, multipart
 * forms, the native API without a database) goes to a node as it came.
 * @module
 */
import { type SelectStatement, type Source, STATEMENTS } from "../query/mod.ts";
import type { MetaView } from "../cluster/mod.ts";

/** A /query request the gateway plans: the fields it routes by. */
export interface PlannedQuery {
  /** Every database the statements read (the request's `db` for unqualified sources). */
  databases: string[];
}

/**
 * The request as the gateway reads it to decide: undefined, send it to a node; `unknown`, it
 * names a database or retention policy the metadata copy lacks (read it again, or send it on).
 */
export function plannableQuery(
  request: Request,
  url: URL,
  body: Uint8Array | undefined,
  meta: MetaView,
): PlannedQuery | "unknown" | undefined {
  const fields = queryFields(request, url, body);
  if (fields === undefined) return undefined;
  let statements;
  try {
    statements = STATEMENTS.parse(fields.q);
  } catch {
    return undefined; // the node answers the syntax error
  }
  if (statements.length === 0) return undefined;
  const reads: { database: string; retentionPolicy?: string }[] = [];
  for (const s of statements) {
    if (s.kind !== "select" || s.into !== undefined) return undefined;
    if (!sourcesOf(s, fields.db, fields.rp, reads)) return undefined;
  }
  const databases = new Set<string>();
  for (const read of reads) {
    const db = meta.databases.find((d) => d.name === read.database);
    if (db === undefined) return "unknown";
    if (
      read.retentionPolicy !== undefined &&
      !db.retentionPolicies.some((rp) => rp.name === read.retentionPolicy)
    ) {
      return "unknown";
    }
    databases.add(read.database);
  }
  return { databases: [...databases].sort() };
}

interface QueryFields {
  q: string;
  db: string;
  rp?: string;
}

/**
 * `q`, `db` and `rp` as the node's handlers read them (`src/http/query_handler.ts`): InfluxDB's
 * form from the URL and a form-encoded body, the native API from a JSON body.
 */
function queryFields(
  request: Request,
  url: URL,
  body: Uint8Array | undefined,
): QueryFields | undefined {
  const method = request.method;
  const type = (request.headers.get("content-type") ?? "").toLowerCase();
  if (method === "POST" && type.startsWith("application/json")) {
    if (body === undefined) return undefined;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(new TextDecoder().decode(body));
    } catch {
      return undefined;
    }
    if (typeof o !== "object" || o === null || Array.isArray(o)) return undefined;
    const q = o.query ?? o.q;
    // Without a database the node uses (and may create) its default one: its to answer.
    const db = o.db ?? url.searchParams.get("db");
    if (typeof q !== "string" || typeof db !== "string" || db === "") return undefined;
    if (o.rp !== undefined && typeof o.rp !== "string") return undefined;
    return { q, db, rp: (o.rp as string | undefined) || undefined };
  }
  const values = new URLSearchParams(url.searchParams);
  if (method === "POST") {
    if (type.startsWith("multipart/form-data") || body === undefined) return undefined;
    for (const [k, v] of new URLSearchParams(new TextDecoder().decode(body))) values.set(k, v);
  } else if (method !== "GET") return undefined;
  const q = values.get("q");
  if (!q) return undefined;
  return { q, db: values.get("db") ?? "", rp: values.get("rp") || undefined };
}

/** Collects what a SELECT reads; false when a source names no database. */
function sourcesOf(
  s: SelectStatement,
  db: string,
  rp: string | undefined,
  out: { database: string; retentionPolicy?: string }[],
): boolean {
  const walk = (sources: readonly Source[], depth: number): boolean => {
    if (depth > 64) return false;
    for (const src of sources) {
      if (src.kind === "subquery") {
        if (!walk(src.statement.sources, depth + 1)) return false;
        continue;
      }
      const database = src.database ?? db;
      if (database === "") return false;
      // The request's rp applies to sources that name no database (as the executor reads it).
      const policy = src.retentionPolicy ?? (src.database === undefined ? rp : undefined);
      out.push({ database, retentionPolicy: policy });
    }
    return true;
  };
  return walk(s.sources, 0);
}
