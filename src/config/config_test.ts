import assert from "node:assert/strict";
import { ConfigError, ENVIRONMENT_KEYS, loadConfig, parseByteSize } from "./config.ts";

Deno.test("defaults are the seed's", () => {
  const c = loadConfig();
  assert.equal(c.data_dir, "/tmp/epochnexus_data");
  assert.equal(c.bind_address, "0.0.0.0:8080");
  assert.equal(c.raft_address, "0.0.0.0:9000");
  assert.equal(c.join_address, "");
  assert.equal(c.max_body_bytes, 25_000_000);
});

Deno.test("the environment wins over the file", () => {
  const c = loadConfig({
    file: { path: "node.yaml", text: "bind_address: 127.0.0.1:9999\ndata_dir: /var/x\n" },
    env: { EPOCHNEXUS_BIND_ADDRESS: "127.0.0.1:8086" },
  });
  assert.equal(c.bind_address, "127.0.0.1:8086");
  assert.equal(c.data_dir, "/var/x");
});

Deno.test("an invalid value names file, line, key, value and the rule", () => {
  assert.throws(
    () =>
      loadConfig({
        file: { path: "node.yaml", text: "data_dir: /x\nbind_address: localhost\n" },
      }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /node\.yaml:2: bind_address = "localhost": expected host:port/);
      return true;
    },
  );
});

Deno.test("an invalid environment value names the variable", () => {
  assert.throws(
    () => loadConfig({ env: { EPOCHNEXUS_RAFT_ADDRESS: "0.0.0.0:99999" } }),
    /environment variable EPOCHNEXUS_RAFT_ADDRESS: raft_address = "0.0.0.0:99999": port must be/,
  );
});

Deno.test("unknown keys and broken YAML are refused with their place", () => {
  assert.throws(
    () => loadConfig({ file: { path: "n.yaml", text: "bind_adress: 1.2.3.4:5\n" } }),
    /n\.yaml:1: unknown key "bind_adress" \(allowed: data_dir, bind_address/,
  );
  assert.throws(
    () => loadConfig({ file: { path: "n.yaml", text: "a: [1,\nb: 2\n" } }),
    /n\.yaml:\d+:\d+: invalid YAML/,
  );
});

Deno.test("byte sizes take units", () => {
  assert.equal(parseByteSize("32MiB"), 32 * 1024 * 1024);
  assert.equal(parseByteSize("25MB"), 25_000_000);
  assert.equal(loadConfig({ env: { EPOCHNEXUS_MAX_BODY_BYTES: "1KiB" } }).max_body_bytes, 1024);
  assert.throws(() => loadConfig({ env: { EPOCHNEXUS_MAX_BODY_BYTES: "lots" } }), /max_body_bytes/);
});

Deno.test("the example file in config/ is valid", async () => {
  const path = new URL("../../config/epochnexus.example.yaml", import.meta.url);
  const c = loadConfig({ file: { path: path.pathname, text: await Deno.readTextFile(path) } });
  assert.equal(c.bind_address, "0.0.0.0:8080");
  assert.equal(c.max_body_bytes, 25_000_000);
});

Deno.test("deno.json's start and cli tasks grant exactly the variables the config reads", async () => {
  const denoJson = JSON.parse(
    await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
  );
  // The yaml package reads LOG_STREAM and LOG_TOKENS (its debug switches) through
  // process.env, which Deno refuses unless granted. INIT_CWD is where `deno task` was run from
  // (paths the user types are relative to it); the shell keeps its history under HOME.
  const keys = [...Object.keys(ENVIRONMENT_KEYS), "INIT_CWD", "LOG_STREAM", "LOG_TOKENS"];
  const extra: Record<string, string[]> = { start: [], cli: ["HOME"] };
  for (const task of ["start", "cli"]) {
    const expected = [...keys, ...extra[task]].sort();
    const granted = /--allow-env=(\S+)/.exec(denoJson.tasks[task])?.[1].split(",").sort();
    assert.deepEqual(granted, expected, `task ${task}: --allow-env must list ${expected}`);
  }
  assert.equal(ENVIRONMENT_KEYS.EPOCHNEXUS_DATA_DIR, "data_dir");
  assert.equal(ENVIRONMENT_KEYS.EPOCHNEXUS_JOIN_ADDRESS, "join_address");
});

Deno.test("security keys: auth_enabled is a strict boolean, TLS files come in pairs, a short secret is refused", () => {
  assert.equal(loadConfig({ env: { EPOCHNEXUS_AUTH_ENABLED: "true" } }).auth_enabled, true);
  assert.equal(loadConfig({ env: { EPOCHNEXUS_AUTH_ENABLED: "false" } }).auth_enabled, false);
  assert.equal(loadConfig({}).auth_enabled, false);
  assert.throws(
    () => loadConfig({ env: { EPOCHNEXUS_AUTH_ENABLED: "yes" } }),
    /environment variable EPOCHNEXUS_AUTH_ENABLED: auth_enabled = "yes"/,
  );
  assert.throws(
    () => loadConfig({ env: { EPOCHNEXUS_TLS_CERT: "/x/cert.pem" } }),
    /tls_cert and tls_key are set together/,
  );
  assert.throws(
    () => loadConfig({ env: { EPOCHNEXUS_CLUSTER_SECRET: "short" } }),
    /cluster_secret = "short": at least 16 characters/,
  );
  const file = { path: "n.yaml", text: "auth_enabled: true\naudit_log: stderr\n" };
  const c = loadConfig({ file });
  assert.equal(c.auth_enabled, true);
  assert.equal(c.audit_log, "stderr");
});
