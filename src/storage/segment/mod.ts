/**
 * Immutable segment files: writer, reader, block cache. Format: FORMAT.md.
 * @module
 */
export * from "./block_cache.ts";
export * from "./block_compression.ts";
export * from "./reader.ts";
export * from "./series_hash.ts";
export * from "./series_index.ts";
export * from "./writer.ts";
