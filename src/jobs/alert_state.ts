/**
 * An alert rule's evaluation as data, pure: from the rule's query result, the alerts as they
 * stood and the time, the alerts as they stand now and which notifications are due.
 *
 * Each series of the result is one alert, labelled `alertname`, the rule's labels and the
 * series' group-by tags; the condition is tested on its last row. An alert whose condition holds
 * is `pending` until it has held for `for`, then `firing`; a firing alert whose condition no
 * longer holds (or whose series is gone) is `resolved` and kept until the resolution has been
 * delivered; a pending one just goes. A failed evaluation changes nothing.
 *
 * Delivery: Alertmanager receives every firing alert whose state it has not had, and again every
 * `resendDelay` (its alerts expire otherwise), and each resolution; webhooks receive each change
 * of state once (firing, then resolved). `notifiedMs` says when the current state was delivered
 * to every receiver; it survives a leader change in the metadata, so a new leader neither drops
 * nor repeats a notification.
 * @module
 */
import type { Field, FieldType, Point } from "../core/mod.ts";
import type { AlertMeta } from "../cluster/mod.ts";
import type { ResultSeries } from "../query/mod.ts";
import { compileExpression, truthy } from "../schema/mod.ts";

/** What the state machine needs of a rule. */
export interface AlertRuleRun {
  name: string;
  forMs: number;
  labels: Record<string, string>;
  condition: string;
  value?: string;
}

/** One series of a rule's result, judged. */
export interface AlertSample {
  fingerprint: string;
  labels: Record<string, string>;
  holds: boolean;
  value: AlertMeta["value"];
}

/** The fingerprint of a label set: its sorted pairs as JSON. */
export function fingerprintOf(labels: Record<string, string>): string {
  return JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]));
}

/**
 * Judges each series of a rule's result on its last row.
 * @throws {ParseError} when the condition does not compile (checked when the rule is loaded).
 */
export function samplesOf(rule: AlertRuleRun, series: readonly ResultSeries[]): AlertSample[] {
  const condition = compileExpression(rule.condition);
  const out: AlertSample[] = [];
  for (const s of series) {
    const row = s.values[s.values.length - 1];
    if (!row) continue;
    const fields: Field[] = [];
    const point: Point = {
      measurement: s.name,
      tags: Object.keys(s.tags ?? {}).sort().map((key) => ({ key, value: s.tags![key] })),
      fields,
      timeMs: 0,
      timeSubMs: 0,
    };
    let value: AlertMeta["value"] = null;
    for (let c = s.timeColumn ? 1 : 0; c < s.columns.length; c++) {
      const v = row[c];
      if (v === null || typeof v === "object") continue;
      const cell = typeof v === "bigint" ? Number(v) : v;
      fields.push({ key: s.columns[c], type: 1 as FieldType, value: cell });
      if ((rule.value === undefined && value === null) || rule.value === s.columns[c]) {
        value = cell;
      }
    }
    const labels: Record<string, string> = { ...rule.labels };
    for (const t of point.tags) if (t.value !== "") labels[t.key] = t.value;
    labels.alertname = rule.name;
    out.push({
      fingerprint: fingerprintOf(labels),
      labels,
      holds: truthy(condition(point)),
      value,
    });
  }
  return out;
}

/**
 * The alerts after an evaluation at `nowMs`: the changed ones (null: gone). Alerts whose series
 * is absent count as not holding.
 */
export function nextAlerts(
  rule: AlertRuleRun,
  previous: ReadonlyMap<string, AlertMeta>,
  samples: readonly AlertSample[],
  nowMs: number,
): Map<string, AlertMeta | null> {
  const changes = new Map<string, AlertMeta | null>();
  const change = (fingerprint: string, next: AlertMeta | null) => {
    const before = previous.get(fingerprint);
    if (next === null ? before !== undefined : !sameAlert(before, next)) {
      changes.set(fingerprint, next);
    }
  };
  const seen = new Set<string>();
  for (const s of samples) {
    seen.add(s.fingerprint);
    const before = previous.get(s.fingerprint);
    if (!s.holds) {
      if (before) change(s.fingerprint, stop(before, nowMs));
      continue;
    }
    const active = before === undefined || before.state === "resolved"
      ? { labels: s.labels, activeAtMs: nowMs }
      : { labels: before.labels, activeAtMs: before.activeAtMs };
    const firing = nowMs - active.activeAtMs >= rule.forMs;
    const wasFiring = before?.state === "firing";
    const next: AlertMeta = {
      labels: active.labels,
      state: firing ? "firing" : "pending",
      activeAtMs: active.activeAtMs,
      firedAtMs: wasFiring ? before!.firedAtMs : firing ? nowMs : 0,
      resolvedAtMs: 0,
      // A state not delivered yet: a new firing (or a pending one, never delivered).
      notifiedMs: wasFiring ? before!.notifiedMs : 0,
      value: s.value,
    };
    change(s.fingerprint, next);
  }
  for (const [fingerprint, before] of previous) {
    if (!seen.has(fingerprint)) change(fingerprint, stop(before, nowMs));
  }
  return changes;
}

/** An alert whose condition no longer holds: a firing one resolves, a pending one goes. */
function stop(before: AlertMeta, nowMs: number): AlertMeta | null {
  if (before.state === "pending") return null;
  if (before.state === "resolved") return before;
  return { ...before, state: "resolved", resolvedAtMs: nowMs, notifiedMs: 0 };
}

function sameAlert(a: AlertMeta | undefined, b: AlertMeta): boolean {
  return a !== undefined && a.state === b.state && a.activeAtMs === b.activeAtMs &&
    a.firedAtMs === b.firedAtMs && a.resolvedAtMs === b.resolvedAtMs &&
    a.notifiedMs === b.notifiedMs && a.value === b.value;
}

/** The alerts due to each kind of receiver. */
export interface DueNotifications {
  /** Firing alerts to (re)send and resolutions not delivered yet. */
  alertmanager: [string, AlertMeta][];
  /** Changes of state not delivered yet. */
  webhook: [string, AlertMeta][];
}

/** The notifications due at `nowMs`. */
export function dueNotifications(
  alerts: ReadonlyMap<string, AlertMeta>,
  nowMs: number,
  resendDelayMs: number,
): DueNotifications {
  const out: DueNotifications = { alertmanager: [], webhook: [] };
  for (const [fp, a] of alerts) {
    if (a.state === "pending") continue;
    const undelivered = a.notifiedMs === 0;
    if (undelivered) out.webhook.push([fp, a]);
    if (undelivered || (a.state === "firing" && nowMs - a.notifiedMs >= resendDelayMs)) {
      out.alertmanager.push([fp, a]);
    }
  }
  return out;
}

/** `{{ $labels.x }}`, `{{ $value }}` and `{{ $labels }}` filled in. */
export function renderTemplate(text: string, alert: AlertMeta): string {
  return text.replace(
    /\{\{\s*\$(labels(?:\.([A-Za-z_][A-Za-z0-9_]*))?|value)\s*\}\}/g,
    (_, what, label) =>
      what === "value"
        ? String(alert.value ?? "")
        : label !== undefined
        ? alert.labels[label] ?? ""
        : JSON.stringify(alert.labels),
  );
}
