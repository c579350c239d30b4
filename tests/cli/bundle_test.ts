/**
 * The one-file artefact: `deno task bundle` writes the whole command as one JavaScript file
 * whose first line runs it with `deno run` and the tasks' permissions. Run from a folder without
 * the repository's deno.json (as a user who copied the file), it prints its version and help
 * and serves: a point written over HTTP is read back, and the console page is served.
 */
import assert from "node:assert/strict";
import { startServer } from "../_server.ts";
import { runFlags } from "../../scripts/bundle.ts";
import { ROOT } from "./_cli.ts";

Deno.test({
  name: "deno task bundle: one file that starts with deno run, runs as an executable and serves",
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "epochnexus-bundle-" });
    const file = `${dir}/epochnexus.js`;
    const env = {
      DENO_NO_UPDATE_CHECK: "1",
      NO_COLOR: "1",
      // The shebang finds deno on the PATH, as it would for a user.
      PATH: `${Deno.execPath().replace(/\/[^/]*$/, "")}:${Deno.env.get("PATH") ?? ""}`,
    };
    try {
      const bundled = await new Deno.Command(Deno.execPath(), {
        args: ["task", "--quiet", "bundle", file],
        cwd: ROOT,
        env,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(bundled.code, 0, new TextDecoder().decode(bundled.stderr));
      const text = await Deno.readTextFile(file);
      const shebang = text.slice(0, text.indexOf("\n"));
      // The start task's allocator variables first (env -S sets them), then deno.
      assert.match(
        shebang,
        /^#!\/usr\/bin\/env -S MALLOC_ARENA_MAX=1 deno run --unstable-kv .*--allow-net /,
      );
      // Linux keeps 255 bytes of a shebang line: the rest would be dropped without a word.
      assert.ok(shebang.length <= 255, `${shebang.length} bytes: ${shebang}`);
      assert.equal((await Deno.stat(file)).mode! & 0o111, 0o111);
      // No import of the repository's files is left: the bundle stands alone.
      assert.doesNotMatch(text, new RegExp(ROOT.replaceAll("/", "\\/") + "src"));

      const run = async (...args: string[]) => {
        const out = await new Deno.Command(file, {
          args,
          cwd: dir,
          env,
          stdout: "piped",
          stderr: "piped",
        })
          .output();
        const decoder = new TextDecoder();
        return {
          code: out.code,
          stdout: decoder.decode(out.stdout),
          stderr: decoder.decode(out.stderr),
        };
      };
      const version = await run("version");
      assert.equal(version.code, 0, version.stderr);
      assert.match(
        version.stdout,
        /^epochnexus \d+\.\d+\.\d+ \(InfluxDB 1\.x API compatible: 1\.6\.7\)\n$/,
      );
      const help = await run();
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /usage: epochnexus <command>/);

      const server = await startServer({
        command: { program: file, args: ["serve"], cwd: dir },
        env,
      });
      try {
        const write = await fetch(`${server.url}/write?db=epochnexus&precision=s`, {
          method: "POST",
          body: "bundled,from=file v=42 1700000000",
        });
        assert.equal(write.status, 204, await write.text());
        const q = await run(
          "query",
          "SELECT v FROM bundled",
          "--url",
          server.url,
          "--db",
          "epochnexus",
        );
        assert.equal(q.code, 0, q.stderr);
        assert.equal(
          q.stdout,
          "name: bundled\ntime                 v\n----                 -\n2023-11-14T22:13:20Z 42\n",
        );
        // The web console is part of the bundle: its page and the assets it names are served.
        const page = await fetch(`${server.url}/`);
        const html = await page.text();
        assert.equal(page.status, 200, html);
        assert.match(page.headers.get("content-type") ?? "", /text\/html/);
        const asset = /(?:src|href)="\/?(console\/[^"]+)"/.exec(html)?.[1];
        assert.ok(asset, html);
        const served = await fetch(`${server.url}/${asset}`);
        assert.equal(served.status, 200, asset);
        await served.body?.cancel();
        const health = await (await fetch(`${server.url}/health`)).json();
        assert.match(health.version, /^\d+\.\d+\.\d+$/);
      } finally {
        await server.stop();
        await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
      }
      // With the tasks' exact permissions (the README's deno run line) it serves too.
      const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
      const exact = await startServer({
        command: {
          program: Deno.execPath(),
          args: ["run", ...runFlags(config), file, "serve"],
          cwd: dir,
        },
        env,
      });
      try {
        const r = await fetch(`${exact.url}/health`);
        assert.equal(r.status, 200, await r.text());
      } finally {
        await exact.stop();
        await Deno.remove(exact.dataDir, { recursive: true }).catch(() => {});
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
