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

/** The primitives {@linkcode makeDirectoryDurably} is made of. */
export interface DirectoryOps {
  /** True when something exists at `path`. */
  exists(path: string): Promise<boolean>;
  /** Creates one folder whose parent exists; no error when it exists already (a race). */
  makeOne(path: string): Promise<void>;
  /** fsyncs a folder, making the entries created in it durable. */
  syncDir(path: string): Promise<void>;
}

/**
 * Creates `path` and its missing parents, each made durable by an fsync of the folder holding
 * it: a new folder is an entry in its parent, and until the parent is fsynced a power loss may
 * take the folder away with every file in it, however well those files were fsynced. Top down,
 * so that a crash in between leaves a durable prefix of the chain. Nothing is done (one `exists`)
 * when `path` exists.
 */
export async function makeDirectoryDurably(fs: DirectoryOps, path: string): Promise<void> {
  const missing: string[] = [];
  for (
    let p = trimSlashes(path);
    p !== "/" && p !== "." && !(await fs.exists(p));
    p = parentDir(p)
  ) {
    missing.push(p);
  }
  for (const p of missing.reverse()) {
    await fs.makeOne(p);
    await fs.syncDir(parentDir(p));
  }
}

function trimSlashes(path: string): string {
  let end = path.length;
  while (end > 1 && path[end - 1] === "/") end--;
  return path.slice(0, end);
}
