/**
 * Acknowledged points per second through the durable write path (WAL append + group-commit
 * fdatasync + head apply) with 1, 8 and 64 concurrent writers, each writing batches of 100
 * TSBS-like points (10 tags, 10 float fields). One iteration = every writer's batch acknowledged;
 * points/s = writers * 100 / time per iteration. Each iteration writes the next 10 s step (new
 * timestamps, so the heads grow and flush as under real ingest, not overwrite the same points).
 *
 *   npx --yes deno@2.9.6 task bench bench/wal_bench.ts
 */
import { FieldType, type Point, silentLogger } from "../src/core/mod.ts";
import { denoFileSystem, systemClock } from "../src/runtime/mod.ts";
import { StorageEngine } from "../src/storage/mod.ts";
import { CPU_FIELDS } from "./peers/workload.ts";

const BATCH = 100;
const FIELDS = CPU_FIELDS;

const T0_MS = 1_678_886_400_000;

function batch(writer: number, round: number): Point[] {
  const points: Point[] = [];
  for (let i = 0; i < BATCH; i++) {
    const host = `host_${writer * BATCH + i}`; // distinct series across writers
    points.push({
      measurement: "cpu",
      tags: [
        { key: "arch", value: "x64" },
        { key: "datacenter", value: "us-east-1a" },
        { key: "hostname", value: host },
        { key: "os", value: "Ubuntu16.04LTS" },
        { key: "rack", value: String(i % 100) },
        { key: "region", value: "us-east-1" },
        { key: "service", value: String(i % 20) },
        { key: "service_environment", value: "production" },
        { key: "service_version", value: "1" },
        { key: "team", value: "SF" },
      ],
      fields: FIELDS.map((key, f) => ({
        key,
        type: FieldType.Float,
        value: 50 + Math.sin(round + f + i) * 49.123456789,
      })),
      timeMs: T0_MS + round * 10_000,
      timeSubMs: 0,
    });
  }
  return points;
}

for (const writers of [1, 8, 64]) {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-walbench-" });
  const engine = await StorageEngine.open({
    dir,
    fs: denoFileSystem,
    clock: systemClock,
    logger: silentLogger,
  });
  await engine.createDatabase("bench");
  const payloads = Array.from({ length: writers }, (_, w) => batch(w, 0));
  let round = 0;
  Deno.bench({
    name: `WAL ack: ${writers} concurrent writer(s) x ${BATCH} points (x10 fields)`,
    group: "wal",
    baseline: writers === 1,
    async fn() {
      round++;
      // The engine copies what it keeps (WAL bytes, head columns): the points may be reused.
      for (const points of payloads) for (const p of points) p.timeMs = T0_MS + round * 10_000;
      await Promise.all(payloads.map((p) => engine.write("bench", undefined, p)));
    },
  });
  globalThis.addEventListener("unload", () => {
    engine.close();
  });
}
