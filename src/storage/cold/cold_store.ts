/**
 * The cold store: where shard groups older than a policy's `cold_after` live, rewritten as cold
 * segments (FORMAT.md beside this file). Two implementations: a folder (another disk,
 * {@linkcode DirColdStore}) and S3-compatible object storage ({@linkcode S3ColdStore}).
 *
 * The contract the move relies on: `put` makes an object whole or not at all (a reader never
 * sees part of one), and once it resolves the object is durable; `read` returns exactly the
 * bytes asked for (fewer only past the end); keys are `/`-separated ASCII paths.
 * @module
 */

/** An object as `list` reports it. */
export interface ColdObjectInfo {
  key: string;
  size: number;
  /** Last modification, ms since the epoch (orphans younger than a grace period are kept). */
  modifiedMs: number;
}

/** Object storage for cold segments. */
export interface ColdStore {
  /** Names the store in errors and logs (`dir:/mnt/cold`, `s3://bucket/prefix`). */
  readonly name: string;
  /** Stores an object atomically and durably (replacing one of the same key). */
  put(key: string, data: Uint8Array): Promise<void>;
  /** `length` bytes from `offset` (fewer only past the end of the object). */
  read(key: string, offset: number, length: number): Promise<Uint8Array>;
  /** The object's size, or null when it does not exist. */
  size(key: string): Promise<number | null>;
  /** Removes an object; removing a missing one is no error. */
  remove(key: string): Promise<void>;
  /** Every object whose key starts with `prefix`, by key. */
  list(prefix: string): Promise<ColdObjectInfo[]>;
}

/** Throws unless `key` is a key the stores accept (no empty part, `.` or `..`). */
export function checkColdKey(key: string): void {
  if (
    !/^[\x21-\x7e]+$/.test(key) || key.split("/").some((p) => p === "" || p === "." || p === "..")
  ) {
    throw new Error(`BUG: invalid cold object key ${JSON.stringify(key)}`);
  }
}
