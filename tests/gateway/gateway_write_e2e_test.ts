/**
 * Writes split by partition in the gateway, as real processes: 3 nodes (authentication on, a
 * shared cluster secret) and the gateway under `deno serve` with only `--allow-net` and its
 * environment. Points written through the gateway reach each partition's leader directly (the
 * nodes' write routers hand no part on: `epochnexus_partition_writes_total{to="peer"}` stays put),
 * one part per partition; every node then reads them all; a bad line in the middle is reported
 * at its line in the caller's body, as a node reports it, and the other lines are written; a
 * field-type conflict found by a part's node is named at the caller's line too; wrong
 * credentials and a missing privilege get the node's own 401 and 403, and write nothing.
 */
import assert from "node:assert/strict";
import { seriesKey } from "../../src/core/mod.ts";
import { partitionOf } from "../../src/cluster/mod.ts";
import { GATEWAY_PLAN_HEADER } from "../../src/gateway/mod.ts";
import type { ServerProcess } from "../_server.ts";
import { type GatewayProcess, raftAddress, startCluster, startGateway } from "./_gateway.ts";

const SECRET = "gateway-write-secret-0123456789";
const ADMIN = `Basic ${btoa("admin:Adm1n-pw")}`;
const AUTH = { authorization: ADMIN };
const DB = "gw";
const HOSTS = 120;

/** A counter's value summed over its labelled samples whose labels match `labels`. */
async function counter(node: ServerProcess, name: string, labels = ""): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`, { headers: AUTH })).text();
  let total = 0;
  for (const m of text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\d+)`, "gm"))) {
    if (m[1].includes(labels)) total += Number(m[2]);
  }
  return total;
}

/** Parts written here and parts handed to another node, over all nodes. */
async function partWrites(nodes: ServerProcess[]) {
  let local = 0, peer = 0;
  for (const n of nodes) {
    local += await counter(n, "epochnexus_partition_writes_total", 'to="local"');
    peer += await counter(n, "epochnexus_partition_writes_total", 'to="peer"');
  }
  return { local, peer };
}

async function query(url: string, q: string, headers: Record<string, string> = AUTH) {
  const r = await fetch(`${url}/query?${new URLSearchParams({ db: DB, q, epoch: "s" })}`, {
    headers,
  });
  return { status: r.status, body: await r.text() };
}

/** Lines of `HOSTS` series, three points each, at seconds `base`, `base + 1`, `base + 2`. */
function lines(base: number): string[] {
  const out: string[] = [];
  for (let h = 0; h < HOSTS; h++) {
    for (let t = 0; t < 3; t++) out.push(`m,host=h${h},dc=dc${h % 4} v=${h + t / 10} ${base + t}`);
  }
  return out;
}

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
    await new Promise((r) => setTimeout(r, 200));
  }
}

