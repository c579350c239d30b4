/**
 * `epochnexus restore --from DIR [--backup ID] [--db NAME [--newdb NEW]] [--url URL] [--token T]`:
 * restores a backup (the newest in DIR unless `--backup` names one) into a node or a cluster
 * that does not hold its databases: the server recreates the databases, retention policies and
 * field types (and, for a whole restore, users, grants and tokens), then every point of the
 * backed-up partitions is read here from the backup's files and written through the write path,
 * so the target may have any number of nodes and partitions. `--db` restores one database,
 * `--newdb` under another name. Exit code 1 when points were refused (beyond a retention
 * policy's duration, for instance), 2 on bad usage.
 * @module
 */
import cliProgress from "cli-progress";
import { EpochError } from "../core/mod.ts";
import type { BackupMetadata, RestoreOutcome } from "../cluster/mod.ts";
import { PointWriter, type WriteFailure } from "../client/mod.ts";
import {
  type BackupManifest,
  backupPaths,
  latestBackup,
  openBackupPartition,
  planExport,
  readManifest,
  windowPoints,
} from "../ops/mod.ts";
import {
  denoFileSystem,
  httpFetch,
  linkOrCopyFile,
  systemClock,
  systemRng,
} from "../runtime/mod.ts";
import { answerError, authHeaders } from "./export_command.ts";
import type { StorageEngine } from "../storage/mod.ts";

/** Options of the restore command. */
export interface RestoreOptions {
  url: string;
  from: string;
  /** A backup id of the folder; the newest when absent. */
  backup?: string;
  /** Restore this database only. */
  db?: string;
  /** ... under this name. */
  newdb?: string;
  token?: string;
  progress?: boolean;
  print?: (line: string) => void;
}

/** What a restore did. */
export interface RestoreSummary {
  backup: string;
  databases: Record<string, string>;
  points: number;
  values: number;
  rejected: number;
  /** Segment bytes read from the backup. */
  bytes: number;
  seconds: number;
}

/** Runs a restore; resolves with its summary. */
export async function runRestore(options: RestoreOptions): Promise<RestoreSummary> {
  const fs = denoFileSystem;
  const print = options.print ?? ((line: string) => console.error(line));
  const headers = authHeaders(options.token);
  if (options.newdb && !options.db) throw new EpochError("invalid_argument", "--newdb needs --db");
  const found = options.backup
    ? {
      dir: backupPaths.backup(options.from, options.backup),
      manifest: await readManifest(fs, options.from, options.backup),
    }
    : await latestBackup(fs, options.from);
  if (!found) throw new EpochError("not_found", `no backup in ${options.from}`);
  const { dir, manifest } = found;
  if (options.db && !manifest.databases.includes(options.db)) {
    throw new EpochError("not_found", `backup ${manifest.id} holds no database ${options.db}`);
  }
  const metadata = JSON.parse(
    new TextDecoder().decode(await fs.readFile(backupPaths.meta(dir))),
  ) as BackupMetadata;
  const started = systemClock.monotonicMs();

  const answer = await httpFetch(new URL("/api/v1/restore", options.url), {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify({
      meta: metadata.meta,
      databases: options.db ? [options.db] : manifest.databases,
      rename: options.db && options.newdb ? { [options.db]: options.newdb } : {},
      users: !options.db,
    }),
  });
  if (!answer.ok) throw await answerError(answer, "restore");
  const outcome = await answer.json() as RestoreOutcome;
  for (const s of outcome.skipped) print(`note: ${s}`);

  const data = await restoreData(options, dir, manifest, outcome, headers);
  const seconds = (systemClock.monotonicMs() - started) / 1000;
  print(
    `restored backup ${manifest.id} (${
      Object.entries(outcome.databases)
        .map(([a, b]) => (a === b ? a : `${a} as ${b}`)).join(", ")
    }): ${data.points} points, ` +
      `${data.values} values from ${(data.bytes / 1e6).toFixed(1)} MB of segments in ` +
      `${seconds.toFixed(1)} s (${(data.bytes / 1e6 / Math.max(seconds, 1e-3)).toFixed(1)} MB/s, ` +
      `${Math.round(data.values / Math.max(seconds, 1e-3))} values/s); ${data.rejected} refused`,
  );
  for (const f of data.failures.slice(0, 20)) {
    print(`  ${f.points} points: ${f.reason.split("\n")[0]}`);
  }
  return {
    backup: manifest.id,
    databases: outcome.databases,
    ...data,
    seconds,
  };
}

