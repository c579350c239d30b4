import assert from "node:assert/strict";
import type { AlertMeta } from "../cluster/mod.ts";
import type { ResultSeries } from "../query/mod.ts";
import {
  dueNotifications,
  fingerprintOf,
  nextAlerts,
  renderTemplate,
  samplesOf,
} from "./alert_state.ts";

const rule = { name: "Hot", forMs: 3000, labels: { severity: "page" }, condition: "temp > 30" };

function series(room: string, temp: number | null): ResultSeries {
  return {
    name: "room",
    tags: { room },
    columns: ["time", "temp"],
    values: [[{ ms: 0, subMs: 0 }, temp]],
    timeColumn: true,
  };
}

/** Applies an evaluation's changes to the alerts. */
function step(
  alerts: Map<string, AlertMeta>,
  result: ResultSeries[],
  nowMs: number,
): Map<string, AlertMeta | null> {
  const changes = nextAlerts(rule, alerts, samplesOf(rule, result), nowMs);
  for (const [fp, a] of changes) a === null ? alerts.delete(fp) : alerts.set(fp, a);
  return changes;
}

Deno.test("an alert is pending, fires once it held for `for`, resolves and is kept until delivered", () => {
  const alerts = new Map<string, AlertMeta>();
  const fp = fingerprintOf({ severity: "page", room: "a", alertname: "Hot" });
  step(alerts, [series("a", 35), series("b", 20)], 1000);
  assert.deepEqual([...alerts.keys()], [fp]);
  assert.equal(alerts.get(fp)!.state, "pending");
  assert.equal(step(alerts, [series("a", 36)], 2000).get(fp)?.value, 36);
  assert.equal(alerts.get(fp)!.state, "pending");
  step(alerts, [series("a", 36)], 4000);
  assert.equal(alerts.get(fp)!.state, "firing");
  assert.equal(alerts.get(fp)!.firedAtMs, 4000);
  assert.equal(alerts.get(fp)!.activeAtMs, 1000);
  // Nothing changes while it keeps holding with the same value.
  assert.equal(step(alerts, [series("a", 36)], 5000).size, 0);
  // The series is gone: resolved.
  step(alerts, [], 6000);
  assert.equal(alerts.get(fp)!.state, "resolved");
  assert.equal(alerts.get(fp)!.resolvedAtMs, 6000);
  // A pending alert whose condition stops holding just goes, unannounced.
  step(alerts, [series("c", 40)], 7000);
  step(alerts, [series("c", 10)], 8000);
  assert.equal([...alerts.values()].filter((a) => a.labels.room === "c").length, 0);
});

Deno.test("deliveries: webhooks once per change, Alertmanager again after the resend delay", () => {
  const firing: AlertMeta = {
    labels: { alertname: "Hot" },
    state: "firing",
    activeAtMs: 0,
    firedAtMs: 3000,
    resolvedAtMs: 0,
    notifiedMs: 0,
    value: 35,
  };
  const alerts = new Map([["x", firing]]);
  let due = dueNotifications(alerts, 3000, 60_000);
  assert.equal(due.webhook.length, 1);
  assert.equal(due.alertmanager.length, 1);
  alerts.set("x", { ...firing, notifiedMs: 3000 });
  due = dueNotifications(alerts, 30_000, 60_000);
  assert.deepEqual([due.webhook.length, due.alertmanager.length], [0, 0]);
  due = dueNotifications(alerts, 63_000, 60_000);
  assert.deepEqual([due.webhook.length, due.alertmanager.length], [0, 1]);
  alerts.set("x", { ...firing, state: "resolved", resolvedAtMs: 64_000, notifiedMs: 0 });
  due = dueNotifications(alerts, 64_000, 60_000);
  assert.deepEqual([due.webhook.length, due.alertmanager.length], [1, 1]);
});

Deno.test("annotation templates: labels and value", () => {
  const a = { labels: { room: "a" }, value: 35 } as unknown as AlertMeta;
  assert.equal(
    renderTemplate("room {{ $labels.room }} at {{$value}}{{ $labels.none }}", a),
    "room a at 35",
  );
});
