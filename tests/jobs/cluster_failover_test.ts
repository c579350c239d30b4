/**
 * Scheduled jobs in a three-node cluster survive the death of the node running them: kill -9
 * the metadata leader while a continuous query runs and an alert fires; another node takes the
 * schedule over from the recorded state. The CQ's result has no gap (the buckets due while no
 * node ran it are caught up), and the alert keeps firing since the same time, evaluated by the
 * new leader, with no second firing notification.
 */
import assert from "node:assert/strict";
import { query, type ServerProcess, startServer } from "../_server.ts";
import { startReceiver } from "./_receiver.ts";
import { assertNoGap, CREATE_CQ, waitBucket, writeAhead } from "./_cq.ts";

// deno-lint-ignore no-explicit-any
async function alertsOf(url: string): Promise<any> {
  const r = await fetch(`${url}/api/v1/alerts`);
  assert.equal(r.status, 200);
  return await r.json();
}

/** Waits (bounded) for the node that runs the schedule among `nodes`. */
async function scheduleRunner(nodes: ServerProcess[]): Promise<ServerProcess> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    for (const node of nodes) {
      if ((await alertsOf(node.url).catch(() => undefined))?.leader === true) return node;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("no node runs the schedule within 60 s");
}

/** Waits (bounded) until the rule's alert fires and was evaluated after `afterMs`. */
// deno-lint-ignore no-explicit-any
async function firingSince(url: string, afterMs: number): Promise<any> {
  const deadline = Date.now() + 60_000;
  let last: unknown;
  while (Date.now() < deadline) {
    last = await alertsOf(url).catch((e) => String(e));
    // deno-lint-ignore no-explicit-any
    const rule = (last as any)?.rules?.find((r: any) => r.name === "DataFlowing");
    if (
      rule?.state === "firing" && rule.health === "ok" &&
      Date.parse(rule.lastEvaluation) > afterMs
    ) return rule;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the alert is not firing, evaluated after ${afterMs}: ${JSON.stringify(last)}`);
}

Deno.test({
  name: "cluster: kill -9 the node running the schedule; the CQ and the alert carry on elsewhere",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const receiver = startReceiver();
    const env = { EPOCHNEXUS_ALERT_WEBHOOK_URLS: `${receiver.url}/hook` };
    const first = await startServer({ env });
    const nodes = [first];
    try {
      for (let i = 0; i < 2; i++) {
        nodes.push(
          await startServer({
            env: { ...env, EPOCHNEXUS_JOIN_ADDRESS: `127.0.0.1:${first.port}` },
          }),
        );
      }
      for (const q of ["CREATE DATABASE jobs", CREATE_CQ]) {
        const r = await query(first.url, q);
        assert.equal(r.results[0].error, undefined, `${q}: ${JSON.stringify(r)}`);
      }
      await writeAhead(first.url, 300);
      const put = await fetch(`${nodes[1].url}/api/v1/alert-rules/DataFlowing`, {
        method: "PUT",
        body: JSON.stringify({
          database: "jobs",
          query: "SELECT last(v) AS v FROM m WHERE time > now() - 1h",
          condition: "v > 0",
          for: "2s",
          every: "1s",
        }),
      });
      assert.equal(put.status, 200, await put.text());

      const runner = await scheduleRunner(nodes);
      const before = await firingSince(runner.url, 0);
      const isFiring = (r: { path: string; body: { status: string } }) =>
        r.path === "/hook" && r.body.status === "firing";
      await receiver.waitFor(isFiring, "firing webhook");
      await waitBucket([runner.url], Date.now() + 2000);

      const survivors = nodes.filter((n) => n !== runner);
      await runner.kill9();
      const killedAt = Date.now();
      const next = await scheduleRunner(survivors);
      const took = Date.now() - killedAt;

      const got = await waitBucket(survivors.map((n) => n.url), Date.now() + 4000);
      const runs = survivors.flatMap((n) =>
        n.logs().split("\n").filter((l) => l.includes("continuous query"))
      );
      assertNoGap(got, `after the death of the node running the CQ; runs:\n${runs.join("\n")}`);
      assert.ok(
        [...got.keys()].some((t) => t >= killedAt),
        "buckets after the kill were written",
      );

      const after = await firingSince(next.url, killedAt + 3000);
      assert.equal(after.alerts[0].firedAt, before.alerts[0].firedAt, "fires since the same time");
      assert.notEqual(after.evaluatedBy, before.evaluatedBy, "evaluated by another node");
      assert.equal(receiver.received.filter(isFiring).length, 1, "one firing notification");

      const metrics = await (await fetch(`${next.url}/metrics`)).text();
      assert.match(metrics, /epochnexus_jobs_leader 1/);
      assert.match(metrics, /epochnexus_cq_runs_total\{cq="jobs\.counts",outcome="ok"\} [1-9]/);
      console.log(`the schedule moved to another node ${took} ms after the kill`);
    } finally {
      for (const n of nodes) await n.stop();
      await receiver.stop();
    }
  },
});
