/**
 * A write split by partition in the gateway: each point's series key (or measurement) is hashed
 * with its database's hash function, the points are grouped by partition, and each group is
 * sent straight to the node that leads that partition (the metadata's leader hint), as line
 * protocol on that node's own `/ingest`, with the caller's credentials. The node runs its whole
 * write path on the part (the WRITE check, the schema pipeline, field types, series limits,
 * shard groups through the metadata group) and, leading the partition, writes it without
 * handing it on. A node that no longer leads still writes the part correctly (it forwards it:
 * one hop more), so a stale hint costs time, never points.
 *
 * What each part's node answered is mapped back to the points' indexes in the batch, so the
 * gateway's answer names the caller's own lines and records.
 * @module
 */
import {
  EpochError,
  NotFoundError,
  PermissionDeniedError,
  type Point,
  seriesKey,
  UnauthenticatedError,
} from "../core/mod.ts";
import { DatabasePartitions, type MetaView } from "../cluster/mod.ts";
import { LineProtocolFormatter } from "../ingest/mod.ts";
import type { Rejection } from "../storage/mod.ts";
import type { GatewayNode, RoutingTable } from "./cluster_view.ts";

type DatabaseView = MetaView["databases"][number];

/** Who writes: what of the caller's request each part carries to its node. */
export interface WriteCaller {
  /** The request's Authorization header, passed on as is. */
  authorization: string | null;
  /** `u` and `p` parameters (InfluxDB 1.x credentials). */
  user: string | null;
  password: string | null;
}

/** What a split write did, indexed like the batch it was given. */
export interface SplitOutcome {
  accepted: number;
  rejected: Rejection[];
  /** Points not written because their part's node was unreachable or had no leader. */
  unavailable: number;
}

/** Options of {@linkcode PartitionedWriter}. */
export interface PartitionedWriterOptions {
  table: RoutingTable;
  caller: WriteCaller;
  fetch: typeof globalThis.fetch;
  partitions: GatewayPartitionCache;
  /** Whether a node is skipped for now (a failed connection). */
  isDown: (node: GatewayNode) => boolean;
  /**
   * The metadata copy is stale: a node's connection failed (`node`, to be skipped a while), or an
   * answer showed the copy out of date (`undefined`).
   */
  stale: (node: GatewayNode | undefined, why: string) => void;
}

/** Partitions of recent series keys, per database (one hash per new series, not per point). */
export class GatewayPartitionCache {
  readonly #byDatabase = new Map<string, DatabasePartitions>();
  constructor(private readonly max = 200_000) {}

  of(db: DatabaseView): DatabasePartitions {
    let cache = this.#byDatabase.get(db.name);
    if (
      cache === undefined || cache.partitions !== db.partitions.length || cache.hash !== db.hash
    ) {
      cache = new DatabasePartitions(db.hash, db.partitions.length, this.max);
      this.#byDatabase.set(db.name, cache);
    }
    return cache;
  }
}

/** One partition's share of a batch: its points and their indexes in the batch. */
interface Part {
  index: number;
  indexes: number[];
  points: Point[];
}

/** The error body a node's `/ingest` answers (`nativeError`). */
interface NodeError {
  code?: string;
  message?: string;
  accepted?: number;
  rejected?: number;
  errors?: { line?: number; reason?: string }[];
}

/** Writes batches of one request, split by partition. */
export class PartitionedWriter {
  readonly #o: PartitionedWriterOptions;

  constructor(options: PartitionedWriterOptions) {
    this.#o = options;
  }

  /** Writes `points` to `database` (its retention policy `retentionPolicy`, else the default). */
  async write(
    database: DatabaseView,
    retentionPolicy: string | undefined,
    points: readonly Point[],
  ): Promise<SplitOutcome> {
    const parts = this.#split(database, points);
    const outcome: SplitOutcome = { accepted: 0, rejected: [], unavailable: 0 };
    await Promise.all(parts.map(async (part) => {
      const answer = await this.#writePart(database, retentionPolicy, part);
      outcome.accepted += answer.accepted;
      outcome.unavailable += answer.unavailable;
      for (const r of answer.rejected) outcome.rejected.push(r);
    }));
    outcome.rejected.sort((a, b) => a.index - b.index);
    return outcome;
  }

