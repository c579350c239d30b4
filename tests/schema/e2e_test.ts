/**
 * Schemas in a real server process: the config folder at startup (a bad file stops the node
 * naming file, line and key), reloading it with SIGHUP, API schemas surviving a restart, and
 * script sandboxes (child processes of the server) living no longer than their schemas.
 */
import assert from "node:assert/strict";
import { startServer, writeLines } from "../_server.ts";
import { eventually, sandboxChildren, stillThere } from "./_processes.ts";

const cpu = (max: number) =>
  `measurements:\n  cpu:\n    fields:\n      usage: { type: float, max: ${max} }\n`;

Deno.test("e2e: schema folder at startup, SIGHUP reload, API schemas across a restart", async () => {
  const folder = await Deno.makeTempDir({ prefix: "epochnexus-schemas-" });
  await Deno.writeTextFile(`${folder}/cpu.yaml`, cpu(100));
  const env = { EPOCHNEXUS_SCHEMA_DIR: folder };
  let server = await startServer({ env });
  try {
    const refused = await writeLines(server.url, "epochnexus", "cpu usage=200 1");
    assert.equal(refused.status, 400);
    assert.match(refused.body, /field_max on \\"usage\\": expected <= 100, got 200/);
    await Deno.writeTextFile(`${folder}/cpu.yaml`, cpu(500));
    server.process.kill("SIGHUP");
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await writeLines(server.url, "epochnexus", "cpu usage=200 2")).status;
      if (status === 204) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(status, 204, "SIGHUP reloaded the schema folder");
    const put = await fetch(`${server.url}/api/v1/schemas/disk`, {
      method: "PUT",
      body: JSON.stringify({ fields: { used: { type: "integer" } } }),
    });
    assert.equal(put.status, 200, await put.text());
    await server.stop();
    server = await startServer({ env, dataDir: server.dataDir });
    const got = await fetch(`${server.url}/api/v1/schemas/disk`);
    assert.equal((await got.json()).schema.fields.used.type, "integer");
    assert.equal((await writeLines(server.url, "epochnexus", "disk used=1.5 1")).status, 400);
  } finally {
    await server.stop();
  }
  // A bad schema file stops startup with file, line and key.
  await Deno.writeTextFile(`${folder}/cpu.yaml`, cpu(100).replace("type: float", "type: real"));
  await assert.rejects(
    startServer({ env }),
    /cpu\.yaml:4: measurements\.cpu\.fields\.usage\.type: /,
  );
});

Deno.test("e2e: script sandboxes of a real server end with their schema (DELETE, SIGHUP) and with the server; the limit holds", async () => {
  const folder = await Deno.makeTempDir({ prefix: "epochnexus-schemas-" });
  const script = (tag: string) =>
    `{"measurements": {"f": {"pipeline": [{"script": {"source": ` +
    `"export default (ps: any[]) => ps.map((p) => ({ ...p, tags: { v: '${tag}' } }))"}}]}}}`;
  await Deno.writeTextFile(`${folder}/f.json`, script("1"));
  const server = await startServer({
    env: { EPOCHNEXUS_SCHEMA_DIR: folder, EPOCHNEXUS_MAX_SCRIPT_SANDBOXES: "2" },
  });
  const children = () => sandboxChildren(server.process.pid);
  const settle = async (n: number, what: string) => {
    const pids = await eventually(children, (p) => p.length === n);
    assert.equal(pids.length, n, `${what}: ${pids}`);
    return pids;
  };
  const put = (m: string) =>
    fetch(`${server.url}/api/v1/schemas/${m}`, {
      method: "PUT",
      body: JSON.stringify({ pipeline: [{ script: { source: "export default (ps) => ps" } }] }),
    });
  const seen: number[] = [];
  try {
    assert.equal((await writeLines(server.url, "epochnexus", "f value=1 1")).status, 204);
    seen.push(...await settle(1, "the folder's script ran"));
    const a = await put("a");
    assert.equal(a.status, 200, await a.text());
    assert.equal((await writeLines(server.url, "epochnexus", "a value=1 1")).status, 204);
    seen.push(...await settle(2, "the folder's and the API's"));
    const b = await put("b");
    assert.equal(b.status, 409);
    assert.match(await b.text(), /max_script_sandboxes = 2/);
    assert.equal((await fetch(`${server.url}/api/v1/schemas/a`, { method: "DELETE" })).status, 200);
    await settle(1, "after DELETE");
    await Deno.writeTextFile(`${folder}/f.json`, script("2"));
    server.process.kill("SIGHUP");
    await settle(0, "after SIGHUP, before any write");
    assert.equal((await writeLines(server.url, "epochnexus", "f value=2 2")).status, 204);
    seen.push(...await settle(1, "the reloaded script ran"));
  } finally {
    await server.stop();
  }
  assert.deepEqual(await stillThere(seen), [], "no sandbox outlived the server");
});
