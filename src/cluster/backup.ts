/**
 * A cluster's side of backup and restore: the metadata as of a read barrier (the backup's
 * starting point), each partition's files from one of its replicas (`ClusterNode.
 * backupPartition`), and the metadata of a backup recreated in this cluster.
 * @module
 */
import { EpochError } from "../core/mod.ts";
import { MetaState } from "./meta/meta_state.ts";
import { planRestore, type RestoreSelection } from "./meta/meta_restore.ts";
import type { ClusterNode } from "./node.ts";

/** The metadata of a backup. */
export interface BackupMetadata {
  version: 1;
  clusterId: string;
  /** The node that answered. */
  nodeId: number;
  /** When the metadata was read (ms since the epoch): every write acknowledged before is in. */
  takenMs: number;
  /** The metadata snapshot (`MetaState.snapshot()`), as JSON. */
  meta: unknown;
  /** Every database's partitions (their Raft group ids name the backup's folders). */
  databases: { name: string; partitions: { index: number; groupId: number }[] }[];
}

/**
 * The metadata as of now, confirmed current with the metadata leader first.
 * @throws {EpochError} `unavailable` when the metadata group has no quorum.
 */
export async function backupMetadata(node: ClusterNode, nowMs: number): Promise<BackupMetadata> {
  await node.meta.sync();
  const state = node.meta.state;
  return {
    version: 1,
    clusterId: node.clusterId,
    nodeId: node.nodeId,
    takenMs: nowMs,
    meta: JSON.parse(new TextDecoder().decode(state.snapshot())),
    databases: [...state.databases.values()].map((db) => ({
      name: db.name,
      partitions: db.partitions.map((p) => ({ index: p.index, groupId: p.groupId })),
    })),
  };
}

/** What a metadata restore did. */
export interface RestoreOutcome {
  /** Backed-up name -> restored name. */
  databases: Record<string, string>;
  commands: number;
  skipped: string[];
}

/**
 * Recreates a backup's databases (and users and schemas, for a whole restore) in this cluster, then waits
 * until this node has opened its replicas of their partitions.
 * @throws {ValidationError} for a database that exists here with data, or that the backup lacks.
 */
export async function restoreMetadata(
  node: ClusterNode,
  meta: unknown,
  selection: RestoreSelection,
): Promise<RestoreOutcome> {
  const backup = new MetaState();
  try {
    backup.restore(new TextEncoder().encode(JSON.stringify(meta)));
  } catch (error) {
    throw new EpochError("invalid_argument", `the backup's metadata does not load: ${error}`);
  }
  await node.meta.sync();
  const plan = planRestore(backup, node.meta.state, selection);
  for (const command of plan.commands) {
    const result = await node.proposeMeta(command);
    if (!result.ok) {
      throw new EpochError(
        "failed_precondition",
        `restore stopped at ${command.op}: ${result.error}`,
      );
    }
  }
  for (const target of plan.databases.values()) {
    for (const p of node.meta.state.databases.get(target)?.partitions ?? []) {
      await node.openReplica(p.groupId);
    }
  }
  return {
    databases: Object.fromEntries(plan.databases),
    commands: plan.commands.length,
    skipped: plan.skipped,
  };
}
