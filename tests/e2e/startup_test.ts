/**
 * How the real process starts and refuses to start: an invalid configuration and a WAL damaged
 * before its tail both stop it with a message naming the place; a torn tail is cut and logged.
 */
import assert from "node:assert/strict";
import { query, startServer, writeLines } from "../_server.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function runServe(env: Record<string, string>, args: string[] = []) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `${ROOT}src/cli/main.ts`, "serve", ...args],
    env: { DENO_NO_UPDATE_CHECK: "1", RUST_BACKTRACE: "0", ...env },
    stdout: "piped",
    stderr: "piped",
  });
  const process = child.spawn();
  // A server that starts when it should have refused would run forever: bound the wait.
  const timer = setTimeout(() => process.kill("SIGKILL"), 20_000);
  const output = await process.output();
  clearTimeout(timer);
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
}

Deno.test("an invalid setting stops startup naming the variable, value and rule", async () => {
  const result = await runServe({
    EPOCHNEXUS_BIND_ADDRESS: "localhost",
    EPOCHNEXUS_DATA_DIR: await Deno.makeTempDir(),
  });
  assert.equal(result.code, 1);
  assert.match(
    result.stderr,
    /environment variable EPOCHNEXUS_BIND_ADDRESS: bind_address = "localhost": expected host:port/,
  );
});

Deno.test("an invalid YAML file stops startup naming file and line", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/node.yaml`, "data_dir: /tmp/x\nmax_body_bytes: -5\n");
  const result = await runServe({}, ["--config", `${dir}/node.yaml`]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /node\.yaml:2: max_body_bytes = -5/);
});

Deno.test("a WAL damaged before its tail stops startup with file and offset", async () => {
  const server = await startServer();
  await query(server.url, "CREATE DATABASE d");
  for (let i = 0; i < 3; i++) {
    assert.equal((await writeLines(server.url, "d", `m v=${i} ${i}`)).status, 204);
  }
  await server.kill9(); // a clean stop flushes the heads and trims this WAL segment
  const wal = `${server.dataDir}/wal/00000001.wal`;
  const bytes = await Deno.readFile(wal);
  const firstRecordPayload = 8 + 9 + 2; // segment header, record header, into the payload
  bytes[firstRecordPayload] ^= 0xff; // the first record, with intact records after it
  await Deno.writeFile(wal, bytes);
  const result = await runServe({
    EPOCHNEXUS_DATA_DIR: server.dataDir,
    EPOCHNEXUS_BIND_ADDRESS: "127.0.0.1:0", // it must stop before binding; if not, it binds anything
  });
  assert.equal(result.code, 1);
  assert.match(result.stderr, new RegExp(`corrupt data in ${wal} at offset \\d+`));
});

Deno.test("a torn WAL tail is cut and logged; everything before it is served", async () => {
  const server = await startServer();
  await query(server.url, "CREATE DATABASE d");
  for (let i = 0; i < 3; i++) {
    assert.equal((await writeLines(server.url, "d", `m v=${i} ${i}`)).status, 204);
  }
  await server.kill9();
  const wal = `${server.dataDir}/wal/00000001.wal`;
  const size = (await Deno.stat(wal)).size;
  await Deno.truncate(wal, size - 7);
  const again = await startServer({ dataDir: server.dataDir });
  try {
    assert.match(again.logs(), /cut torn tail of write-ahead log/);
    const answer = await query(again.url, "SELECT count(v) FROM m", { db: "d" });
    assert.equal(answer.results[0].series[0].values[0][1], 2);
  } finally {
    await again.stop();
  }
});
