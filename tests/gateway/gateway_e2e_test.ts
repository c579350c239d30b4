/**
 * The gateway end to end, as real processes: a 3-node cluster (authentication on, a shared
 * cluster secret) and two gateway copies under `deno serve` with only `--allow-net` and their
 * environment. The InfluxDB differential queries answer byte for byte the same through either
 * gateway copy as from a node, every SELECT planned by the gateway and read from the partitions
 * (no node answers it as a /query); credentials pass through; a node killed with -9 behind a
 * gateway gives retried answers to queries and 503s with Retry-After to the parts of writes it
 * led, never a wrong answer.
 */
import assert from "node:assert/strict";
import type { ServerProcess } from "../_server.ts";
import { batches } from "../differential/_dataset.ts";
import { DB } from "../differential/_ask.ts";
import { HTTP_REQUESTS, type HttpRequest, QUERIES } from "../differential/_queries.ts";
import { GATEWAY_ENV, GATEWAY_PLAN_HEADER, isReadOnlyInfluxQL } from "../../src/gateway/mod.ts";
import {
  GATEWAY_TASK,
  type GatewayProcess,
  raftAddress,
  startCluster,
  startGateway,
} from "./_gateway.ts";

const SECRET = "gateway-test-secret-0123456789";
const ADMIN = `Basic ${btoa("admin:Adm1n-pw")}`;
const AUTH = { authorization: ADMIN };

interface Answer {
  status: number;
  type: string | null;
  body: string;
}

/** How the gateway answered a /query (its header; absent from a node). */
const plans = new WeakMap<Answer, string | null>();

/** Only SELECT statements (without INTO): what the gateway plans itself. */
const selectOnly = (q: string) =>
  isReadOnlyInfluxQL(q) &&
  q.split(";").map((s) => s.trim()).filter((s) => s !== "").every((s) => /^select\b/i.test(s));

/** Requests the nodes answered as a /query so far (their /metrics), over every node given. */
async function nodeQueries(nodes: ServerProcess[]): Promise<number> {
  let total = 0;
  for (const n of nodes) {
    const text = await (await fetch(`${n.url}/metrics`, { headers: AUTH })).text();
    for (
      const m of text.matchAll(
        /^epochnexus_http_requests_total\{[^}]*route="query[^"]*"[^}]*\} (\d+)/gm,
      )
    ) {
      total += Number(m[1]);
    }
  }
  return total;
}

/** Sends one differential request (with the admin's credentials) and reads the whole answer. */
async function ask(url: string, r: HttpRequest, headers: Record<string, string> = AUTH) {
  const params = new URLSearchParams({ db: DB, ...r.params });
  const h: Record<string, string> = { ...headers };
  if (r.accept) h.accept = r.accept;
  let res: Response;
  if (r.multipart) {
    const form = new FormData();
    for (const [k, v] of params) form.set(k, v);
    res = await fetch(`${url}/query`, { method: "POST", body: form, headers: h });
  } else {
    res = await fetch(`${url}/query?${params}`, { method: r.method ?? "GET", headers: h });
  }
  const answer: Answer = {
    status: res.status,
    type: res.headers.get("content-type"),
    body: await res.text(),
  };
  plans.set(answer, res.headers.get(GATEWAY_PLAN_HEADER));
  return answer;
}

const show = (a: Answer) => `${a.status} ${a.type} ${a.body.slice(0, 400)}`;

/** Whether an answer reports an error (a status, or a statement error inside a 200). */
const isError = (a: Answer) => a.status >= 400 || /"error"\s*:/.test(a.body);

