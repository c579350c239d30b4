/**
 * A replica's snapshot as it travels between nodes: its segment files and `catalog.json`, which
 * together hold everything its Raft log applied before the catalog's first unflushed index. The
 * sender streams them as a manifest and then each file in chunks (never a whole file in memory),
 * each file closed by its CRC-32C. The receiver stages them in `<replica>/.incoming/`, checks
 * sizes and checksums, makes them durable, marks the stage complete (`READY`), then swaps it in
 * for the replica's own files: a crash anywhere leaves either the old files (the stage is removed
 * and fetched again) or a complete stage that the next open swaps in.
 * @module
 */
import { crc32c, EpochError, type FileHandle, type FileSystem } from "../../core/mod.ts";
import type { StorageEngine } from "../../storage/mod.ts";

/** One message of a snapshot stream. */
export type SnapshotChunk =
  | {
    kind: "manifest";
    /** The last log index the files hold. */
    appliedIndex: number;
    /** `catalog.json` as the sender's engine last wrote it. */
    catalog: Uint8Array;
    /** Paths relative to the replica's folder, with their sizes. */
    files: SnapshotFile[];
  }
  | { kind: "data"; file: number; offset: number; data: Uint8Array }
  | { kind: "end"; file: number; crc32c: number };

/** A file of a snapshot. */
export interface SnapshotFile {
  path: string;
  size: number;
  /**
   * A backup's fingerprint of a segment file: the hex of its 24-byte footer (index offset,
   * length and CRC-32C), which with the path and size tells an identical file apart from
   * another that has the same name on another replica.
   */
  footer?: string;
  /** A backup already holds the file: its data is not sent. */
  held?: boolean;
}

/** What a backup asks of {@linkcode exportSnapshot}. */
export interface BackupExport {
  /** Files the backup already holds, as `path`, `size`, `footer`: listed, not sent. */
  have: readonly { path: string; size: number; footer: string }[];
  /** Only shard groups ending after this time (ms); all when absent. */
  sinceMs?: number;
}

/** The footer of a segment file, in hex. */
const FOOTER_BYTES = 24;

/** Bytes per data chunk. */
const CHUNK = 1 << 20;
const STAGE = ".incoming";
const OLD = ".old-data";

/** The first log index a catalog does not hold (its `walStart`), from its bytes. */
export function catalogStart(catalog: Uint8Array): number {
  const parsed = JSON.parse(new TextDecoder().decode(catalog)) as { walStart?: unknown };
  if (typeof parsed.walStart !== "number") throw new Error("BUG: catalog.json without walStart");
  return parsed.walStart;
}

/**
 * Streams an engine's files, if they hold at least `minIndex`.
 * @throws {EpochError} `failed_precondition` when they hold less (not flushed that far yet).
 */
export async function* exportSnapshot(
  engine: StorageEngine,
  fs: FileSystem,
  dir: string,
  minIndex: number,
  backup?: BackupExport,
): AsyncGenerator<SnapshotChunk> {
  const held = await engine.holdFiles();
  try {
    const appliedIndex = held.catalog === null ? 0 : catalogStart(held.catalog) - 1;
    if (held.catalog === null || appliedIndex < minIndex) {
      throw new EpochError(
        "failed_precondition",
        `replica files hold the log up to ${appliedIndex}, not ${minIndex}`,
      );
    }
    const files: SnapshotFile[] = [];
    for (const path of held.segments) {
      if (backup?.sinceMs !== undefined && groupEndMs(path) <= backup.sinceMs) continue;
      const info = await fs.stat(`${dir}/${path}`);
      if (!info) continue; // gone: its shard group was dropped
      const file: SnapshotFile = { path, size: info.size };
      if (backup) {
        file.footer = await footerOf(fs, `${dir}/${path}`, info.size);
        file.held = backup.have.some((h) =>
          h.path === path && h.size === info.size && h.footer === file.footer
        );
      }
      files.push(file);
    }
    yield { kind: "manifest", appliedIndex, catalog: held.catalog, files };
    for (const [i, f] of files.entries()) {
      if (f.held) continue;
      const handle = await fs.open(`${dir}/${f.path}`, { read: true });
      try {
        let crc = 0;
        for (let offset = 0; offset < f.size;) {
          const buffer = new Uint8Array(Math.min(CHUNK, f.size - offset));
          let got = 0;
          while (got < buffer.length) {
            const n = await handle.read(buffer.subarray(got));
            if (n === null || n === 0) throw new Error(`${f.path} shorter than ${f.size} bytes`);
            got += n;
          }
          crc = crc32c(buffer, crc);
          yield { kind: "data", file: i, offset, data: buffer };
          offset += buffer.length;
        }
        yield { kind: "end", file: i, crc32c: crc };
      } finally {
        handle.close();
      }
    }
  } finally {
    held.release();
  }
}

