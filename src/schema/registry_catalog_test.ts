/**
 * The registry over a shared catalog (a cluster's metadata group): two registries stand for two
 * nodes applying the same committed changes.
 */
import assert from "node:assert/strict";
import { fieldsOf, memoryFileSystem, pt, tagsOf } from "./_test_util.ts";
import { MAX_CARRIED_FILE_BYTES } from "./carried_files.ts";
import { SchemaPipeline } from "./pipeline.ts";
import { type CarriedSchema, type SchemaCatalog, SchemaRegistry } from "./registry.ts";
import type { ScriptSandboxFactory } from "./script.ts";

/** One catalog every "node" applies at once, as committed metadata entries are. */
class SharedCatalog implements SchemaCatalog {
  readonly map = new Map<string, CarriedSchema>();
  readonly listeners: ((m: string | undefined) => void)[] = [];
  proposals = 0;
  entries() {
    return this.map;
  }
  set(m: string, entry: CarriedSchema, options?: { ifAbsent?: boolean }) {
    this.proposals++;
    if (!(options?.ifAbsent && this.map.has(m))) {
      this.map.set(m, structuredClone(entry));
      for (const l of this.listeners) l(m);
    }
    return Promise.resolve();
  }
  delete(m: string) {
    this.proposals++;
    const had = this.map.delete(m);
    if (had) { for (const l of this.listeners) l(m); }
    return Promise.resolve(had);
  }
  onChange(listener: (m: string | undefined) => void) {
    this.listeners.push(listener);
  }
}

function countingSandboxes() {
  const counts = { open: 0, sources: [] as string[] };
  const factory: ScriptSandboxFactory = (script) => {
    counts.open++;
    counts.sources.push(script.source);
    let closed = false;
    return {
      run: (batch) =>
        Promise.resolve(
          (batch as { fields: Record<string, unknown> }[]).map((p) => ({
            ...p,
            fields: { ...p.fields, marked: 1 },
          })),
        ),
      close() {
        if (!closed) counts.open--;
        closed = true;
      },
    };
  };
  return { factory, counts };
}

const SCRIPT_TEXT = "export default (ps) => ps; // from the folder of node A";
const SCHEMA = {
  fields: { v: { type: "float", max: 10 } },
  pipeline: [
    { lookup: { tag: "station", file: "lookups/stations.csv" } },
    { script: { file: "mark.js" } },
  ],
};

/** Waits for the registries' queued catalog changes. */
const settle = () => new Promise((r) => setTimeout(r, 0));

Deno.test("registry over a catalog: a PUT on one node holds on the other, which reads no file; DELETE there removes it on both", async () => {
  const catalog = new SharedCatalog();
  const fsA = memoryFileSystem({
    "/cfg/lookups/stations.csv": "station,region\ns1,north\n",
    "/cfg/mark.js": SCRIPT_TEXT,
  });
  const fsB = memoryFileSystem(); // no folder, no file: B must get the texts with the schema
  const sandboxesA = countingSandboxes();
  const sandboxesB = countingSandboxes();
  const a = await SchemaRegistry.open({
    fs: fsA,
    dataDir: "/a",
    folder: "/cfg",
    catalog,
    resources: { scripts: sandboxesA.factory },
  });
  const b = await SchemaRegistry.open({
    fs: fsB,
    dataDir: "/b",
    catalog,
    resources: { scripts: sandboxesB.factory },
  });
  await a.put("m", SCHEMA);
  await settle();
  assert.deepEqual(catalog.map.get("m")?.files, {
    "lookups/stations.csv": "station,region\ns1,north\n",
    "mark.js": SCRIPT_TEXT,
  });
  assert.equal(b.describe("m").origin, "api");
  const result = await new SchemaPipeline(b).process("db", [
    pt("m", { station: "s1" }, { v: 1 }),
    pt("m", { station: "s1" }, { v: 11 }),
  ]);
  assert.equal(result.rejected.length, 1, "B validates with A's schema");
  assert.deepEqual(tagsOf(result.points[0]), { region: "north", station: "s1" });
  assert.equal(fieldsOf(result.points[0]).marked, 1);
  assert.deepEqual(sandboxesB.counts.sources, [SCRIPT_TEXT], "B's sandbox runs A's file");
  assert.equal(sandboxesA.counts.open, 1, "A: one sandbox (the checked compile was closed)");
  assert.equal(sandboxesB.counts.open, 1);
  assert.equal(fsB.files.size, 0, "B wrote no store file");

  await b.delete("m");
  await settle();
  assert.deepEqual(a.measurements(), []);
  assert.deepEqual(b.measurements(), []);
  assert.equal(sandboxesA.counts.open, 0, "A stopped its sandbox");
  assert.equal(sandboxesB.counts.open, 0, "B stopped its sandbox");
  await assert.rejects(a.delete("m"), /no schema for measurement "m"/);
  a.close();
  b.close();
});

