/**
 * The authorization matrix: every route and every statement kind × {anonymous, reader, writer,
 * db-admin, admin} × {auth on, auth off} -> the expected status, from the two tables below.
 * The tables are checked against the app's route table (`ROUTES`) and the statement rules
 * (`STATEMENT_ACCESS`, one key per statement kind): a new route or statement kind without a row
 * here fails the first two tests.
 *
 * reader: READ on db1; writer: WRITE on db1; dbadmin: ALL on db1; admin: an admin user.
 */
import assert from "node:assert/strict";
import { STATEMENT_ACCESS } from "../../src/auth/mod.ts";
import { ROUTES } from "../../src/http/mod.ts";
import { authApp } from "./_app.ts";

type Who = "anonymous" | "reader" | "writer" | "dbadmin" | "admin";
const WHO: Who[] = ["anonymous", "reader", "writer", "dbadmin", "admin"];
/** Statuses with auth on, in WHO order. */
type Row = [number, number, number, number, number];

/**
 * Routes, called as each route's `example` says. With auth off every caller gets the admin's
 * status. (Allowed calls answer whatever the handler answers with that example: the cluster
 * routes 404 here because this app runs no cluster.)
 */
const ROUTE_MATRIX: Record<string, Row> = {
  ping: [204, 204, 204, 204, 204],
  health: [200, 200, 200, 200, 200],
  metrics: [401, 200, 200, 200, 200],
  write: [401, 403, 204, 204, 204],
  ingest: [401, 403, 200, 200, 200],
  query: [401, 200, 403, 200, 200],
  cluster: [401, 403, 403, 403, 404],
  cluster_join: [401, 403, 403, 403, 404],
  cluster_nodes: [401, 403, 403, 403, 404],
  prom_write: [401, 403, 400, 400, 400],
  prom_read: [401, 400, 403, 400, 400], // 400: the example body is not snappy
  tokens: [401, 403, 403, 403, 200],
  rpc: [401, 403, 200, 200, 200],
  schemas: [401, 403, 403, 403, 501], // 501: this app runs no schema pipeline
  export: [401, 200, 403, 200, 200],
  backup: [401, 403, 403, 403, 404], // 404: this app runs no cluster
  alerts: [401, 404, 404, 404, 404], // 404: this app runs no jobs
  alert_rules: [401, 403, 403, 403, 404],
  console: [200, 200, 200, 200, 200], // the page and assets: sign-in happens in them
};

const OK = 200;
const DENIED = 403;
const NOAUTH = 401;
const READ: Row = [NOAUTH, OK, DENIED, OK, OK];
const ADMIN: Row = [NOAUTH, DENIED, DENIED, DENIED, OK];
const ALL: Row = [NOAUTH, DENIED, DENIED, OK, OK];
const ANY: Row = [NOAUTH, OK, OK, OK, OK];
const WRITE: Row = [NOAUTH, DENIED, OK, OK, OK];

