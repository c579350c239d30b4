/**
 * `epochnexus shell` as a real process with statements piped in, as `influx` runs a script:
 * `use`, `precision` and `format` change what the following statements return, an unknown
 * database or a failing statement says `ERR:` and makes the exit code 1.
 */
import assert from "node:assert/strict";
import { startServer } from "../_server.ts";
import { runCli } from "./_cli.ts";

Deno.test({
  name: "shell from a pipe: use, precision, format, settings, errors and the exit code",
  sanitizeResources: false,
  fn: async () => {
    const server = await startServer();
    try {
      const setup = await fetch(`${server.url}/query`, {
        method: "POST",
        body: new URLSearchParams({ q: "CREATE DATABASE shelldb" }),
      });
      assert.equal(setup.status, 200, await setup.text());
      const write = await fetch(`${server.url}/write?db=shelldb&precision=s`, {
        method: "POST",
        body: "cpu,host=a usage=1.5 1700000000\ncpu,host=b usage=2 1700000060\n",
      });
      assert.equal(write.status, 204, await write.text());

      const script = [
        "use nope",
        "USE shelldb",
        "SELECT usage FROM cpu WHERE host = 'a'",
        "precision s",
        "format csv",
        "SELECT usage FROM cpu WHERE host = 'b'",
        "format column",
        "settings",
        "SELEC oops",
        "exit",
        "SHOW DATABASES", // after exit: never run
      ].join("\n") + "\n";
      const r = await runCli(["shell", "--url", server.url], { stdin: script });
      assert.equal(r.code, 1, r.stderr);
      // From a pipe there is no banner and no prompt: only the answers.
      assert.equal(
        r.stdout.split("\n").slice(0, 8).join("\n"),
        [
          "ERR: Database nope doesn't exist. Run SHOW DATABASES for a list of existing databases.",
          "Using database shelldb",
          "name: cpu",
          "time                 usage",
          "----                 -----",
          "2023-11-14T22:13:20Z 1.5",
          "name,tags,time,usage",
          "cpu,,1700000060,2",
        ].join("\n"),
      );
      assert.match(r.stdout, /^Database +shelldb$/m);
      assert.match(r.stdout, /^Precision +s$/m);
      assert.match(r.stdout, /^ERR: .*SELEC/m);
      assert.doesNotMatch(r.stdout, /name: databases/);
    } finally {
      await server.stop();
      await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test("shell without a server says so and exits 2", async () => {
  const r = await runCli(["shell", "--url", "http://127.0.0.1:1"], { stdin: "SHOW DATABASES\n" });
  assert.equal(r.code, 2);
  assert.match(r.stdout, /^cannot reach http:\/\/127\.0\.0\.1:1/);
});
