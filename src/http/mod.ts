/**
 * The HTTP surface of a node as one fetch handler.
 * @module
 */
export {
  type App,
  type AppContext,
  type AppOptions,
  createApp,
  type Handler,
  type RequestInfo,
} from "./app.ts";
export { Metrics, type SampledFamily } from "./metrics.ts";
export { processFamilies, type ProcessSource } from "./process_metrics.ts";
export { type AccessSink } from "./access_log.ts";
export { WARNING_HEADER } from "./write_handler.ts";
export type { IngestPipeline } from "./write_path.ts";
export { configureQueries } from "./query_handler.ts";
export { MAX_READ_QUERIES } from "./prom_read_handler.ts";
export { storedDataOf } from "./schema_handler.ts";
export { ingestSettingsFromConfig } from "./ingest_handler.ts";
export { INFLUX_VERSION } from "./responses.ts";
export type { ClusterApi, DataStore } from "./app.ts";
export { type Route, type RouteAccess, ROUTES } from "./routes.ts";
export {
  type AuthContext,
  BOOTSTRAP_MESSAGE,
  credentialsOf,
  flushRefusalLogs,
  refusalLogs,
} from "./auth_gate.ts";
