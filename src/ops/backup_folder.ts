/**
 * The backup folder (FORMAT.md beside this file): one sub-folder per backup, each complete on
 * its own (a partition's `catalog.json` and segment files, the metadata, a manifest), and
 * `LATEST` naming the newest. A backup made into a folder that holds one is incremental: the
 * segment files the previous backup holds (same path, size and footer) are not sent again but
 * linked from it.
 * @module
 */
import { crc32c, EpochError, type FileHandle, type FileSystem } from "../core/mod.ts";
import type { BackupMetadata, SnapshotFile } from "../cluster/mod.ts";
import type { PartitionFrame } from "./backup_frames.ts";

/** The manifest version this code writes and reads. */
export const BACKUP_VERSION = 1;

/** One partition of a backup. */
export interface BackupPartition {
  database: string;
  index: number;
  groupId: number;
  /** The last Raft index its files hold. */
  appliedIndex: number;
  files: (SnapshotFile & { footer: string })[];
}

/** `manifest.json` of a backup. */
export interface BackupManifest {
  version: number;
  id: string;
  /** When the backup began (ms): every write acknowledged before is in it. */
  takenMs: number;
  clusterId: string;
  /** The databases backed up. */
  databases: string[];
  /** Only shard groups ending after this time (ms), when set. */
  sinceMs?: number;
  /** The backup whose files this one links, if any. */
  incrementalOf?: string;
  partitions: BackupPartition[];
  /** Bytes received from the server and bytes linked from the previous backup. */
  receivedBytes: number;
  linkedBytes: number;
}

/** Where a backup's parts live inside the folder. */
export const backupPaths = {
  latest: (root: string) => `${root}/LATEST`,
  backup: (root: string, id: string) => `${root}/${id}`,
  partial: (root: string, id: string) => `${root}/${id}.partial`,
  manifest: (dir: string) => `${dir}/manifest.json`,
  meta: (dir: string) => `${dir}/meta.json`,
  partition: (dir: string, groupId: number) => `${dir}/partitions/${groupId}`,
};

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The newest complete backup of a folder, or undefined. */
export async function latestBackup(
  fs: FileSystem,
  root: string,
): Promise<{ dir: string; manifest: BackupManifest } | undefined> {
  if (!(await fs.stat(backupPaths.latest(root)))) return undefined;
  const id = decoder.decode(await fs.readFile(backupPaths.latest(root))).trim();
  return { dir: backupPaths.backup(root, id), manifest: await readManifest(fs, root, id) };
}

/**
 * A backup's manifest.
 * @throws {EpochError} `not_found` or `data_loss` when it is missing or not of this version.
 */
export async function readManifest(
  fs: FileSystem,
  root: string,
  id: string,
): Promise<BackupManifest> {
  const path = backupPaths.manifest(backupPaths.backup(root, id));
  if (!(await fs.stat(path))) throw new EpochError("not_found", `no backup ${id} in ${root}`);
  const manifest = JSON.parse(decoder.decode(await fs.readFile(path))) as BackupManifest;
  if (manifest.version !== BACKUP_VERSION) {
    throw new EpochError("data_loss", `${path}: unsupported backup version ${manifest.version}`);
  }
  return manifest;
}

/** Links a file of the previous backup into the new one (a hard link, or a copy). */
export type LinkFile = (from: string, to: string) => Promise<void>;

/** What receiving a partition did. */
export interface ReceivedPartition {
  partition: BackupPartition;
  receivedBytes: number;
  linkedBytes: number;
}

/**
 * Writes a partition's frames into `dir` (the partition's folder of a new backup): the catalog,
 * each sent file (checked against its size and CRC-32C, fdatasynced), and each held file linked
 * from `previousDir`; the folders are fsynced at the end.
 * @throws {EpochError} `data_loss` for a file whose size or checksum differs, a file the server
 * says is held that the previous backup lacks, or a stream that ends early.
 */
