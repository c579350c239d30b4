/**
 * Schemas end to end through the HTTP surface: validation for every format with partial
 * writes, metrics, dead letters, the schema API (persistence, contradiction with stored data,
 * reload), and dry runs.
 */
import assert from "node:assert/strict";
import { setupNode } from "./_setup.ts";

const CPU = `measurements:
  cpu:
    unknown_fields: reject
    dead_letter: true
    tags:
      host: { required: true, pattern: "[a-z]+" }
    fields:
      usage: { type: float, required: true, min: 0, max: 100 }
`;

Deno.test("ingest: points breaking their schema are rejected with the rule, the rest kept", async () => {
  const node = await setupNode({ "cpu.yaml": CPU });
  try {
    const r = await node.write(
      [
        "cpu,host=a usage=10 1700000000",
        "cpu,host=B usage=20 1700000001",
        "cpu,host=c usage=200 1700000002",
        "cpu,host=d usage=5,extra=1 1700000003",
        "cpu usage=5 1700000004",
        "mem,host=Q free=1 1700000005", // schemaless
      ].join("\n"),
    );
    assert.equal(r.status, 400);
    assert.match(r.json.error, /partial write/);
    assert.match(r.json.error, /tag_pattern on "host": expected match \/\[a-z\]\+\/, got B/);
    assert.match(r.json.error, /field_max on "usage": expected <= 100, got 200/);
    assert.match(r.json.error, /unknown_field on "extra"/);
    assert.match(r.json.error, /required_tag on "host": expected present, got missing/);
    const cpu = await node.query("SELECT usage FROM cpu");
    assert.deepEqual(cpu[0].values.map((v: unknown[]) => v[1]), [10]);
    assert.equal((await node.query("SELECT free FROM mem")).length, 1);
    // Dead letters: queryable, with the rule as a tag.
    const dl = await node.query("SELECT count(reason) FROM cpu_rejected GROUP BY rule");
    const byRule = Object.fromEntries(
      dl.map((s: { tags: { rule: string }; values: number[][] }) => [s.tags.rule, s.values[0][1]]),
    );
    assert.deepEqual(byRule, { field_max: 1, required_tag: 1, tag_pattern: 1, unknown_field: 1 });
    // Metrics per measurement and rule.
    const metrics = (await node.call("/metrics")).text;
    assert.match(
      metrics,
      /epochnexus_schema_rejections_total\{measurement="cpu",rule="field_max"\} 1/,
    );
    assert.match(
      metrics,
      /epochnexus_schema_rejections_total\{measurement="cpu",rule="tag_pattern"\} 1/,
    );
    // The native JSON API goes through the same pipeline.
    const j = await node.call("/ingest", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([
        { measurement: "cpu", tags: { host: "x" }, fields: { usage: 1 } },
        { measurement: "cpu", tags: { host: "x" }, fields: { usage: -1 } },
      ]),
    });
    assert.equal(j.status, 400);
    assert.equal(j.json.error.accepted, 1); // the dead-letter copy is not counted
    assert.match(JSON.stringify(j.json.error.errors), /field_min on \\"usage\\"/);
  } finally {
    await node.close();
  }
});

