import assert from "node:assert/strict";
import { FieldType, type Point, silentLogger } from "../core/mod.ts";
import { denoFileSystem } from "../runtime/mod.ts";
import { StorageEngine } from "../storage/mod.ts";
import { enforceMeasurementRetention, retentionMs } from "./measurement_retention.ts";

const HOUR_MS = 3_600_000;
const NOW = 1_704_067_200_000 + 10 * HOUR_MS;

function point(measurement: string, agoMs: number): Point {
  return {
    measurement,
    tags: [{ key: "host", value: "a" }],
    fields: [{ key: "v", type: FieldType.Float, value: agoMs }],
    timeMs: NOW - agoMs,
    timeSubMs: 0,
  };
}

Deno.test("measurement retention: deletes once past the slack, then nothing until more is due", async () => {
  assert.equal(retentionMs("90m"), 90 * 60_000);
  assert.equal(retentionMs("2w"), 14 * 24 * HOUR_MS);
  const dir = await Deno.makeTempDir();
  let now = NOW;
  const engine = await StorageEngine.open({
    dir,
    fs: denoFileSystem,
    clock: { nowMs: () => now, nowNanos: () => BigInt(now) * 1_000_000n, monotonicMs: () => 0 },
    logger: silentLogger,
    maintenanceIntervalMs: 0,
  });
  try {
    await engine.createDatabase("db");
    // Inside the slack (1h + 2 min, slack 3 min): not yet worth a tombstone.
    await engine.write("db", undefined, [point("cpu", HOUR_MS + 120_000), point("cpu", 60_000)]);
    const keep = new Map([["cpu", HOUR_MS]]);
    assert.equal(await enforceMeasurementRetention(engine, keep, now), 0);
    await engine.write("db", undefined, [point("cpu", 3 * HOUR_MS), point("mem", 3 * HOUR_MS)]);
    assert.equal(await enforceMeasurementRetention(engine, keep, now), 1);
    assert.equal(await enforceMeasurementRetention(engine, keep, now), 0, "nothing left to delete");
    const left = async (m: string) => {
      const out: number[] = [];
      for (const shard of engine.shards("db", "autogen", -(2n ** 63n), 2n ** 63n - 1n)) {
        for (const s of shard.series(m)) {
          const c = await shard.readField(s, "v", -(2n ** 63n), 2n ** 63n - 1n);
          for (let i = 0; c && i < c.length; i++) out.push(c.values[i] as number);
        }
      }
      return out.sort((a, b) => a - b);
    };
    assert.deepEqual(await left("cpu"), [60_000], "everything older than 1h went");
    assert.deepEqual(await left("mem"), [3 * HOUR_MS], "other measurements stay");
    now += 10 * 60_000; // the 60 s old point is now 11 min old: still kept
    assert.equal(await enforceMeasurementRetention(engine, keep, now), 0);
  } finally {
    await engine.close();
    await Deno.remove(dir, { recursive: true });
  }
});
