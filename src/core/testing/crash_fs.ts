/**
 * An in-memory {@linkcode FileSystem} for crash tests. It keeps what a disk has made durable
 * apart from what the running process sees, and {@linkcode CrashFileSystem.crash} returns the
 * disk a restart would find after a power loss:
 *
 * - File data written since the file's last `datasync` is replayed in order up to a random
 *   point: all of it, none of it, a prefix of the writes, the next write cut anywhere. The last
 *   page of a cut write may be torn: each of its 512-byte sectors holds the new bytes or what was
 *   there before (zeros past the durable end, the old bytes where the file was rewritten in
 *   place). The file size may have been committed ahead of the data (the rest of that write
 *   reads as before: zeros past the old end), as XFS and preallocated blocks do.
 * - Directory entries (a file created, a folder made, a rename, a removal) are durable once the
 *   folder holding them is fsynced (`syncDir`); until then a crash keeps either a prefix of them
 *   in order (a journal) or any subset (no ordering promise). A rename is atomic. Entries under a
 *   folder that did not survive are gone with it. A folder removed and made again at the same
 *   path is another folder: what was done in the old one never reaches the new one.
 * - `writeFileAtomic` and `mkdir` run the runtime's own steps ({@linkcode writeFileAtomically},
 *   {@linkcode makeDirectoryDurably}) on these primitives, so a crash can fall between any two.
 *
 * Random garbage is not invented: a journaling file system never exposes another file's blocks,
 * so the only foreign bytes a crash leaves are a file's own older content.
 *
 * Every call that changes the disk (create, write, truncate, datasync, rename, remove, mkdir,
 * syncDir) is one *mutation*, counted in {@linkcode CrashFileSystem.mutations} and described in
 * `trace`. `failAfter(n)` cuts the power after n more mutations: from then on every call throws
 * {@linkcode CrashedError}. A workload run once to count its mutations can so be cut at each of
 * them in turn, deterministically; `crash(random)` is deterministic for a seeded `random`.
 * @module
 */

import type { FileHandle, FileInfo, FileSystem, OpenOptions } from "../interfaces.ts";
import { StorageError } from "../errors.ts";
import { makeDirectoryDurably, parentDir, writeFileAtomically } from "../file_steps.ts";
import { SECTOR_BYTES } from "../torn_write.ts";

/** The unit the kernel writes back; a crash may tear one. */
export const PAGE_BYTES = 4096;

/** Thrown by every call once the power is cut. */
export class CrashedError extends Error {
  constructor() {
    super("simulated power loss");
    this.name = "CrashedError";
  }
}

/** A growable byte array whose bytes past `length` are always zero. */
class Bytes {
  buf = new Uint8Array(0);
  length = 0;

  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  copy(): Bytes {
    const out = new Bytes();
    out.buf = this.buf.slice(0, Math.max(this.length, 16));
    out.length = this.length;
    return out;
  }

  write(offset: number, data: Uint8Array): void {
    const end = offset + data.length;
    this.#reserve(end);
    this.buf.set(data, offset);
    if (end > this.length) this.length = end;
  }

  resize(length: number): void {
    if (length < this.length) this.buf.fill(0, length, this.length);
    else this.#reserve(length);
    this.length = length;
  }

  #reserve(n: number): void {
    if (n <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(n, this.buf.length * 2, 64));
    grown.set(this.buf.subarray(0, this.length));
    this.buf = grown;
  }
}

type DataOp =
  | { kind: "write"; offset: number; bytes: Uint8Array }
  | { kind: "truncate"; length: number };

function applyData(bytes: Bytes, op: DataOp): void {
  if (op.kind === "write") bytes.write(op.offset, op.bytes);
  else bytes.resize(op.length);
}

/** A file: what the process sees, what the disk holds, and the changes in between. */
class Inode {
  readonly kind = "file";
  data = new Bytes();
  durable = new Bytes();
  pending: DataOp[] = [];

  change(op: DataOp): void {
    applyData(this.data, op);
    this.pending.push(op);
  }

  sync(): void {
    for (const op of this.pending) applyData(this.durable, op);
    this.pending = [];
  }

  /** The content after a crash. */
  crashed(random: () => number): Uint8Array {
    const out = this.durable.copy();
    const whole = Math.floor(random() * (this.pending.length + 1));
    for (let i = 0; i < whole; i++) applyData(out, this.pending[i]);
    const next = this.pending[whole];
    if (next?.kind === "write" && random() < 0.75) cutWrite(out, next, random);
    return out.view().slice();
  }
}

