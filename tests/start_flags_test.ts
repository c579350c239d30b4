/**
 * The start task's runtime settings (deno.json) reach every way the server is started: the
 * end-to-end harness and benchmarks (tests/_server.ts) and the bundle's shebang
 * (scripts/bundle.ts), so the memory a bench measures is the memory users get.
 */
import assert from "node:assert/strict";
import { START_ENV, START_PERMISSIONS, startServer } from "./_server.ts";
import { runFlags } from "../scripts/bundle.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const denoJson = JSON.parse(
  await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
);
const v8Flags = String(denoJson.tasks.start).split(/\s+/).filter((w) =>
  w.startsWith("--v8-flags=")
);

Deno.test("start task: its V8 flags keep the heap small, and the harness and the bundle pass them", () => {
  assert.equal(v8Flags.length, 1, "the start task has one --v8-flags word");
  assert.match(v8Flags[0], /--max-semi-space-size=\d+/);
  assert.match(v8Flags[0], /--heap-growing-percent=\d+/);
  assert.ok(START_PERMISSIONS.includes(v8Flags[0]), `harness flags: ${START_PERMISSIONS}`);
  assert.ok(runFlags(denoJson).includes(v8Flags[0]), "the bundle runs with them");
  assert.ok(runFlags(denoJson, false).includes(v8Flags[0]), "and its shebang");
});

/** A process's NUL-separated /proc file, through `cat` (the suite may not read /proc itself). */
async function procList(pid: number, file: "cmdline" | "environ"): Promise<string[]> {
  const out = await new Deno.Command("cat", { args: [`/proc/${pid}/${file}`], stderr: "null" })
    .output();
  return new TextDecoder().decode(out.stdout).split("\0").filter((w) => w !== "");
}

/** The runtime settings a server process runs with: its allocator variable and deno flags. */
async function runtimeOf(pid: number): Promise<{ arenas?: string; flags: string[] }> {
  const environ = await procList(pid, "environ");
  const arenas = environ.find((v) => v.startsWith("MALLOC_ARENA_MAX="));
  const flags = (await procList(pid, "cmdline")).filter((w) =>
    w.startsWith("--v8-flags=") || w.startsWith("--allow-")
  );
  return { arenas, flags };
}

Deno.test({
  name: "start task: `deno task start` and the test harness run the server with the same " +
    "allocator setting (one malloc arena) and the same deno flags",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    assert.equal(START_ENV.MALLOC_ARENA_MAX, "1", "the start task keeps one malloc arena");
    const dataDir = await Deno.makeTempDir({ prefix: "epochnexus-start-task-" });
    const task = new Deno.Command(Deno.execPath(), {
      args: ["task", "--quiet", "start"],
      cwd: ROOT,
      env: {
        EPOCHNEXUS_DATA_DIR: dataDir,
        EPOCHNEXUS_BIND_ADDRESS: "127.0.0.1:0",
        EPOCHNEXUS_RAFT_ADDRESS: "127.0.0.1:0",
        DENO_NO_UPDATE_CHECK: "1",
      },
      stdout: "null",
      stderr: "null",
    }).spawn();
    const harness = await startServer();
    let served: number | undefined;
    try {
      // deno task runs the command as its child; wait (at most 20 s) until it has exec'd deno.
      const deadline = Date.now() + 20_000;
      while (served === undefined && Date.now() < deadline) {
        const children = await new Deno.Command("cat", {
          args: [`/proc/${task.pid}/task/${task.pid}/children`],
          stderr: "null",
        }).output();
        for (const pid of new TextDecoder().decode(children.stdout).trim().split(/\s+/)) {
          if (pid && (await procList(Number(pid), "cmdline")).some((w) => w.endsWith("main.ts"))) {
            served = Number(pid);
          }
        }
        if (served === undefined) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(served !== undefined, "deno task start did not start the server within 20 s");
      const user = await runtimeOf(served);
      assert.equal(user.arenas, "MALLOC_ARENA_MAX=1", "deno task start sets the allocator");
      assert.deepEqual(await runtimeOf(harness.process.pid), user);
    } finally {
      if (served !== undefined) Deno.kill(served, "SIGKILL");
      task.kill("SIGKILL");
      await task.status;
      await harness.stop();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
      await Deno.remove(harness.dataDir, { recursive: true }).catch(() => {});
    }
  },
});
