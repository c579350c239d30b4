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
export {
  type BackupFrame,
  decodeFrames,
  encodeChunk,
  encodeDone,
  encodeFailure,
  type PartitionFrame,
} from "./backup_frames.ts";
export {
  BACKUP_VERSION,
  type BackupManifest,
  type BackupPartition,
  backupPaths,
  latestBackup,
  type LinkFile,
  publishBackup,
  readManifest,
  type ReceivedPartition,
  receivePartition,
  writeBackupFiles,
} from "./backup_folder.ts";
export { openBackupPartition, type OpenedPartition } from "./backup_source.ts";
