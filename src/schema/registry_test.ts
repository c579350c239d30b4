import assert from "node:assert/strict";
import { FieldType } from "../core/mod.ts";
import { memoryFileSystem, pt } from "./_test_util.ts";
import { SchemaPipeline } from "./pipeline.ts";
import { SchemaRegistry } from "./registry.ts";

const FILE = "measurements:\n  m:\n    fields:\n      v: { type: float, max: 1 }\n";

Deno.test("registry: an API schema overrides the file's; deleting it brings the file's back", async () => {
  const fs = memoryFileSystem({ "/cfg/m.yaml": FILE });
  const registry = await SchemaRegistry.open({ fs, dataDir: "/data", folder: "/cfg" });
  const pipeline = new SchemaPipeline(registry);
  const check = async (v: number) =>
    (await pipeline.process("db", [pt("m", {}, { v })])).rejected.length;
  assert.equal(await check(2), 1);
  await registry.put("m", { fields: { v: { type: "float", max: 10 } } });
  assert.equal(registry.describe("m").origin, "api");
  assert.equal(await check(2), 0);
  const { fallback } = await registry.delete("m");
  assert.equal(fallback, "file:/cfg/m.yaml");
  assert.equal(await check(2), 1);
  await assert.rejects(
    registry.delete("m"),
    /comes from \/cfg\/m\.yaml: remove it there and reload/,
  );
  await assert.rejects(registry.delete("nope"), /no schema for measurement "nope"/);
});

Deno.test("registry: the API store is one versioned JSON file; a damaged one is reported", async () => {
  const fs = memoryFileSystem();
  const registry = await SchemaRegistry.open({ fs, dataDir: "/data" });
  await registry.put("m", { fields: { v: { type: "integer" } } });
  const stored = JSON.parse(new TextDecoder().decode(fs.files.get("/data/schemas.json")!));
  assert.deepEqual(stored, { version: 1, schemas: { m: { fields: { v: { type: "integer" } } } } });
  fs.files.set("/data/schemas.json", new TextEncoder().encode("{nope"));
  await assert.rejects(
    SchemaRegistry.open({ fs, dataDir: "/data" }),
    /\/data\/schemas\.json: not valid JSON/,
  );
  fs.files.set("/data/schemas.json", new TextEncoder().encode('{"version": 9, "schemas": {}}'));
  await assert.rejects(SchemaRegistry.open({ fs, dataDir: "/data" }), /unknown version 9/);
});

Deno.test("registry: two files declaring one measurement, and a missing folder, are refused", async () => {
  const fs = memoryFileSystem({ "/cfg/a.yaml": FILE, "/cfg/b.yaml": FILE });
  await assert.rejects(
    SchemaRegistry.open({ fs, dataDir: "/d", folder: "/cfg" }),
    /\/cfg\/b\.yaml: measurement m is already declared in \/cfg\/a\.yaml/,
  );
  await assert.rejects(
    SchemaRegistry.open({ fs, dataDir: "/d", folder: "/nope" }),
    /schema folder \/nope does not exist/,
  );
});

Deno.test("registry: stored field types are checked in every database", async () => {
  const registry = await SchemaRegistry.open({
    fs: memoryFileSystem(),
    dataDir: "/d",
    stored: {
      fieldTypes: (m) =>
        m === "m"
          ? [{ database: "a", types: new Map([["v", FieldType.Float]]) }, {
            database: "b",
            types: new Map([["n", FieldType.String]]),
          }]
          : [],
      seriesKeys: () => [],
    },
  });
  await assert.rejects(
    registry.put("m", { fields: { n: { type: "integer" } } }),
    /field "n" of m is stored as string in database b, the schema declares integer/,
  );
  await registry.put("m", { fields: { n: { type: "string" }, v: { type: "float" } } });
});