async function restoreData(
  options: RestoreOptions,
  dir: string,
  manifest: BackupManifest,
  outcome: RestoreOutcome,
  headers: Record<string, string>,
): Promise<
  { points: number; values: number; rejected: number; bytes: number; failures: WriteFailure[] }
> {
  const fs = denoFileSystem;
  const nowNs = systemClock.nowNanos();
  const partitions = manifest.partitions.filter((p) => p.database in outcome.databases);
  const scratch = `${options.from}/.restore-${Math.floor(systemClock.nowMs()).toString(36)}`;
  const env = { fs, clock: systemClock, link: linkOrCopyFile };
  // Plan first, every partition, for the progress bar's total.
  let total = 0;
  for (const p of partitions) {
    const opened = await openBackupPartition(env, dir, p, `${scratch}/${p.groupId}`);
    try {
      for (const rp of policiesOf(opened.engine, p.database)) {
        total += (await planExport(opened.engine, {
          database: p.database,
          retentionPolicy: rp.name,
        }, { nowNs })).values;
      }
    } finally {
      await opened.close();
    }
  }
  const bar = options.progress === false ? undefined : new cliProgress.SingleBar({
    format: "{bar} {percentage}% | {value}/{total} values | {rate} values/s | ETA {eta_formatted}",
    hideCursor: true,
    fps: 5,
    etaBuffer: 50,
  }, cliProgress.Presets.shades_classic);
  const started = systemClock.monotonicMs();
  let values = 0, points = 0, bytes = 0;
  const rate = () => ({
    rate: Math.round(values / Math.max((systemClock.monotonicMs() - started) / 1000, 1e-3)),
  });
  bar?.start(Math.max(total, 1), 0, rate());
  const writers = new Map<string, PointWriter>();
  const writerOf = (database: string, rp: string) => {
    const key = `${database}\u0000${rp}`;
    let w = writers.get(key);
    if (!w) {
      w = new PointWriter({
        url: options.url,
        database,
        retentionPolicy: rp,
        headers,
        batchPoints: 5000,
      }, {
        fetch: (input, init) => httpFetch(input, init),
        clock: systemClock,
        random: systemRng,
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      });
      writers.set(key, w);
    }
    return w;
  };
  try {
    for (const p of partitions) {
      const target = outcome.databases[p.database];
      const opened = await openBackupPartition(env, dir, p, `${scratch}/${p.groupId}`);
      try {
        for (const rp of policiesOf(opened.engine, p.database)) {
          const plan = await planExport(opened.engine, {
            database: p.database,
            retentionPolicy: rp.name,
          }, { nowNs });
          const writer = writerOf(target, rp.name);
          for (const w of plan.windows) {
            const batches = windowPoints(opened.engine, w, {
              database: p.database,
              retentionPolicy: rp.name,
              fieldTypes: plan.fieldTypes.get(w.measurement)!,
              nowNs,
            });
            for await (const batch of batches) {
              await writer.write(batch);
              points += batch.length;
            }
            values += w.values;
            bar?.update(values, rate());
          }
        }
      } finally {
        await opened.close();
      }
      for (const f of p.files) bytes += f.size;
    }
  } finally {
    bar?.stop();
  }
  let rejected = 0;
  const failures: WriteFailure[] = [];
  for (const w of writers.values()) {
    const report = await w.close();
    rejected += report.failed;
    failures.push(...report.failures);
  }
  await fs.remove(scratch, { recursive: true }).catch(() => {});
  return { points, values, rejected, bytes, failures };
}

/** The retention policies a partition's engine holds data of (none before its first write). */
function policiesOf(engine: StorageEngine, database: string): { name: string }[] {
  return engine.hasDatabase(database) ? engine.retentionPolicies(database) : [];
}
