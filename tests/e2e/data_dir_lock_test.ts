/**
 * One process per data folder, with real processes: a second node on a folder in use refuses
 * to start (naming the folder and the holder's pid, exit 1) and writes nothing; after kill -9
 * of the first, the kernel has dropped its lock and a new node starts and serves its data.
 */
import assert from "node:assert/strict";
import { query, startServer, writeLines } from "../_server.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** `serve` on `dataDir`; resolves with its exit code and stderr (killed after 20 s). */
async function runSecondNode(dataDir: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `${ROOT}src/cli/main.ts`, "serve"],
    env: {
      DENO_NO_UPDATE_CHECK: "1",
      RUST_BACKTRACE: "0",
      EPOCHNEXUS_DATA_DIR: dataDir,
      EPOCHNEXUS_BIND_ADDRESS: "127.0.0.1:0",
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // A node that starts when it should refuse would serve forever: bound the wait.
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const output = await child.output();
  clearTimeout(timer);
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
}

Deno.test("a second node on a data folder in use refuses to start; after kill -9 one starts", async () => {
  const first = await startServer();
  try {
    await query(first.url, "CREATE DATABASE locked");
    assert.equal((await writeLines(first.url, "locked", "m v=1 1")).status, 204);

    const second = await runSecondNode(first.dataDir);
    assert.equal(second.code, 1, `the second node did not refuse:\n${second.stderr}`);
    assert.match(
      second.stderr,
      new RegExp(
        `data folder ${first.dataDir} is in use by another EpochNexus process ` +
          `\\(pid ${first.process.pid}\\)`,
      ),
    );
    assert.match(second.stderr, /epochnexus\.lock/);
    // The first node still serves.
    assert.equal((await writeLines(first.url, "locked", "m v=2 2")).status, 204);
  } finally {
    await first.kill9();
  }
  // The kernel released the lock with the process: a new node starts on the same folder.
  const again = await startServer({ dataDir: first.dataDir });
  try {
    const answer = await query(again.url, "SELECT count(v) FROM m", { db: "locked" });
    assert.equal(answer.results[0].series[0].values[0][1], 2);
  } finally {
    await again.stop();
    await Deno.remove(first.dataDir, { recursive: true }).catch(() => {});
  }
});
