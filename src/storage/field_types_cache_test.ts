import assert from "node:assert/strict";
import { type Clock, FieldType, type Point, silentLogger } from "../core/mod.ts";
import { denoFileSystem } from "../runtime/mod.ts";
import { StorageEngine } from "./engine.ts";

// A shard keeps a measurement's field types over its current sources (asked by every query):
// the answer must follow a write that adds a field (to a new or an existing series, also after a
// drop narrowed the head), a new shard group, a flush, DROP SERIES / DROP MEASUREMENT, DELETE,
// and a restart.

const NOW = 1_700_000_000_000;
const HOUR = 3_600_000;
const ALL = [-(2n ** 63n), 2n ** 63n - 1n] as const;

function clock(): Clock {
  return { nowMs: () => NOW, nowNanos: () => BigInt(NOW) * 1_000_000n, monotonicMs: () => NOW };
}

function open(dir: string) {
  return StorageEngine.open({
    dir,
    fs: denoFileSystem,
    clock: clock(),
    logger: silentLogger,
    maintenanceIntervalMs: 0,
  });
}

function point(m: string, host: string, fields: string[], timeMs: number): Point {
  return {
    measurement: m,
    tags: [{ key: "host", value: host }],
    fields: fields.map((key) => ({ key, type: FieldType.Float, value: 1 })),
    timeMs,
    timeSubMs: 0,
  };
}

Deno.test("field types: the shard's cached answer follows writes, shard groups, drops, deletes and restarts", async () => {
  const dir = await Deno.makeTempDir();
  let engine = await open(dir);
  // Each call asks every shard twice: the second answer comes from the cache.
  const fieldsOf = (m = "cpu") => {
    const once = () =>
      engine.shards("db", "autogen", ...ALL).map((v) => [...v.fieldTypes(m).keys()].sort());
    const first = once();
    assert.deepEqual(once(), first, "asked again, the same answer");
    return first;
  };
  const drop = (host: string) =>
    engine.deleteSeries("db", {
      seriesFilter: (_m, tags) => tags[0].value === host,
      minNs: ALL[0],
      maxNs: ALL[1],
      dropSeries: true,
    });
  try {
    await engine.createDatabase("db");
    await engine.write("db", undefined, [point("cpu", "a", ["x"], NOW - 1000)]);
    assert.deepEqual(fieldsOf(), [["x"]]);

    // A write adding a field to an existing series, then a new series with another one.
    await engine.write("db", undefined, [point("cpu", "a", ["x", "y"], NOW - 900)]);
    assert.deepEqual(fieldsOf(), [["x", "y"]], "a field added to a series");
    await engine.write("db", undefined, [point("cpu", "b", ["z"], NOW - 800)]);
    assert.deepEqual(fieldsOf(), [["x", "y", "z"]], "a new series with a new field");

    // A flush: the sources change, the answer does not.
    await engine.flush();
    assert.deepEqual(fieldsOf(), [["x", "y", "z"]], "after a flush");

    // A new shard group (a week earlier) has its own fields; the first keeps its own.
    await engine.write("db", undefined, [point("cpu", "c", ["w"], NOW - 200 * HOUR)]);
    assert.deepEqual(fieldsOf(), [["w"], ["x", "y", "z"]], "a new shard group");

    // DROP SERIES in the head: b's field goes; written again by another series, it comes back
    // (the head's own map already named it, so only the added column tells).
    await engine.write("db", undefined, [point("cpu", "d", ["v"], NOW - 700)]);
    assert.deepEqual(fieldsOf(), [["w"], ["v", "x", "y", "z"]]);
    await drop("d");
    assert.deepEqual(fieldsOf(), [["w"], ["x", "y", "z"]], "a dropped series' field goes");
    await engine.write("db", undefined, [point("cpu", "e", ["v"], NOW - 600)]);
    assert.deepEqual(fieldsOf(), [["w"], ["v", "x", "y", "z"]], "written again after a drop");

    // DROP SERIES over a segment.
    await drop("b");
    assert.deepEqual(fieldsOf(), [["w"], ["v", "x", "y"]], "a flushed series dropped");

    // DELETE (a time range, no drop) keeps the fields, as influxd does.
    await engine.deleteSeries("db", {
      seriesFilter: (_m, tags) => tags[0].value === "a",
      minNs: ALL[0],
      maxNs: ALL[1],
      dropSeries: false,
    });
    assert.deepEqual(fieldsOf(), [["w"], ["v", "x", "y"]], "after DELETE");

    // A restart reads the same from the files (and the WAL).
    await engine.close();
    engine = await open(dir);
    assert.deepEqual(fieldsOf(), [["w"], ["v", "x", "y"]], "after a restart");
    await engine.write("db", undefined, [point("cpu", "a", ["u"], NOW - 500)]);
    assert.deepEqual(fieldsOf(), [["w"], ["u", "v", "x", "y"]], "a field added after a restart");

    // DROP MEASUREMENT: every series of cpu.
    await engine.write("db", undefined, [point("mem", "a", ["m"], NOW - 400)]);
    await engine.deleteSeries("db", {
      seriesFilter: (m) => m === "cpu",
      minNs: ALL[0],
      maxNs: ALL[1],
      dropSeries: true,
    });
    assert.deepEqual(fieldsOf(), [[], []], "after DROP MEASUREMENT");
    assert.deepEqual(fieldsOf("mem"), [[], ["m"]], "another measurement untouched");
  } finally {
    await engine.close();
    await Deno.remove(dir, { recursive: true });
  }
});
