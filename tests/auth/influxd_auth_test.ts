/**
 * Authentication against the reference: the same requests, in the same order, to influxd 1.6.7
 * started with `auth-enabled = true` and to an EpochNexus process started with
 * EPOCHNEXUS_AUTH_ENABLED=true; statuses, error texts and `WWW-Authenticate` must be equal.
 * (`Authorization: Token` is InfluxDB 1.8's and absent from 1.6.7: tested in login_test.ts.)
 */
import assert from "node:assert/strict";
import { startInfluxd } from "../_influxd.ts";
import { startServer } from "../_server.ts";

interface Step {
  what: string;
  method?: "GET" | "POST";
  path: string;
  q?: string;
  body?: string;
  basic?: string;
  /** Compare only the status (answers holding times or server-made data). */
  statusOnly?: boolean;
}

const STEPS: Step[] = [
  { what: "ping", path: "/ping" },
  { what: "bootstrap query", method: "POST", path: "/query", q: "SHOW DATABASES" },
  {
    what: "bootstrap non-admin",
    method: "POST",
    path: "/query",
    q: "CREATE USER b WITH PASSWORD 'b'",
  },
  {
    what: "first admin",
    method: "POST",
    path: "/query",
    q: "CREATE USER admin WITH PASSWORD 'pw' WITH ALL PRIVILEGES",
  },
  { what: "no credentials", method: "POST", path: "/query", q: "SHOW DATABASES" },
  { what: "no credentials write", method: "POST", path: "/write?db=d1", body: "m v=1" },
  { what: "wrong password", method: "POST", path: "/query?u=admin&p=bad", q: "SHOW USERS" },
  { what: "unknown user", method: "POST", path: "/query?u=ghost&p=bad", q: "SHOW USERS" },
  { what: "basic wrong", method: "POST", path: "/query", q: "SHOW USERS", basic: "admin:bad" },
  {
    what: "setup",
    method: "POST",
    path: "/query",
    basic: "admin:pw",
    q: "CREATE DATABASE d1; CREATE USER r WITH PASSWORD 'r'; GRANT READ ON d1 TO r; " +
      "CREATE USER w WITH PASSWORD 'w'; GRANT WRITE ON d1 TO w; CREATE USER a WITH PASSWORD 'a'; " +
      "GRANT ALL ON d1 TO a",
  },
  { what: "show users", method: "POST", path: "/query", q: "SHOW USERS", basic: "admin:pw" },
  { what: "grants r", method: "POST", path: "/query", q: "SHOW GRANTS FOR r", basic: "admin:pw" },
  { what: "grants a", method: "POST", path: "/query", q: "SHOW GRANTS FOR a", basic: "admin:pw" },
  {
    what: "grants nobody",
    method: "POST",
    path: "/query",
    q: "SHOW GRANTS FOR nobody",
    basic: "admin:pw",
  },
  { what: "drop nobody", method: "POST", path: "/query", q: "DROP USER nobody", basic: "admin:pw" },
  {
    what: "user exists",
    method: "POST",
    path: "/query",
    q: "CREATE USER r WITH PASSWORD 'other'",
    basic: "admin:pw",
  },
  {
    what: "same password again",
    method: "POST",
    path: "/query",
    q: "CREATE USER r WITH PASSWORD 'r'",
    basic: "admin:pw",
  },
  {
    what: "grant on missing db",
    method: "POST",
    path: "/query",
    q: "GRANT READ ON nodb TO r",
    basic: "admin:pw",
  },
  { what: "reader writes", method: "POST", path: "/write?db=d1", body: "m v=1", basic: "r:r" },
  { what: "writer writes", method: "POST", path: "/write?db=d1", body: "m v=1", basic: "w:w" },
  { what: "writer, other db", method: "POST", path: "/write?db=d2", body: "m v=1", basic: "w:w" },
  {
    what: "writer reads",
    method: "POST",
    path: "/query?db=d1",
    q: "SELECT * FROM m",
    basic: "w:w",
  },
  {
    what: "reader reads",
    method: "POST",
    path: "/query?db=d1",
    q: "SELECT * FROM m",
    basic: "r:r",
    statusOnly: true,
  },
  {
    what: "reader, SELECT INTO",
    method: "POST",
    path: "/query?db=d1",
    q: "SELECT * INTO d2..m2 FROM m",
    basic: "r:r",
  },
  { what: "reader lists", method: "POST", path: "/query?db=d1", q: "SHOW DATABASES", basic: "r:r" },
  {
    what: "reader drops",
    method: "POST",
    path: "/query?db=d1",
    q: "DROP MEASUREMENT m",
    basic: "r:r",
  },
  {
    what: "db admin drops the database",
    method: "POST",
    path: "/query?db=d1",
    q: "DROP DATABASE d1",
    basic: "a:a",
  },
  {
    what: "db admin makes a policy",
    method: "POST",
    path: "/query?db=d1",
    q: "CREATE RETENTION POLICY rp ON d1 DURATION 1h REPLICATION 1",
    basic: "a:a",
  },
  { what: "reader, users", method: "POST", path: "/query", q: "SHOW USERS", basic: "r:r" },
  {
    what: "reader sets a password",
    method: "POST",
    path: "/query",
    q: "SET PASSWORD FOR r = 'x'",
    basic: "r:r",
  },
  { what: "reader kills", method: "POST", path: "/query", q: "KILL QUERY 1", basic: "r:r" },
  {
    what: "reader, a read then a drop",
    method: "POST",
    path: "/query?db=d1",
    q: "SELECT * FROM m; DROP DATABASE d1",
    basic: "r:r",
  },
  {
    what: "u/p parameters",
    method: "POST",
    path: "/query?db=d1&u=r&p=r",
    q: "SHOW RETENTION POLICIES",
  },
];

async function run(url: string, step: Step) {
  const headers: Record<string, string> = {};
  if (step.basic) headers.authorization = `Basic ${btoa(step.basic)}`;
  let path = step.path;
  let body = step.body;
  if (step.q !== undefined) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams({ q: step.q }).toString();
  }
  if (step.method === undefined) path = step.path;
  const r = await fetch(`${url}${path}`, { method: step.method ?? "GET", headers, body });
  return {
    status: r.status,
    body: (await r.text()).trimEnd(),
    authenticate: r.headers.get("www-authenticate"),
  };
}

Deno.test({
  name: "users, logins and privileges answer as influxd 1.6.7 with auth-enabled",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const influxd = await startInfluxd({ http: ["auth-enabled = true"] });
    const ours = await startServer({ env: { EPOCHNEXUS_AUTH_ENABLED: "true" } });
    try {
      const differences: string[] = [];
      for (const step of STEPS) {
        const theirs = await run(influxd.url, step);
        const mine = await run(ours.url, step);
        const same = step.statusOnly
          ? theirs.status === mine.status
          : JSON.stringify(theirs) === JSON.stringify(mine);
        if (!same) {
          differences.push(
            `${step.what}:\n  influxd:    ${JSON.stringify(theirs)}\n  epochnexus: ${
              JSON.stringify(mine)
            }`,
          );
        }
      }
      assert.deepEqual(differences, []);
      assert.ok(!ours.logs().includes("'pw'") && !/password=|"p":"/.test(ours.logs()));
    } finally {
      await influxd.stop();
      await ours.stop();
    }
  },
});
