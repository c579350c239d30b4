/**
 * Real clients logging in to a real process with EPOCHNEXUS_AUTH_ENABLED=true: node-influx (the
 * `influx` npm package, as Grafana-era JavaScript tools use it) and the `epochnexus query
 * --token` command.
 */
import assert from "node:assert/strict";
import { InfluxDB } from "influx";
import { startServer } from "../_server.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test({
  name: "node-influx logs in, writes and reads; a wrong password and a reader's write are refused",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const server = await startServer({ env: { EPOCHNEXUS_AUTH_ENABLED: "true" } });
    try {
      const port = server.port;
      const anonymous = new InfluxDB({ host: "127.0.0.1", port });
      // InfluxDB's bootstrap: the first user, an admin, needs no credentials.
      await anonymous.createUser("admin", "Adm1n-pw", true);
      const admin = new InfluxDB({
        host: "127.0.0.1",
        port,
        username: "admin",
        password: "Adm1n-pw",
        database: "telemetry",
      });
      await admin.createDatabase("telemetry");
      await admin.createUser("grafana", "gr-pw");
      await admin.grantPrivilege("grafana", "READ", "telemetry");
      assert.deepEqual(
        (await admin.getUsers()).map((u) => [u.user, u.admin]),
        [["admin", true], ["grafana", false]],
      );
      await admin.writePoints([
        { measurement: "cpu", tags: { host: "a" }, fields: { usage: 0.5 }, timestamp: 1e18 },
      ]);
      const grafana = new InfluxDB({
        host: "127.0.0.1",
        port,
        username: "grafana",
        password: "gr-pw",
        database: "telemetry",
      });
      const rows = await grafana.query("SELECT usage FROM cpu");
      assert.equal(rows.length, 1);
      assert.equal((rows[0] as unknown as { usage: number }).usage, 0.5);
      await assert.rejects(
        () => grafana.writePoints([{ measurement: "cpu", fields: { usage: 1 } }]),
        /403|not authorized to write/,
      );
      const wrong = new InfluxDB({
        host: "127.0.0.1",
        port,
        username: "grafana",
        password: "guess",
        database: "telemetry",
      });
      await assert.rejects(() => wrong.query("SELECT usage FROM cpu"), /401|authorization failed/);
      assert.match(server.logs(), /authentication failed .*user="grafana"/);
      assert.ok(!server.logs().includes("guess"), "no password in the log");
      assert.ok(!server.logs().includes("gr-pw"), "no password in the log");
    } finally {
      await server.stop();
    }
  },
});

Deno.test({
  name: "epochnexus query --token: an API token and user:password log in; no token is refused",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const audit = `${await Deno.makeTempDir({ prefix: "epochnexus-audit-" })}/audit.log`;
    const server = await startServer({
      env: { EPOCHNEXUS_AUTH_ENABLED: "true", EPOCHNEXUS_AUDIT_LOG: audit },
    });
    try {
      const create = await fetch(`${server.url}/query`, {
        method: "POST",
        body: new URLSearchParams({
          q: "CREATE USER root WITH PASSWORD 'r00t' WITH ALL PRIVILEGES",
        }),
      });
      assert.equal(create.status, 200, await create.text());
      const made = await fetch(`${server.url}/api/v1/tokens`, {
        method: "POST",
        headers: { authorization: `Basic ${btoa("root:r00t")}` },
        body: JSON.stringify({ description: "cli", databases: { epochnexus: "READ" } }),
      });
      const { token } = await made.json();
      const cli = async (...args: string[]) => {
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "--allow-net", `${ROOT}src/cli/main.ts`, "query", ...args],
          env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
          stdout: "piped",
          stderr: "piped",
        }).output();
        const decoder = new TextDecoder();
        return {
          code: out.code,
          stdout: decoder.decode(out.stdout),
          stderr: decoder.decode(out.stderr),
        };
      };
      const withToken = await cli("SHOW MEASUREMENTS", "--url", server.url, "--token", token);
      assert.equal(withToken.code, 0, withToken.stderr);
      const asUser = await cli("SHOW USERS", "--url", server.url, "--token", "root:r00t");
      assert.equal(asUser.code, 0, asUser.stderr);
      assert.match(asUser.stdout, /root\s+true/);
      const none = await cli("SHOW MEASUREMENTS", "--url", server.url);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /unable to parse authentication credentials/);
      const scoped = await cli("SHOW USERS", "--url", server.url, "--token", token);
      assert.equal(scoped.code, 1);
      assert.match(scoped.stderr, /requires admin privilege/);
      // The audit log: one JSON line per admin statement and token change, no password.
      const entries = (await Deno.readTextFile(audit)).trim().split("\n").map((l) => JSON.parse(l));
      assert.deepEqual(entries.map((e) => [e.user, e.statement ?? e.action]), [
        ["(bootstrap)", "CREATE USER root WITH PASSWORD [REDACTED] WITH ALL PRIVILEGES"],
        ["root", "create_token"],
        ["root", "SHOW USERS"],
      ]);
      assert.ok(entries.every((e) => typeof e.time === "string"));
      assert.ok(!(await Deno.readTextFile(audit)).includes("r00t"));
    } finally {
      await server.stop();
    }
  },
});