/** Applies the part of a write that reached the disk before the power went. */
function cutWrite(
  out: Bytes,
  op: { offset: number; bytes: Uint8Array },
  random: () => number,
): void {
  const kept = Math.floor(random() * (op.bytes.length + 1));
  const cutAt = op.offset + kept;
  const end = op.offset + op.bytes.length;
  // What the last page held before this write: a torn sector shows it again.
  const pageStart = Math.max(op.offset, Math.floor((cutAt - 1) / PAGE_BYTES) * PAGE_BYTES);
  const before = new Uint8Array(Math.max(0, cutAt - pageStart));
  before.set(out.view().subarray(pageStart, Math.min(cutAt, out.length)));
  if (kept > 0) out.write(op.offset, op.bytes.subarray(0, kept));
  if (kept > 0 && random() < 0.5) {
    for (let s = pageStart; s < cutAt; s = (Math.floor(s / SECTOR_BYTES) + 1) * SECTOR_BYTES) {
      const sectorEnd = Math.min(cutAt, (Math.floor(s / SECTOR_BYTES) + 1) * SECTOR_BYTES);
      if (random() < 0.5) {
        out.buf.set(before.subarray(s - pageStart, sectorEnd - pageStart), s);
      }
    }
  }
  // The size committed ahead of the data: the rest of the write reads as zeros.
  if (end > out.length && random() < 0.25) out.resize(end);
}

class Directory {
  readonly kind = "dir";
}

type Node = Inode | Directory;

/**
 * A change to directory entries, durable once a folder it touches is fsynced. Each names the
 * nodes it saw: a change is applied only where they are still in place, so one made inside a
 * folder that was since removed and made again at the same path (another inode on a real disk)
 * never touches the new folder's entries when a later fsync or a crash applies it.
 */
type DirOp =
  | { kind: "link"; path: string; node: Node; parent: Directory }
  | { kind: "unlink"; path: string; node: Node }
  | { kind: "rename"; from: string; to: string; node: Node; toParent: Directory };

function touches(op: DirOp, dir: string): boolean {
  if (op.kind === "rename") return parentDir(op.from) === dir || parentDir(op.to) === dir;
  return parentDir(op.path) === dir;
}

/** True when `path`'s folder in `names` is `parent`, or not there (yet) at all. */
function parentIs(names: Map<string, Node>, path: string, parent: Directory): boolean {
  const there = names.get(parentDir(path));
  return there === undefined || there === parent;
}

/** Removes `path` and, when it is a folder, what lies under it (gone with it). */
function unlinkTree(names: Map<string, Node>, path: string): void {
  if (names.get(path) instanceof Directory) {
    for (const p of [...names.keys()]) if (p.startsWith(`${path}/`)) names.delete(p);
  }
  names.delete(path);
}

function applyDirOp(names: Map<string, Node>, op: DirOp): void {
  if (op.kind === "link") {
    if (parentIs(names, op.path, op.parent)) names.set(op.path, op.node);
  } else if (op.kind === "unlink") {
    if (names.get(op.path) === op.node) unlinkTree(names, op.path);
  } else {
    const node = names.get(op.from);
    if (node !== op.node || !parentIs(names, op.to, op.toParent)) return;
    const moved = [...names].filter(([p]) => p.startsWith(`${op.from}/`));
    unlinkTree(names, op.from);
    unlinkTree(names, op.to);
    names.set(op.to, node);
    for (const [p, n] of moved) names.set(op.to + p.slice(op.from.length), n);
  }
}

function notFound(path: string): Error {
  return new Error(`ENOENT: no such file or directory: ${path}`);
}

/** The crashable in-memory file system. */
export class CrashFileSystem implements FileSystem {
  /** What a running process sees (the root is one folder in both views). */
  #names = new Map<string, Node>([["/", new Directory()]]);
  /** The directory entries on disk. */
  #durableNames = new Map<string, Node>(this.#names);
  #pendingDirOps: DirOp[] = [];
  #left = Infinity;
  #off = false;
  #free = Infinity;
  /** Mutations so far. */
  mutations = 0;
  /** One line per mutation when set to an array (for naming cut points). */
  trace: string[] | undefined;

  /** Cuts the power after `n` more mutations succeed (0: before the next one). */
  failAfter(n: number): void {
    this.#left = n;
    if (n <= 0) this.#off = true;
  }

  /** True once the power is cut. */
  get poweredOff(): boolean {
    return this.#off;
  }

  /**
   * Leaves `bytes` of free space: a write that does not fit stores what fits, then fails with a
   * disk-full {@linkcode StorageError} (as the runtime's does). Infinity restores the space.
   */
  setFreeBytes(bytes: number): void {
    this.#free = bytes;
  }

