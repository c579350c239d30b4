/**
 * The `epochnexus` command as a user meets it: help everywhere, no server started by accident,
 * the server found through EPOCHNEXUS_BIND_ADDRESS, paths relative to the folder the user is in
 * (through `deno task`), stdin, and a summary of rejected points that names their lines.
 */
import assert from "node:assert/strict";
import { COMMANDS } from "../../src/cli/commands.ts";
import { startServer } from "../_server.ts";
import { runCli, runTask } from "./_cli.ts";

Deno.test("no arguments prints the commands and starts nothing", async () => {
  const r = await runTask([], { cwd: await Deno.makeTempDir(), timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^epochnexus \d+\.\d+\.\d+: a time-series database/);
  assert.match(r.stdout, /usage: epochnexus <command> \[options\]/);
  for (const c of COMMANDS) assert.match(r.stdout, new RegExp(`^  ${c.name} +\\S`, "m"));
  assert.doesNotMatch(r.stdout + r.stderr, /listening/);
});

Deno.test("--help and -h on every command print its usage and options; help <command> too", async () => {
  for (const command of COMMANDS) {
    for (const args of [[command.name, "--help"], [command.name, "-h"], ["help", command.name]]) {
      const r = await runCli(args);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^usage: epochnexus ${command.name}`), args.join(" "));
      assert.match(r.stdout, /-h, --help +this help/);
    }
  }
  const general = await runCli(["--help"]);
  assert.equal(general.code, 0);
  assert.match(general.stdout, /usage: epochnexus <command>/);
});

Deno.test("bad usage exits 2 and shows the command's help; version prints ours", async () => {
  const unknown = await runCli(["query", "--nope", "SHOW DATABASES"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^epochnexus: unknown option --nope\n\nusage: epochnexus query/);
  const noCommand = await runCli(["frobnicate"]);
  assert.equal(noCommand.code, 2);
  assert.match(noCommand.stderr, /unknown command frobnicate/);
  const flagFirst = await runCli(["--config", "x.yaml"]);
  assert.equal(flagFirst.code, 2);
  assert.match(flagFirst.stderr, /the command comes first \(epochnexus serve --config x\.yaml\)/);
  const version = await runCli(["version"]);
  assert.equal(version.code, 0);
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  assert.equal(
    version.stdout,
    `epochnexus ${denoJson.version} (InfluxDB 1.x API compatible: 1.6.7)\n`,
  );
});

Deno.test({
  name:
    "against a server: the URL from EPOCHNEXUS_BIND_ADDRESS, files relative to the caller, stdin, rejects by line",
  sanitizeResources: false,
  fn: async () => {
    const server = await startServer();
    const home = await Deno.makeTempDir({ prefix: "epochnexus-user-" });
    const env = { EPOCHNEXUS_BIND_ADDRESS: `127.0.0.1:${server.port}` };
    try {
      await Deno.mkdir(`${home}/data`);
      await Deno.writeTextFile(
        `${home}/data/cpu.lp`,
        "cpu,host=a usage=1 1700000000000000000\n" +
          "cpu,host=b usage= 1700000001000000000\n" +
          "# a comment\n" +
          'cpu,host=c usage="high" 1700000002000000000\n' +
          "cpu,host=d usage=4 1700000003000000000\n",
      );
      // `deno task` runs in the repository; the file is relative to where the user is.
      const imported = await runTask(["import", "data/cpu.lp", "--progress", "false"], {
        cwd: home,
        env,
      });
      assert.equal(imported.code, 1, imported.stderr);
      assert.match(
        imported.stderr,
        /^imported 2 points from data\/cpu\.lp \(0\.0 MB\) in [\d.]+ s \(\d+ points\/s\); 2 points rejected \(1 did not decode, 1 refused by the server\)$/m,
      );
      assert.match(imported.stderr, /^ {2}data\/cpu\.lp:2: missing field value$/m);
      assert.match(
        imported.stderr,
        /^ {2}data\/cpu\.lp:4: field type conflict: input field "usage" on measurement "cpu" is type string, already exists as type float$/m,
      );
      // The README's stdin example, through the task's own permissions.
      const piped = await runTask(["import", "-", "--format", "lp", "--precision", "s"], {
        cwd: home,
        env,
        stdin: "cpu,host=e usage=5 1700000004\n",
      });
      assert.equal(piped.code, 0, piped.stderr);
      assert.match(piped.stderr, /imported 1 points from stdin/);
      // No --url: EPOCHNEXUS_BIND_ADDRESS names the server.
      const q = await runTask(["query", "SELECT count(usage) FROM cpu", "--epoch", "s"], {
        cwd: home,
        env,
      });
      assert.equal(q.code, 0, q.stderr);
      assert.equal(q.stdout, "name: cpu\ntime count\n---- -----\n0    3\n");
      // Seconds written without --precision read as nanoseconds (1970): the summary says so.
      const trap = await runTask(["import", "-", "--format", "lp"], {
        cwd: home,
        env,
        stdin: "trap v=1 1700000000\ntrap v=2 1700000001\n",
      });
      assert.equal(trap.code, 0, trap.stderr);
      assert.match(
        trap.stderr,
        /^warning: 2 points have timestamps more than 30 years from now; timestamps look like seconds: pass --precision s$/m,
      );
      const missing = await runTask(["import", "nothere.lp"], { cwd: home, env });
      assert.equal(missing.code, 2);
      assert.match(
        missing.stderr,
        new RegExp(`no such file: nothere\\.lp \\(${home}/nothere\\.lp\\)`),
      );
    } finally {
      await server.stop();
      await Deno.remove(home, { recursive: true });
      await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test("a client command without a server says so at once", async () => {
  // Port 1 (tcpmux): nothing listens there, and only root could.
  const url = "http://127.0.0.1:1";
  const q = await runCli(["query", "SHOW DATABASES", "--url", url]);
  assert.equal(q.code, 2);
  assert.match(q.stderr, new RegExp(`cannot reach ${url}`));
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/a.lp`, "m v=1\n");
  const i = await runCli(["import", `${dir}/a.lp`, "--url", url], { timeoutMs: 30_000 });
  assert.equal(i.code, 1);
  assert.match(i.stderr, new RegExp(`^cannot reach ${url}`));
  await Deno.remove(dir, { recursive: true });
});