Deno.test({
  name:
    "gateway: writes split by partition reach each leader directly, errors at the caller's lines",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
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
    let gateway: GatewayProcess | undefined;
    try {
      for (
        const q of [
          `CREATE DATABASE ${DB}`,
          "CREATE USER reader WITH PASSWORD 'Re4der-pw'",
          `GRANT READ ON ${DB} TO reader`,
        ]
      ) {
        const r = await fetch(`${nodes[0].url}/query`, {
          method: "POST",
          headers: AUTH,
          body: new URLSearchParams({ q }),
        });
        assert.equal(r.status, 200, `${q}: ${await r.text()}`);
      }
      gateway = await startGateway({
        EPOCHNEXUS_GATEWAY_NODES: raftAddress(nodes[1]),
        EPOCHNEXUS_CLUSTER_SECRET: SECRET,
        EPOCHNEXUS_GATEWAY_META_TTL_MS: "300",
      });
      const g = gateway.url;
      const status = await (await fetch(`${nodes[0].url}/api/v1/cluster`, { headers: AUTH }))
        .json();
      const db = status.databases.find((d: { name: string }) => d.name === DB);
      // The partitions the test's points fall in, by the database's own hash.
      const parts = new Set(
        lines(0).map((l) => {
          const [key] = l.split(" ");
          const [measurement, ...tags] = key.split(",");
          const sorted = tags.map((t) => t.split("=")).map(([k, v]) => ({ key: k, value: v }))
            .sort((a, b) => a.key < b.key ? -1 : 1);
          return partitionOf(db.hash, seriesKey(measurement, sorted), db.partitions.length);
        }),
      );
      assert.ok(parts.size > 1, `the points fall in ${parts.size} partitions`);

      // Once the partitions have leaders and the metadata names them, a write through the
      // gateway is one part per partition, each written by the node that received it.
      let written = 0;
      // (Bounded waits are long: under a parallel test run leaders may move for a while.)
      await poll("a write through the gateway with no second hop", 120_000, async () => {
        const before = await partWrites(nodes);
        const r = await fetch(`${g}/write?db=${DB}&precision=s&u=admin&p=Adm1n-pw`, {
          method: "POST",
          body: lines(1000 + 10 * written).join("\n"),
        });
        const text = await r.text();
        if (r.status !== 204) throw new Error(`${r.status} ${text}`);
        assert.equal(r.headers.get(GATEWAY_PLAN_HEADER), "split");
        written++;
        const after = await partWrites(nodes);
        if (after.peer !== before.peer) {
          throw new Error(`${after.peer - before.peer} parts handed on by a node`);
        }
        assert.equal(after.local - before.local, parts.size, "one part per partition");
        return true;
      });

      // A bad line in the middle: reported at its line of the caller's body, word for word as a
      // node reports the same body, and the other lines are written.
      const body = lines(2000);
      const bad = 177;
      body.splice(bad - 1, 0, "m,host=bad v=notanumber 2000");
      // Sent again (the same points) if a leader moved meanwhile and a node handed a part on.
      const gatewayText = await poll("the bad-line write with no second hop", 120_000, async () => {
        const before = await partWrites(nodes);
        const viaGateway = await fetch(`${g}/write?db=${DB}&precision=s`, {
          method: "POST",
          headers: AUTH,
          body: body.join("\n"),
        });
        const text = await viaGateway.text();
        assert.equal(viaGateway.status, 400, text);
        assert.equal(viaGateway.headers.get(GATEWAY_PLAN_HEADER), "split");
        assert.match(text, new RegExp(`\\(line ${bad}, column \\d+\\)`));
        const after = await partWrites(nodes);
        if (after.peer !== before.peer) throw new Error("a part was handed on by a node");
        return text;
      });
      const direct = await fetch(`${nodes[2].url}/write?db=${DB}&precision=s`, {
        method: "POST",
        headers: AUTH,
        body: body.join("\n"),
      });
      assert.equal(direct.status, 400);
      assert.equal(gatewayText, await direct.text());

      // Every node reads every point written (quorum writes; the read at the leader).
      const total = (written + 1) * HOSTS * 3;
      for (const n of nodes) {
        const r = await query(n.url, "SELECT count(v) FROM m");
        assert.equal(r.status, 200, r.body);
        assert.equal(JSON.parse(r.body).results[0].series[0].values[0][1], total, r.body);
      }
      // Each series is in the partition the node's own router would put it in: the nodes'
      // per-series reads (GROUP BY host) find three points for every host of the last write.
      const perHost = JSON.parse(
        (await query(nodes[0].url, "SELECT count(v) FROM m WHERE time >= 2000s GROUP BY host"))
          .body,
      );
      assert.equal(perHost.results[0].series.length, HOSTS);
      for (const s of perHost.results[0].series) assert.equal(s.values[0][1], 3, s.tags.host);

      // The native API: a field-type conflict found by the node of a part is named at the
      // caller's line, as a node names it.
      const conflict = lines(3000);
      conflict[400] = `m,host=h5,dc=dc1 v="text" 3005`; // line 401: v is a float
      const native = async (url: string) => {
        const r = await fetch(`${url}/ingest?db=${DB}&precision=s`, {
          method: "POST",
          headers: { ...AUTH, "content-type": "text/plain" },
          body: conflict.join("\n"),
        });
        return { status: r.status, body: await r.json(), plan: r.headers.get(GATEWAY_PLAN_HEADER) };
      };
      const nativeViaGateway = await native(g);
      assert.equal(nativeViaGateway.status, 400, JSON.stringify(nativeViaGateway.body));
      assert.equal(nativeViaGateway.plan, "split");
      assert.deepEqual(
        nativeViaGateway.body.error.errors.map((e: { line: number }) => e.line),
        [401],
      );
      const nativeDirect = await native(nodes[0].url);
      assert.deepEqual(nativeViaGateway.body, nativeDirect.body);

      // Wrong credentials: the node's own 401, nothing written; READ only: the node's 403.
      const count = async () =>
        JSON.parse((await query(nodes[1].url, "SELECT count(v) FROM m")).body).results[0]
          .series[0].values[0][1];
      const counted = await count();
      for (
        const [who, expected] of [["u=admin&p=wrong", 401], ["u=reader&p=Re4der-pw", 403]] as const
      ) {
        const refused = await fetch(`${g}/write?db=${DB}&precision=s&${who}`, {
          method: "POST",
          body: lines(5000).join("\n"),
        });
        const refusedDirect = await fetch(`${nodes[2].url}/write?db=${DB}&precision=s&${who}`, {
          method: "POST",
          body: lines(5000).join("\n"),
        });
        assert.equal(refused.status, expected);
        assert.equal(await refused.text(), await refusedDirect.text());
      }
      assert.equal(await count(), counted, "a refused write wrote points");
      console.log(
        `gateway writes: ${written} split writes of ${HOSTS * 3} points in ${parts.size} parts ` +
          `each, no part handed on`,
      );
    } finally {
      await Promise.all([gateway?.stop(), ...nodes.map((n) => n.kill9())]);
    }
  },
});
