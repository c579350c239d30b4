/**
 * The multi-step file operations whose order is what makes them crash-safe, written once over
 * primitive operations: the runtime's {@linkcode FileSystem} runs them on `Deno.*`, and the
 * crash-simulating file system of the tests (`core/testing/crash_fs.ts`) runs the very same
 * steps on its model of a disk, so a test that cuts power between two steps tests these steps.
 * @module
 */
import type { FileSystem } from "./interfaces.ts";

/** The folder holding `path` ("/" for a top-level entry, "." for a bare relative name). */
export function parentDir(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? (i === 0 ? "/" : ".") : path.slice(0, i);
}

/** The primitives {@linkcode writeFileAtomically} is made of. */
export type AtomicWriteOps = Pick<FileSystem, "open" | "rename" | "remove" | "syncDir">;

/**
 * Replaces `path` with `data` so that a crash at any moment leaves the old content or the new,
 * never a mix: the data goes to `path.tmp` and is fsynced, the temp file is renamed over `path`
 * (atomic), then the folder is fsynced so that the rename itself survives a power loss. Without
 * the first fsync the renamed file may come back empty or torn; without the second the old file
 * (or none) may come back after the caller moved on (deleted the log the new file replaces).
 * A failed write removes the temp file and rethrows.
 */
export async function writeFileAtomically(
  fs: AtomicWriteOps,
  path: string,
  data: Uint8Array,
): Promise<void> {
  const temp = `${path}.tmp`;
  try {
    const file = await fs.open(temp, { write: true, create: true, truncate: true });
    try {
      await file.write(data);
      await file.datasync();
    } finally {
      file.close();
    }
    await fs.rename(temp, path);
    await fs.syncDir(parentDir(path));
  } catch (error) {
    await fs.remove(temp).catch(() => {});
    throw error;
  }
}