Deno.test("schema API: put, get, delete, persisted across restarts", async () => {
  const node = await setupNode();
  const put = (m: string, body: unknown) =>
    node.call(`/api/v1/schemas/${m}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  try {
    assert.equal((await node.call("/api/v1/schemas/disk")).status, 404);
    const bad = await put("disk", { fields: { used: { type: "int" } } });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error.message, /fields\.used\.type/);
    const badStep = await put("disk", {
      fields: { used: { type: "integer" } },
      pipeline: [{ derive: { field: "x", expr: "used *" } }],
    });
    assert.equal(badStep.status, 400);
    assert.match(
      badStep.json.error.message,
      /invalid schema for disk: pipeline\.0\.derive: invalid expression "used \*"/,
    );
    const badLookup = await put("disk", {
      pipeline: [{ lookup: { tag: "dev", file: "nope.csv" } }],
    });
    assert.equal(badLookup.status, 400);
    assert.match(
      badLookup.json.error.message,
      /pipeline\.0\.lookup\.file: "nope\.csv" does not exist in the schema folder/,
    );
    const ok = await put("disk", {
      fields: { used: { type: "integer", min: 0 } },
      max_series: 2,
    });
    assert.equal(ok.status, 200, ok.text);
    const got = await node.call("/api/v1/schemas/disk");
    assert.equal(got.json.schema.fields.used.type, "integer");
    assert.equal(got.json.origin, "api");
    // YAML bodies too.
    const yaml = await node.call("/api/v1/schemas/net", {
      method: "PUT",
      headers: { "content-type": "application/yaml" },
      body: "fields:\n  rx: { type: integer }\n",
    });
    assert.equal(yaml.status, 200, yaml.text);
    assert.deepEqual(
      (await node.call("/api/v1/schemas")).json.schemas.map((s: { measurement: string }) =>
        s.measurement
      ),
      ["disk", "net"],
    );
    // Series budget: two series, a third is refused.
    const w = await node.write(
      "disk,dev=a used=1i 1\ndisk,dev=b used=1i 2\ndisk,dev=c used=1i 3\ndisk,dev=a used=2i 4",
    );
    assert.equal(w.status, 400);
    assert.match(w.json.error, /max_series on "series": expected at most 2 series/);
    assert.equal((await node.query("SELECT used FROM disk")).length, 1);
    assert.equal((await node.call("/api/v1/schemas/net", { method: "DELETE" })).status, 200);
  } finally {
    await node.close();
  }
  const again = await setupNode({}, { dataDir: node.dataDir, folder: node.folder });
  try {
    const got = await again.call("/api/v1/schemas/disk");
    assert.equal(got.status, 200);
    assert.equal(got.json.schema.max_series, 2);
    assert.equal((await again.call("/api/v1/schemas/net")).status, 404);
    // The budget counts series already stored.
    const w = await again.write("disk,dev=z used=1i 5");
    assert.match(w.json.error, /max_series/);
  } finally {
    await again.close();
  }
});

Deno.test("schema API: a schema that stored data contradicts is refused with the reason", async () => {
  const node = await setupNode();
  try {
    assert.equal((await node.write("temp,room=a value=21.5 1")).status, 204);
    const r = await node.call("/api/v1/schemas/temp", {
      method: "PUT",
      body: JSON.stringify({ fields: { value: { type: "integer" } } }),
    });
    assert.equal(r.status, 409);
    assert.match(
      r.json.error.message,
      /field "value" of temp is stored as float in database epochnexus, the schema declares integer/,
    );
    const fine = await node.call("/api/v1/schemas/temp", {
      method: "PUT",
      body: JSON.stringify({ fields: { value: { type: "float" } } }),
    });
    assert.equal(fine.status, 200);
  } finally {
    await node.close();
  }
});

Deno.test("schema API: reload picks up the config folder; a bad file names file, line, key and changes nothing", async () => {
  const node = await setupNode({ "cpu.yaml": CPU });
  try {
    await Deno.writeTextFile(`${node.folder}/cpu.yaml`, CPU.replace("max: 100", "max: 50"));
    const r = await node.call("/api/v1/schemas/reload", { method: "POST" });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.measurements, ["cpu"]);
    assert.match((await node.write("cpu,host=a usage=60 1")).json.error, /field_max/);
    await Deno.writeTextFile(`${node.folder}/cpu.yaml`, CPU.replace("type: float", "type: real"));
    const bad = await node.call("/api/v1/schemas/reload", { method: "POST" });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error.message, /cpu\.yaml:8: measurements\.cpu\.fields\.usage\.type/);
    assert.match((await node.write("cpu,host=a usage=60 2")).json.error, /field_max/);
    // A file's schema cannot be deleted through the API.
    assert.equal((await node.call("/api/v1/schemas/cpu", { method: "DELETE" })).status, 409);
  } finally {
    await node.close();
  }
});

Deno.test("dry run: what would be stored, rejected and dropped, writing nothing", async () => {
  const node = await setupNode({
    "w.yaml": `measurements:
  weather:
    fields:
      temp_c: { type: float, required: true, max: 60 }
    pipeline:
      - scale: { field: temp_f, factor: 0.5555555555555556, offset: -17.77777777777778 }
      - rename_field: { from: temp_f, to: temp_c }
      - round: { field: temp_c, digits: 1 }
      - drop_if: "station = 'TEST'"
`,
  });
  try {
    const r = await node.call("/api/v1/pipelines/weather/test", {
      method: "POST",
      body: JSON.stringify({
        points:
          "weather,station=KSEA temp_f=50 1\nweather,station=TEST temp_f=1 2\nweather,station=HOT temp_f=200 3",
      }),
    });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(
      r.json.stored.map((p: { fields: unknown }) => p.fields),
      [{ temp_c: 10 }],
      r.text,
    );
    assert.deepEqual(r.json.dropped, [1]);
    assert.equal(r.json.rejected[0].index, 2);
    assert.equal(r.json.rejected[0].rule, "field_max");
    assert.equal((await node.query("SELECT * FROM weather")).length, 0);
    assert.doesNotMatch((await node.call("/metrics")).text, /rejections_total\{/);
    // A proposed schema stands in for the current one.
    const p = await node.call("/api/v1/pipelines/weather/test", {
      method: "POST",
      body: JSON.stringify({
        points: [{ measurement: "weather", fields: { temp_c: 70 } }],
        schema: { fields: { temp_c: { type: "float", max: 100 } } },
      }),
    });
    assert.equal(p.json.stored.length, 1, p.text);
  } finally {
    await node.close();
  }
});

Deno.test("schema API: a GET answers the schema when its stored bytes cannot be counted (a partition between leaders)", async () => {
  const node = await setupNode({ "cpu.yaml": CPU });
  // As a cluster store whose partitions' leaders do not answer: sizes that fail, or never come.
  const engine = node.engine as unknown as {
    measurementSizes?: (db: string) => Promise<Map<string, number>>;
  };
  try {
    engine.measurementSizes = () => Promise.reject(new Error("partition 3: no leader"));
    const failed = await node.call("/api/v1/schemas/cpu");
    assert.equal(failed.status, 200, failed.text);
    assert.equal(failed.json.schema.fields.usage.max, 100);
    assert.equal(failed.json.bytes, undefined);
    assert.equal(failed.json.bytesUnavailable, "partition 3: no leader");

    engine.measurementSizes = () => new Promise(() => {});
    const started = performance.now();
    const waited = await node.call("/api/v1/schemas/cpu");
    const tookMs = performance.now() - started;
    assert.equal(waited.status, 200, waited.text);
    assert.match(waited.json.bytesUnavailable, /not counted within 2000 ms/);
    assert.ok(tookMs < 5_000, `answered in ${tookMs} ms`);
  } finally {
    delete engine.measurementSizes;
    await node.close();
  }
});
