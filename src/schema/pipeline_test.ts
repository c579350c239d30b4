import assert from "node:assert/strict";
import { FieldLayouts, FieldType, PackedPoint, packPoint } from "../core/mod.ts";
import { fieldsOf, memoryFileSystem, pt, tagsOf } from "./_test_util.ts";
import { SchemaPipeline } from "./pipeline.ts";
import { SchemaRegistry } from "./registry.ts";
import { ScriptError, type ScriptPoint, type ScriptSandboxFactory } from "./script.ts";

/** A sandbox that runs a plain function in-process (the contract without the isolation). */
function fakeSandboxes(f: (points: ScriptPoint[]) => unknown): ScriptSandboxFactory {
  return () => ({
    run: (batch) => Promise.resolve().then(() => f(structuredClone(batch))),
    close() {},
  });
}

async function pipelineOf(schema: unknown, script?: (points: ScriptPoint[]) => unknown) {
  const registry = await SchemaRegistry.open({
    fs: memoryFileSystem(),
    dataDir: "/d",
    resources: script ? { scripts: fakeSandboxes(script) } : undefined,
  });
  await registry.put("m", schema);
  const counts = new Map<string, number>();
  const deadLetters: ReturnType<typeof pt>[] = [];
  const pipeline = new SchemaPipeline(registry, {
    metrics: {
      counter() {},
      add(name, labels, by = 1) {
        const key = `${name}${JSON.stringify(labels)}`;
        counts.set(key, (counts.get(key) ?? 0) + by);
      },
    },
    deadLetters: (_db, points) => {
      deadLetters.push(...points);
      return Promise.resolve();
    },
  });
  return { pipeline, counts, deadLetters };
}

Deno.test("pipeline: schemaless points pass untouched and in order; indices refer to the input", async () => {
  const { pipeline } = await pipelineOf({ fields: { v: { type: "float", max: 1 } } });
  const input = [
    pt("x", {}, { v: 5 }),
    pt("m", {}, { v: 5 }),
    pt("m", {}, { v: 0.5 }),
    pt("y", {}, { v: 9 }),
  ];
  const out = await pipeline.process("db", input);
  assert.deepEqual(out.points, [input[0], input[2], input[3]]);
  assert.deepEqual(out.rejected.map((r) => [r.index, r.violation.rule]), [[1, "field_max"]]);
});

Deno.test("pipeline: dead letters carry the rule as tags and the reason and fields as fields", async () => {
  const { pipeline, deadLetters, counts } = await pipelineOf({
    fields: { v: { type: "float", max: 1 } },
    dead_letter: "bad_points",
  });
  const out = await pipeline.process("db", [pt("m", { host: "a" }, { v: 5, "n:i": 2 })]);
  assert.equal(out.points.length, 0);
  assert.equal(deadLetters.length, 1);
  const dl = deadLetters[0];
  assert.equal(dl.measurement, "bad_points");
  assert.deepEqual(tagsOf(dl), {
    host: "a",
    rule: "field_max",
    rule_key: "v",
    source_measurement: "m",
  });
  assert.match(String(fieldsOf(dl).reason), /field_max on "v": expected <= 1, got 5/);
  assert.equal(fieldsOf(dl).fields, "v=5,n=2i");
  assert.equal(
    counts.get('epochnexus_schema_rejections_total{"measurement":"m","rule":"field_max"}'),
    1,
  );
  assert.equal(counts.get('epochnexus_schema_dead_letters_total{"measurement":"m"}'), 1);
});

