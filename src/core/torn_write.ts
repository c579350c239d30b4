/**
 * Telling a write the power cut from damage, for the logs' recovery (the WAL, the Raft log).
 * @module
 */

/** The unit a disk writes whole: a power loss leaves each sector old or new, never a mix. */
export const SECTOR_BYTES = 512;

/**
 * Whether the damaged record at [offset, end) of a log's last file can be a write the power
 * cut: a sector it overlaps reads as zeros from the record's start (or the sector's) to the
 * sector's end (or the file's). The kernel writes an unsynced write's pages back in any order
 * and a disk writes sectors whole, so after a power loss any sector of the last write may read
 * as it was before: zeros past the last fsync. Records after such a sector were not fsynced
 * either (a log fsyncs after its write), so the log ends there. Zeros that legitimately end a
 * record stop at the next record's header, whose length is never zero, so they do not pass for
 * an unwritten sector; real damage passes only if it also zeroed a whole sector's tail.
 */
export function hasUnwrittenSector(bytes: Uint8Array, offset: number, end: number): boolean {
  const stop = Math.min(end, bytes.length);
  for (let s = Math.floor(offset / SECTOR_BYTES) * SECTOR_BYTES; s < stop; s += SECTOR_BYTES) {
    if (isZero(bytes, Math.max(s, offset), Math.min(s + SECTOR_BYTES, bytes.length))) return true;
  }
  return false;
}

function isZero(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return false;
  return true;
}
