/**
 * The real {@linkcode FileSystem}: Deno's file APIs. Every fsync the durability contract
 * needs goes through here.
 * @module
 */
import type { FileHandle, FileInfo, FileSystem, OpenOptions } from "../core/mod.ts";
import { makeDirectoryDurably, StorageError, writeFileAtomically } from "../core/mod.ts";

/** Wraps an OS error with the path and operation, keeping ENOSPC recognisable. */
function storageError(op: string, path: string, error: unknown): StorageError {
  const text = error instanceof Error ? error.message : String(error);
  const full = /ENOSPC|No space left/i.test(text);
  return new StorageError(
    full ? `disk full: cannot ${op} ${path}: ${text}` : `cannot ${op} ${path}: ${text}`,
    { cause: error, details: { path, diskFull: full } },
  );
}

/** Files opened through {@linkcode denoFileSystem} and not closed yet (`/metrics`). */
let openFiles = 0;

/**
 * Files this process holds open through its file system (segments, logs, the data folder's
 * lock aside). Deno refuses to list `/proc/self/fd` without `--allow-all`, so the process counts
 * its own.
 */
export function openFileCount(): number {
  return openFiles;
}

class DenoFileHandle implements FileHandle {
  #open = true;
  constructor(private readonly file: Deno.FsFile, private readonly path: string) {
    openFiles++;
  }
  async write(data: Uint8Array): Promise<number> {
    let written = 0;
    try {
      while (written < data.length) written += await this.file.write(data.subarray(written));
    } catch (error) {
      throw storageError("write", this.path, error);
    }
    return written;
  }
  read(buffer: Uint8Array): Promise<number | null> {
    return this.file.read(buffer);
  }
  readAtSync(buffer: Uint8Array, position: number): number {
    this.file.seekSync(position, Deno.SeekMode.Start);
    let got = 0;
    while (got < buffer.length) {
      const n = this.file.readSync(buffer.subarray(got));
      if (n === null || n === 0) break;
      got += n;
    }
    return got;
  }
  seek(offset: number, whence: "start" | "current" | "end"): Promise<number> {
    const mode = whence === "start"
      ? Deno.SeekMode.Start
      : whence === "current"
      ? Deno.SeekMode.Current
      : Deno.SeekMode.End;
    return this.file.seek(offset, mode);
  }
  async datasync(): Promise<void> {
    try {
      await this.file.syncData();
    } catch (error) {
      throw storageError("fsync", this.path, error);
    }
  }
  async truncate(length: number): Promise<void> {
    await this.file.truncate(length);
  }
  close(): void {
    if (this.#open) {
      this.#open = false;
      openFiles--;
    }
    try {
      this.file.close();
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  }
}

/** The file system of the machine, through `Deno.*`. */
export const denoFileSystem: FileSystem = {
  async open(path: string, options: OpenOptions): Promise<FileHandle> {
    try {
      return new DenoFileHandle(await Deno.open(path, options), path);
    } catch (error) {
      throw storageError("open", path, error);
    }
  },
  readFile(path: string): Promise<Uint8Array> {
    return Deno.readFile(path);
  },
  /** The steps of core's {@linkcode writeFileAtomically}, which crash tests run on their model. */
  async writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
    try {
      await writeFileAtomically(denoFileSystem, path, data);
    } catch (error) {
      throw error instanceof StorageError ? error : storageError("write", path, error);
    }
  },
  rename(from: string, to: string): Promise<void> {
    return Deno.rename(from, to);
  },
  async remove(path: string, options?: { recursive?: boolean }): Promise<void> {
    try {
      await Deno.remove(path, options);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  },
  async readDir(path: string): Promise<string[]> {
    const names: string[] = [];
    try {
      for await (const entry of Deno.readDir(path)) names.push(entry.name);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return [];
      throw error;
    }
    return names.sort();
  },
  /** The steps of core's {@linkcode makeDirectoryDurably}: each new folder's parent is fsynced. */
  async mkdir(path: string): Promise<void> {
    try {
      await makeDirectoryDurably({
        exists: async (p) => (await denoFileSystem.stat(p)) !== null,
        async makeOne(p) {
          try {
            await Deno.mkdir(p);
          } catch (error) {
            if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
          }
        },
        syncDir: (p) => denoFileSystem.syncDir(p),
      }, path);
    } catch (error) {
      throw storageError("create directory", path, error);
    }
  },
  async stat(path: string): Promise<FileInfo | null> {
    try {
      const info = await Deno.stat(path);
      return {
        size: info.size,
        isFile: info.isFile,
        isDirectory: info.isDirectory,
        mtimeMs: info.mtime?.getTime(),
      };
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
  },
  async realPath(path: string): Promise<string | null> {
    try {
      return await Deno.realPath(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
  },
  async syncDir(path: string): Promise<void> {
    const dir = await Deno.open(path, { read: true });
    try {
      await dir.sync();
    } finally {
      dir.close();
    }
  },
};

/**
 * Makes `to` a hard link to `from` (the same file under a second name: an incremental backup
 * keeps an unchanged segment this way), or copies it where links are refused (another file
 * system). The caller fsyncs the folder holding `to`.
 */
export async function linkOrCopyFile(from: string, to: string): Promise<void> {
  try {
    await Deno.link(from, to);
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) throw storageError("link", to, error);
    try {
      await Deno.copyFile(from, to);
      const file = await Deno.open(to, { write: true });
      try {
        await file.syncData();
      } finally {
        file.close();
      }
    } catch (copyError) {
      throw storageError("copy", `${from} to ${to}`, copyError);
    }
  }
}