Deno.test("pipeline: script steps keep, add, drop, reject and move points; later steps and checks apply", async () => {
  const { pipeline, counts } = await pipelineOf(
    {
      fields: { v: { type: "float", max: 100 } },
      pipeline: [
        { script: { source: "unused" } },
        { scale: { field: "v", factor: 10 } },
      ],
    },
    (points) => ({
      points: [
        ...points.filter((p) => p.tags.kind !== "drop" && p.tags.kind !== "bad"),
        { measurement: "m", tags: { kind: "new" }, fields: { v: 1 }, timeMs: 5 },
        { measurement: "elsewhere", tags: {}, fields: { w: "x" }, timeMs: 6 },
      ],
      reject: points.filter((p) => p.tags.kind === "bad").map((p) => ({
        index: p.index,
        reason: "bad kind",
      })),
    }),
  );
  const input = [
    pt("m", { kind: "a" }, { v: 1 }),
    pt("m", { kind: "drop" }, { v: 1 }),
    pt("m", { kind: "bad" }, { v: 1 }),
    pt("m", { kind: "big" }, { v: 50 }),
  ];
  const out = await pipeline.process("db", input);
  assert.deepEqual(
    out.points.map((p) => [p.measurement, tagsOf(p).kind, fieldsOf(p).v ?? fieldsOf(p).w]),
    [
      ["m", "a", 10],
      ["m", "new", 10],
      ["elsewhere", undefined, "x"],
    ],
  );
  assert.equal(out.points[0].tags, input[0].tags); // unchanged tags are reused
  assert.deepEqual(out.rejected.map((r) => [r.index, r.violation.rule]), [[2, "script"], [
    3,
    "field_max",
  ]]);
  assert.equal(counts.get('epochnexus_schema_dropped_total{"measurement":"m"}'), 1);
  const dry = await pipeline.dryRun("db", input);
  assert.deepEqual(dry.dropped, [1]);
});

Deno.test("pipeline: a failing script fails its measurement's batch only", async () => {
  const { pipeline } = await pipelineOf({
    fields: { v: { type: "float" } },
    pipeline: [{ script: { source: "x" } }],
  }, () => {
    throw new ScriptError("script m/script#1 exceeded its time limit of 5 ms", "timeout");
  });
  const out = await pipeline.process("db", [
    pt("m", {}, { v: 1 }),
    pt("other", {}, { v: 1 }),
    pt("m", {}, { v: 2 }),
  ]);
  assert.deepEqual(out.points.map((p) => p.measurement), ["other"]);
  assert.deepEqual(out.rejected.map((r) => [r.index, r.violation.rule]), [[0, "script_timeout"], [
    2,
    "script_timeout",
  ]]);
  assert.match(out.rejected[0].reason, /exceeded its time limit of 5 ms/);
});

Deno.test("pipeline: series budgets count stored series and are untouched by dry runs", async () => {
  const registry = await SchemaRegistry.open({
    fs: memoryFileSystem(),
    dataDir: "/d",
    stored: { fieldTypes: () => [], seriesKeys: () => ["m,host=old"] },
  });
  await registry.put("m", { max_series: 2 });
  const pipeline = new SchemaPipeline(registry, {
    stored: { fieldTypes: () => [], seriesKeys: () => ["m,host=old"] },
  });
  const batch = [
    pt("m", { host: "old" }, { v: 1 }),
    pt("m", { host: "a" }, { v: 1 }),
    pt("m", { host: "b" }, { v: 1 }),
  ];
  const dry = await pipeline.dryRun("db", batch);
  assert.deepEqual(dry.rejected.map((r) => r.index), [2]);
  const dry2 = await pipeline.dryRun("db", batch);
  assert.deepEqual(dry2.rejected.map((r) => r.index), [2]);
  const out = await pipeline.process("db", batch);
  assert.deepEqual(out.rejected.map((r) => [r.index, r.violation.rule]), [[2, "max_series"]]);
  assert.equal(
    (await pipeline.process("db", [pt("m", { host: "a" }, { v: 2 })])).rejected.length,
    0,
  );
  assert.equal(
    (await pipeline.process("db", [pt("m", { host: "c" }, { v: 2 })])).rejected.length,
    1,
  );
});

Deno.test("pipeline: an atomic schema refuses all its points of a batch when one breaks a rule", async () => {
  const { pipeline, counts } = await pipelineOf({
    atomic: true,
    fields: { v: { type: "float", max: 1 } },
  });
  const input = [
    pt("m", {}, { v: 0.5 }),
    pt("other", {}, { v: 5 }),
    pt("m", {}, { v: 5 }),
    pt("m", {}, { v: 0.1 }),
  ];
  const out = await pipeline.process("db", input);
  assert.deepEqual(out.points, [input[1]]);
  assert.deepEqual(out.rejected.map((r) => [r.index, r.violation.rule]), [[0, "atomic"], [
    2,
    "field_max",
  ], [3, "atomic"]]);
  assert.match(
    out.rejected[0].reason,
    /atomic on "m": expected every point of the batch valid \(atomic schema\), got 1 rejected/,
  );
  assert.equal(
    counts.get('epochnexus_schema_rejections_total{"measurement":"m","rule":"atomic"}'),
    2,
  );
  const fine = await pipeline.process("db", [input[0], input[3]]);
  assert.equal(fine.points.length, 2);
});

