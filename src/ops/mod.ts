/**
 * Operations on whole databases: export (points out as line protocol, CSV or NDJSON, streamed in
 * windows of bounded size), and the backup and restore of a node's or a cluster's data.
 * @module
 */
export {
  DEFAULT_WINDOW_VALUES,
  type ExportPlan,
  type ExportScope,
  type ExportWindow,
  planExport,
  type PlanOptions,
  shardsOf,
} from "./export_plan.ts";
export { seriesPoints, windowPoints, type WindowPointsOptions } from "./export_points.ts";
export {
  type CsvColumns,
  csvImportHint,
  EXPORT_FORMATS,
  type ExportFormat,
  type PointFormatter,
  pointFormatter,
} from "./export_formats.ts";
