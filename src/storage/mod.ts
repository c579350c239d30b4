/**
 * The per-node storage engine: WAL, catalog, in-memory heads (segments come next).
 * @module
 */
export * from "./engine.ts";
export type { ColumnView } from "./column.ts";
export { WAL_VERSION } from "./wal/mod.ts";
