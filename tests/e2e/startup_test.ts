/**
 * How the real process starts and refuses to start: an invalid configuration and a Raft log
 * damaged before its tail both stop it with a message naming the place; a torn tail is cut and
 * logged.
 */
import assert from "node:assert/strict";
import { partitionOf } from "../../src/cluster/hash.ts";
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

/** The node's shared Raft log segment (the newest), where its records begin (after the
 * segment header and its leading checkpoint record), and the partition group of series `key`. */
async function raftLog(url: string, dataDir: string, database: string, key: string) {
  const status = await (await fetch(`${url}/api/v1/cluster`)).json();
  const db = status.databases.find((d: { name: string }) => d.name === database);
  const groupId = db.partitions[partitionOf(db.hash, key, db.partitions.length)].groupId;
  const dir = `${dataDir}/raft/log`;
  const names = [];
  for await (const e of Deno.readDir(dir)) if (e.name.endsWith(".seg")) names.push(e.name);
  names.sort();
  const path = `${dir}/${names[names.length - 1]}`;
  const bytes = await Deno.readFile(path);
  const checkpointLength = new DataView(bytes.buffer).getUint32(16, true);
  return { path, firstRecord: 16 + 8 + checkpointLength, groupId };
}

/** The records of a shared Raft log segment: offset, payload kind (1 = entry) and group. */
function records(bytes: Uint8Array, from: number) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = [];
  for (let at = from; at + 8 <= bytes.length;) {
    const length = view.getUint32(at, true);
    if (length === 0 || at + 8 + length > bytes.length) break;
    const kind = bytes[at + 8];
    // entry: kind, entry type, group u64; other kinds: kind, group u64
    const group = view.getUint32(at + 8 + (kind === 1 ? 2 : 1), true);
    out.push({ offset: at, kind, group });
    at += 8 + length;
  }
  return out;
}

Deno.test("a Raft log damaged before its tail stops startup with file and offset", async () => {
  const server = await startServer();
  await query(server.url, "CREATE DATABASE d");
  for (let i = 0; i < 3; i++) {
    assert.equal((await writeLines(server.url, "d", `m v=${i} ${i}`)).status, 204);
  }
  const log = await raftLog(server.url, server.dataDir, "d", "m");
  await server.kill9(); // a clean stop flushes the heads and compacts this log
  const bytes = await Deno.readFile(log.path);
  bytes[log.firstRecord + 8 + 2] ^= 0xff; // the first record, with intact records after it
  await Deno.writeFile(log.path, bytes);
  const result = await runServe({
    EPOCHNEXUS_DATA_DIR: server.dataDir,
    EPOCHNEXUS_BIND_ADDRESS: "127.0.0.1:0",
    EPOCHNEXUS_RAFT_ADDRESS: "127.0.0.1:0",
  });
  assert.equal(result.code, 1);
  assert.match(result.stderr, new RegExp(`corrupt data in ${log.path} at offset \\d+`));
  // Nothing was cut: the damaged log is still whole for the operator.
  assert.deepEqual(await Deno.readFile(log.path), bytes);
});

Deno.test("a torn log tail is cut and logged; everything before it is served", async () => {
  const server = await startServer();
  await query(server.url, "CREATE DATABASE d");
  for (let i = 0; i < 3; i++) {
    assert.equal((await writeLines(server.url, "d", `m v=${i} ${i}`)).status, 204);
  }
  const log = await raftLog(server.url, server.dataDir, "d", "m");
  await server.kill9();
  // Tear the partition's last entry (the third write) in the middle of its payload.
  const bytes = await Deno.readFile(log.path);
  const last = records(bytes, log.firstRecord)
    .filter((r) => r.kind === 1 && r.group === log.groupId).at(-1)!;
  await Deno.truncate(log.path, last.offset + 8 + 5);
  const again = await startServer({ dataDir: server.dataDir });
  try {
    assert.match(again.logs(), /cut torn tail of shared raft log .* bytes=\d+/);
    const answer = await query(again.url, "SELECT count(v) FROM m", { db: "d" });
    assert.equal(answer.results[0].series[0].values[0][1], 2);
  } finally {
    await again.stop();
  }
});
