/**
 * A backed-up partition opened for reading: its files linked into a scratch folder (the backup
 * itself stays untouched: opening an engine may tidy its folder) and opened as a storage engine
 * with no log, so the export code reads its points like any store's.
 * @module
 */
import { type Clock, type FileSystem, silentLogger } from "../core/mod.ts";
import { type EngineLog, StorageEngine } from "../storage/mod.ts";
import { type BackupPartition, backupPaths, type LinkFile } from "./backup_folder.ts";

/** A partition of a backup, open. */
export interface OpenedPartition {
  engine: StorageEngine;
  /** Closes the engine and removes the scratch folder. */
  close(): Promise<void>;
}

/**
 * Opens a partition of the backup in `backupDir`, staged in `scratch` (removed by close).
 * @throws {CorruptionError} when a segment file or the catalog is damaged.
 */
export async function openBackupPartition(
  env: { fs: FileSystem; clock: Clock; link: LinkFile },
  backupDir: string,
  partition: BackupPartition,
  scratch: string,
): Promise<OpenedPartition> {
  const { fs, clock, link } = env;
  const from = backupPaths.partition(backupDir, partition.groupId);
  await fs.remove(scratch, { recursive: true }).catch(() => {});
  await fs.mkdir(scratch);
  await link(`${from}/catalog.json`, `${scratch}/catalog.json`);
  const made = new Set<string>();
  for (const f of partition.files) {
    const parent = `${scratch}/${f.path.slice(0, f.path.lastIndexOf("/"))}`;
    if (!made.has(parent)) {
      await fs.mkdir(parent);
      made.add(parent);
    }
    await link(`${from}/${f.path}`, `${scratch}/${f.path}`);
  }
  const engine = await StorageEngine.open({
    dir: scratch,
    fs,
    clock,
    logger: silentLogger,
    maintenanceIntervalMs: 0,
    closeFlushTimeoutMs: 0,
    replayDropsExpired: false,
    openLog: (start) => Promise.resolve(readOnlyLog(start)),
  });
  return {
    engine,
    async close() {
      await engine.close({ flush: false });
      await fs.remove(scratch, { recursive: true });
    },
  };
}

/** The log of an engine that is only read: nothing to replay, nothing may be written. */
function readOnlyLog(start: number): EngineLog {
  return {
    append: () => {
      throw new Error("BUG: a backed-up partition is opened for reading only");
    },
    cut: (onCut) => {
      onCut(start);
      return Promise.resolve(start);
    },
    removeSegmentsBefore: () => Promise.resolve(0),
    close: () => Promise.resolve(),
  };
}
