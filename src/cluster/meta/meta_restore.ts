/**
 * Restoring metadata from a backup: the commands that recreate a backed-up cluster's databases
 * (partitions, hash, replication), retention policies (durations, the default), field types and,
 * for a whole restore, its users, grants, API tokens and measurement schemas, in a cluster that
 * does not have them.
 * Planned here from the two states, pure; the node proposes the commands one by one.
 * @module
 */
import { ValidationError } from "../../core/mod.ts";
import type { DatabaseMeta, MetaCommand, MetaState } from "./meta_state.ts";

/** What to restore. */
export interface RestoreSelection {
  /** Databases to restore (all of the backup's when absent). */
  databases?: readonly string[];
  /** Backed-up name -> name in this cluster. */
  rename?: ReadonlyMap<string, string>;
  /** Also restore users, grants and tokens (a whole restore). */
  users: boolean;
  /** Existing databases of this cluster that hold nothing and may be restored into. */
  emptyExisting: ReadonlySet<string>;
}

/** The plan of a metadata restore. */
export interface RestorePlan {
  commands: MetaCommand[];
  /** Backed-up name -> restored name, for every database restored. */
  databases: Map<string, string>;
  /** What was left as it is, and why (a user that exists already ...). */
  skipped: string[];
}

/**
 * Plans the commands that restore `backup` into `current`.
 * @throws {ValidationError} (409) for a database that exists here and holds data, (404) for a
 * database the backup lacks.
 */
export function planRestore(
  backup: MetaState,
  current: MetaState,
  selection: RestoreSelection,
): RestorePlan {
  const names = selection.databases ?? [...backup.databases.keys()].sort();
  const databases = new Map<string, string>();
  const commands: MetaCommand[] = [];
  const skipped: string[] = [];
  for (const name of names) {
    const db = backup.databases.get(name);
    if (!db) {
      throw new ValidationError(`the backup holds no database ${name}`, { httpStatus: 404 });
    }
    const target = selection.rename?.get(name) ?? name;
    const existing = current.databases.get(target);
    if (existing && !selection.emptyExisting.has(target)) {
      throw new ValidationError(
        `database ${target} exists and holds data: restore into an empty cluster, drop it ` +
          `first, or restore under a new name (--newdb)`,
        { httpStatus: 409, details: { database: target } },
      );
    }
    databases.set(name, target);
    commands.push(...databaseCommands(db, target, existing));
  }
  if (selection.users) {
    for (const u of backup.users.users.values()) {
      if (current.users.users.has(u.name)) {
        skipped.push(`user ${u.name} exists here and was left as it is`);
        continue;
      }
      commands.push({
        op: "create_user",
        name: u.name,
        passwordHash: u.passwordHash,
        admin: u.admin,
      });
      for (const [db, privilege] of u.privileges) {
        const target = databases.get(db);
        if (target !== undefined) {
          commands.push({ op: "grant", name: u.name, database: target, privilege });
        }
      }
    }
    for (const t of backup.users.tokens.values()) {
      if (current.users.tokens.has(t.id)) {
        skipped.push(`token ${t.id} exists here and was left as it is`);
        continue;
      }
      const scoped: Record<string, 0 | 1 | 2 | 3> = {};
      for (const [db, bits] of Object.entries(t.databases)) {
        const target = databases.get(db);
        if (target !== undefined) scoped[target] = bits;
      }
      commands.push({ op: "create_token", token: { ...t, databases: scoped } });
    }
    // Measurement schemas are cluster-wide, not a database's: a whole restore brings them back.
    for (const [measurement, entry] of backup.schemas.entries) {
      if (current.schemas.entries.has(measurement)) {
        skipped.push(`the schema of ${measurement} exists here and was left as it is`);
        continue;
      }
      commands.push({ op: "set_schema", measurement, entry, ifAbsent: true });
    }
  }
  return { commands, databases, skipped };
}

/** The commands that make `target` what `db` was (creating it unless it exists empty). */
function databaseCommands(
  db: DatabaseMeta,
  target: string,
  existing: DatabaseMeta | undefined,
): MetaCommand[] {
  const out: MetaCommand[] = [];
  if (!existing) {
    out.push({
      op: "create_database",
      name: target,
      partitions: db.partitions.length,
      hash: db.hash,
      hashKey: db.hashKey,
      replicationFactor: db.replicationFactor,
    });
  }
  for (const rp of db.retentionPolicies.values()) {
    const isDefault = rp.name === db.defaultRetentionPolicy;
    const has = existing?.retentionPolicies.has(rp.name) || (!existing && rp.name === "autogen");
    out.push(
      has
        ? {
          op: "alter_retention_policy",
          database: target,
          name: rp.name,
          durationNs: rp.durationNs.toString(),
          shardGroupDurationNs: rp.shardGroupDurationNs.toString(),
          replicaN: rp.replicaN,
          isDefault,
        }
        : {
          op: "create_retention_policy",
          database: target,
          name: rp.name,
          durationNs: rp.durationNs.toString(),
          shardGroupDurationNs: rp.shardGroupDurationNs.toString(),
          replicaN: rp.replicaN,
          isDefault,
        },
    );
  }
  for (const [measurement, types] of db.fieldTypes) {
    out.push({
      op: "declare_fields",
      database: target,
      measurement,
      fields: Object.fromEntries(types),
    });
  }
  return out;
}
