/**
 * The cold tier: stores for cold segments (a folder, S3-compatible object storage), their
 * objects as segment sources, the object layout (FORMAT.md).
 * @module
 */
export * from "./cold_store.ts";
export * from "./cold_source.ts";
export * from "./dir_store.ts";
export * from "./s3_store.ts";
