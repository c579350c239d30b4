/**
 * An in-memory {@linkcode FileSystem} that models what a crash does to a real disk, for the log
 * storage's crash tests:
 *
 * - file data written since the file's last `datasync` may be lost, partly kept (a torn tail),
 *   or followed by zeros (preallocated blocks);
 * - creations, removals and renames not yet made durable by `syncDir` may be undone;
 * - `writeFileAtomic` is atomic and durable (temp file, fsync, rename, fsync dir).
 *
 * `failAfter(n)` makes the n-th next operation (and all later ones) throw, to stop a caller in
 * the middle of a multi-step write; `crash(rng)` then produces the disk a restart would see.
 * @module
 */

import type { FileHandle, FileInfo, FileSystem, OpenOptions } from "../../core/mod.ts";

interface MemFile {
  data: Uint8Array;
  synced: Uint8Array;
}

/** Thrown by every operation after the injected failure point. */
export class CrashedError extends Error {
  constructor() {
    super("simulated crash");
    this.name = "CrashedError";
  }
}

function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

/** The crashable in-memory file system. */
export class MemFileSystem implements FileSystem {
  /** Current view (what a running process sees). */
  private files = new Map<string, MemFile>();
  /** Durable directory entries: path -> file (the same object as in `files` when linked). */
  private durableNames = new Map<string, MemFile>();
  private dirs = new Set<string>(["/"]);
  private opsLeft = Infinity;
  syncs = 0;

  /** Operations from now on fail after `n` more succeed. */
  failAfter(n: number): void {
    this.opsLeft = n;
  }

  private op(): void {
    if (this.opsLeft <= 0) throw new CrashedError();
    this.opsLeft--;
  }

  /** The disk after a crash: a new file system (use it to reopen). */
  crash(random: () => number): MemFileSystem {
    const next = new MemFileSystem();
    next.dirs = new Set(this.dirs);
    const names = new Map<string, MemFile>();
    // Directory operations that were not synced: each is undone with probability 1/2.
    const all = new Set([...this.files.keys(), ...this.durableNames.keys()]);
    for (const path of [...all].sort()) {
      const now = this.files.get(path);
      const durable = this.durableNames.get(path);
      const file = now === durable ? now : random() < 0.5 ? durable : now;
      if (file) names.set(path, file);
    }
    for (const [path, f] of names) {
      let data = f.synced;
      if (!sameBytes(f.data, f.synced) && random() < 0.7) {
        // Some of the unsynced tail made it: a prefix of the current content past the common part.
        let common = 0;
        while (
          common < f.data.length && common < f.synced.length && f.data[common] === f.synced[common]
        ) {
          common++;
        }
        const keep = common + Math.floor(random() * (f.data.length - common + 1));
        data = f.data.slice(0, keep);
        if (random() < 0.2) data = concat(data, new Uint8Array(1 + Math.floor(random() * 64)));
      }
      const copy = { data: data.slice(), synced: data.slice() };
      next.files.set(path, copy);
      next.durableNames.set(path, copy);
    }
    return next;
  }

  open(path: string, options: OpenOptions): Promise<FileHandle> {
    this.op();
    let f = this.files.get(path);
    if (!f) {
      if (!options.create) return Promise.reject(new Error(`ENOENT: ${path}`));
      f = { data: new Uint8Array(0), synced: new Uint8Array(0) };
      this.files.set(path, f);
    } else if (options.truncate) {
      f.data = new Uint8Array(0);
    }
    return Promise.resolve(new MemHandle(this, f, options.append ? f.data.length : 0));
  }

  readFile(path: string): Promise<Uint8Array> {
    this.op();
    const f = this.files.get(path);
    return f ? Promise.resolve(f.data.slice()) : Promise.reject(new Error(`ENOENT: ${path}`));
  }

  writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
    this.op();
    const f = { data: data.slice(), synced: data.slice() };
    this.files.set(path, f);
    this.durableNames.set(path, f);
    return Promise.resolve();
  }

  rename(from: string, to: string): Promise<void> {
    this.op();
    const f = this.files.get(from);
    if (!f) return Promise.reject(new Error(`ENOENT: ${from}`));
    this.files.delete(from);
    this.files.set(to, f);
    return Promise.resolve();
  }

  remove(path: string, options?: { recursive?: boolean }): Promise<void> {
    this.op();
    this.files.delete(path);
    if (options?.recursive) {
      for (const p of [...this.files.keys()]) if (p.startsWith(`${path}/`)) this.files.delete(p);
    }
    return Promise.resolve();
  }

  readDir(path: string): Promise<string[]> {
    this.op();
    const prefix = `${path}/`;
    const names = [...this.files.keys()]
      .filter((p) => p.startsWith(prefix) && !p.slice(prefix.length).includes("/"))
      .map((p) => p.slice(prefix.length));
    return Promise.resolve(names.sort());
  }

  mkdir(path: string): Promise<void> {
    this.op();
    this.dirs.add(path);
    return Promise.resolve();
  }

  stat(path: string): Promise<FileInfo | null> {
    this.op();
    const f = this.files.get(path);
    if (f) return Promise.resolve({ size: f.data.length, isFile: true, isDirectory: false });
    if (this.dirs.has(path)) return Promise.resolve({ size: 0, isFile: false, isDirectory: true });
    return Promise.resolve(null);
  }

  /** No symlinks in memory: a path that exists is its own real path. */
  realPath(path: string): Promise<string | null> {
    this.op();
    return Promise.resolve(this.files.has(path) || this.dirs.has(path) ? path : null);
  }

  syncDir(path: string): Promise<void> {
    this.op();
    const prefix = `${path}/`;
    for (const p of [...this.durableNames.keys()]) {
      if (p.startsWith(prefix) && !this.files.has(p)) this.durableNames.delete(p);
    }
    for (const [p, f] of this.files) if (dirOf(p) === path) this.durableNames.set(p, f);
    return Promise.resolve();
  }

  /** @internal */
  check(): void {
    this.op();
  }
}

class MemHandle implements FileHandle {
  constructor(
    private readonly fs: MemFileSystem,
    private readonly f: MemFile,
    private pos: number,
  ) {}

  write(data: Uint8Array): Promise<number> {
    this.fs.check();
    const end = this.pos + data.length;
    if (end > this.f.data.length) {
      const grown = new Uint8Array(end);
      grown.set(this.f.data);
      this.f.data = grown;
    } else {
      this.f.data = this.f.data.slice();
    }
    this.f.data.set(data, this.pos);
    this.pos = end;
    return Promise.resolve(data.length);
  }

  read(buffer: Uint8Array): Promise<number | null> {
    this.fs.check();
    if (this.pos >= this.f.data.length) return Promise.resolve(null);
    const n = Math.min(buffer.length, this.f.data.length - this.pos);
    buffer.set(this.f.data.subarray(this.pos, this.pos + n));
    this.pos += n;
    return Promise.resolve(n);
  }

  seek(offset: number, whence: "start" | "current" | "end"): Promise<number> {
    this.fs.check();
    this.pos = whence === "start"
      ? offset
      : whence === "current"
      ? this.pos + offset
      : this.f.data.length + offset;
    return Promise.resolve(this.pos);
  }

  datasync(): Promise<void> {
    this.fs.check();
    this.fs.syncs++;
    this.f.synced = this.f.data.slice();
    return Promise.resolve();
  }

  truncate(length: number): Promise<void> {
    this.fs.check();
    this.f.data = this.f.data.slice(0, length);
    return Promise.resolve();
  }

  close(): void {}
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