Deno.test("registry over a catalog: a file the folder's rules refuse, or too large, is never proposed and never quoted", async () => {
  const catalog = new SharedCatalog();
  const big = "k,region\n" + "x,".repeat(MAX_CARRIED_FILE_BYTES / 2) + "\n";
  const fs = memoryFileSystem({
    "/cfg/big.csv": big,
    "/secret.csv": "SECRETHEADER,zz\n",
  });
  const registry = await SchemaRegistry.open({ fs, dataDir: "/d", folder: "/cfg", catalog });
  const lookup = (file: string) => ({ pipeline: [{ lookup: { tag: "k", file } }] });
  await assert.rejects(
    registry.put("m", lookup("../secret.csv")),
    (e: Error) =>
      /pipeline\.0\.lookup\.file: "\.\.\/secret\.csv" must not contain "\.\."/.test(e.message) &&
      !e.message.includes("SECRET"),
  );
  await assert.rejects(
    registry.put("m", lookup("big.csv")),
    (e: Error) =>
      new RegExp(
        `"big\\.csv" takes the files this schema names to \\d+ bytes; a schema ` +
          `carries at most ${MAX_CARRIED_FILE_BYTES} bytes`,
      ).test(e.message) &&
      !e.message.includes("x,x"),
  );
  assert.equal(catalog.proposals, 0);
  registry.close();
});

Deno.test("registry over a catalog: schemas.json moves in once; the catalog's own entry wins", async () => {
  const catalog = new SharedCatalog();
  catalog.map.set("m", { schema: { fields: { v: { type: "integer" } } }, files: {} });
  const store = {
    version: 1,
    schemas: {
      m: { fields: { v: { type: "float" } } },
      n: { pipeline: [{ lookup: { tag: "k", file: "t.csv" } }] },
    },
  };
  const fs = memoryFileSystem({
    "/d/schemas.json": JSON.stringify(store),
    "/cfg/t.csv": "k,region\na,b\n",
  });
  const registry = await SchemaRegistry.open({ fs, dataDir: "/d", folder: "/cfg", catalog });
  assert.equal(registry.describe("m").schema.fields.v.type, "integer", "another node's wins");
  assert.deepEqual(catalog.map.get("n"), {
    schema: store.schemas.n,
    files: { "t.csv": "k,region\na,b\n" },
  });
  assert.deepEqual(registry.measurements(), ["m", "n"]);
  assert.ok(!fs.files.has("/d/schemas.json"));
  assert.ok(fs.files.has("/d/schemas.json.migrated"));
  registry.close();
  const proposals = catalog.proposals;
  (await SchemaRegistry.open({ fs, dataDir: "/d", folder: "/cfg", catalog })).close();
  assert.equal(catalog.proposals, proposals, "a second start moves nothing");
});

