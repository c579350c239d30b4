/**
 * Alert rules against a real Prometheus Alertmanager (Debian's, on loopback with its own config):
 * a rule from a rules file goes pending, fires after its `for`, reaches Alertmanager (whose own
 * webhook then notifies a receiver) and a generic webhook; a restart of the node keeps it firing
 * with no second notification; it resolves when the data says so. Rules through the API; state,
 * evaluations and errors at /api/v1/alerts and /metrics.
 */
import assert from "node:assert/strict";
import { query, type ServerProcess, startServer } from "../_server.ts";
import { startAlertmanager } from "../_alertmanager.ts";
import { type Received, startReceiver } from "./_receiver.ts";

const RULES = `alerts:
  - name: HighTemp
    database: sensors
    query: SELECT last(temp) AS temp FROM room WHERE time > now() - 1h GROUP BY room
    condition: temp > 30
    for: 3s
    every: 1s
    labels: { severity: page }
    annotations: { summary: "room {{ $labels.room }} at {{ $value }}" }
`;

/** Alertmanager's configuration: one route to the receiver, no repeat within the test. */
function amConfig(receiver: string): string {
  return `route:
  receiver: hook
  group_by: [alertname, room]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: ${receiver}/alertmanager
        send_resolved: true
`;
}

// deno-lint-ignore no-explicit-any
async function alerts(url: string): Promise<any> {
  const r = await fetch(`${url}/api/v1/alerts`);
  assert.equal(r.status, 200);
  return await r.json();
}

// deno-lint-ignore no-explicit-any
async function waitAlert(url: string, state: string, timeoutMs = 30_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    last = await alerts(url).catch((e) => String(e));
    // deno-lint-ignore no-explicit-any
    const rule = (last as any)?.rules?.find((r: any) => r.name === "HighTemp");
    // deno-lint-ignore no-explicit-any
    const alert = rule?.alerts.find((a: any) => a.labels.room === "a");
    if (alert?.state === state) return { rule, alert };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`room a never ${state}: ${JSON.stringify(last)}`);
}

async function write(url: string, line: string): Promise<void> {
  const r = await fetch(`${url}/write?db=sensors`, { method: "POST", body: line });
  assert.equal(r.status, 204, await r.text());
}

const isAm = (status: string) => (r: Received) =>
  r.path === "/alertmanager" && r.body.status === status &&
  r.body.alerts.some((a: { labels: { room: string } }) => a.labels.room === "a");
const isHook = (status: string) => (r: Received) =>
  r.path === "/hook" && r.body.status === status &&
  r.body.alerts.some((a: { labels: { room: string } }) => a.labels.room === "a");

