/**
 * Delivering alerts: to Prometheus Alertmanager's API v2 (`POST <url>/api/v2/alerts`, a list of
 * `{labels, annotations, startsAt, endsAt}`; a firing alert's `endsAt` lies ahead, by four resend
 * delays or evaluation intervals as Prometheus sets it, so Alertmanager resolves it by itself if
 * the evaluator goes silent) and to generic webhooks (Alertmanager's webhook body: `{version,
 * status, receiver, alerts, commonLabels}`). Each request is tried a few times with a growing
 * pause; what still fails is tried again at the next evaluation, since the alert stays
 * undelivered in the metadata.
 * @module
 */
import { formatRFC3339Nano, type Logger } from "../core/mod.ts";
import type { AlertMeta } from "../cluster/mod.ts";
import { renderTemplate } from "./alert_state.ts";

/** Where alerts go. */
export interface NotifierOptions {
  /** Alertmanager base URLs (`http://am:9093`). */
  alertmanagers: readonly string[];
  /** Webhook URLs. */
  webhooks: readonly string[];
  fetch: (url: string, init: RequestInit) => Promise<Response>;
  sleep: (ms: number) => Promise<void>;
  logger: Logger;
  /** Tries per request. @default {3} */
  attempts?: number;
  /** Timeout of one request. @default {5000} */
  timeoutMs?: number;
}

/** A rule's alerts to deliver, with what their payloads need. */
export interface AlertBatch {
  rule: string;
  annotations: Record<string, string>;
  alerts: AlertMeta[];
  nowMs: number;
  /** How far ahead a firing alert's `endsAt` lies. */
  validForMs: number;
}

/** Counts of deliveries by receiver kind and outcome (for /metrics). */
export type DeliveryCounts = Map<string, number>;

/** Sends alert batches to every receiver of a kind. */
export class Notifier {
  readonly counts: DeliveryCounts = new Map();
  readonly #o: NotifierOptions;

  constructor(options: NotifierOptions) {
    this.#o = options;
  }

  /** True when there is a receiver at all. */
  get configured(): boolean {
    return this.#o.alertmanagers.length > 0 || this.#o.webhooks.length > 0;
  }

  /** Delivers to every Alertmanager; true when each accepted it (or there is none). */
  async toAlertmanagers(batch: AlertBatch): Promise<boolean> {
    if (batch.alerts.length === 0) return true;
    const body = JSON.stringify(batch.alerts.map((a) => amAlert(a, batch)));
    let ok = true;
    for (const base of this.#o.alertmanagers) {
      const url = `${base.replace(/\/+$/, "")}/api/v2/alerts`;
      ok = await this.#post("alertmanager", url, body, batch.rule) && ok;
    }
    return ok;
  }

  /** Delivers to every webhook; true when each accepted it (or there is none). */
  async toWebhooks(batch: AlertBatch): Promise<boolean> {
    if (batch.alerts.length === 0) return true;
    const alerts = batch.alerts.map((a) => ({
      status: a.state === "resolved" ? "resolved" : "firing",
      ...amAlert(a, batch),
    }));
    const body = JSON.stringify({
      version: "4",
      receiver: "epochnexus",
      status: alerts.some((a) => a.status === "firing") ? "firing" : "resolved",
      alerts,
      commonLabels: { alertname: batch.rule },
    });
    let ok = true;
    for (const url of this.#o.webhooks) {
      ok = await this.#post("webhook", url, body, batch.rule) && ok;
    }
    return ok;
  }

  async #post(kind: string, url: string, body: string, rule: string): Promise<boolean> {
    const attempts = this.#o.attempts ?? 3;
    let last = "";
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await this.#o.sleep(200 * 4 ** (attempt - 1));
      try {
        const response = await this.#o.fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
          signal: AbortSignal.timeout(this.#o.timeoutMs ?? 5000),
        });
        const text = await response.text().catch(() => "");
        if (response.ok) {
          this.#count(kind, "sent");
          return true;
        }
        last = `HTTP ${response.status}: ${text.slice(0, 200)}`;
        // A refusal that another try will not change.
        if (response.status >= 400 && response.status < 500 && response.status !== 429) break;
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
    }
    this.#count(kind, "failed");
    this.#o.logger.warn("alert notification not delivered; trying again at the next evaluation", {
      receiver: url,
      rule,
      error: last,
    });
    return false;
  }

  #count(kind: string, outcome: string): void {
    const key = `${kind}\u0000${outcome}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
}

/** An alert as Alertmanager's API v2 takes it. */
function amAlert(a: AlertMeta, batch: AlertBatch) {
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(batch.annotations)) annotations[k] = renderTemplate(v, a);
  const endsMs = a.state === "resolved" ? a.resolvedAtMs : batch.nowMs + batch.validForMs;
  return {
    labels: a.labels,
    annotations,
    startsAt: formatRFC3339Nano(a.firedAtMs || a.activeAtMs, 0),
    endsAt: formatRFC3339Nano(endsMs, 0),
  };
}