/** The hex of a file's last {@linkcode FOOTER_BYTES} bytes. */
async function footerOf(fs: FileSystem, path: string, size: number): Promise<string> {
  const handle = await fs.open(path, { read: true });
  try {
    const n = Math.min(FOOTER_BYTES, size);
    await handle.seek(size - n, "start");
    const buffer = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const r = await handle.read(buffer.subarray(got));
      if (r === null || r === 0) break;
      got += r;
    }
    return [...buffer.subarray(0, got)].map((b) => b.toString(16).padStart(2, "0")).join("");
  } finally {
    handle.close();
  }
}

/**
 * The end (ms) of the shard group a segment path names
 * (`data/<db>/<rp>/<start ms>_<duration ms>/<gens>.seg`); infinite when it names none.
 */
function groupEndMs(path: string): number {
  const m = /\/(-?\d+)_(\d+)\/[^/]+$/.exec(path);
  return m ? Number(m[1]) + Number(m[2]) : Infinity;
}

/**
 * Receives a snapshot stream into the replica folder's stage and marks it complete; returns the
 * last log index it holds. Nothing of the replica's own files changes.
 * @throws {EpochError} `data_loss` for a file whose size or checksum differs from the stream's.
 */
export async function stageSnapshot(
  fs: FileSystem,
  dir: string,
  chunks: AsyncIterable<SnapshotChunk>,
): Promise<number> {
  const stage = `${dir}/${STAGE}`;
  await fs.remove(stage, { recursive: true }).catch(() => {});
  await fs.mkdir(stage);
  let manifest: Extract<SnapshotChunk, { kind: "manifest" }> | undefined;
  let current: { file: number; handle: FileHandle; written: number; crc: number } | undefined;
  const ended = new Set<number>();
  const start = async (file: number, path: string) => {
    await mkdirs(fs, stage, path);
    const handle = await fs.open(`${stage}/${path}`, { write: true, create: true, truncate: true });
    return { file, handle, written: 0, crc: 0 };
  };
  for await (const chunk of chunks) {
    checkChunkShape(chunk);
    if (chunk.kind === "manifest") {
      if (manifest) throw new EpochError("data_loss", "snapshot stream with a second manifest");
      checkManifest(chunk);
      manifest = chunk;
      continue;
    }
    if (!manifest) throw new EpochError("data_loss", "snapshot stream without a manifest");
    const f = manifest.files[chunk.file];
    if (!f) throw new EpochError("data_loss", `snapshot names file ${chunk.file} it did not list`);
    if (chunk.kind === "data") {
      if (!current || current.file !== chunk.file) {
        if (current) {
          throw new EpochError("data_loss", `snapshot file ${current.file} left unfinished`);
        }
        current = await start(chunk.file, f.path);
      }
      if (chunk.offset !== current.written) {
        throw new EpochError(
          "data_loss",
          `${f.path}: chunk at ${chunk.offset}, expected ${current.written}`,
        );
      }
      let at = 0;
      while (at < chunk.data.length) at += await current.handle.write(chunk.data.subarray(at));
      current.written += chunk.data.length;
      current.crc = crc32c(chunk.data, current.crc);
      continue;
    }
    // end of a file: its size and checksum, then make it durable
    if (ended.has(chunk.file)) {
      throw new EpochError("data_loss", `${f.path}: sent twice in one snapshot stream`);
    }
    if (f.size === 0 && !current) current = await start(chunk.file, f.path);
    if (!current || current.file !== chunk.file || current.written !== f.size) {
      throw new EpochError("data_loss", `${f.path}: ${current?.written ?? 0} of ${f.size} bytes`);
    }
    if (current.crc !== chunk.crc32c) {
      throw new EpochError("data_loss", `${f.path}: checksum mismatch`);
    }
    await current.handle.datasync();
    current.handle.close();
    current = undefined;
    ended.add(chunk.file);
  }
  if (!manifest) throw new EpochError("data_loss", "empty snapshot stream");
  if (current) throw new EpochError("data_loss", `snapshot stream ended inside a file`);
  if (ended.size !== manifest.files.length) {
    // A stage missing a file would be swapped in whole: the replica would lose that data.
    throw new EpochError(
      "data_loss",
      `snapshot stream ended after ${ended.size} of the ${manifest.files.length} files it listed`,
    );
  }
  for (const dirPath of new Set(manifest.files.map((f) => parentOf(`${stage}/${f.path}`)))) {
    await fs.syncDir(dirPath);
  }
  await fs.writeFileAtomic(`${stage}/catalog.json`, manifest.catalog);
  await fs.writeFileAtomic(`${stage}/READY`, new Uint8Array(0));
  return manifest.appliedIndex;
}

