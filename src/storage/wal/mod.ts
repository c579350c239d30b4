/**
 * The write-ahead log and its record codec.
 * @module
 */
export * from "./batch_codec.ts";
export * from "./wal.ts";
export * from "./limits.ts";