async function poll<T>(what: string, timeoutMs: number, attempt: () => Promise<T | undefined>) {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (${last})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

Deno.test({
  name: "gateway: byte-identical answers through deno serve copies, a node killed behind them",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // The task's --allow-env lists exactly what the gateway reads.
    assert.deepEqual(GATEWAY_TASK.permissions, [
      "--allow-net",
      `--allow-env=${GATEWAY_ENV.join(",")}`,
    ]);
    const env = {
      EPOCHNEXUS_AUTH_ENABLED: "true",
      EPOCHNEXUS_CLUSTER_SECRET: SECRET,
      EPOCHNEXUS_JOIN_TOKEN: "admin:Adm1n-pw",
    };
    const nodes = await startCluster(3, env, AUTH, async (first) => {
      const r = await fetch(`${first.url}/query`, {
        method: "POST",
        body: new URLSearchParams({
          q: "CREATE USER admin WITH PASSWORD 'Adm1n-pw' WITH ALL PRIVILEGES",
        }),
      });
      assert.equal(r.status, 200, await r.text());
    });
    const gateways: GatewayProcess[] = [];
    try {
      // A bad setting stops the gateway at start, naming the variable.
      await assert.rejects(
        () => startGateway({ EPOCHNEXUS_GATEWAY_NODES: "not an address" }),
        /EPOCHNEXUS_GATEWAY_NODES: "not an address" is not host:port/,
      );
      // Copy A knows one node and learns the others from the metadata; copy B knows all three
      // and keeps its metadata copy for a long time.
      gateways.push(
        await startGateway({
          EPOCHNEXUS_GATEWAY_NODES: raftAddress(nodes[0]),
          EPOCHNEXUS_CLUSTER_SECRET: SECRET,
        }),
        await startGateway({
          EPOCHNEXUS_GATEWAY_NODES: nodes.map(raftAddress).join(","),
          EPOCHNEXUS_CLUSTER_SECRET: SECRET,
          EPOCHNEXUS_GATEWAY_META_TTL_MS: "600000",
        }),
      );
      const [a, b] = gateways;

      // Without the cluster secret the metadata cannot be read: a clear 503.
      const noSecret = await startGateway({ EPOCHNEXUS_GATEWAY_NODES: raftAddress(nodes[1]) });
      gateways.push(noSecret);
      const refused = await fetch(`${noSecret.url}/query?q=SHOW+DATABASES`, { headers: AUTH });
      assert.equal(refused.status, 503);
      assert.match((await refused.json()).error, /metadata read.*cluster secret/);

      // Credentials pass through: none gets the node's own 401.
      const anonymous = await ask(a.url, { params: { q: "SHOW DATABASES" } }, {});
      const anonymousDirect = await ask(nodes[1].url, { params: { q: "SHOW DATABASES" } }, {});
      assert.equal(anonymous.status, 401);
      assert.deepEqual(anonymous, anonymousDirect);
      // A SELECT, which the gateway plans itself, is not answered before a node checked the
      // caller: without credentials, the node's own 401.
      const select0 = { params: { q: "SELECT count(usage_user) FROM cpu" } };
      const anonymousSelect = await ask(b.url, select0, {});
      assert.equal(anonymousSelect.status, 401);
      assert.deepEqual(anonymousSelect, await ask(nodes[2].url, select0, {}));

      // /health names every node.
      const health = await (await fetch(`${a.url}/health`)).json();
      assert.equal(health.status, "pass", JSON.stringify(health));
      assert.deepEqual(health.nodes.map((n: { id: number }) => n.id).sort(), [1, 2, 3]);

      // The dataset goes in through copy A.
      const created = await ask(a.url, { params: { q: `CREATE DATABASE ${DB}` }, method: "POST" });
      assert.equal(created.status, 200, show(created));
      for (const [i, batch] of batches().entries()) {
        const r = await fetch(`${a.url}/write?db=${DB}&precision=s`, {
          method: "POST",
          headers: AUTH,
          body: batch.join("\n"),
        });
        assert.equal(r.status, 204, `batch ${i}: ${await r.text()}`);
      }

      // Every differential query: each gateway copy answers as a node does, byte for byte.
      const different: string[] = [];
      let compared = 0, sent = 0, retried = 0, planned = 0;
      const notPlanned: string[] = [];
      // Asked of a node and both copies at once. The cluster itself may answer differently for a
      // moment (a read barrier timing out under load, a node's metadata copy not yet at the last
      // change): a difference counts when it is still there after a few asks.
      const compare = async (label: string, r: HttpRequest, node: ServerProcess) => {
        let found: string[] = [];
        for (let attempt = 0; attempt < 5; attempt++) {
          if (attempt > 0) await new Promise((r) => setTimeout(r, 300));
          const [direct, viaA, viaB] = await Promise.all([
            ask(node.url, r),
            ask(a.url, r),
            ask(b.url, r),
          ]);
          found = [];
          for (const [name, answer] of [["A", viaA], ["B", viaB]] as const) {
            if (
              answer.status !== direct.status || answer.type !== direct.type ||
              answer.body !== direct.body
            ) {
              found.push(
                `${label} [gateway ${name}]\n  node:    ${show(direct)}\n  gateway: ${
                  show(answer)
                }`,
              );
            }
          }
          if (found.length === 0) {
            // A SELECT the cluster answers without an error is the gateway's own plan.
            const q = r.params.q ?? "";
            if (selectOnly(q) && !r.multipart && direct.status === 200 && !isError(direct)) {
              for (const viaGateway of [viaA, viaB]) {
                if (plans.get(viaGateway) === "planned") planned++;
                else notPlanned.push(`${label}: ${plans.get(viaGateway)}`);
              }
            }
            break;
          }
          retried++;
        }
        compared += 2;
        different.push(...found);
      };
      for (const [i, q] of QUERIES.entries()) {
        if (!isReadOnlyInfluxQL(q)) {
          // Statements that change data run once, through a gateway.
          const answer = await ask(a.url, { params: { q }, method: "POST" });
          assert.equal(answer.status, 200, `${q}: ${show(answer)}`);
          sent++;
          continue;
        }
        await compare(q, { params: { q } }, nodes[i % 3]);
      }
      for (const [i, r] of HTTP_REQUESTS.entries()) {
        await compare(`HTTP ${JSON.stringify(r)}`, r, nodes[i % 3]);
      }
      // The native JSON API.
      const native = async (url: string) => {
        const r = await fetch(`${url}/query?db=${DB}`, {
          method: "POST",
          headers: { ...AUTH, "content-type": "application/json" },
          body: JSON.stringify({ query: "SELECT max(usage_user) FROM cpu GROUP BY host" }),
        });
        return { status: r.status, type: r.headers.get("content-type"), body: await r.text() };
      };
      const nativeDirect = await native(nodes[2].url);
      assert.equal(nativeDirect.status, 200, show(nativeDirect));
      assert.deepEqual(await native(a.url), nativeDirect);
      assert.deepEqual(notPlanned, [], "SELECTs the gateway forwarded instead of planning");
      assert.ok(planned > 100, `planned ${planned}`);
      // The nodes answered none of those as a /query: copy B (its checks kept for its long
      // metadata time to live) asks 20 SELECTs and the nodes' /query count stays put, bar the
      // node's check of the credentials.
      const before = await nodeQueries(nodes);
      const select = { params: { q: "SELECT mean(usage_user) FROM cpu GROUP BY host" } };
      const expectedSelect = await ask(nodes[0].url, select);
      for (let i = 0; i < 20; i++) assert.deepEqual(await ask(b.url, select), expectedSelect);
      const after = await nodeQueries(nodes);
      // The direct ask and at most one credential check.
      assert.ok(after - before <= 2, `the nodes answered ${after - before} /query requests`);
      console.log(
        `gateway: ${compared} answers compared, ${different.length} different (${retried} ` +
          `asked again), ${planned} SELECT answers planned by the gateway; ${sent} changing ` +
          `statements sent through the gateway`,
      );
      assert.ok(compared > 100, `compared ${compared}`);
      assert.deepEqual(different, [], different.join("\n"));

      // kill -9 the node copy A was started with: A reads the metadata from the others.
      const show1 = { params: { q: "SHOW DATABASES" } };
      const expectedShow = await ask(a.url, show1);
      const check = { params: { q: "SELECT count(usage_user) FROM cpu GROUP BY host" } };
      const expectedCheck = await ask(nodes[1].url, check);
      assert.equal(expectedCheck.status, 200, show(expectedCheck));
      await nodes[0].kill9();
      // Round robin sends one of three requests to the dead node: its connection fails and the
      // query is sent again to another node, so every answer is the right one.
      // The answer is the right one or the cluster's own error (partitions the dead node led
      // cannot confirm a read until new leaders are elected), never the gateway's 502.
      for (let i = 0; i < 3; i++) {
        const answer = await ask(a.url, show1);
        if (answer.status !== 200 || answer.body !== expectedShow.body) {
          assert.equal(answer.status, 200, `a query not sent again: ${show(answer)}`);
          assert.match(answer.body, /"error":"partition group \d+ /, show(answer));
        }
      }
      assert.match(a.logs(), /node connection failed node=1/);
      // Reads of partitions the dead node led give clear errors until new leaders are elected,
      // then the right answer; never a wrong one.
      let errors = 0;
      await poll("the right answer after node 1 died", 60_000, async () => {
        const answer = await ask(a.url, check);
        if (isError(answer)) {
          errors++;
          return undefined;
        }
        assert.deepEqual(answer, expectedCheck, "a wrong answer after a node died");
        return answer;
      });
      const healthAfter = await (await fetch(`${a.url}/health`)).json();
      assert.equal(healthAfter.status, "warn", JSON.stringify(healthAfter));
      assert.deepEqual(
        healthAfter.nodes.filter((n: { up: boolean }) => !n.up).map((n: { id: number }) => n.id),
        [1],
      );

      // Writes through copy B, whose metadata still names node 1 and predates the database (read
      // again for it): each is split by partition; a part whose node is dead or whose partition
      // has no leader yet is a 503 with Retry-After (never a 502), and sending the same points
      // again writes them. Each acknowledged write is then read back whole.
      const made = await ask(nodes[1].url, { params: { q: "CREATE DATABASE gw" }, method: "POST" });
      assert.equal(made.status, 200, show(made));
      const statuses: number[] = [];
      const acknowledged: number[] = [];
      for (let batch = 0; batch < 6; batch++) {
        const lines = Array.from(
          { length: 10 },
          (_, i) => `w,batch=${batch} v=${i} ${(i + 1) * 1e9}`,
        );
        // A cluster error (a partition of the new database still electing its leader) is
        // answered by sending the same points again, as a client does; the gateway's 502 is not.
        const deadline = Date.now() + 60_000;
        for (;;) {
          const r = await fetch(`${b.url}/write?db=gw`, {
            method: "POST",
            headers: AUTH,
            body: lines.join("\n"),
          });
          const text = await r.text();
          statuses.push(r.status);
          if (r.status === 204) acknowledged.push(batch);
          else {
            assert.equal(r.status, 503, text);
            assert.equal(r.headers.get("retry-after"), "1", text);
            assert.match(text, /"error"/);
          }
          if (r.status === 204) break;
          assert.ok(Date.now() < deadline, `batch ${batch} never written: ${statuses}`);
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      assert.equal(acknowledged.length, 6, `writes acknowledged: ${statuses}`);
      const counts = await poll("acknowledged writes read back", 60_000, async () => {
        const r = await ask(b.url, {
          params: { q: "SELECT count(v) FROM w GROUP BY batch", db: "gw", epoch: "s" },
        });
        return isError(r) ? undefined : JSON.parse(r.body);
      });
      const byBatch = new Map<string, number>();
      for (const s of counts.results[0].series ?? []) byBatch.set(s.tags.batch, s.values[0][1]);
      for (const batch of acknowledged) assert.equal(byBatch.get(String(batch)), 10);
      console.log(
        `gateway: after kill -9, ${errors} clear errors before new leaders; writes ${statuses}`,
      );

      // Gateways that are not served: a clear 404.
      const other = await fetch(`${a.url}/api/v1/cluster`, { headers: AUTH });
      assert.equal(other.status, 404);
      assert.match((await other.json()).error, /served by the nodes themselves/);
    } finally {
      await Promise.all([...gateways.map((g) => g.stop()), ...nodes.map((n) => n.kill9())]);
    }
  },
});
