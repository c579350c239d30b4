/**
 * What schemas and pipelines cost at ingest, as ratios to no schema. Goals: a schema under 15%,
 * three built-in steps under 30%, a script step under 2x.
 *
 *   deno bench --allow-all bench/schema_bench.ts
 *
 * Data: 5000 Telegraf-like `cpu` lines per batch (100 hosts, 3 fields). Two groups:
 * - `ingest`: what a write does after reading the body: parse line protocol, run the pipeline,
 *   write to the storage engine (WAL append + fsync + head), in a temp folder;
 * - `pipeline`: the pipeline alone over already decoded points.
 * Cases: no schema (baseline); a schema (3 tags with pattern/values/max length, 3 typed fields
 * with min/max, unknown fields rejected); the schema plus three built-in steps (rename_field,
 * scale, round); the schema plus a script step (process sandbox, and Worker sandbox).
 * Before the benches it prints points/s and the ratios measured over a fixed number of rounds.
 */
import { type Point, silentLogger } from "../src/core/mod.ts";
import { LineProtocolCache, parseLineProtocol } from "../src/ingest/mod.ts";
import {
  createProcessScriptHost,
  createWorkerScriptHost,
  denoFileSystem,
  systemClock,
} from "../src/runtime/mod.ts";
import { SchemaPipeline, SchemaRegistry, type StepResources } from "../src/schema/mod.ts";
import { StorageEngine } from "../src/storage/mod.ts";

const N = 5000;
const T0 = 1_700_000_000;
const lines: string[] = [];
for (let i = 0; i < N; i++) {
  const host = `host-${i % 100}`;
  lines.push(
    `cpu,host=${host},region=eu-west,cpu=cpu${i % 4} usage_user=${(i * 7) % 100}.5,` +
      `usage_system=${(i * 3) % 100}.25,temp_f=${50 + (i % 40)} ${T0 + Math.floor(i / 100)}`,
  );
}
const body = new TextEncoder().encode(lines.join("\n"));

const SCHEMA = {
  unknown_fields: "reject",
  tags: {
    host: { required: true, pattern: "host-[0-9]+", max_length: 32 },
    region: { values: ["eu-west", "us-east"] },
    cpu: { max_length: 16 },
  },
  fields: {
    usage_user: { type: "float", required: true, min: 0, max: 100 },
    usage_system: { type: "float", min: 0, max: 100 },
    temp_f: { type: "float", min: -100, max: 200 },
    temp_c: { type: "float", min: -100, max: 100 },
  },
};
const STEPS = [
  { rename_field: { from: "temp_f", to: "temp_c" } },
  { scale: { field: "temp_c", factor: 5 / 9, offset: -160 / 9 } },
  { round: { field: "temp_c", digits: 1 } },
];
const SCRIPT = {
  script: {
    source: "export default (ps: any[]) => { for (const p of ps) p.fields.usage_user = " +
      "p.fields.usage_user * 1; return ps; }",
    timeout_ms: 10_000,
  },
};

async function pipelineWith(
  schema: Record<string, unknown> | undefined,
  resources?: StepResources,
): Promise<{ pipeline?: SchemaPipeline; registry?: SchemaRegistry }> {
  if (!schema) return {};
  const dir = await Deno.makeTempDir({ prefix: "schema_bench_" });
  const registry = await SchemaRegistry.open({ fs: denoFileSystem, dataDir: dir, resources });
  await registry.put("cpu", schema);
  return { pipeline: new SchemaPipeline(registry), registry };
}

const processHost = createProcessScriptHost();
const workerHost = createWorkerScriptHost();
const cases: [string, Record<string, unknown> | undefined, StepResources | undefined][] = [
  ["no schema", undefined, undefined],
  ["schema", SCHEMA, undefined],
  ["schema + 3 built-in steps", { ...SCHEMA, pipeline: STEPS }, undefined],
  ["schema + script (process)", { ...SCHEMA, pipeline: [SCRIPT] }, { scripts: processHost }],
  ["schema + script (worker)", { ...SCHEMA, pipeline: [SCRIPT] }, { scripts: workerHost }],
];

const engine = await StorageEngine.open({
  dir: await Deno.makeTempDir({ prefix: "schema_bench_engine_" }),
  fs: denoFileSystem,
  clock: systemClock,
  logger: silentLogger,
});
await engine.createDatabase("bench");
const cache = new LineProtocolCache();
const decoded: Point[] =
  parseLineProtocol(body, { precision: "s", defaultTime: { ms: 0, subMs: 0 }, cache })
    .points;

async function ingest(pipeline: SchemaPipeline | undefined): Promise<void> {
  const parsed = parseLineProtocol(body, {
    precision: "s",
    defaultTime: { ms: 0, subMs: 0 },
    cache,
  });
  let points = parsed.points;
  if (pipeline) {
    const out = await pipeline.process("bench", points);
    if (out.rejected.length > 0) throw new Error(`BUG: rejected ${out.rejected[0].reason}`);
    points = out.points;
  }
  await engine.write("bench", undefined, points);
}

const built = await Promise.all(
  cases.map(([, schema, resources]) => pipelineWith(schema, resources)),
);
// Warm up (JIT, script sandboxes started), then a fixed number of rounds per case.
for (const { pipeline } of built) for (let i = 0; i < 3; i++) await ingest(pipeline);
// Rounds interleave the cases so that load from other processes hits every case alike; the
// figures are medians per round.
const ROUNDS = 15;
const ingestMs: number[][] = cases.map(() => []);
const pipelineMs: number[][] = cases.map(() => []);
for (let r = 0; r < ROUNDS; r++) {
  for (const [i] of cases.entries()) {
    let started = performance.now();
    await ingest(built[i].pipeline);
    ingestMs[i].push(performance.now() - started);
    started = performance.now();
    await built[i].pipeline?.process("bench", decoded);
    pipelineMs[i].push(performance.now() - started);
  }
}
const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
const base = median(ingestMs[0]);
for (const [i, [name]] of cases.entries()) {
  const ms = median(ingestMs[i]);
  const pipe = median(pipelineMs[i]);
  console.log(
    `${name.padEnd(28)} ingest ${Math.round(N / (ms / 1000)).toLocaleString("en").padStart(9)} ` +
      `points/s, x${(ms / base).toFixed(2)} the time of no schema; pipeline alone ` +
      `${pipe.toFixed(2)} ms per ${N} points = ${
        (100 * pipe / base).toFixed(0)
      }% of a plain ingest`,
  );
}

for (const [i, [name]] of cases.entries()) {
  Deno.bench(`ingest ${N} points: ${name}`, { group: "ingest", baseline: i === 0 }, async () => {
    await ingest(built[i].pipeline);
  });
}
for (const [i, [name]] of cases.entries()) {
  if (i === 0) continue;
  Deno.bench(
    `pipeline over ${N} points: ${name}`,
    { group: "pipeline", baseline: i === 1 },
    async () => {
      await built[i].pipeline!.process("bench", decoded);
    },
  );
}

globalThis.addEventListener("unload", () => {
  for (const { registry } of built) registry?.close();
});
