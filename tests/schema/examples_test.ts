/**
 * The example schemas in config/schemas load (lookup files, scripts) and do what their comments
 * say.
 */
import assert from "node:assert/strict";
import { createWorkerScriptHost, denoFileSystem } from "../../src/runtime/mod.ts";
import { SchemaPipeline, SchemaRegistry } from "../../src/schema/mod.ts";
import { fieldsOf, pt, tagsOf } from "../../src/schema/_test_util.ts";

Deno.test("examples: config/schemas loads and transforms as documented", async () => {
  const registry = await SchemaRegistry.open({
    fs: denoFileSystem,
    dataDir: await Deno.makeTempDir({ prefix: "schema_examples_" }),
    folder: "config/schemas",
    resources: { scripts: createWorkerScriptHost() },
  });
  try {
    assert.deepEqual(registry.measurements(), ["cpu", "sensor", "weather"]);
    const pipeline = new SchemaPipeline(registry);
    const out = await pipeline.dryRun("db", [
      pt("weather", { station: "EGLL" }, { temp: 86, humidity: 50 }),
      pt("weather", { station: "KSEA" }, { temp: 50, status: "offline" }),
      pt("cpu", { hostname: "web-1", extra: "x" }, { user: 12.345 }),
      pt("sensor", { device: "probe-1" }, { value: 10, battery: 80 }),
      pt("sensor", { device: "probe-2" }, { value: -1 }),
    ]);
    assert.deepEqual(out.dropped, [1]);
    const [weather, cpu, sensor] = out.points;
    assert.deepEqual(tagsOf(weather), { country: "GB", site: "London Heathrow", station: "EGLL" });
    assert.deepEqual(fieldsOf(weather), {
      humidity: 50,
      temp_c: 30,
      heat_index: 32.5,
      status: "ok",
    });
    assert.deepEqual(tagsOf(cpu), { host: "web-1", region: "us-east" });
    assert.deepEqual(fieldsOf(cpu), { usage_user: 12.35 });
    assert.equal(fieldsOf(sensor).value, 10.2);
    assert.equal(fieldsOf(sensor).battery, 80);
    assert.deepEqual(out.rejected.map((r) => [r.index, r.violation.rule, r.violation.got]), [
      [4, "script", "negative reading -1"],
    ]);
  } finally {
    registry.close();
  }
});