export async function receivePartition(
  fs: FileSystem,
  link: LinkFile,
  target: { dir: string; previousDir?: string; database: string; index: number; groupId: number },
  frames: AsyncIterable<PartitionFrame>,
  onBytes: (n: number) => void = () => {},
): Promise<ReceivedPartition> {
  let manifest: Extract<PartitionFrame, { kind: "manifest" }> | undefined;
  let current: { file: number; handle: FileHandle; written: number; crc: number } | undefined;
  const made = new Set<string>();
  const folder = async (path: string) => {
    const parent = path.slice(0, path.lastIndexOf("/"));
    if (!made.has(parent)) {
      await fs.mkdir(parent);
      made.add(parent);
    }
  };
  let receivedBytes = 0, linkedBytes = 0;
  const received = new Set<number>();
  try {
    for await (const frame of frames) {
      if (frame.kind === "manifest") {
        manifest = frame;
        await fs.mkdir(target.dir);
        await fs.writeFileAtomic(`${target.dir}/catalog.json`, frame.catalog);
        for (const f of frame.files) {
          if (!f.held) continue;
          if (!target.previousDir) {
            throw new EpochError(
              "data_loss",
              `the server holds back ${f.path}: no previous backup`,
            );
          }
          await folder(`${target.dir}/${f.path}`);
          await link(`${target.previousDir}/${f.path}`, `${target.dir}/${f.path}`);
          linkedBytes += f.size;
        }
        continue;
      }
      if (!manifest) throw new EpochError("data_loss", "partition stream without a manifest");
      const f = manifest.files[frame.file];
      if (!f || f.held) throw new EpochError("data_loss", `unexpected data for file ${frame.file}`);
      if (frame.kind === "data") {
        if (!current) {
          const path = `${target.dir}/${f.path}`;
          await folder(path);
          const handle = await fs.open(path, { write: true, create: true, truncate: true });
          current = { file: frame.file, handle, written: 0, crc: 0 };
        }
        if (current.file !== frame.file || frame.offset !== current.written) {
          throw new EpochError("data_loss", `${f.path}: chunk at ${frame.offset} out of order`);
        }
        await current.handle.write(frame.data);
        current.written += frame.data.length;
        current.crc = crc32c(frame.data, current.crc);
        receivedBytes += frame.data.length;
        onBytes(frame.data.length);
        continue;
      }
      // end of a file
      if (f.size === 0 && !current) {
        const path = `${target.dir}/${f.path}`;
        await folder(path);
        current = {
          file: frame.file,
          handle: await fs.open(path, { write: true, create: true, truncate: true }),
          written: 0,
          crc: 0,
        };
      }
      if (!current || current.file !== frame.file || current.written !== f.size) {
        throw new EpochError("data_loss", `${f.path}: ${current?.written ?? 0} of ${f.size} bytes`);
      }
      if (current.crc !== frame.crc32c) {
        throw new EpochError("data_loss", `${f.path}: checksum mismatch`);
      }
      await current.handle.datasync();
      current.handle.close();
      current = undefined;
      received.add(frame.file);
    }
  } finally {
    current?.handle.close();
  }
  if (!manifest) throw new EpochError("data_loss", "empty partition stream");
  for (const [i, f] of manifest.files.entries()) {
    if (!f.held && !received.has(i)) throw new EpochError("data_loss", `${f.path} never arrived`);
  }
  for (const dir of made) await fs.syncDir(dir);
  await fs.syncDir(target.dir);
  return {
    partition: {
      database: target.database,
      index: target.index,
      groupId: target.groupId,
      appliedIndex: manifest.appliedIndex,
      files: manifest.files.map((f) => ({ path: f.path, size: f.size, footer: f.footer ?? "" })),
    },
    receivedBytes,
    linkedBytes,
  };
}

/** Writes the metadata and the manifest of a finished backup (atomically, each). */
export async function writeBackupFiles(
  fs: FileSystem,
  dir: string,
  metadata: BackupMetadata,
  manifest: BackupManifest,
): Promise<void> {
  await fs.writeFileAtomic(backupPaths.meta(dir), encoder.encode(JSON.stringify(metadata)));
  await fs.writeFileAtomic(backupPaths.manifest(dir), encoder.encode(JSON.stringify(manifest)));
}

/** Makes a finished backup the folder's newest: renames it into place, then points LATEST at it. */
export async function publishBackup(fs: FileSystem, root: string, id: string): Promise<void> {
  await fs.rename(backupPaths.partial(root, id), backupPaths.backup(root, id));
  await fs.syncDir(root);
  await fs.writeFileAtomic(backupPaths.latest(root), encoder.encode(`${id}\n`));
}