Deno.test("pipeline: points sharing their series' frozen tag array are changed by copy, one at a time", async () => {
  // The line-protocol parser hands every point of a series the same frozen tag array (as here):
  // a step or check that changed it in place would throw, or change the series' other points.
  const { pipeline } = await pipelineOf({
    unknown_tags: "drop",
    tags: { host: {}, dc: { default: "d0" }, site: {} },
    pipeline: [{ rename_tag: { from: "hostname", to: "host" } }],
  });
  const series = (tags: Record<string, string>) => Object.freeze(pt("m", tags, {}).tags);
  const renamed = series({ hostname: "a", junk: "1", site: "s" }); // renamed, one dropped
  const defaulted = series({ host: "c" }); // only a default added
  const kept = series({ dc: "x", host: "b" }); // nothing to change
  const input = [renamed, defaulted, kept, renamed, defaulted].map((tags, i) => ({
    ...pt("m", {}, { v: i }),
    tags,
  }));
  const out = await pipeline.process("db", input);
  assert.deepEqual(out.rejected, []);
  const a = { dc: "d0", host: "a", site: "s" }, c = { dc: "d0", host: "c" };
  assert.deepEqual(out.points.map(tagsOf), [a, c, { dc: "x", host: "b" }, a, c]);
  assert.deepEqual(out.points.map((p) => p.tags.map((t) => t.key).join()), [
    "dc,host,site",
    "dc,host",
    "dc,host",
    "dc,host,site",
    "dc,host",
  ]);
  assert.deepEqual(input.map(tagsOf), [
    { hostname: "a", junk: "1", site: "s" },
    { host: "c" },
    { dc: "x", host: "b" },
    { hostname: "a", junk: "1", site: "s" },
    { host: "c" },
  ]);
  assert.equal(out.points[2], input[2]); // nothing to change: the point itself
});

Deno.test("pipeline: packed points sharing one field layout keep each value with its key through renames, drops and casts", async () => {
  // Decoders hand out points whose keys and types are one shared layout and whose values are
  // their own: a step that dropped or renamed a field but kept the old layout would give the
  // values of one field the name of another.
  const { pipeline } = await pipelineOf({
    unknown_fields: "drop",
    fields: { a: { type: "float" }, b: { type: "float" }, c: { type: "integer" } },
    pipeline: [{ rename_field: { from: "x", to: "b" } }, { cast: { field: "c", to: "integer" } }],
  });
  const layouts = new FieldLayouts();
  const F = FieldType.Float;
  const layout = layouts.find(["a", "junk", "x", "c"], [F, F, F, F], 4);
  const packed = (i: number) =>
    new PackedPoint("m", [], layout, [i, 100 + i, 200 + i, 300 + i], { ms: 1000 + i, subMs: 0 });
  const input = [packed(1), packed(2), packed(3)];
  const out = await pipeline.process("db", input);
  assert.deepEqual(out.rejected, []);
  const expected = (i: number) => ({ a: i, b: 200 + i, c: 300 + i });
  assert.deepEqual(out.points.map(fieldsOf), [expected(1), expected(2), expected(3)]);
  // Packed again as the engine packs them: each value still sits beside its own key and type.
  for (const [n, p] of out.points.entries()) {
    const again = packPoint(p, layouts);
    const byKey = Object.fromEntries(again.layout.keys.map((k, i) => [k, again.values[i]]));
    assert.deepEqual(byKey, expected(n + 1), `point ${n}`);
    assert.equal(again.layout.types[again.layout.keys.indexOf("c")], FieldType.Integer);
  }
  // The input points and their shared layout are unchanged.
  assert.deepEqual(
    input.map(fieldsOf),
    [1, 2, 3].map((i) => ({
      a: i,
      junk: 100 + i,
      x: 200 + i,
      c: 300 + i,
    })),
  );
  assert.deepEqual(layout.keys, ["a", "junk", "x", "c"]);
});