  /**
   * The disk after a power loss now, as a new file system (this one is left as it is, so one
   * cut can be crashed several ways). Deterministic for a deterministic `random`.
   */
  crash(random: () => number): CrashFileSystem {
    const names = new Map(this.#durableNames);
    const ops = this.#pendingDirOps;
    if (random() < 0.5) {
      const journaled = Math.floor(random() * (ops.length + 1));
      for (let i = 0; i < journaled; i++) applyDirOp(names, ops[i]);
    } else {
      for (const op of ops) if (random() < 0.5) applyDirOp(names, op);
    }
    const next = new CrashFileSystem();
    const copies = new Map<Inode, Inode>();
    // Parents before children: an entry whose folder did not survive is gone.
    for (const path of [...names.keys()].sort(byDepthThenName)) {
      if (path === "/") continue;
      if (!(next.#names.get(parentDir(path)) instanceof Directory)) continue;
      const node = names.get(path)!;
      if (node instanceof Directory) {
        next.#names.set(path, new Directory());
        continue;
      }
      let copy = copies.get(node);
      if (!copy) {
        copy = new Inode();
        const content = node.crashed(random);
        copy.data.write(0, content);
        copy.durable.write(0, content);
        copies.set(node, copy);
      }
      next.#names.set(path, copy);
    }
    next.#durableNames = new Map(next.#names);
    return next;
  }

  /** Paths of every file (not folder), sorted: for tests that look at the disk. */
  files(): string[] {
    return [...this.#names].filter(([, n]) => n instanceof Inode).map(([p]) => p).sort();
  }

  #check(): void {
    if (this.#off) throw new CrashedError();
  }

  /** Counts a mutation, or refuses it once the power is cut. */
  mutate(what: string): void {
    this.#check();
    if (this.#left <= 0) {
      this.#off = true;
      throw new CrashedError();
    }
    this.#left--;
    this.mutations++;
    this.trace?.push(what);
  }

  #dirOp(op: DirOp): void {
    applyDirOp(this.#names, op);
    this.#pendingDirOps.push(op);
  }

  #file(path: string): Inode {
    const node = this.#names.get(path);
    if (!(node instanceof Inode)) throw notFound(path);
    return node;
  }

  /** @internal Space accounting of a write; throws when the disk is full. */
  reserve(inode: Inode, offset: number, data: Uint8Array, path: string): Uint8Array {
    const grows = Math.max(0, offset + data.length - inode.data.length);
    if (grows <= this.#free) {
      this.#free -= grows;
      return data;
    }
    const fits = data.subarray(0, Math.max(0, this.#free + inode.data.length - offset));
    this.#free = 0;
    if (fits.length > 0) inode.change({ kind: "write", offset, bytes: fits.slice() });
    throw new StorageError(`disk full: cannot write ${path}: No space left on device`, {
      details: { path, diskFull: true },
    });
  }

  open(path: string, options: OpenOptions): Promise<FileHandle> {
    return settle(() => {
      this.#check();
      let node = this.#names.get(path);
      if (node instanceof Directory) throw new Error(`EISDIR: ${path}`);
      if (!node) {
        if (!options.create) throw notFound(path);
        const parent = this.#names.get(parentDir(path));
        if (!(parent instanceof Directory)) throw notFound(path);
        this.mutate(`create ${path}`);
        node = new Inode();
        this.#dirOp({ kind: "link", path, node, parent });
      } else if (options.truncate && node.data.length > 0) {
        this.mutate(`truncate ${path} to 0`);
        node.change({ kind: "truncate", length: 0 });
      }
      return new CrashFileHandle(this, node, path, options.append === true);
    });
  }

  readFile(path: string): Promise<Uint8Array> {
    return settle(() => {
      this.#check();
      return this.#file(path).data.view().slice();
    });
  }

  writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
    return writeFileAtomically(this, path, data);
  }

  rename(from: string, to: string): Promise<void> {
    return settle(() => {
      this.#check();
      const node = this.#names.get(from);
      if (!node) throw notFound(from);
      const toParent = this.#names.get(parentDir(to));
      if (!(toParent instanceof Directory)) throw notFound(to);
      this.mutate(`rename ${from} -> ${to}`);
      this.#dirOp({ kind: "rename", from, to, node, toParent });
    });
  }

  remove(path: string, options?: { recursive?: boolean }): Promise<void> {
    return settle(() => {
      this.#check();
      const node = this.#names.get(path);
      if (!node) return; // as the runtime's: a missing path is no error
      const inside = [...this.#names.keys()].filter((p) => p.startsWith(`${path}/`));
      if (inside.length > 0 && !options?.recursive) throw new Error(`ENOTEMPTY: ${path}`);
      // Children first, deepest first: one unlink each, as a recursive removal does.
      for (const p of inside.sort((a, b) => depth(b) - depth(a) || (a < b ? 1 : -1))) {
        this.mutate(`remove ${p}`);
        this.#dirOp({ kind: "unlink", path: p, node: this.#names.get(p)! });
      }
      this.mutate(`remove ${path}`);
      this.#dirOp({ kind: "unlink", path, node });
    });
  }

  readDir(path: string): Promise<string[]> {
    return settle(() => {
      this.#check();
      const prefix = path === "/" ? "/" : `${path}/`;
      const names: string[] = [];
      for (const p of this.#names.keys()) {
        if (p !== "/" && p.startsWith(prefix) && !p.slice(prefix.length).includes("/")) {
          names.push(p.slice(prefix.length));
        }
      }
      return names.sort();
    });
  }

  /** The runtime's steps ({@linkcode makeDirectoryDurably}): each new folder, then its parent fsynced. */
  mkdir(path: string): Promise<void> {
    if (!path.startsWith("/")) {
      throw new Error(`BUG: crash file system paths are absolute: ${path}`);
    }
    return makeDirectoryDurably({
      exists: async (p) => (await this.stat(p)) !== null,
      makeOne: (p) =>
        settle(() => {
          this.#check();
          const node = this.#names.get(p);
          if (node instanceof Directory) return;
          if (node) throw new Error(`EEXIST: ${p} is a file`);
          const parent = this.#names.get(parentDir(p));
          if (!(parent instanceof Directory)) throw notFound(parentDir(p));
          this.mutate(`mkdir ${p}`);
          this.#dirOp({ kind: "link", path: p, node: new Directory(), parent });
        }),
      syncDir: (p) => this.syncDir(p),
    }, path);
  }

  stat(path: string): Promise<FileInfo | null> {
    return settle(() => {
      this.#check();
      const node = this.#names.get(path);
      if (!node) return null;
      return node instanceof Inode
        ? { size: node.data.length, isFile: true, isDirectory: false }
        : { size: 0, isFile: false, isDirectory: true };
    });
  }

  /** No symlinks in memory: a path that exists is its own real path. */
  realPath(path: string): Promise<string | null> {
    return settle(() => {
      this.#check();
      return this.#names.has(path) ? path : null;
    });
  }

  syncDir(path: string): Promise<void> {
    return settle(() => {
      this.#check();
      if (!(this.#names.get(path) instanceof Directory)) throw notFound(path);
      this.mutate(`syncDir ${path}`);
      const rest: DirOp[] = [];
      for (const op of this.#pendingDirOps) {
        if (touches(op, path)) applyDirOp(this.#durableNames, op);
        else rest.push(op);
      }
      this.#pendingDirOps = rest;
    });
  }

  /** @internal For handles: refuses every call once the power is cut. */
  check(): void {
    this.#check();
  }
}

class CrashFileHandle implements FileHandle {
  #pos = 0;
  constructor(
    private readonly fs: CrashFileSystem,
    private readonly inode: Inode,
    private readonly path: string,
    private readonly append: boolean,
  ) {}

  write(data: Uint8Array): Promise<number> {
    return settle(() => {
      this.fs.check();
      const offset = this.append ? this.inode.data.length : this.#pos;
      this.fs.mutate(`write ${this.path} @${offset} +${data.length}`);
      const fits = this.fs.reserve(this.inode, offset, data, this.path);
      this.inode.change({ kind: "write", offset, bytes: fits.slice() });
      this.#pos = offset + data.length;
      return data.length;
    });
  }

  read(buffer: Uint8Array): Promise<number | null> {
    return settle(() => {
      this.fs.check();
      if (this.#pos >= this.inode.data.length) return null;
      return this.readAtSync(buffer, this.#pos);
    });
  }

  readAtSync(buffer: Uint8Array, position: number): number {
    this.fs.check();
    const data = this.inode.data.view();
    const n = Math.max(0, Math.min(buffer.length, data.length - position));
    buffer.set(data.subarray(position, position + n));
    this.#pos = position + n;
    return n;
  }

  seek(offset: number, whence: "start" | "current" | "end"): Promise<number> {
    return settle(() => {
      this.fs.check();
      this.#pos = whence === "start"
        ? offset
        : whence === "current"
        ? this.#pos + offset
        : this.inode.data.length + offset;
      return this.#pos;
    });
  }

  datasync(): Promise<void> {
    return settle(() => {
      this.fs.check();
      this.fs.mutate(`datasync ${this.path}`);
      this.inode.sync();
    });
  }

  truncate(length: number): Promise<void> {
    return settle(() => {
      this.fs.check();
      this.fs.mutate(`truncate ${this.path} to ${length}`);
      this.inode.change({ kind: "truncate", length });
    });
  }

  close(): void {}
}

/** Runs a synchronous body as an async call: what it throws becomes a rejection. */
function settle<T>(body: () => T): Promise<T> {
  try {
    return Promise.resolve(body());
  } catch (error) {
    return Promise.reject(error);
  }
}

function depth(path: string): number {
  let n = 0;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 47) n++;
  return n;
}

function byDepthThenName(a: string, b: string): number {
  return depth(a) - depth(b) || (a < b ? -1 : a > b ? 1 : 0);
}
