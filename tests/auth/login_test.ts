/**
 * Logging in as InfluxDB 1.x clients do, in process: the bootstrap, every credential form, the
 * texts and statuses of influxd 1.6.7 (tests/auth/influxd_auth_test.ts compares them live),
 * destructive statements refused over GET, the logs and the audit log.
 */
import assert from "node:assert/strict";
import { authApp } from "./_app.ts";

const q = (query: string, db = "db1") => `/query?db=${db}&q=${encodeURIComponent(query)}`;

Deno.test("bootstrap: only /ping, /health and CREATE USER ... WITH ALL PRIVILEGES until an admin exists", async () => {
  const { call, close } = await authApp({ enabled: true });
  assert.equal((await call("/ping")).status, 204);
  assert.equal((await call("/health")).status, 200);
  const refused = await call(q("SHOW DATABASES"), { method: "POST" });
  assert.equal(refused.status, 403);
  assert.equal(
    refused.text,
    '{"error":"error authorizing query: create admin user first or disable authentication"}',
  );
  const write = await call("/write?db=db1", { method: "POST", body: "m v=1" });
  assert.equal(write.status, 403);
  assert.equal(write.text, '{"error":"create admin user first or disable authentication"}');
  assert.equal((await call("/metrics")).status, 403);
  // A non-admin first user is refused: the first must be an admin.
  assert.equal(
    (await call(q("CREATE USER bob WITH PASSWORD 'b'"), { method: "POST" })).status,
    403,
  );
  const created = await call(q("CREATE USER admin WITH PASSWORD 'admin-pw' WITH ALL PRIVILEGES"), {
    method: "POST",
  });
  assert.equal(created.status, 200, created.text);
  assert.equal(created.text.trimEnd(), '{"results":[{"statement_id":0}]}');
  // The bootstrap is over: no more anonymous admins.
  const again = await call(q("CREATE USER evil WITH PASSWORD 'e' WITH ALL PRIVILEGES"), {
    method: "POST",
  });
  assert.equal(again.status, 401);
  assert.equal(again.text, '{"error":"unable to parse authentication credentials"}');
  assert.equal(again.headers.get("www-authenticate"), 'Basic realm="InfluxDB"');
  await close();
});

Deno.test("credentials: u/p, Basic, Token user:password and Bearer API tokens; failures are 401", async () => {
  const { call, directory, close } = await authApp({ enabled: true, users: true });
  const show = q("SHOW DATABASES");
  assert.equal((await call(`${show}&u=admin&p=admin-pw`)).status, 200);
  assert.equal((await call(show, { user: "admin" })).status, 200);
  assert.equal(
    (await call(show, { headers: { authorization: "Token admin:admin-pw" } })).status,
    200,
  );
  for (const bad of [`${show}&u=admin&p=nope`, `${show}&u=ghost&p=x`]) {
    const r = await call(bad);
    assert.equal(r.status, 401);
    assert.equal(r.text, '{"error":"authorization failed"}');
  }
  const malformed = await call(show, { headers: { authorization: "Basic !!!" } });
  assert.equal(malformed.status, 401);
  assert.equal(malformed.text, '{"error":"unable to parse authentication credentials"}');
  const { token } = await directory.createToken({ databases: { db1: "READ" } }, "admin");
  const bearer = { authorization: `Bearer ${token}` };
  const read = await call(q("SHOW MEASUREMENTS"), { headers: bearer });
  assert.equal(read.status, 200, read.text);
  const write = await call("/write?db=db1", { method: "POST", body: "m v=1", headers: bearer });
  assert.equal(write.status, 403);
  assert.match(write.text, /user is not authorized to write to database \\"db1\\"/);
  assert.equal(
    (await call(show, { headers: { authorization: `Bearer ${token}x` } })).status,
    401,
  );
  await close();
});

Deno.test("InfluxDB's 403 texts for writes and statements; SHOW DATABASES lists what a user reads", async () => {
  const { call, close } = await authApp({ enabled: true, users: true });
  const w = await call("/write?db=db1", { method: "POST", body: "m v=1", user: "reader" });
  assert.equal(w.status, 403);
  assert.equal(
    w.text,
    '{"error":"\\"reader\\" user is not authorized to write to database \\"db1\\""}',
  );
  const s = await call(q("SELECT * FROM m"), { method: "POST", user: "writer" });
  assert.equal(s.status, 403);
  assert.equal(
    s.text,
    `{"error":"error authorizing query: writer not authorized to execute statement 'SELECT * FROM m', requires READ on db1"}`,
  );
  const dbs = await call(q("SHOW DATABASES"), { user: "reader" });
  assert.equal(
    dbs.text.trimEnd(),
    '{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["db1"]]}]}]}',
  );
  const users = await call(q("SHOW USERS"), { user: "admin" });
  assert.equal(
    users.text.trimEnd(),
    '{"results":[{"statement_id":0,"series":[{"columns":["user","admin"],"values":[["admin",true],["reader",false],["writer",false],["dbadmin",false]]}]}]}',
  );
  const grants = await call(q("SHOW GRANTS FOR dbadmin"), { user: "admin" });
  assert.equal(
    grants.text.trimEnd(),
    '{"results":[{"statement_id":0,"series":[{"columns":["database","privilege"],"values":[["db1","ALL PRIVILEGES"]]}]}]}',
  );
  const missing = await call(q("SHOW GRANTS FOR nobody"), { user: "admin" });
  assert.equal(missing.text.trimEnd(), '{"results":[{"statement_id":0,"error":"user not found"}]}');
  await close();
});