Deno.test({
  name: "alerts: pending, firing after `for`, through Alertmanager and a webhook, across a restart",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const receiver = startReceiver();
    const am = await startAlertmanager(amConfig(receiver.url));
    const rulesDir = await Deno.makeTempDir({ prefix: "epochnexus-rules-" });
    await Deno.writeTextFile(`${rulesDir}/sensors.yaml`, RULES);
    const env = {
      EPOCHNEXUS_RULES_DIR: rulesDir,
      EPOCHNEXUS_ALERTMANAGER_URLS: am.url,
      EPOCHNEXUS_ALERT_WEBHOOK_URLS: `${receiver.url}/hook`,
      EPOCHNEXUS_ALERT_RESEND_DELAY_MS: "2000",
    };
    let server: ServerProcess | undefined = await startServer({ env });
    try {
      await query(server.url, "CREATE DATABASE sensors");
      await write(server.url, "room,room=b temp=20");
      const started = Date.now();
      await write(server.url, "room,room=a temp=35");
      const pending = await waitAlert(server.url, "pending");
      assert.equal(pending.rule.state, "pending");
      assert.equal(pending.rule.health, "ok");

      const firing = await waitAlert(server.url, "firing");
      assert.ok(
        Date.parse(firing.alert.firedAt) - Date.parse(firing.alert.activeAt) >= 3000,
        JSON.stringify(firing.alert),
      );
      assert.deepEqual(firing.alert.labels, { alertname: "HighTemp", room: "a", severity: "page" });
      assert.equal(firing.alert.annotations.summary, "room a at 35");
      // Room b never fired: its condition does not hold.
      assert.equal(firing.rule.alerts.length, 1);

      const hook = await receiver.waitFor(isHook("firing"), "firing webhook");
      const viaAm = await receiver.waitFor(isAm("firing"), "firing notification from Alertmanager");
      assert.equal(viaAm.body.alerts[0].annotations.summary, "room a at 35");
      const inAm = await (await fetch(`${am.url}/api/v2/alerts`)).json();
      assert.equal(inAm.length, 1, JSON.stringify(inAm));
      assert.equal(inAm[0].labels.alertname, "HighTemp");
      assert.equal(inAm[0].status.state, "active");
      console.log(
        `condition written -> Alertmanager notified its receiver: ${viaAm.atMs - started} ms ` +
          `(for 3 s, evaluation every 1 s, group_wait 1 s); webhook: ${hook.atMs - started} ms`,
      );

      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, /epochnexus_alerts\{rule="HighTemp",state="firing"\} 1/);
      assert.match(
        metrics,
        /epochnexus_alert_notifications_total\{outcome="sent",receiver="alertmanager"\} [1-9]/,
      );
      assert.match(metrics, /epochnexus_alert_rule_last_evaluation_failed\{rule="HighTemp"\} 0/);

      // A restart while firing: the alert stays firing since the same time, and nobody is
      // notified again (Alertmanager sees the same alert; the webhook, no change of state).
      const firedAt = firing.alert.firedAt;
      await server.stop();
      server = await startServer({ env, dataDir: server.dataDir });
      const after = await waitAlert(server.url, "firing");
      assert.equal(after.alert.firedAt, firedAt);
      const evaluated = Date.parse(after.rule.lastEvaluation);
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline) {
        const again = await waitAlert(server.url, "firing");
        if (Date.parse(again.rule.lastEvaluation) >= evaluated + 5000) break; // resends included
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(receiver.received.filter(isHook("firing")).length, 1, "webhook: one firing");
      assert.equal(receiver.received.filter(isAm("firing")).length, 1, "Alertmanager: one firing");

      // The data says it is over: resolved, announced once to both.
      await write(server.url, "room,room=a temp=25");
      await receiver.waitFor(isHook("resolved"), "resolved webhook");
      await receiver.waitFor(isAm("resolved"), "resolved notification from Alertmanager");
      const settled = await alerts(server.url);
      assert.equal(settled.rules[0].state, "inactive", JSON.stringify(settled));
      assert.deepEqual(settled.rules[0].alerts, []);
    } finally {
      await server?.stop();
      await am.stop();
      await receiver.stop();
      await Deno.remove(rulesDir, { recursive: true });
    }
  },
});

Deno.test({
  name: "alert rules through the API: checked, listed, evaluated with errors shown, deleted",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const rulesDir = await Deno.makeTempDir({ prefix: "epochnexus-rules-" });
    await Deno.writeTextFile(`${rulesDir}/sensors.yaml`, RULES);
    const server = await startServer({ env: { EPOCHNEXUS_RULES_DIR: rulesDir } });
    try {
      const put = (name: string, body: string) =>
        fetch(`${server.url}/api/v1/alert-rules/${name}`, { method: "PUT", body });
      const bad = await put(
        "Broken",
        "database: sensors\nquery: SELECT * FROM x\ncondition: 'a >'\n",
      );
      assert.equal(bad.status, 400);
      assert.match((await bad.json()).error.message, /condition: invalid expression/);
      const clash = await put(
        "HighTemp",
        "database: sensors\nquery: SELECT * FROM x\ncondition: a\n",
      );
      assert.equal(clash.status, 409);
      await clash.body?.cancel();
      const ok = await put(
        "Missing",
        JSON.stringify({
          database: "nowhere",
          query: "SELECT last(v) FROM m",
          condition: "v > 1",
          every: "1s",
        }),
      );
      assert.equal(ok.status, 200, await ok.text());
      const listed = await (await fetch(`${server.url}/api/v1/alert-rules`)).json();
      assert.deepEqual(listed.rules.map((r: { name: string }) => r.name), ["Missing"]);
      // Its evaluation fails (no such database): health, error and the metric say so.
      const deadline = Date.now() + 20_000;
      // deno-lint-ignore no-explicit-any
      let rule: any;
      while (Date.now() < deadline) {
        rule = (await alerts(server.url)).rules.find((r: { name: string }) => r.name === "Missing");
        if (rule?.health === "error") break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(rule.health, "error", JSON.stringify(rule));
      assert.match(rule.lastError, /database not found: nowhere/);
      assert.equal(rule.source, "api");
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, /epochnexus_alert_rule_last_evaluation_failed\{rule="Missing"\} 1/);
      const gone = await fetch(`${server.url}/api/v1/alert-rules/Missing`, { method: "DELETE" });
      assert.equal(gone.status, 204);
      const twice = await fetch(`${server.url}/api/v1/alert-rules/Missing`, { method: "DELETE" });
      assert.equal(twice.status, 404);
      await twice.body?.cancel();
    } finally {
      await server.stop();
      await Deno.remove(rulesDir, { recursive: true });
    }
  },
});
