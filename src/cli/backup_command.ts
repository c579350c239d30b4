/**
 * `epochnexus backup --out DIR [--db NAME]... [--since T] [--url URL] [--token T]`: an online,
 * consistent backup of a node or a cluster while writes go on. It reads the metadata (the
 * backup's starting point), then each partition's files from one of its replicas, which first
 * confirms a read and flushes: the backup holds every write acknowledged before it began. Into a
 * folder holding a backup, it is incremental: segment files are immutable and named by
 * generation, so those the previous backup has (same path, size and footer) are linked from it,
 * not sent. Layout: `src/ops/FORMAT.md`.
 * @module
 */
import cliProgress from "cli-progress";
import { EpochError } from "../core/mod.ts";
import type { BackupMetadata } from "../cluster/mod.ts";
import {
  BACKUP_VERSION,
  type BackupManifest,
  type BackupPartition,
  backupPaths,
  decodeFrames,
  latestBackup,
  publishBackup,
  receivePartition,
  writeBackupFiles,
} from "../ops/mod.ts";
import { denoFileSystem, httpFetch, linkOrCopyFile, systemClock } from "../runtime/mod.ts";
import { answerError, authHeaders } from "./export_command.ts";
import { timeParam } from "../http/export_handler.ts";

/** Options of the backup command. */
export interface BackupOptions {
  url: string;
  out: string;
  /** Only these databases (all when absent). */
  databases?: string[];
  /** Only shard groups ending after this time (RFC3339 or integer ns). */
  since?: string;
  token?: string;
  progress?: boolean;
  print?: (line: string) => void;
}

/** What a backup did. */
export interface BackupSummary {
  id: string;
  dir: string;
  partitions: number;
  receivedBytes: number;
  linkedBytes: number;
  seconds: number;
}

/** Runs a backup; resolves with its summary. */
export async function runBackup(options: BackupOptions): Promise<BackupSummary> {
  const fs = denoFileSystem;
  const print = options.print ?? ((line: string) => console.error(line));
  const headers = { ...authHeaders(options.token), "content-type": "application/json" };
  const started = systemClock.monotonicMs();
  const sinceNs = timeParam(options.since ?? null, "--since");
  const sinceMs = sinceNs === undefined ? undefined : Number(sinceNs / 1_000_000n);

  const answer = await httpFetch(new URL("/api/v1/backup", options.url), { headers });
  if (!answer.ok) throw await answerError(answer, "backup");
  const metadata = await answer.json() as BackupMetadata;
  const names = options.databases ?? metadata.databases.map((d) => d.name);
  for (const name of names) {
    if (!metadata.databases.some((d) => d.name === name)) {
      throw new EpochError("not_found", `database not found: ${name}`);
    }
  }

  await fs.mkdir(options.out);
  const previous = await latestBackup(fs, options.out);
  const id = await freshId(options.out, metadata.takenMs);
  const dir = backupPaths.partial(options.out, id);
  await fs.mkdir(dir);
  const partitions = metadata.databases.filter((d) => names.includes(d.name))
    .flatMap((d) => d.partitions.map((p) => ({ database: d.name, ...p })));
  const bar = options.progress === false ? undefined : new cliProgress.SingleBar({
    format: "{bar} {value}/{total} partitions | {mb} MB received | {rate} MB/s",
    hideCursor: true,
    fps: 5,
  }, cliProgress.Presets.shades_classic);
  let receivedBytes = 0, linkedBytes = 0;
  const stats = () => ({
    mb: (receivedBytes / 1e6).toFixed(1),
    rate: (receivedBytes / 1e6 / Math.max((systemClock.monotonicMs() - started) / 1000, 1e-3))
      .toFixed(1),
  });
  bar?.start(partitions.length, 0, stats());
  const done: BackupPartition[] = [];
  try {
    for (const p of partitions) {
      const before = previous?.manifest.partitions.find((q) => q.groupId === p.groupId);
      const response = await httpFetch(
        new URL(`/api/v1/backup/partition/${p.groupId}`, options.url),
        {
          method: "POST",
          headers,
          body: JSON.stringify({ have: before?.files ?? [], since: sinceMs }),
        },
      );
      if (!response.ok || !response.body) {
        throw await answerError(response, `backup of partition ${p.index} of ${p.database}`);
      }
      const received = await receivePartition(
        fs,
        linkOrCopyFile,
        {
          dir: backupPaths.partition(dir, p.groupId),
          previousDir: before && previous
            ? backupPaths.partition(previous.dir, p.groupId)
            : undefined,
          database: p.database,
          index: p.index,
          groupId: p.groupId,
        },
        decodeFrames(response.body),
        (n) => {
          receivedBytes += n;
          bar?.update(done.length, stats());
        },
      );
      linkedBytes += received.linkedBytes;
      done.push(received.partition);
      bar?.update(done.length, stats());
    }
    const manifest: BackupManifest = {
      version: BACKUP_VERSION,
      id,
      takenMs: metadata.takenMs,
      clusterId: metadata.clusterId,
      databases: names,
      sinceMs,
      incrementalOf: previous?.manifest.id,
      partitions: done,
      receivedBytes,
      linkedBytes,
    };
    await writeBackupFiles(fs, dir, metadata, manifest);
    await publishBackup(fs, options.out, id);
  } catch (error) {
    bar?.stop();
    await fs.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
  bar?.stop();
  const seconds = (systemClock.monotonicMs() - started) / 1000;
  print(
    `backup ${id} of ${names.length} databases (${done.length} partitions) in ` +
      `${backupPaths.backup(options.out, id)}: ${(receivedBytes / 1e6).toFixed(1)} MB received` +
      `${
        previous
          ? `, ${(linkedBytes / 1e6).toFixed(1)} MB unchanged since ${previous.manifest.id}`
          : ""
      }` +
      ` in ${seconds.toFixed(1)} s (${
        (receivedBytes / 1e6 / Math.max(seconds, 1e-3)).toFixed(1)
      } MB/s)`,
  );
  return {
    id,
    dir: backupPaths.backup(options.out, id),
    partitions: done.length,
    receivedBytes,
    linkedBytes,
    seconds,
  };
}

/** A backup id from its time (`20261207T015454Z`), made unique in the folder. */
async function freshId(root: string, takenMs: number): Promise<string> {
  const base = new Date(takenMs).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  for (let n = 1; n < 1000; n++) {
    const id = n === 1 ? base : `${base}-${n}`;
    const taken = await denoFileSystem.stat(backupPaths.backup(root, id)) ??
      await denoFileSystem.stat(backupPaths.partial(root, id));
    if (!taken) return id;
  }
  throw new EpochError("already_exists", `too many backups at ${base} in ${root}`);
}
