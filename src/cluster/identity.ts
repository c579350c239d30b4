/**
 * A node's identity, kept in `<data_dir>/cluster.json`: the cluster it belongs to and its id
 * there. Written once (atomically) when the node founds or joins a cluster; a node whose folder
 * names another cluster than the one it is asked to join refuses to start.
 * @module
 */
import { CorruptionError, type FileSystem, ValidationError } from "../core/mod.ts";

/** What `cluster.json` holds. */
export interface StoredIdentity {
  clusterId: string;
  nodeId: number;
  /**
   * The secret every node-to-node call presents (generated when the cluster is founded, handed
   * to a joining node in its join answer). Absent in a version 1 file (written before it).
   */
  secret?: string;
}

const FILE = "cluster.json";

/** The identity stored in a data folder, or undefined for a folder that has none yet. */
export async function loadIdentity(
  fs: FileSystem,
  dataDir: string,
): Promise<StoredIdentity | undefined> {
  const path = `${dataDir}/${FILE}`;
  if (!(await fs.stat(path))) return undefined;
  let parsed: { version?: number; clusterId?: unknown; nodeId?: unknown; secret?: unknown };
  try {
    parsed = JSON.parse(new TextDecoder().decode(await fs.readFile(path)));
  } catch (error) {
    throw new CorruptionError(path, 0, `unreadable cluster identity: ${error}`);
  }
  if (
    (parsed.version !== 1 && parsed.version !== 2) || typeof parsed.clusterId !== "string" ||
    (parsed.secret !== undefined && typeof parsed.secret !== "string") ||
    !Number.isSafeInteger(parsed.nodeId) || (parsed.nodeId as number) < 1
  ) {
    throw new CorruptionError(path, 0, `invalid cluster identity ${JSON.stringify(parsed)}`);
  }
  const identity: StoredIdentity = { clusterId: parsed.clusterId, nodeId: parsed.nodeId as number };
  if (typeof parsed.secret === "string") identity.secret = parsed.secret;
  return identity;
}

/** Stores the identity (atomically, durably). */
export async function saveIdentity(
  fs: FileSystem,
  dataDir: string,
  identity: StoredIdentity,
): Promise<void> {
  await fs.mkdir(dataDir);
  const text = JSON.stringify({ version: 2, ...identity }, null, 2) + "\n";
  await fs.writeFileAtomic(`${dataDir}/${FILE}`, new TextEncoder().encode(text));
}

/**
 * Refuses a folder that belongs to another cluster than the one its node is asked to join.
 * @throws {ValidationError} naming both clusters and the folder.
 */
export function checkSameCluster(dataDir: string, stored: string, joining: string): void {
  if (stored === joining) return;
  throw new ValidationError(
    `data folder ${dataDir} belongs to cluster ${stored}, but the node at the join address is ` +
      `in cluster ${joining}: start it with an empty data folder to join that cluster, or ` +
      `without EPOCHNEXUS_JOIN_ADDRESS to run the cluster it belongs to`,
  );
}
