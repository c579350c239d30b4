/**
 * The administrative statements clients send besides queries: CREATE DATABASE ... WITH,
 * shards, statistics, diagnostics and subscriptions (continuous queries: `continuous_queries.ts`). Each answers as
 * InfluxDB 1.6.7 does where EpochNexus has the same thing, and otherwise with a
 * `not supported: ...` error saying what to use instead; never a parse error.
 *
 * - Subscriptions: none exist; SHOW answers none, DROP `subscription not found`, CREATE is refused.
 * - SHOW SHARDS / SHARD GROUPS / STATS / DIAGNOSTICS and DROP SHARD: InfluxDB's shard ids and Go
 *   runtime figures have no counterpart here; refused with where to look instead.
 *
 * @module
 */
import { EpochError, NotFoundError, ValidationError } from "../core/errors.ts";
import type { Statement } from "./ast.ts";
import type { ResultSeries } from "./result.ts";
import type { QueryStore } from "./store.ts";

/** The statements this file answers. */
export type AdminStatement = Extract<
  Statement,
  {
    kind:
      | "create_database"
      | "show_shards"
      | "show_shard_groups"
      | "show_stats"
      | "show_diagnostics"
      | "show_subscriptions"
      | "create_subscription"
      | "drop_subscription"
      | "drop_shard";
  }
>;

/** True for the statements {@linkcode executeAdmin} answers. */
export function isAdminStatement(s: Statement): s is AdminStatement {
  return ADMIN_KINDS.has(s.kind);
}
const ADMIN_KINDS = new Set<string>([
  "create_database",
  "show_shards",
  "show_shard_groups",
  "show_stats",
  "show_diagnostics",
  "show_subscriptions",
  "create_subscription",
  "drop_subscription",
  "drop_shard",
]);

/** A statement EpochNexus parses but does not carry out (an EpochError: per-statement error). */
export class NotSupportedError extends EpochError {
  constructor(what: string, instead: string) {
    super("unimplemented", `not supported: ${what}; ${instead}`, { httpStatus: 400 });
    this.name = "NotSupportedError";
  }
}

/**
 * Answers an administrative statement.
 * @throws {NotSupportedError} for what EpochNexus does not do; InfluxDB's errors otherwise.
 */
export async function executeAdmin(
  store: QueryStore,
  stmt: AdminStatement,
): Promise<ResultSeries[]> {
  switch (stmt.kind) {
    case "create_database":
      await createDatabase(store, stmt);
      return [];
    case "show_subscriptions":
      return [];
    case "create_subscription":
      requirePolicy(store, stmt.database, stmt.retentionPolicy);
      throw new NotSupportedError(
        "CREATE SUBSCRIPTION (EpochNexus does not forward writes)",
        "read the data back with queries",
      );
    case "drop_subscription":
      requirePolicy(store, stmt.database, stmt.retentionPolicy);
      throw new NotFoundError("subscription not found");
    case "show_shards":
    case "show_shard_groups":
    case "drop_shard":
      throw new NotSupportedError(
        `${
          stmt.kind === "drop_shard"
            ? "DROP SHARD"
            : stmt.kind === "show_shards"
            ? "SHOW SHARDS"
            : "SHOW SHARD GROUPS"
        } (EpochNexus has no InfluxDB shard ids: its shards are time ranges of hash partitions)`,
        stmt.kind === "drop_shard"
          ? "remove data with DELETE or DROP SERIES, or let a retention policy expire it"
          : "GET /health and GET /metrics describe its storage",
      );
    case "show_stats":
    case "show_diagnostics":
      throw new NotSupportedError(
        `${stmt.kind === "show_stats" ? "SHOW STATS" : "SHOW DIAGNOSTICS"} (InfluxDB's Go ` +
          "runtime figures have no counterpart)",
        "EpochNexus reports its statistics at GET /metrics and GET /health",
      );
  }
}

function requireDatabase(store: QueryStore, db: string): void {
  if (!store.databases().includes(db)) throw new NotFoundError(`database not found: ${db}`);
}

function requirePolicy(store: QueryStore, db: string, rp: string): void {
  requireDatabase(store, db);
  if (!store.retentionPolicies(db).some((p) => p.name === rp)) {
    throw new NotFoundError(`retention policy not found: ${rp}`);
  }
}

/**
 * CREATE DATABASE, and with WITH its default policy (InfluxDB's defaults for what is not given:
 * `autogen`, infinite, one replica, the shard duration its duration implies). For an existing
 * database the same default policy is no change and another one a conflict, as in InfluxDB.
 */
async function createDatabase(
  store: QueryStore,
  stmt: Extract<Statement, { kind: "create_database" }>,
): Promise<void> {
  const policy = stmt.policy;
  if (policy === undefined) {
    await store.createDatabase(stmt.name);
    return;
  }
  const spec = {
    name: policy.name ?? "autogen",
    durationNs: policy.duration ?? 0n,
    shardGroupDurationNs: policy.shardDuration ?? 0n,
    replicaN: policy.replicaN ?? 1,
    isDefault: true,
  };
  if (store.databases().includes(stmt.name)) {
    const current = store.retentionPolicies(stmt.name).find((p) => p.isDefault);
    const same = current !== undefined && current.name === spec.name &&
      current.durationNs === spec.durationNs && current.replicaN === spec.replicaN &&
      (spec.shardGroupDurationNs === 0n ||
        current.shardGroupDurationNs === spec.shardGroupDurationNs);
    if (same) return;
    throw new ValidationError("retention policy conflicts with an existing policy");
  }
  if (!store.createRetentionPolicy || !store.alterRetentionPolicy || !store.dropRetentionPolicy) {
    throw new ValidationError(
      "CREATE DATABASE ... WITH is not supported by this store (it keeps data in memory only); " +
        "use a segment-storage data directory",
    );
  }
  await store.createDatabase(stmt.name);
  try {
    const made = store.defaultRetentionPolicy(stmt.name);
    if (made === spec.name) {
      await store.alterRetentionPolicy(stmt.name, made, {
        durationNs: spec.durationNs,
        shardGroupDurationNs: spec.shardGroupDurationNs,
        replicaN: spec.replicaN,
      });
    } else {
      await store.createRetentionPolicy(stmt.name, spec);
      await store.dropRetentionPolicy(stmt.name, made);
    }
  } catch (error) {
    // An invalid policy (a duration shorter than its shards) leaves no database behind.
    await store.dropDatabase(stmt.name);
    throw error;
  }
}
