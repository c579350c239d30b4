/**
 * The CLI on a terminal, as a user sees it: `script` (util-linux) gives the command a
 * pseudo-terminal. The import's progress bar names the file of several and ends at 100% with an
 * ETA; the shell edits lines in raw mode, Up recalls the last statement, and the history file
 * keeps what was typed. Each step waits for the screen to show what it expects (a deadline, no
 * fixed sleep).
 */
import assert from "node:assert/strict";
import { startServer } from "../_server.ts";
import { ROOT } from "./_cli.ts";

/** A command line for `script -c`, each word single-quoted. */
function shellLine(words: string[]): string {
  return words.map((w) => `'${w.replaceAll("'", `'\\''`)}'`).join(" ");
}

/** The CLI under a pseudo-terminal: what it printed so far, keys to type, its end. */
function onTerminal(args: string[], env: Record<string, string>, cwd: string) {
  // `deno task` from the user's folder, as the README says: INIT_CWD names that folder.
  const cli = shellLine([Deno.execPath(), "task", "--quiet", "--cwd", ROOT, "cli", ...args]);
  const child = new Deno.Command("script", {
    args: ["-qfec", cli, "/dev/null"],
    cwd,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
      DENO_NO_UPDATE_CHECK: "1",
      NO_COLOR: "1",
      TERM: "xterm",
      ...env,
    },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let screen = "";
  const decoder = new TextDecoder();
  const reading = (async () => {
    for await (const chunk of child.stdout) screen += decoder.decode(chunk, { stream: true });
  })();
  const keys = child.stdin.getWriter();
  const killer = setTimeout(() => child.kill("SIGKILL"), 90_000);
  return {
    screen: () => screen,
    type: (text: string) => keys.write(new TextEncoder().encode(text)),
    /** Waits until the screen matches `re` `times` times (at most 60 s). */
    async waitFor(re: RegExp, times = 1) {
      const deadline = Date.now() + 60_000;
      const global = new RegExp(re.source, re.flags.includes("g") ? re.flags : re.flags + "g");
      while ((screen.match(global)?.length ?? 0) < times) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}:\n${screen}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async end() {
      await keys.close().catch(() => {});
      const status = await child.status;
      await reading;
      await child.stderr.cancel();
      clearTimeout(killer);
      return status.code;
    },
  };
}

Deno.test({
  name:
    "on a terminal: import shows which file of several, 100% and the ETA; the shell recalls with Up and keeps a history",
  sanitizeResources: false,
  fn: async () => {
    const server = await startServer();
    const home = await Deno.makeTempDir({ prefix: "epochnexus-tty-" });
    const env = { HOME: home, EPOCHNEXUS_BIND_ADDRESS: `127.0.0.1:${server.port}` };
    try {
      for (const name of ["a", "b", "c"]) {
        await Deno.writeTextFile(`${home}/${name}.lp`, `tty,f=${name} v=1 1700000000\n`);
      }
      const imp = onTerminal(
        ["import", "a.lp", "b.lp", "c.lp", "--precision", "s"],
        env,
        home,
      );
      await imp.waitFor(/imported 3 points from 3 files/);
      assert.equal(await imp.end(), 0, imp.screen());
      // The bar's last frame: the last file of three, every byte, its ETA.
      assert.match(
        imp.screen(),
        /\[3\/3\] c\.lp .* 100% \| 3 points \| 0\.0\/0\.0 MB \| \d+ points\/s \| ETA 0s/,
      );

      const shell = onTerminal(["shell", "--db", "epochnexus", "--precision", "s"], env, home);
      await shell.waitFor(/epochnexus> /);
      assert.match(
        shell.screen(),
        /Connected to http:\/\/127\.0\.0\.1:\d+ \(EpochNexus \d+\.\d+\.\d+\)/,
      );
      await shell.type("SELECT count(v) FROM tty\r");
      await shell.waitFor(/count\r+\n-+ +-----\r+\n0 +3\r+\n/);
      // Up recalls the statement; Enter runs it again.
      await shell.type("\x1b[A");
      await shell.waitFor(/SELECT count\(v\) FROM tty/, 2);
      await shell.type("\r");
      await shell.waitFor(/0 +3\r+\n/, 2);
      // Ctrl-U clears a typed line; Ctrl-D on the empty line leaves.
      await shell.type("DROP DATABASE epochnexus\x15\x04");
      assert.equal(await shell.end(), 0, shell.screen());
      const history = await Deno.readTextFile(`${home}/.epochnexus_history`);
      assert.equal(history, "SELECT count(v) FROM tty\nSELECT count(v) FROM tty\n");
      const count = await (await fetch(
        `${server.url}/query?db=epochnexus&q=${encodeURIComponent("SELECT count(v) FROM tty")}`,
      )).json();
      assert.equal(count.results[0].series[0].values[0][1], 3);
    } finally {
      await server.stop();
      await Deno.remove(home, { recursive: true });
      await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
    }
  },
});
