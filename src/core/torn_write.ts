/**
 * What a power loss does to a write in progress.
 * @module
 */

/** The unit a disk writes whole: a power loss leaves each sector old or new, never a mix. */
export const SECTOR_BYTES = 512;
