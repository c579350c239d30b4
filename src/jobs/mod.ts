/**
 * Scheduled work, run by the metadata leader of a cluster: InfluxDB's continuous queries,
 * declarative downsampling (rules files), and alert rules whose notifications go to Prometheus
 * Alertmanager and webhooks. Definitions and the schedule's state live in the cluster's metadata
 * (`src/cluster/meta/meta_jobs.ts`), so a new leader carries on where the last one stopped.
 * @module
 */
export { type CqDecision, cqDecision, type CqTiming, goTruncate } from "./cq_schedule.ts";
export {
  cqDefinition,
  type CqRunOutcome,
  type CqSpec,
  cqTimingOf,
  goDuration,
  parseCq,
  runCq,
  withTimeRange,
} from "./continuous_query.ts";
export {
  type AlertRuleRun,
  type AlertSample,
  dueNotifications,
  fingerprintOf,
  nextAlerts,
  renderTemplate,
  samplesOf,
} from "./alert_state.ts";
export { type AlertBatch, Notifier, type NotifierOptions } from "./notifier.ts";
export { type LoadedRules, parseAlertRule, parseRulesFiles, RulesError } from "./rules_file.ts";
export { AlertRuleSpec, DownsamplingSpec, parseDurationNs, RulesFile } from "./rules_model.ts";
export { downsamplingSelect } from "./downsampling.ts";
export { JobScheduler, type JobsHost, type SchedulerOptions } from "./scheduler.ts";
export { alertsStatus, type JobMetricFamily, jobMetrics } from "./status.ts";
export { RulesSource } from "./rules_source.ts";
export { JobsService, type JobsServiceOptions } from "./service.ts";
