/**
 * A node's disk in the simulation: a {@linkcode CrashFileSystem} whose fsyncs take virtual
 * time. A slow disk makes them take longer, so a crash falls inside more of them (what an
 * fsync under way had not made durable is lost, or torn, by `CrashFileSystem.crash`).
 * @module
 */
import {
  type FileHandle,
  type FileInfo,
  type FileSystem,
  type OpenOptions,
  writeFileAtomically,
} from "../../src/core/mod.ts";
import type { CrashFileSystem } from "../../src/core/testing/crash_fs.ts";
import type { Process, SimScheduler } from "./sim_scheduler.ts";

/** What a run may break on purpose (to show the checks catch it). */
export interface DiskFaults {
  /** The shared Raft log's fdatasyncs (files under `raft/`) make nothing durable. */
  skipLogFsync?: boolean;
}

/** One incarnation's view of its node's disk. */
export class SimDisk implements FileSystem {
  /** Virtual ms of one fsync: [min, max]. */
  fsyncMs: [number, number] = [0, 2];
  fsyncs = 0;

  constructor(
    readonly disk: CrashFileSystem,
    private readonly sched: SimScheduler,
    private readonly owner: Process,
    private readonly faults: DiskFaults = {},
  ) {}

  /** Waits one fsync's latency; never returns once the process died (it was killed inside). */
  async #fsyncDelay(): Promise<void> {
    this.fsyncs++;
    const [lo, hi] = this.fsyncMs;
    await this.sched.sleep(this.owner)(this.sched.rng.int(lo, hi));
  }

  async open(path: string, options: OpenOptions): Promise<FileHandle> {
    const handle = await this.disk.open(path, options);
    const skip = this.faults.skipLogFsync === true && path.includes("/raft/");
    return {
      write: (data) => handle.write(data),
      read: (buffer) => handle.read(buffer),
      seek: (offset, whence) => handle.seek(offset, whence),
      readAtSync: (buffer, position) => handle.readAtSync!(buffer, position),
      datasync: async () => {
        await this.#fsyncDelay();
        if (!skip) await handle.datasync();
      },
      truncate: (length) => handle.truncate(length),
      close: () => handle.close(),
    };
  }

  readFile(path: string): Promise<Uint8Array> {
    return this.disk.readFile(path);
  }

  /** The runtime's steps on this disk, so the file's fsync takes time too. */
  writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
    return writeFileAtomically(this, path, data);
  }

  rename(from: string, to: string): Promise<void> {
    return this.disk.rename(from, to);
  }

  remove(path: string, options?: { recursive?: boolean }): Promise<void> {
    return this.disk.remove(path, options);
  }

  readDir(path: string): Promise<string[]> {
    return this.disk.readDir(path);
  }

  mkdir(path: string): Promise<void> {
    return this.disk.mkdir(path);
  }

  stat(path: string): Promise<FileInfo | null> {
    return this.disk.stat(path);
  }

  realPath(path: string): Promise<string | null> {
    return this.disk.realPath(path);
  }

  async syncDir(path: string): Promise<void> {
    await this.#fsyncDelay();
    await this.disk.syncDir(path);
  }
}
