/**
 * One process per data folder. Two processes on one folder would both accept writes into the
 * same WAL and catalog files, and after a restart acknowledged points and databases would be
 * gone. So the folder is locked before the storage engine opens it: an exclusive `flock` on
 * `<data_dir>/epochnexus.lock`, held for the life of the process. The kernel releases it when
 * the process ends in any way (kill -9 included), so a stale lock file never blocks a restart;
 * the pid written into it is only there to name the holder in the error.
 * @module
 */
import { EpochError } from "../core/mod.ts";

/** The lock file's name inside the data folder. */
export const LOCK_FILE_NAME = "epochnexus.lock";

/** The data folder is locked by another process (or another open in this one). */
export class DataDirLockedError extends EpochError {
  constructor(message: string, details: { dataDir: string; lockFile: string; pid?: number }) {
    super("failed_precondition", message, { details });
    this.name = "DataDirLockedError";
  }
}

/** A held lock; `release` closes the file, which drops the lock. */
export interface DataDirLock {
  readonly path: string;
  release(): void;
}

/**
 * Locks `dataDir` (creating it when missing) for this process.
 *
 * @example
 * ```ts
 * const lock = await lockDataDir("/var/lib/epochnexus");
 * try { await serve(); } finally { lock.release(); }
 * ```
 * @throws {DataDirLockedError} when another process holds the folder, naming the folder, the
 *   lock file and the holder's pid when it recorded one.
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  await Deno.mkdir(dataDir, { recursive: true });
  const path = `${dataDir.replace(/\/+$/, "") || "/"}/${LOCK_FILE_NAME}`;
  // Not truncated on open: the holder's pid must survive a refused attempt.
  const file = await Deno.open(path, { read: true, write: true, create: true });
  let locked = false;
  try {
    locked = await file.tryLock(true);
  } catch (error) {
    file.close();
    throw error;
  }
  if (!locked) {
    const holder = await holderPid(file);
    file.close();
    throw new DataDirLockedError(
      `data folder ${dataDir} is in use by another EpochNexus process` +
        `${holder === undefined ? "" : ` (pid ${holder})`}: it holds the lock on ${path}. ` +
        `Stop that process, or give this one its own folder (EPOCHNEXUS_DATA_DIR).`,
      { dataDir, lockFile: path, pid: holder },
    );
  }
  await file.truncate(0);
  const text = new TextEncoder().encode(`${Deno.pid}\n`);
  for (let at = 0; at < text.length;) at += await file.write(text.subarray(at));
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      file.close(); // closing the descriptor drops the flock
    },
  };
}

async function holderPid(file: Deno.FsFile): Promise<number | undefined> {
  try {
    const buffer = new Uint8Array(32);
    await file.seek(0, Deno.SeekMode.Start);
    const n = (await file.read(buffer)) ?? 0;
    const pid = Number(new TextDecoder().decode(buffer.subarray(0, n)).trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
