/**
 * Schemas in a real server process: the config folder at startup (a bad file stops the node
 * naming file, line and key), reloading it with SIGHUP, and API schemas surviving a restart.
 */
import assert from "node:assert/strict";
import { startServer, writeLines } from "../_server.ts";

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
