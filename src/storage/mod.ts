/**
 * The per-node storage engine: WAL, catalog, heads, segment files, compaction, retention.
 * @module
 */
export * from "./engine.ts";
export * from "./cold/mod.ts";
export {
  fieldLimitProblem,
  MAX_FIELDS_PER_MEASUREMENT,
  PassedFieldTypes,
  pointProblem,
  PointRules,
} from "./point_rules.ts";
export type { ColumnView } from "./column.ts";
export type { ShardBlockSummary, ShardFieldPart, ShardSeries } from "./shard.ts";
export { decodeWriteBatch, encodeWriteBatch, WAL_VERSION } from "./wal/mod.ts";
export { BlockCache, SEGMENT_VERSION } from "./segment/mod.ts";
