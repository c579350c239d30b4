/**
 * TSBS-like cpu data shared by the storage benches: 100 hosts with 10 tags each, 10 float fields
 * (random walks clamped to [0, 100] with normal steps, full float64 precision), one point per
 * host every 10 s, `HOURS` hours (6 by default). Seeded: the same data every run.
 * @module
 */
import { FieldType, type Point } from "../src/core/mod.ts";
import { seededRandom } from "../src/core/testing/mod.ts";
import type { StorageEngine } from "../src/storage/mod.ts";

export const HOSTS = 100;
export const FIELDS = [
  "usage_user",
  "usage_system",
  "usage_idle",
  "usage_nice",
  "usage_iowait",
  "usage_irq",
  "usage_softirq",
  "usage_steal",
  "usage_guest",
  "usage_guest_nice",
];
export const HOURS = Number(Deno.env.get("HOURS") ?? "6");
export const STEPS = Math.round(HOURS * 360);
export const START_MS = 1_700_000_000_000;

/** A small seeded generator (mulberry32) and Box-Muller normals: the same data every run. */
export function rng(seed: number) {
  const uniform = seededRandom(seed);
  const normal = () =>
    Math.sqrt(-2 * Math.log(uniform() + 1e-300)) * Math.cos(2 * Math.PI * uniform());
  return { uniform, normal };
}

/** The points of one 10 s step for every host (random walks carried in `state`). */
export function* cpuData(): Generator<Point[]> {
  const r = rng(42);
  const regions = ["us-east-1", "us-west-1", "eu-west-1", "eu-central-1", "ap-south-1"];
  const tagsOf = Array.from({ length: HOSTS }, (_, h) =>
    [
      ["arch", ["x64", "x86"][h % 2]],
      ["datacenter", `${regions[h % 5]}${"abc"[h % 3]}`],
      ["hostname", `host_${h}`],
      ["os", ["Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"][h % 3]],
      ["rack", String(h % 100)],
      ["region", regions[h % 5]],
      ["service", String(h % 20)],
      ["service_environment", ["production", "staging", "test"][h % 3]],
      ["service_version", String(h % 2)],
      ["team", ["SF", "NYC", "LON", "CHI"][h % 4]],
    ].map(([key, value]) => ({ key, value })));
  const state = Array.from({ length: HOSTS * FIELDS.length }, () => r.uniform() * 100);
  for (let step = 0; step < STEPS; step++) {
    const points: Point[] = [];
    for (let h = 0; h < HOSTS; h++) {
      const fields = FIELDS.map((key, f) => {
        const i = h * FIELDS.length + f;
        state[i] = Math.min(100, Math.max(0, state[i] + r.normal()));
        return { key, type: FieldType.Float, value: state[i] };
      });
      points.push({
        measurement: "cpu",
        tags: tagsOf[h],
        fields,
        timeMs: START_MS + step * 10_000,
        timeSubMs: 0,
      });
    }
    yield points;
  }
}

/** The same data as line protocol, `perChunk` points per chunk. */
export function* cpuDataLines(perChunk: number): Generator<{ lines: string; valueCount: number }> {
  let lines: string[] = [];
  let valueCount = 0;
  for (const points of cpuData()) {
    for (const p of points) {
      const tags = p.tags.map((t) => `,${t.key}=${t.value}`).join("");
      const fields = p.fields.map((f) => `${f.key}=${f.value}`).join(",");
      lines.push(`${p.measurement}${tags} ${fields} ${BigInt(p.timeMs) * 1_000_000n}`);
      valueCount += p.fields.length;
      if (lines.length >= perChunk) {
        yield { lines: lines.join("\n"), valueCount };
        lines = [];
        valueCount = 0;
      }
    }
  }
  if (lines.length > 0) yield { lines: lines.join("\n"), valueCount };
}

/** Writes the whole cpu data set to `database` in 2000-point batches; returns the values written. */
export async function writeCpuData(engine: StorageEngine, database: string): Promise<number> {
  let batch: Point[] = [];
  let values = 0;
  for (const points of cpuData()) {
    batch.push(...points);
    values += points.length * FIELDS.length;
    if (batch.length >= 2000) {
      await engine.write(database, undefined, batch);
      batch = [];
    }
  }
  if (batch.length > 0) await engine.write(database, undefined, batch);
  return values;
}
