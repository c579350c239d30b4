import assert from "node:assert/strict";
import { FieldType } from "../core/mod.ts";
import { memoryFileSystem, pt } from "./_test_util.ts";
import { SchemaPipeline } from "./pipeline.ts";
import { SchemaRegistry } from "./registry.ts";
import type { ScriptSandboxFactory } from "./script.ts";

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

/** Sandboxes that only count: how many are open now, and how many were ever made. */
function countingSandboxes() {
  const counts = { open: 0, made: 0 };
  const factory: ScriptSandboxFactory = () => {
    counts.open++;
    counts.made++;
    let closed = false;
    return {
      run: (batch) => Promise.resolve(batch),
      close() {
        if (!closed) counts.open--;
        closed = true;
      },
    };
  };
  return { factory, counts };
}

const SCRIPT = { script: { source: "export default (ps) => ps" } };

Deno.test("registry: a replaced, deleted, refused or closed schema closes its sandboxes; the limit counts them all", async () => {
  const { factory, counts } = countingSandboxes();
  let contradicts = false;
  const fs = memoryFileSystem({
    "/cfg/f.yaml":
      "measurements:\n  f:\n    pipeline:\n      - script: { source: 'export default (p) => p' }\n",
  });
  const registry = await SchemaRegistry.open({
    fs,
    dataDir: "/d",
    folder: "/cfg",
    resources: { scripts: factory, maxScripts: 3 },
    stored: {
      fieldTypes: (m) =>
        contradicts && m === "m"
          ? [{ database: "db", types: new Map([["v", FieldType.Float]]) }]
          : [],
      seriesKeys: () => [],
    },
  });
  assert.equal(counts.open, 1, "the file's script");
  await registry.put("m", { pipeline: [SCRIPT, SCRIPT] });
  assert.equal(counts.open, 3);
  await registry.put("m", { pipeline: [SCRIPT, SCRIPT] });
  assert.equal(counts.open, 3, "a re-PUT at the limit replaces, and closes the old sandboxes");
  await assert.rejects(
    registry.put("n", { pipeline: [SCRIPT] }),
    /schema n: pipeline\.0\.script: refused: 3 script sandboxes are in use, the most this node allows \(max_script_sandboxes = 3\)/,
  );
  await assert.rejects(
    registry.put("m", { pipeline: [SCRIPT, SCRIPT, SCRIPT] }),
    /schema m: pipeline\.2\.script: refused: 3 script sandboxes are in use/,
  );
  assert.equal(counts.open, 3, "a refused schema made no sandbox");
  // Refused after compiling (stored data contradicts it): its sandboxes are closed.
  contradicts = true;
  await assert.rejects(
    registry.put("m", { fields: { v: { type: "integer" } }, pipeline: [SCRIPT] }),
    /schema contradicts stored data/,
  );
  contradicts = false;
  assert.equal(counts.open, 3);
  // A dry run holds its sandboxes until it is discarded.
  await registry.delete("m");
  assert.equal(counts.open, 1);
  const proposed = await registry.compile("m", { pipeline: [SCRIPT, SCRIPT] });
  assert.equal(counts.open, 3);
  await assert.rejects(registry.put("n", { pipeline: [SCRIPT] }), /max_script_sandboxes = 3/);
  registry.discard(proposed);
  assert.equal(counts.open, 1);
  // A reload replaces the file's sandboxes; one that fails part-way closes what it made.
  await registry.reload();
  assert.equal(counts.open, 1);
  const file = (text: string) => new TextEncoder().encode(text);
  fs.files.set(
    "/cfg/g.yaml",
    file("measurements:\n  g:\n    pipeline:\n      - script: { source: x }\n"),
  );
  fs.files.set(
    "/cfg/h.yaml",
    file("measurements:\n  h:\n    pipeline:\n      - lookup: { tag: t, file: missing.csv }\n"),
  );
  await assert.rejects(registry.reload(), /h\.yaml: measurements\.h\.pipeline\.0\.lookup\.file/);
  assert.equal(
    counts.open,
    1,
    "the failed reload closed the sandboxes it had made (f's and g's new ones)",
  );
  assert.deepEqual(registry.measurements(), ["f"]);
  registry.close();
  assert.equal(counts.open, 0);
});

Deno.test("registry: a folder or store needing more sandboxes than allowed stops the opening, leaking none", async () => {
  const { factory, counts } = countingSandboxes();
  const fs = memoryFileSystem();
  const registry = await SchemaRegistry.open({
    fs,
    dataDir: "/d",
    resources: { scripts: factory, maxScripts: 2 },
  });
  await registry.put("a", { pipeline: [SCRIPT, SCRIPT] });
  registry.close();
  assert.equal(counts.open, 0);
  await assert.rejects(
    SchemaRegistry.open({ fs, dataDir: "/d", resources: { scripts: factory, maxScripts: 1 } }),
    /schema a: pipeline\.1\.script: refused: 1 script sandboxes are in use.*max_script_sandboxes = 1/,
  );
  assert.equal(counts.open, 0);
});

Deno.test("registry: concurrent dry runs and PUTs cannot all pass the limit together", async () => {
  const { factory, counts } = countingSandboxes();
  const registry = await SchemaRegistry.open({
    fs: memoryFileSystem(),
    dataDir: "/d",
    resources: { scripts: factory, maxScripts: 3 },
  });
  const attempts = await Promise.allSettled([
    registry.compile("a", { pipeline: [SCRIPT] }),
    registry.put("b", { pipeline: [SCRIPT] }),
    registry.compile("c", { pipeline: [SCRIPT] }),
    registry.put("d", { pipeline: [SCRIPT] }),
    registry.compile("e", { pipeline: [SCRIPT] }),
  ]);
  assert.equal(attempts.filter((a) => a.status === "fulfilled").length, 3);
  assert.equal(counts.open, 3);
  for (const a of attempts) {
    if (a.status === "rejected") assert.match(String(a.reason), /max_script_sandboxes = 3/);
  }
  registry.close();
  for (const a of attempts) {
    const value = a.status === "fulfilled" ? a.value : undefined;
    if (value && "steps" in value) registry.discard(value);
  }
  assert.equal(counts.open, 0);
});

Deno.test("registry: at max_schemas a new measurement's schema is refused with 409, a replacement is not", async () => {
  const fs = memoryFileSystem({});
  const registry = await SchemaRegistry.open({ fs, dataDir: "/data", maxSchemas: 2 });
  const body = { fields: { v: { type: "float" } } };
  await registry.put("a", body);
  await registry.put("b", body);
  await assert.rejects(registry.put("c", body), (error: Error & { httpStatus?: number }) => {
    assert.match(error.message, /no schema set for c: 2 measurements .* \(max_schemas = 2\)/);
    assert.equal(error.httpStatus, 409);
    return true;
  });
  assert.deepEqual(registry.measurements().sort(), ["a", "b"]);
  await registry.put("b", { fields: { v: { type: "float", max: 5 } } });
  await registry.delete("a");
  await registry.put("c", body);
  assert.deepEqual(registry.measurements().sort(), ["b", "c"]);
  registry.close();
});
