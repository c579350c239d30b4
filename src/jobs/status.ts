/**
 * What the schedule shows: each alert rule's state, last evaluation, error and alerts
 * (`GET /api/v1/alerts`), and the figures of `/metrics`. The durable part (last runs, alert
 * states, evaluations) comes from the metadata, so every node answers the same; the counters are
 * this node's, as the node running the schedule counted them.
 * @module
 */
import { formatRFC3339Nano } from "../core/mod.ts";
import type { JobTable } from "../cluster/mod.ts";
import { renderTemplate } from "./alert_state.ts";
import type { JobScheduler } from "./scheduler.ts";

/** A metric family read at each scrape. */
export interface JobMetricFamily {
  name: string;
  help: string;
  type: "counter" | "gauge";
  samples: { labels: Record<string, string>; value: number }[];
}

/** Every alert rule in force with its state, last evaluation and alerts. */
export function alertsStatus(scheduler: JobScheduler, jobs: JobTable): Record<string, unknown> {
  const rules = scheduler.alertRules().map((rule) => {
    const alerts = [...(jobs.alerts.get(rule.name) ?? new Map()).values()];
    const evaluation = jobs.evaluations.get(rule.name);
    const state = alerts.some((a) => a.state === "firing")
      ? "firing"
      : alerts.some((a) => a.state === "pending")
      ? "pending"
      : "inactive";
    return {
      name: rule.name,
      database: rule.spec.database,
      query: rule.spec.query,
      condition: rule.spec.condition,
      for: rule.spec.for,
      every: rule.spec.every,
      labels: rule.spec.labels,
      annotations: rule.spec.annotations,
      source: (rule.spec as { source?: string }).source ?? "api",
      state,
      health: evaluation === undefined ? "unknown" : evaluation.error === "" ? "ok" : "error",
      lastEvaluation: evaluation ? formatRFC3339Nano(evaluation.atMs, 0) : null,
      evaluationMs: evaluation?.durationMs ?? null,
      lastError: evaluation?.error || null,
      evaluatedBy: evaluation?.node ?? null,
      alerts: alerts.map((a) => ({
        labels: a.labels,
        annotations: Object.fromEntries(
          Object.entries(rule.spec.annotations ?? {}).map(([k, v]) => [k, renderTemplate(v, a)]),
        ),
        state: a.state,
        activeAt: formatRFC3339Nano(a.activeAtMs, 0),
        firedAt: a.firedAtMs ? formatRFC3339Nano(a.firedAtMs, 0) : null,
        resolvedAt: a.resolvedAtMs ? formatRFC3339Nano(a.resolvedAtMs, 0) : null,
        notified: a.notifiedMs ? formatRFC3339Nano(a.notifiedMs, 0) : null,
        value: a.value,
      })),
    };
  });
  return { leader: scheduler.leading, rules };
}

/** The schedule's figures for `/metrics`. */
export function jobMetrics(scheduler: JobScheduler, jobs: JobTable): JobMetricFamily[] {
  const cqs = [...scheduler.cqFigures];
  const rules = [...scheduler.alertFigures];
  const alertCounts: { labels: Record<string, string>; value: number }[] = [];
  for (const rule of scheduler.alertRules()) {
    for (const state of ["pending", "firing"] as const) {
      let n = 0;
      for (const a of jobs.alerts.get(rule.name)?.values() ?? []) if (a.state === state) n++;
      alertCounts.push({ labels: { rule: rule.name, state }, value: n });
    }
  }
  const lastRuns: { labels: Record<string, string>; value: number }[] = [];
  for (const [id, ns] of jobs.lastRuns) {
    lastRuns.push({
      labels: { job: id.split("\u001f").slice(1).join(".") },
      value: Number(ns) / 1e9,
    });
  }
  return [
    {
      name: "epochnexus_jobs_leader",
      help: "1 when this node runs continuous queries and alert rules (the metadata leader).",
      type: "gauge",
      samples: [{ labels: {}, value: scheduler.leading ? 1 : 0 }],
    },
    {
      name: "epochnexus_cq_runs_total",
      help: "Continuous query and downsampling runs on this node, by outcome.",
      type: "counter",
      samples: cqs.flatMap(([cq, f]) => [
        { labels: { cq, outcome: "ok" }, value: f.ok },
        { labels: { cq, outcome: "failed" }, value: f.failed },
      ]),
    },
    {
      name: "epochnexus_cq_points_written_total",
      help: "Points continuous queries and downsampling wrote from this node.",
      type: "counter",
      samples: cqs.map(([cq, f]) => ({ labels: { cq }, value: f.written })),
    },
    {
      name: "epochnexus_cq_last_run_duration_seconds",
      help: "How long the last run of each continuous query took on this node.",
      type: "gauge",
      samples: cqs.map(([cq, f]) => ({ labels: { cq }, value: f.lastMs / 1000 })),
    },
    {
      name: "epochnexus_cq_last_run_timestamp_seconds",
      help: "The time each continuous query last ran for (the cluster's record).",
      type: "gauge",
      samples: lastRuns,
    },
    {
      name: "epochnexus_alert_rule_evaluations_total",
      help: "Alert rule evaluations on this node, by outcome.",
      type: "counter",
      samples: rules.flatMap(([rule, f]) => [
        { labels: { rule, outcome: "ok" }, value: f.ok },
        { labels: { rule, outcome: "failed" }, value: f.failed },
      ]),
    },
    {
      name: "epochnexus_alert_rule_last_evaluation_timestamp_seconds",
      help: "When each alert rule was last evaluated (the cluster's record).",
      type: "gauge",
      samples: [...jobs.evaluations].map(([rule, e]) => ({
        labels: { rule },
        value: e.atMs / 1000,
      })),
    },
    {
      name: "epochnexus_alert_rule_last_evaluation_failed",
      help: "1 when the last evaluation of an alert rule failed.",
      type: "gauge",
      samples: [...jobs.evaluations].map(([rule, e]) => ({
        labels: { rule },
        value: e.error === "" ? 0 : 1,
      })),
    },
    {
      name: "epochnexus_alerts",
      help: "Alerts by rule and state.",
      type: "gauge",
      samples: alertCounts,
    },
    {
      name: "epochnexus_alert_notifications_total",
      help: "Alert notifications sent from this node, by receiver kind and outcome.",
      type: "counter",
      samples: [...scheduler.notifications()].map(([key, value]) => {
        const [receiver, outcome] = key.split("\u0000");
        return { labels: { receiver, outcome }, value };
      }),
    },
  ];
}