Deno.test("with auth on, statements that change anything are refused over GET; off, InfluxDB's warning", async () => {
  const on = await authApp({ enabled: true, users: true });
  const refused = await on.call(q("DROP DATABASE db1"), { user: "admin" });
  assert.equal(refused.status, 405);
  assert.equal(refused.headers.get("allow"), "POST");
  assert.ok(on.engine.hasDatabase("db1"), "nothing was dropped");
  assert.equal((await on.call(q("SELECT * FROM m"), { user: "admin" })).status, 200);
  await on.close();
  const off = await authApp({ enabled: false });
  const warned = await off.call(q("CREATE DATABASE x9"));
  assert.equal(warned.status, 200);
  assert.match(warned.text, /deprecated use of 'CREATE DATABASE x9' in a read only context/);
  await off.close();
});

Deno.test("failed logins and denials are logged without the password; the audit log records who did what", async () => {
  const entries: Record<string, unknown>[] = [];
  const { call, logger, close } = await authApp({
    enabled: true,
    users: true,
    audit: (e) => entries.push(e),
  });
  await call(`${q("SHOW DATABASES")}&u=admin&p=Sup3rSecretGuess`);
  await call(q("DROP DATABASE db1"), { method: "POST", user: "reader" });
  await call(q("CREATE USER carol WITH PASSWORD 'Carol-Pw-123'; DROP DATABASE scratch"), {
    method: "POST",
    user: "admin",
  });
  await call(q("SELECT * FROM m"), { method: "POST", user: "admin" });
  const log = logger.lines.join("\n");
  assert.match(log, /authentication failed .*"user":"admin"/);
  assert.match(log, /query denied .*"user":"reader"/);
  assert.ok(!log.includes("Sup3rSecretGuess"), log);
  assert.deepEqual(entries, [
    { user: "admin", database: "db1", statement: "CREATE USER carol WITH PASSWORD [REDACTED]" },
    { user: "admin", database: "db1", statement: "DROP DATABASE scratch" },
  ]);
  assert.ok(!JSON.stringify(entries).includes("Carol-Pw-123"));
  await close();
});

Deno.test("the token API: admin only, the secret shown once, revoked at once", async () => {
  const { call, close } = await authApp({ enabled: true, users: true });
  const denied = await call("/api/v1/tokens", { method: "POST", body: "{}", user: "dbadmin" });
  assert.equal(denied.status, 403);
  const made = await call("/api/v1/tokens", {
    method: "POST",
    user: "admin",
    body: JSON.stringify({ description: "telegraf", databases: { db1: "WRITE" } }),
  });
  assert.equal(made.status, 201, made.text);
  const { id, token } = JSON.parse(made.text);
  const list = await call("/api/v1/tokens", { user: "admin" });
  assert.ok(!list.text.includes(token.slice(18)), "the list never shows the secret");
  assert.deepEqual(JSON.parse(list.text).tokens[0].databases, { db1: "WRITE" });
  const bearer = { authorization: `Bearer ${token}` };
  const write = await call("/write?db=db1", { method: "POST", body: "m v=1 1", headers: bearer });
  assert.equal(write.status, 204, write.text);
  assert.equal(
    (await call(`/api/v1/tokens/${id}`, { method: "DELETE", user: "admin" })).status,
    204,
  );
  const after = await call("/write?db=db1", { method: "POST", body: "m v=1 1", headers: bearer });
  assert.equal(after.status, 401);
  const bad = await call("/api/v1/tokens", {
    method: "POST",
    user: "admin",
    body: JSON.stringify({ databases: { db1: "EVERYTHING" } }),
  });
  assert.equal(bad.status, 400);
  assert.match(bad.text, /must be READ, WRITE or ALL/);
  await close();
});

Deno.test("SHOW QUERIES never shows a password in flight", async () => {
  const { QueryRegistry, executeQuery } = await import("../../src/query/mod.ts");
  const { directory, engine, close } = await authApp({ enabled: true });
  const registry = new QueryRegistry({ now: () => 0 });
  const seen: string[] = [];
  const spying = Object.create(directory);
  spying.createUser = (name: string, password: string, admin: boolean) => {
    seen.push(...registry.list().map((q) => q.text));
    return directory.createUser(name, password, admin);
  };
  await executeQuery(engine, "CREATE USER x WITH PASSWORD 'Hunter2-secret'", {
    nowNs: 0n,
    registry,
    users: spying,
  });
  assert.deepEqual(seen, ["CREATE USER x WITH PASSWORD [REDACTED]"]);
  await close();
});