/** Statement kinds: a statement of the kind (POST /query?db=db1) and its row. */
const STATEMENT_MATRIX: Record<string, { q: string; row: Row }> = {
  select: { q: "SELECT * FROM m", row: READ },
  explain: { q: "EXPLAIN SELECT * FROM m", row: READ },
  show_databases: { q: "SHOW DATABASES", row: ANY },
  show_queries: { q: "SHOW QUERIES", row: ANY },
  show_measurements: { q: "SHOW MEASUREMENTS", row: READ },
  show_tag_keys: { q: "SHOW TAG KEYS", row: READ },
  show_tag_values: { q: "SHOW TAG VALUES WITH KEY = host", row: READ },
  show_field_keys: { q: "SHOW FIELD KEYS", row: READ },
  show_series: { q: "SHOW SERIES", row: READ },
  show_cardinality: { q: "SHOW SERIES CARDINALITY", row: READ },
  show_retention_policies: { q: "SHOW RETENTION POLICIES", row: READ },
  create_database: { q: "CREATE DATABASE scratch", row: ADMIN },
  drop_database: { q: "DROP DATABASE scratch", row: ADMIN },
  create_retention_policy: {
    q: "CREATE RETENTION POLICY rp1 ON db1 DURATION 1h REPLICATION 1",
    row: ADMIN,
  },
  alter_retention_policy: { q: "ALTER RETENTION POLICY rp1 ON db1 DURATION 2h", row: ADMIN },
  drop_retention_policy: { q: "DROP RETENTION POLICY rpx ON db1", row: ADMIN },
  drop_measurement: { q: "DROP MEASUREMENT nothing", row: ADMIN },
  kill_query: { q: "KILL QUERY 999", row: ADMIN },
  drop_series: { q: "DROP SERIES FROM nothing", row: ALL },
  delete: { q: "DELETE FROM nothing", row: ALL },
  create_user: { q: "CREATE USER u9 WITH PASSWORD 'p9'", row: ADMIN },
  drop_user: { q: "DROP USER nobody", row: ADMIN },
  set_password: { q: "SET PASSWORD FOR nobody = 'x'", row: ADMIN },
  grant: { q: "GRANT READ ON db1 TO nobody", row: ADMIN },
  grant_admin: { q: "GRANT ALL PRIVILEGES TO nobody", row: ADMIN },
  revoke: { q: "REVOKE READ ON db1 FROM nobody", row: ADMIN },
  revoke_admin: { q: "REVOKE ALL PRIVILEGES FROM nobody", row: ADMIN },
  show_users: { q: "SHOW USERS", row: ADMIN },
  show_grants: { q: "SHOW GRANTS FOR reader", row: ADMIN },
  // Continuous queries need WRITE on their database (SHOW: READ), as in InfluxDB 1.6; the
  // cluster and subscription statements need admin.
  create_continuous_query: {
    q: "CREATE CONTINUOUS QUERY cq ON db1 BEGIN SELECT mean(v) INTO m2 FROM m GROUP BY time(1m) END",
    row: WRITE,
  },
  drop_continuous_query: { q: "DROP CONTINUOUS QUERY cq ON db1", row: WRITE },
  show_continuous_queries: { q: "SHOW CONTINUOUS QUERIES", row: READ },
  show_shards: { q: "SHOW SHARDS", row: ADMIN },
  show_shard_groups: { q: "SHOW SHARD GROUPS", row: ADMIN },
  show_stats: { q: "SHOW STATS", row: ADMIN },
  show_diagnostics: { q: "SHOW DIAGNOSTICS", row: ADMIN },
  show_subscriptions: { q: "SHOW SUBSCRIPTIONS", row: ADMIN },
  create_subscription: {
    q: "CREATE SUBSCRIPTION s ON db1.autogen DESTINATIONS ALL 'udp://h:9'",
    row: ADMIN,
  },
  drop_subscription: { q: "DROP SUBSCRIPTION s ON db1.autogen", row: ADMIN },
  drop_shard: { q: "DROP SHARD 1", row: ADMIN },
};

Deno.test("every route of the app has a row in the route matrix, and no row is stale", () => {
  const names = ROUTES.map((r) => r.name);
  for (const name of names) assert.ok(name in ROUTE_MATRIX, `route ${name} has no matrix row`);
  for (const name of Object.keys(ROUTE_MATRIX)) {
    assert.ok(names.includes(name), `matrix row ${name} names no route`);
  }
});

Deno.test("every statement kind has a row in the statement matrix, and no row is stale", () => {
  const kinds = Object.keys(STATEMENT_ACCESS);
  for (const kind of kinds) assert.ok(kind in STATEMENT_MATRIX, `statement ${kind} has no row`);
  for (const kind of Object.keys(STATEMENT_MATRIX)) {
    assert.ok(kinds.includes(kind), `matrix row ${kind} names no statement kind`);
  }
});

for (const enabled of [true, false]) {
  Deno.test(`routes × callers with auth ${enabled ? "on" : "off"}`, async () => {
    const { call, close } = await authApp({ enabled, users: true });
    const failures: string[] = [];
    for (const route of ROUTES) {
      const row = ROUTE_MATRIX[route.name];
      for (let i = 0; i < WHO.length; i++) {
        const who = WHO[i];
        const { method, path, body, contentType } = route.example;
        const r = await call(path, {
          method,
          body,
          headers: contentType ? { "content-type": contentType } : {},
          user: who === "anonymous" ? undefined : who,
        });
        const expected = enabled ? row[i] : row[WHO.indexOf("admin")];
        if (r.status !== expected) {
          failures.push(`${route.name} as ${who}: ${r.status}, expected ${expected}: ${r.text}`);
        }
      }
    }
    await close();
    assert.deepEqual(failures, []);
  });

  Deno.test(`statement kinds × callers with auth ${enabled ? "on" : "off"}`, async () => {
    const { call, close } = await authApp({ enabled, users: true });
    const failures: string[] = [];
    for (const [kind, { q, row }] of Object.entries(STATEMENT_MATRIX)) {
      for (let i = 0; i < WHO.length; i++) {
        const who = WHO[i];
        const r = await call(`/query?db=db1&q=${encodeURIComponent(q)}`, {
          method: "POST",
          user: who === "anonymous" ? undefined : who,
        });
        const expected = enabled ? row[i] : OK;
        if (r.status !== expected) {
          failures.push(`${kind} as ${who}: ${r.status}, expected ${expected}: ${r.text}`);
        }
        if (expected === DENIED) {
          assert.match(r.text, /^\{"error":"error authorizing query: \w+ not authorized to/);
        }
      }
    }
    await close();
    assert.deepEqual(failures, []);
  });
}
