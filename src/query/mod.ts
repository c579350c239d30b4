/**
 * The query room: InfluxQL parsing (generated from grammar/influxql.peggy), the AST and its
 * printer, planning and execution against a {@linkcode QueryStore} (per-shard partial results
 * merged by a coordinator), and the result encoders (InfluxDB JSON, CSV, text tables).
 *
 * @example
 * ```ts
 * import { encodeJson, executeQuery } from "./mod.ts";
 * const results = await executeQuery(store, "SELECT mean(usage) FROM cpu GROUP BY time(1m)", {
 *   database: "telegraf",
 *   nowNs: 1678886400000000000n,
 * });
 * const body = encodeJson(results, { epoch: "ms" });
 * ```
 *
 * @module
 */
export type * from "./ast.ts";
export { isWriteStatement } from "./ast.ts";
export { KEYWORDS, parseQuery, parseStatement } from "./parser.ts";
export { StatementCache, type StatementCacheOptions, STATEMENTS } from "./statement_cache.ts";
export { printExpr, printQuery, printStatement, quoteIdent, quoteString } from "./print.ts";
export { deleteFilters, type ExecuteOptions, executeQuery, executeStatements } from "./executor.ts";
export type { ResultSeries, StatementResult, Value } from "./result.ts";
export { isInstant } from "./result.ts";
export { compileRegex } from "./eval.ts";
export {
  type PlainResult,
  plainResults,
  type PlainSeries,
  type TimeFormat,
} from "./plain_result.ts";
export {
  encodeJson,
  encodeResult,
  type EpochUnit,
  type JsonOptions,
  jsonString,
} from "./encode_json.ts";
export {
  CHUNK_BYTES,
  jsonChunks,
  type JsonChunksOptions,
  jsonChunksStreamed,
} from "./encode_json_bytes.ts";
export { csvFailure, type CsvOptions, encodeCsv } from "./encode_csv.ts";
export { type ChunkOptions, encodeChunks, streamedChunks } from "./encode_chunks.ts";
export { formatTable } from "./encode_table.ts";
export { functionNames } from "./functions/mod.ts";
export type {
  DeleteRequest,
  FieldColumn,
  FieldPart,
  FieldPartsOptions,
  QueryStore,
  RetentionPolicyInfo,
  RetentionPolicySpec,
  SeriesRef,
  ShardReader,
  TagFilter,
} from "./store.ts";
export {
  checkQuerySize,
  CLIENT_GONE_MESSAGE,
  DEFAULT_QUERY_LIMITS,
  limitHit,
  QueryBudget,
  QueryInterruptedError,
  type QueryLimitName,
  type QueryLimits,
  QueryMemory,
  QueryRegistry,
  type RunningQuery,
} from "./limits.ts";
export { foldSeriesPartials, runRequestBySeries } from "./series_partials.ts";
export type { SeriesPartial, ShardPartial } from "./shard_exec.ts";
export type { PlanRequest, ReadConsistency, ShardsOptions } from "./store.ts";
export type { UserAdmin } from "./users.ts";
export type { ContinuousQueryAdmin } from "./continuous_queries.ts";
export type { MeasurementSchema, SelectPlan } from "./plan.ts";
export { planSelect } from "./plan.ts";
export { type SplitCondition, splitCondition } from "./condition.ts";