  #split(db: DatabaseView, points: readonly Point[]): Part[] {
    const partitions = this.#o.partitions.of(db);
    const byMeasurement = db.hashKey === "measurement";
    const parts = new Map<number, Part>();
    for (let i = 0; i < points.length; i++) {
      const p = points[i];
      const index = partitions.partitionOf(
        byMeasurement ? p.measurement : seriesKey(p.measurement, p.tags),
      );
      let part = parts.get(index);
      if (!part) parts.set(index, part = { index, indexes: [], points: [] });
      part.indexes.push(i);
      part.points.push(p);
    }
    return [...parts.values()];
  }

  /** The node a partition's part goes to: its leader as last reported, else a live replica. */
  #target(partition: DatabaseView["partitions"][number]): GatewayNode | undefined {
    const nodes = this.#o.table.nodes;
    const byId = (id: number) => nodes.find((n) => n.id === id);
    const order = [partition.leaderHint, ...partition.replicas].filter((id) => id > 0);
    const known = order.map(byId).filter((n): n is GatewayNode => n !== undefined);
    return known.find((n) => !this.#o.isDown(n)) ?? known[0];
  }

  async #writePart(
    db: DatabaseView,
    retentionPolicy: string | undefined,
    part: Part,
  ): Promise<SplitOutcome> {
    const partition = db.partitions[part.index];
    const node = this.#target(partition);
    const notWritten = (why: string): SplitOutcome => ({
      accepted: 0,
      unavailable: part.points.length,
      // "not written: partition" marks them as unavailable (write_path.ts's storageCause).
      rejected: part.indexes.map((index) => ({
        index,
        reason: `not written: partition ${part.index} of ${db.name} (${why}); retry`,
      })),
    });
    if (node === undefined) {
      this.#o.stale(undefined, `partition ${part.index} names no known node`);
      return notWritten("no known node holds it");
    }
    let answer: Response;
    try {
      answer = await this.#o.fetch(this.#request(node, db, retentionPolicy, part.points));
    } catch (error) {
      const why = `node ${node.id} (${node.http}) could not be reached: ${errorText(error)}`;
      this.#o.stale(node, why);
      return notWritten(why);
    }
    const text = await answer.text();
    if (answer.status === 200) {
      return {
        accepted: Number(parseJson(text)?.accepted ?? part.points.length),
        rejected: [],
        unavailable: 0,
      };
    }
    const error: NodeError = parseJson(text)?.error ?? { message: text };
    const message = `node ${node.id}: ${error.message ?? `status ${answer.status}`}`;
    switch (answer.status) {
      case 400:
        return this.#partial(part, error, node);
      case 401:
        throw new UnauthenticatedError(error.message ?? "authorization failed");
      case 403:
        throw new PermissionDeniedError(error.message ?? "forbidden");
      case 404:
        // The database went away since the metadata was read: read it again (the node is up).
        this.#o.stale(undefined, message);
        throw new NotFoundError(error.message ?? `database not found: ${db.name}`);
      case 429:
        // The node is busy, and says nothing of where leaders are: reading the metadata again
        // would only add load to an overloaded cluster.
        return this.#unavailable(part, error, message);
      case 502:
      case 503:
      case 504:
        // Most often a leader being elected or moved: the next write looks at fresh hints.
        this.#o.stale(undefined, message);
        return this.#unavailable(part, error, message);
      default:
        throw new EpochError(
          "internal",
          `writing partition ${part.index} of ${db.name}: ${message}`,
        );
    }
  }

  /** A node's /ingest request for one part: line protocol in nanoseconds, the caller's credentials. */
  #request(
    node: GatewayNode,
    db: DatabaseView,
    retentionPolicy: string | undefined,
    points: readonly Point[],
  ): Request {
    const url = new URL(`${node.http}/ingest`);
    url.searchParams.set("db", db.name);
    if (retentionPolicy !== undefined) url.searchParams.set("rp", retentionPolicy);
    url.searchParams.set("precision", "ns");
    const { caller } = this.#o;
    if (caller.user !== null) {
      url.searchParams.set("u", caller.user);
      url.searchParams.set("p", caller.password ?? "");
    }
    const headers = new Headers({ "content-type": "text/plain; charset=utf-8" });
    if (caller.authorization !== null) headers.set("authorization", caller.authorization);
    // A series' points share their escaped series text (the decoder shares their tag arrays).
    const formatter = new LineProtocolFormatter();
    let body = "";
    for (const p of points) body += formatter.line(p) + "\n";
    return new Request(url, { method: "POST", headers, body });
  }

  /** A 400: the points the node refused, by their line in the part, are named in the batch. */
  #partial(part: Part, error: NodeError, node: GatewayNode): SplitOutcome {
    const rejected: Rejection[] = [];
    for (const e of error.errors ?? []) {
      const index = e.line === undefined ? undefined : part.indexes[e.line - 1];
      if (index !== undefined) rejected.push({ index, reason: e.reason ?? "refused" });
    }
    // A node lists a bounded number of errors: the others are counted, not named.
    const unlisted = Math.max(0, Number(error.rejected ?? rejected.length) - rejected.length);
    const named = new Set(rejected.map((r) => r.index));
    const others = part.indexes.filter((i) => !named.has(i));
    for (let k = 0; k < unlisted && k < others.length; k++) {
      rejected.push({
        index: others[others.length - 1 - k],
        reason: `one of ${unlisted} points of partition ${part.index}'s part that node ` +
          `${node.id} refused without naming them (it lists a bounded number of errors)`,
      });
    }
    return { accepted: Number(error.accepted ?? 0), rejected, unavailable: 0 };
  }

  /**
   * A transient refusal (no leader, overloaded, a proxy's 502/504): every point of the part
   * that the node did not refuse for a reason of its own is reported as not written (a retry
   * of the request writes it; points written twice are stored once).
   */
  #unavailable(part: Part, error: NodeError, message: string): SplitOutcome {
    const refused = new Map<number, string>();
    for (const e of error.errors ?? []) {
      const index = e.line === undefined ? undefined : part.indexes[e.line - 1];
      const reason = e.reason ?? "";
      if (index !== undefined && !reason.startsWith("not written:")) refused.set(index, reason);
    }
    const rejected: Rejection[] = [];
    let unavailable = 0;
    for (const index of part.indexes) {
      const reason = refused.get(index);
      if (reason !== undefined) rejected.push({ index, reason });
      else {
        unavailable++;
        rejected.push({
          index,
          reason: `not written: partition ${part.index} (${message}); retry`,
        });
      }
    }
    return { accepted: 0, rejected, unavailable };
  }
}

// deno-lint-ignore no-explicit-any
function parseJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
