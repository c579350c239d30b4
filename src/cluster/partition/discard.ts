/**
 * Deleting the folder of a replica moved away from this node, so that a power loss cannot leave a
 * part of it where the group may be opened again.
 * @module
 */
import type { FileSystem } from "../../core/mod.ts";

/** A dropped replica's folder is moved to `partitions/<group id>.dropped` before it is deleted. */
export const DISCARDED_SUFFIX = ".dropped";

/**
 * Takes a replica's folder out of its place in one durable step (a rename, its parent folder
 * fsynced), then deletes it. A recursive removal cut by a power loss may keep any part of the
 * folder, e.g. `catalog.json` naming segments whose files are gone: a replica of the group
 * opened there again would trust that catalog, skip the entries it claims flushed, and hold
 * less than its group. A `.dropped` folder a crash leaves is deleted by the next call or by
 * {@linkcode removeDiscardedFolders}.
 */
export async function discardReplicaFolder(
  fs: FileSystem,
  partitionsDir: string,
  groupId: number,
): Promise<void> {
  const dir = `${partitionsDir}/${groupId}`;
  const discarded = `${dir}${DISCARDED_SUFFIX}`;
  await fs.remove(discarded, { recursive: true });
  if (await fs.stat(dir)) {
    await fs.rename(dir, discarded);
    await fs.syncDir(partitionsDir);
  }
  await fs.remove(discarded, { recursive: true });
}

/** Deletes the dropped replicas' folders a crash left in `partitionsDir` (on start). */
export async function removeDiscardedFolders(fs: FileSystem, partitionsDir: string): Promise<void> {
  for (const name of await fs.readDir(partitionsDir)) {
    if (name.endsWith(DISCARDED_SUFFIX)) {
      await fs.remove(`${partitionsDir}/${name}`, { recursive: true });
    }
  }
}