Deno.test("registry over a catalog: a committed schema this node cannot compile refuses its points; past the sandbox limit it is counted, not refused", async () => {
  const catalog = new SharedCatalog();
  const problems: string[] = [];
  const { factory, counts } = countingSandboxes();
  const registry = await SchemaRegistry.open({
    fs: memoryFileSystem(),
    dataDir: "/d",
    catalog,
    resources: { scripts: factory, maxScripts: 1 },
    onCatalogProblem: (m, problem) => problems.push(`${m}: ${problem}`),
  });
  // As another node would have proposed it, but without the file's text.
  await catalog.set("m", {
    schema: { pipeline: [{ lookup: { tag: "k", file: "t.csv" } }] },
    files: {},
  });
  await settle();
  const result = await new SchemaPipeline(registry).process("db", [pt("m", { k: "a" }, { v: 1 })]);
  assert.equal(result.points.length, 0);
  assert.equal(result.rejected[0]?.violation.rule, "schema_unavailable");
  assert.match(problems[0], /^m: .*"t\.csv" is not among the files carried with the schema/);
  const script = { schema: { pipeline: [{ script: { source: "export default (p) => p" } }] } };
  await catalog.set("s1", { ...script, files: {} });
  await catalog.set("s2", { ...script, files: {} });
  await settle();
  assert.deepEqual(registry.measurements(), ["m", "s1", "s2"]);
  assert.equal(counts.open, 2, "both committed script schemas are in force");
  assert.match(
    problems[1],
    /^schema s2: pipeline\.0\.script: 2 script sandboxes in use, past max_script_sandboxes = 1/,
  );
  // A PUT here is still refused at the limit (it is checked before it is proposed).
  await assert.rejects(registry.put("s3", script.schema), /max_script_sandboxes = 1/);
  registry.close();
  assert.equal(counts.open, 0);
});

Deno.test("registry over a catalog: max_schemas counts the catalog's schemas, whichever node set them", async () => {
  const catalog = new SharedCatalog();
  const a = await SchemaRegistry.open({
    fs: memoryFileSystem(),
    dataDir: "/a",
    catalog,
    maxSchemas: 2,
  });
  const b = await SchemaRegistry.open({
    fs: memoryFileSystem(),
    dataDir: "/b",
    catalog,
    maxSchemas: 2,
  });
  const body = { fields: { v: { type: "float" } } };
  await a.put("x", body);
  await a.put("y", body);
  await settle();
  const proposals = catalog.proposals;
  await assert.rejects(b.put("z", body), /no schema set for z: 2 measurements .*max_schemas = 2/);
  assert.equal(catalog.proposals, proposals, "a refused schema is never proposed");
  await b.put("y", { fields: { v: { type: "float", max: 3 } } });
  assert.deepEqual([...catalog.map.keys()].sort(), ["x", "y"]);
  a.close();
  b.close();
});

Deno.test("registry over a catalog: concurrent PUTs of new measurements cannot all pass max_schemas", async () => {
  const catalog = new SharedCatalog();
  // Proposals take a while, as a Raft round does: every PUT's check runs before any lands.
  const set = catalog.set.bind(catalog);
  catalog.set = async (m, entry, options) => {
    await new Promise((r) => setTimeout(r, 20));
    return set(m, entry, options);
  };
  const a = await SchemaRegistry.open({
    fs: memoryFileSystem(),
    dataDir: "/a",
    catalog,
    maxSchemas: 3,
  });
  const body = { fields: { v: { type: "float" } } };
  const outcomes = await Promise.allSettled(
    Array.from({ length: 8 }, (_, i) => a.put(`m${i}`, body)),
  );
  assert.equal(outcomes.filter((o) => o.status === "fulfilled").length, 3);
  assert.equal(catalog.map.size, 3);
  // Refused or landed, nothing stays counted: one more fits once one is deleted.
  await a.delete([...catalog.map.keys()][0]);
  await a.put("late", body);
  assert.equal(catalog.map.size, 3);
  a.close();
});