/**
 * Swaps a complete stage in for the replica's files (idempotent: a crash in the middle is
 * finished by the next call), or removes an incomplete one. Call before opening the engine.
 */
export async function completeInstall(fs: FileSystem, dir: string): Promise<boolean> {
  const stage = `${dir}/${STAGE}`;
  if (!(await fs.stat(stage))) {
    // A swap that finished but for removing the replaced files.
    if (await fs.stat(`${dir}/${OLD}`)) await fs.remove(`${dir}/${OLD}`, { recursive: true });
    return false;
  }
  if (!(await fs.stat(`${stage}/READY`))) {
    await fs.remove(stage, { recursive: true });
    return false;
  }
  if (await fs.stat(`${stage}/data`)) {
    if (await fs.stat(`${dir}/data`)) {
      await fs.remove(`${dir}/${OLD}`, { recursive: true }).catch(() => {});
      await fs.rename(`${dir}/data`, `${dir}/${OLD}`);
    }
    await fs.rename(`${stage}/data`, `${dir}/data`);
  } else if (await fs.stat(`${dir}/data`)) {
    // A snapshot with no segment at all (every group dropped): the old data must go too.
    if (await fs.stat(`${stage}/catalog.json`)) {
      await fs.remove(`${dir}/${OLD}`, { recursive: true }).catch(() => {});
      await fs.rename(`${dir}/data`, `${dir}/${OLD}`);
    }
  }
  if (await fs.stat(`${stage}/catalog.json`)) {
    await fs.rename(`${stage}/catalog.json`, `${dir}/catalog.json`);
  }
  await fs.syncDir(dir);
  await fs.remove(`${dir}/${OLD}`, { recursive: true }).catch(() => {});
  await fs.remove(stage, { recursive: true });
  return true;
}

/**
 * Refuses a message of the wrong shape: the stream comes from a peer as wire JSON, so a field
 * may be of any type (a `file` of "length" would find a number in the file list).
 */
function checkChunkShape(chunk: SnapshotChunk): void {
  const c = chunk as Record<string, unknown>;
  const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  const ok = c !== null && typeof c === "object" && (
    c.kind === "manifest"
      ? count(c.appliedIndex) && c.catalog instanceof Uint8Array && Array.isArray(c.files)
      : c.kind === "data"
      ? count(c.file) && count(c.offset) && c.data instanceof Uint8Array
      : c.kind === "end" && count(c.file) && typeof c.crc32c === "number"
  );
  if (!ok) {
    throw new EpochError("data_loss", `snapshot stream message of the wrong shape: ${describe(c)}`);
  }
}

/**
 * Refuses a manifest whose paths would leave the stage's `data/` folder (`..`, empty parts) or
 * repeat, whose sizes are not byte counts, or whose catalog does not start right after the
 * applied index (the engine would skip or re-apply entries).
 */
function checkManifest(m: Extract<SnapshotChunk, { kind: "manifest" }>): void {
  const seen = new Set<string>();
  for (const f of m.files as unknown[]) {
    const { path, size } = (f ?? {}) as { path?: unknown; size?: unknown };
    const parts = typeof path === "string" ? path.split("/") : [];
    if (
      typeof path !== "string" || parts[0] !== "data" || parts.length < 2 ||
      parts.some((p) => p === "" || p === "." || p === ".." || /[\\\0]/.test(p)) ||
      !Number.isSafeInteger(size) || (size as number) < 0
    ) throw new EpochError("data_loss", `snapshot manifest lists a bad file: ${describe(f)}`);
    if (seen.has(path)) throw new EpochError("data_loss", `snapshot manifest lists ${path} twice`);
    seen.add(path);
  }
  let start: unknown;
  try {
    start = (JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(m.catalog)) as {
      walStart?: unknown;
    })?.walStart;
  } catch {
    start = undefined;
  }
  if (start !== m.appliedIndex + 1) {
    throw new EpochError(
      "data_loss",
      `snapshot catalog starts at ${describe(start)}, not after applied index ${m.appliedIndex}`,
    );
  }
}

/** A short rendering of a value from the wire, for an error. */
function describe(v: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(
      v,
      (_k, x) =>
        typeof x === "bigint" ? `${x}n` : x instanceof Uint8Array ? `<${x.length} bytes>` : x,
    );
  } catch {
    text = String(v);
  }
  return (text ?? String(v)).slice(0, 120);
}

async function mkdirs(fs: FileSystem, root: string, relPath: string): Promise<void> {
  const parts = relPath.split("/").slice(0, -1);
  let at = root;
  for (const p of parts) {
    at = `${at}/${p}`;
    await fs.mkdir(at);
  }
}

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/"));
}
