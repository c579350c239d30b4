/**
 * Opening the shared Raft log: reads the snapshot files and the segments (one pass, replayed by
 * shared_replay.ts), cuts a torn tail, sets corruption and what follows it aside, finishes a drop
 * a crash cut short, and hands back every group's recovered state and bookkeeping.
 * SHARED_FORMAT.md says why each step is safe.
 * @module
 */

import { CorruptionError, type FileSystem, type Logger } from "../../core/mod.ts";
import type { Snapshot } from "../types.ts";
import type { RecoveredState } from "./raft_storage.ts";
import { decodeSnapshotFile } from "./record.ts";
import { type GroupState, newGroupState, placeEntries } from "./shared_group.ts";
import { SHARED_SEGMENT_HEADER_SIZE } from "./shared_record.ts";
import {
  assembleGroup,
  type ReplayDamage,
  type ReplayedGroup,
  type SegmentBytes,
  SharedLogReplay,
} from "./shared_replay.ts";

const SEGMENT_NAME = /^(\d{16})\.seg$/;
const SNAPSHOT_NAME = /^(\d+)\.snap$/;

/** The file name of segment `seq`. */
export function segmentName(seq: number): string {
  return `${String(seq).padStart(16, "0")}.seg`;
}

/** The path of group `id`'s snapshot file. */
export function snapshotPath(snapDir: string, id: number): string {
  return `${snapDir}/${id}.snap`;
}

/** A segment file of the log. */
export interface SegmentFile {
  readonly seq: number;
  readonly path: string;
  bytes: number;
}

/** Where the log lives. */
export interface LogPaths {
  fs: FileSystem;
  logDir: string;
  snapDir: string;
  logger: Logger;
  /** Damage before the tail throws, every file left as it is, instead of cutting the log. */
  failOnCorruption?: boolean;
}

/** What is on disk, as open found (and repaired) it. */
export interface RecoveredLog {
  /** Every group's bookkeeping (failed groups included). */
  states: GroupState[];
  /** The segments kept, in order. */
  segments: SegmentFile[];
  /** The highest segment sequence seen (the next segment gets the one after). */
  lastSeq: number;
  opened: {
    groups: Map<number, RecoveredState>;
    failed: Map<number, CorruptionError>;
    tornBytes: number;
    corruption: CorruptionError | null;
  };
}

/** Recovers every group of the shared log in `paths` (see the module doc). */
export async function recoverSharedLog(paths: LogPaths): Promise<RecoveredLog> {
  const { fs, logDir, snapDir } = paths;
  await fs.mkdir(logDir);
  await fs.mkdir(snapDir);
  const { snapshots, failed } = await loadSnapshots(paths);
  const log = await replayLog(paths);
  const { replay, corruption } = log;
  const states: GroupState[] = [];
  const groups = new Map<number, RecoveredState>();
  const ids = new Set([...replay.groups.keys(), ...snapshots.keys(), ...failed.keys()]);
  if (corruption) { for (const id of replay.beyond.keys()) ids.add(id); }
  for (const id of ids) {
    // A dropped group named again past corruption may have had a new life there.
    if (replay.dropped.has(id) && !replay.beyond.has(id)) continue;
    const failure = failed.get(id);
    if (failure) {
      states.push(failedGroup(id, failure, replay.groups.get(id)));
      continue;
    }
    const restored = restoreGroup(paths, id, replay, snapshots.get(id) ?? null, corruption);
    restored.state.tornBytes = log.tornBytes;
    groups.set(id, restored.state);
    states.push(restored.g);
  }
  // A tombstone made durable just before a crash: its snapshot file may still be there.
  let removed = false;
  for (const id of replay.dropped) {
    if (ids.has(id) && replay.beyond.has(id)) continue;
    if (!snapshots.has(id) && !failed.has(id)) continue;
    await fs.remove(snapshotPath(snapDir, id));
    removed = true;
  }
  if (removed) await fs.syncDir(snapDir);
  return {
    states,
    segments: log.segments,
    lastSeq: log.lastSeq,
    opened: { groups, failed, tornBytes: log.tornBytes, corruption },
  };
}

/** Reads every group's snapshot file; a damaged one fails its group. */
async function loadSnapshots({ fs, snapDir }: LogPaths): Promise<{
  snapshots: Map<number, Snapshot>;
  failed: Map<number, CorruptionError>;
}> {
  const snapshots = new Map<number, Snapshot>();
  const failed = new Map<number, CorruptionError>();
  for (const name of await fs.readDir(snapDir)) {
    const m = SNAPSHOT_NAME.exec(name);
    if (!m) continue;
    const path = `${snapDir}/${name}`;
    const decoded = decodeSnapshotFile(await fs.readFile(path));
    if (typeof decoded === "string") {
      failed.set(Number(m[1]), new CorruptionError(path, 0, decoded));
    } else snapshots.set(Number(m[1]), decoded);
  }
  return { snapshots, failed };
}

/** One pass over the segments; cuts a torn tail, sets corruption and what follows aside. */
async function replayLog(paths: LogPaths): Promise<{
  replay: SharedLogReplay;
  segments: SegmentFile[];
  lastSeq: number;
  tornBytes: number;
  corruption: CorruptionError | null;
}> {
  const { fs, logDir, logger } = paths;
  const replay = new SharedLogReplay();
  const segments: SegmentFile[] = [];
  const names = (await fs.readDir(logDir)).filter((n) => SEGMENT_NAME.test(n));
  const lastSeq = names.length > 0 ? Number(SEGMENT_NAME.exec(names.at(-1)!)![1]) : 0;
  const read = async (name: string): Promise<SegmentBytes> => {
    const path = `${logDir}/${name}`;
    return { seq: Number(SEGMENT_NAME.exec(name)![1]), path, data: await fs.readFile(path) };
  };
  for (let i = 0; i < names.length; i++) {
    const seg = await read(names[i]);
    const damage = replay.readSegment(seg, i === names.length - 1);
    if (!damage) {
      segments.push({ seq: seg.seq, path: seg.path, bytes: seg.data.length });
      continue;
    }
    if (damage.torn) {
      const tornBytes = seg.data.length - damage.offset;
      logger.warn("cut torn tail of shared raft log", {
        file: seg.path,
        offset: damage.offset,
        bytes: tornBytes,
      });
      if (await cutSegment(fs, seg, damage)) segments.push({ ...seg, bytes: damage.offset });
      return { replay, segments, lastSeq, tornBytes, corruption: null };
    }
    const corruption = new CorruptionError(seg.path, damage.offset, damage.why);
    if (paths.failOnCorruption) throw corruption;
    logger.error("shared raft log corruption: log cut, its groups must be repaired", {
      file: seg.path,
      offset: damage.offset,
      why: damage.why,
    });
    replay.scanBeyond(seg, damage.offset);
    // Keep the damaged bytes and everything after them for the operator. The later segments
    // leave durably before the damaged one is cut: a crash in between must find the same damage
    // again, not a clean cut followed by the records that came after it.
    await fs.writeFileAtomic(`${seg.path}.corrupt`, seg.data);
    for (const later of names.slice(i + 1)) {
      replay.scanBeyond(await read(later), null);
      await fs.rename(`${logDir}/${later}`, `${logDir}/${later}.corrupt`);
    }
    await fs.syncDir(logDir);
    if (await cutSegment(fs, seg, damage)) segments.push({ ...seg, bytes: damage.offset });
    return { replay, segments, lastSeq, tornBytes: 0, corruption };
  }
  return { replay, segments, lastSeq, tornBytes: 0, corruption: null };
}

/**
 * Cuts a damaged segment at the damage; returns false when it removed it instead (nothing
 * before the damage is usable). The removal is made durable at once: on a file system that does
 * not keep directory operations in order, the next segment's creation could otherwise survive a
 * power loss that undoes the removal, leaving a headerless segment in the middle of the log.
 */
async function cutSegment(
  fs: FileSystem,
  seg: SegmentBytes,
  damage: ReplayDamage,
): Promise<boolean> {
  if (damage.offset < SHARED_SEGMENT_HEADER_SIZE) {
    await fs.remove(seg.path);
    await fs.syncDir(seg.path.slice(0, seg.path.lastIndexOf("/")));
    return false;
  }
  const h = await fs.open(seg.path, { read: true, write: true });
  try {
    await h.truncate(damage.offset);
    await h.datasync();
  } finally {
    h.close();
  }
  return true;
}

/** A group's recovered state, and its bookkeeping from there on. */
function restoreGroup(
  { logDir, logger }: LogPaths,
  id: number,
  replay: SharedLogReplay,
  snapshot: Snapshot | null,
  corruption: CorruptionError | null,
): { state: RecoveredState; g: GroupState } {
  const replayed = replay.groups.get(id);
  const assembled = assembleGroup(id, replayed, snapshot, logDir);
  const st = assembled.state;
  const damaged = st.corruption ?? corruption;
  const state: RecoveredState = {
    ...st,
    corruption: damaged,
    recoverUntil: damaged
      ? Math.max(st.hardState.commit, replayed?.maxSeen ?? 0, replay.beyond.get(id) ?? 0)
      : 0,
  };
  if (st.corruption) {
    logger.error("shared raft log: group lost entries; it must be repaired", {
      group: id,
      why: st.corruption.message,
      recoverUntil: state.recoverUntil,
    });
  }
  const g = newGroupState(id);
  g.hardState = state.hardState;
  g.snapIndex = snapshot?.metadata.index ?? 0;
  g.compactIndex = g.snapIndex;
  g.lastIndex = state.entries.at(-1)?.index ?? g.snapIndex;
  g.base = Math.min(assembled.base, g.lastIndex); // the log was cut: no base past its end
  state.entries.forEach((e, k) => placeEntries(g, assembled.seqs[k], e.index, e.index));
  return { state, g };
}

/** A group with a damaged snapshot keeps what the log holds of it until the host drops it. */
function failedGroup(id: number, failure: CorruptionError, replayed?: ReplayedGroup): GroupState {
  const g = newGroupState(id);
  g.failed = failure;
  if (!replayed) return g;
  g.hardState = replayed.hardState;
  g.base = replayed.base;
  g.lastIndex = replayed.last;
  replayed.entries.forEach((e, k) => placeEntries(g, replayed.seqs[k], e.index, e.index));
  return g;
}
