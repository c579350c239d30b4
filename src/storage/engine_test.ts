import assert from "node:assert/strict";
import {
  type FieldLayout,
  FieldLayouts,
  FieldType,
  PackedPoint,
  type Point,
  silentLogger,
} from "../core/mod.ts";
import { denoFileSystem, systemClock } from "../runtime/mod.ts";
import { SeriesSet } from "./catalog.ts";
import { StorageEngine } from "./engine.ts";
import { seriesKeyHash } from "./segment/mod.ts";

const open = (dir: string) =>
  StorageEngine.open({ dir, fs: denoFileSystem, clock: systemClock, logger: silentLogger });

function point(host: string, value: number | bigint | string, timeMs: number, subMs = 0): Point {
  const type = typeof value === "string"
    ? FieldType.String
    : typeof value === "bigint"
    ? FieldType.Integer
    : FieldType.Float;
  return {
    measurement: "cpu",
    tags: [{ key: "host", value: host }],
    fields: [{ key: "v", type, value }],
    timeMs,
    timeSubMs: subMs,
  };
}

async function values(engine: StorageEngine, db: string, host = "a") {
  const out: unknown[][] = [];
  for (const shard of engine.shards(db, "autogen", -(2n ** 63n), 2n ** 63n - 1n)) {
    const series = shard.series("cpu").find((s) => s.tags[0].value === host);
    if (!series) continue;
    const column = await shard.readField(series, "v", -(2n ** 63n), 2n ** 63n - 1n);
    if (!column) continue;
    for (let i = 0; i < column.length; i++) {
      out.push([column.timesMs[i], column.timesSubMs[i], column.values[i]]);
    }
  }
  return out;
}

Deno.test("engine: writes survive reopen; last write wins; out of order accepted", async () => {
  const dir = await Deno.makeTempDir();
  const engine = await open(dir);
  await engine.createDatabase("db");
  await engine.write("db", undefined, [point("a", 1, 2000), point("a", 2, 1000, 5)]);
  await engine.write("db", undefined, [point("a", 3, 2000), point("a", 4, 1000, 4)]);
  const expected = [[1000, 4, 4], [1000, 5, 2], [2000, 0, 3]];
  assert.deepEqual(await values(engine, "db"), expected);
  await engine.close();
  const reopened = await open(dir);
  assert.deepEqual(await values(reopened, "db"), expected);
  await reopened.close();
});

Deno.test("engine: a string value of 200k ASCII characters reads back from a segment after reopen", async () => {
  // The segment index keeps a block's first and last string values: read by one
  // `fromCharCode.apply`, a value this long overflowed the stack and the series was unreadable.
  const dir = await Deno.makeTempDir();
  try {
    const long = "a".repeat(200_000), wide = "é".repeat(100_000);
    const engine = await open(dir);
    await engine.createDatabase("db");
    await engine.write("db", undefined, [point("a", long, 1000), point("b", wide, 1000)]);
    await engine.close(); // flushes the heads to a segment
    const reopened = await open(dir);
    try {
      assert.deepEqual(await values(reopened, "db", "a"), [[1000, 0, long]]);
      assert.deepEqual(await values(reopened, "db", "b"), [[1000, 0, wide]]);
    } finally {
      await reopened.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("engine: a field type conflict rejects only that point, also after restart", async () => {
  const dir = await Deno.makeTempDir();
  const engine = await open(dir);
  await engine.createDatabase("db");
  const outcome = await engine.write("db", undefined, [
    point("a", 1.5, 1000),
    point("a", 7n, 2000),
    point("b", "text", 3000),
    point("a", 2.5, 4000),
  ]);
  assert.equal(outcome.accepted, 2);
  assert.deepEqual(outcome.rejected.map((r) => r.index), [1, 2]);
  assert.equal(
    outcome.rejected[0].reason,
    'field type conflict: input field "v" on measurement "cpu" is type integer, already exists as type float',
  );
  await engine.close();
  const reopened = await open(dir);
  const again = await reopened.write("db", undefined, [point("c", 9n, 1)]);
  assert.equal(again.accepted, 0, "the field's type survived the restart");
  await reopened.close();
});

Deno.test("engine: int64 extremes and nanoseconds are exact", async () => {
  const dir = await Deno.makeTempDir();
  const engine = await open(dir);
  await engine.createDatabase("db");
  await engine.write("db", undefined, [
    point("a", -9223372036854775808n, -1, 999_999),
    point("a", 9223372036854775807n, 1_678_886_400_123, 456_789),
  ]);
  await engine.close();
  const reopened = await open(dir);
  assert.deepEqual(await values(reopened, "db"), [
    [-1, 999_999, -9223372036854775808n],
    [1_678_886_400_123, 456_789, 9223372036854775807n],
  ]);
  await reopened.close();
});

Deno.test("engine: a dropped database stays dropped after replay, even when re-created", async () => {
  const dir = await Deno.makeTempDir();
  const engine = await open(dir);
  await engine.createDatabase("db");
  await engine.write("db", undefined, [point("a", 1, 1000)]);
  await engine.dropDatabase("db");
  await engine.createDatabase("db");
  await engine.write("db", undefined, [point("a", 2, 2000)]);
  await engine.close();
  const reopened = await open(dir);
  assert.deepEqual(reopened.databases(), ["db"]);
  assert.deepEqual(await values(reopened, "db"), [[2000, 0, 2]]);
  await reopened.close();
});

Deno.test("engine: databases are listed in creation order (as InfluxDB), after replay too", async () => {
  const dir = await Deno.makeTempDir();
  const engine = await open(dir);
  for (const name of ["zeta", "alpha", "mid"]) await engine.createDatabase(name);
  // A database dropped and created again comes last, as a new one.
  await engine.dropDatabase("alpha");
  await engine.createDatabase("alpha");
  assert.deepEqual(engine.databases(), ["zeta", "mid", "alpha"]);
  await engine.close();
  const reopened = await open(dir);
  assert.deepEqual(reopened.databases(), ["zeta", "mid", "alpha"]);
  await reopened.close();
});

Deno.test("engine: unknown database and retention policy are NotFound", async () => {
  const engine = await open(await Deno.makeTempDir());
  await assert.rejects(() => engine.write("nope", undefined, [point("a", 1, 1)]), {
    name: "NotFoundError",
    message: "database not found: nope",
  });
  await engine.createDatabase("db");
  await assert.rejects(() => engine.write("db", "weekly", [point("a", 1, 1)]), {
    message: "retention policy not found: weekly",
  });
  await engine.close();
});

/** Bytes in the WAL folder and the segment files under data/. */
async function diskBytes(dir: string): Promise<{ wal: number; segments: number }> {
  let wal = 0, segments = 0;
  for await (const e of Deno.readDir(`${dir}/wal`)) {
    wal += (await Deno.stat(`${dir}/wal/${e.name}`)).size;
  }
  const walk = async (path: string): Promise<void> => {
    for await (const e of Deno.readDir(path)) {
      if (e.isDirectory) await walk(`${path}/${e.name}`);
      else if (e.name.endsWith(".seg")) segments += (await Deno.stat(`${path}/${e.name}`)).size;
    }
  };
  await walk(`${dir}/data`);
  return { wal, segments };
}

Deno.test("engine: close flushes the heads: the WAL is trimmed, the data is in segments", async () => {
  const dir = await Deno.makeTempDir();
  const engine = await open(dir);
  await engine.createDatabase("db");
  const points = Array.from({ length: 2000 }, (_, i) => point(`h${i % 20}`, i, 1000 + i));
  await engine.write("db", undefined, points);
  const before = await diskBytes(dir);
  assert.ok(before.wal > 20_000 && before.segments === 0, JSON.stringify(before));
  await engine.close();
  const after = await diskBytes(dir);
  // A fresh WAL segment holds at most its header; the points are in a segment.
  assert.ok(after.wal < 64, `WAL after close: ${after.wal} bytes`);
  assert.ok(after.segments > 1000, `segments after close: ${after.segments} bytes`);
  const reopened = await open(dir);
  const stats = reopened.stats();
  assert.equal(stats.headValues, 0, "nothing replayed from the WAL");
  assert.equal(stats.values, 2000);
  assert.equal(stats.series, 20);
  assert.deepEqual((await values(reopened, "db", "h3")).length, 100);
  await reopened.close();
  // Nothing written since: a second close flushes nothing (no new segment).
  assert.equal((await diskBytes(dir)).segments, after.segments);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("engine: a flush at close that hangs is abandoned after the limit; the WAL keeps all", async () => {
  const dir = await Deno.makeTempDir();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  let hang = false;
  const fs = {
    ...denoFileSystem,
    async writeFileAtomic(path: string, data: Uint8Array) {
      if (hang) await gate; // a disk that stalls
      return await denoFileSystem.writeFileAtomic(path, data);
    },
  };
  const engine = await StorageEngine.open({
    dir,
    fs,
    clock: systemClock,
    logger: silentLogger,
    closeFlushTimeoutMs: 100,
  });
  await engine.createDatabase("db");
  await engine.write("db", undefined, [point("a", 1, 1000), point("a", 2, 2000)]);
  hang = true;
  const t0 = performance.now();
  const closing = engine.close();
  const early = await Promise.race([
    closing.then(() => "closed"),
    new Promise((resolve) => setTimeout(() => resolve("waiting"), 400)),
  ]);
  // The segment write under way completes once the disk answers; close waits for that step
  // only, then gives up the flush.
  assert.equal(early, "waiting");
  release();
  await closing;
  assert.ok(performance.now() - t0 < 10_000);
  hang = false;
  const reopened = await open(dir);
  assert.deepEqual(await values(reopened, "db"), [[1000, 0, 1], [2000, 0, 2]]);
  await reopened.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("series set: a key whose hash is known but which no segment holds is a new series", () => {
  const stored = new Set(["cpu,host=a"]);
  const asked: string[] = [];
  const set = new SeriesSet(() => ({
    has: (key) => (asked.push(key), stored.has(key)),
    forEachSeries: () => {},
  }));
  const h = new Uint32Array(2);
  // Simulate two keys with one hash: both hashes point at the stored key's slot.
  seriesKeyHash("cpu,host=a", h);
  set.addHashes(new Uint32Array([h[0], h[1]]));
  assert.equal(set.size, 1);
  assert.equal(set.has("cpu,host=a"), true, "confirmed against the segments");
  assert.equal(set.has("cpu,host=a"), true);
  assert.deepEqual(asked, ["cpu,host=a"], "confirmed once");
  // The same hash for a key the segments do not hold: a collision.
  const colliding = new SeriesSet(() => ({ has: () => false, forEachSeries: () => {} }));
  colliding.addHashes(new Uint32Array([h[0], h[1]]));
  assert.equal(colliding.has("cpu,host=a"), false);
  colliding.add("cpu,host=a");
  assert.equal(colliding.size, 2, "counted apart from the stored series");
  assert.equal(colliding.has("cpu,host=a"), true);
});

Deno.test("engine: the series count holds across restart, rewrite, DROP SERIES and restart", async () => {
  const dir = await Deno.makeTempDir();
  const opts = { dir, fs: denoFileSystem, clock: systemClock, logger: silentLogger };
  let engine = await StorageEngine.open({ ...opts, maxSeriesPerDatabase: 3 });
  await engine.createDatabase("db");
  await engine.write("db", undefined, [point("a", 1, 1000), point("b", 1, 1000)]);
  await engine.close(); // flushed: the series are known by their segment's hashes
  engine = await StorageEngine.open({ ...opts, maxSeriesPerDatabase: 3 });
  assert.equal(engine.stats().series, 2);
  assert.equal(engine.stats().headValues, 0);
  // Existing series are confirmed, not counted again; the limit admits one new series.
  const w = await engine.write("db", undefined, [
    point("a", 2, 2000),
    point("b", 2, 2000),
    point("c", 2, 2000),
    point("d", 2, 2000),
  ]);
  assert.equal(w.accepted, 3);
  assert.deepEqual(w.rejected.map((r) => r.reason), [
    "max-series-per-database limit exceeded: (3)",
  ]);
  assert.equal(engine.stats().series, 3);
  await engine.deleteSeries("db", {
    measurements: ["cpu"],
    seriesFilter: (_, tags) => tags[0].value === "a",
    minNs: -(2n ** 63n),
    maxNs: 2n ** 63n - 1n,
    dropSeries: true,
  });
  assert.equal(engine.stats().series, 2);
  await engine.close();
  engine = await StorageEngine.open({ ...opts, maxSeriesPerDatabase: 3 });
  assert.equal(engine.stats().series, 2, "the dropped series stays forgotten after restart");
  assert.deepEqual(await values(engine, "db", "a"), []);
  assert.equal((await engine.write("db", undefined, [point("d", 3, 3000)])).accepted, 1);
  assert.equal(engine.stats().series, 3);
  await engine.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("engine: a point between groups of an earlier, shorter shard duration lands in a group that holds it", async () => {
  const dir = await Deno.makeTempDir();
  const engine = await open(dir);
  await engine.createDatabase("db");
  const hour = 3_600_000;
  const t0 = 1_678_838_400_000; // 2023-03-15T00:00Z, inside a 7-day group, not at its start
  await engine.alterRetentionPolicy("db", "autogen", { shardGroupDurationNs: 3_600_000_000_000n });
  // Hour-long groups for hours 2, 0 and 5, written in that order (map order is not time order).
  for (const h of [2, 0, 5]) await engine.write("db", undefined, [point("a", h, t0 + h * hour)]);
  await engine.alterRetentionPolicy("db", "autogen", { shardGroupDurationNs: 0n }); // 7 days
  const outcome = await engine.write("db", undefined, [point("a", 3, t0 + 3.5 * hour)]);
  assert.equal(outcome.accepted, 1);
  const groups = engine.shards("db", "autogen", -(2n ** 63n), 2n ** 63n - 1n)
    .map((s) => [s.startMs - t0, s.endMs - t0]);
  // The new group fills the gap from hour 3 up to hour 5, not [hour 3, hour 0) (empty).
  assert.ok(groups.some(([s, e]) => s === 3 * hour && e === 5 * hour), JSON.stringify(groups));
  assert.deepEqual((await values(engine, "db")).map((v) => v[2]), [0, 2, 3, 5]);
  await engine.close();
  const reopened = await open(dir);
  assert.deepEqual((await values(reopened, "db")).map((v) => v[2]), [0, 2, 3, 5]);
  await reopened.close();
});

Deno.test("engine: packed points sharing layouts, a type conflict on a second field inside one batch, mixed with plain points", async () => {
  const dir = await Deno.makeTempDir();
  const engine = await open(dir);
  await engine.createDatabase("db");
  const layouts = new FieldLayouts();
  const F = FieldType.Float, I = FieldType.Integer;
  const floats = layouts.find(["v", "w"], [F, F], 2),
    wInteger = layouts.find(["v", "w"], [F, I], 2);
  assert.notEqual(floats, wInteger, "the same keys with another type are another layout");
  const tags = (host: string) => Object.freeze([Object.freeze({ key: "host", value: host })]);
  const packed = (host: string, layout: FieldLayout, v: number, w: number, ms: number) =>
    new PackedPoint("cpu", tags(host), layout, [v, w], { ms, subMs: 0 });
  const outcome = await engine.write("db", undefined, [
    packed("a", floats, 1, 10, 1000),
    packed("b", floats, 2, 20, 1000), // the same layout object, another series
    packed("a", wInteger, 3, 30, 2000), // w conflicts: refused whole, v not written either
    {
      ...point("b", 4, 2000),
      fields: [{ key: "w", type: F, value: 40 }, point("b", 4, 0).fields[0]],
    },
    packed("a", floats, 5, 50, 3000),
  ]);
  assert.equal(outcome.accepted, 4);
  assert.deepEqual(outcome.rejected.map((r) => r.index), [2]);
  assert.equal(
    outcome.rejected[0].reason,
    'field type conflict: input field "w" on measurement "cpu" is type integer, already exists as type float',
  );
  const expected = async (e: StorageEngine) => {
    assert.deepEqual(await values(e, "db", "a"), [[1000, 0, 1], [3000, 0, 5]]);
    assert.deepEqual(await values(e, "db", "b"), [[1000, 0, 2], [2000, 0, 4]]);
  };
  await expected(engine);
  await engine.close();
  const reopened = await open(dir); // replayed from the WAL, packed by its series layout
  await expected(reopened);
  await reopened.close();
});

Deno.test("engine: one field layout in two measurements is checked against each one's types", async () => {
  // The write loop skips the type check of a point whose layout passed just before: only for
  // the same measurement, as the types it passed against are that measurement's.
  const dir = await Deno.makeTempDir();
  const engine = await open(dir);
  try {
    await engine.createDatabase("db");
    const layouts = new FieldLayouts();
    const F = FieldType.Float, I = FieldType.Integer;
    const vFloat = layouts.find(["v"], [F], 1), vInteger = layouts.find(["v"], [I], 1);
    const tags = Object.freeze([Object.freeze({ key: "host", value: "a" })]);
    const packed = (measurement: string, layout: FieldLayout, v: number, ms: number) =>
      new PackedPoint(measurement, tags, layout, [v], { ms, subMs: 0 });
    await engine.write("db", undefined, [packed("mem", vInteger, 1, 1000)]);
    const outcome = await engine.write("db", undefined, [
      packed("cpu", vFloat, 1.5, 1000), // new field: declared float for cpu
      packed("cpu", vFloat, 2.5, 2000), // the same layout and measurement: passes
      packed("mem", vFloat, 3.5, 2000), // the same layout, but mem's v is an integer
      packed("cpu", vFloat, 4.5, 3000),
    ]);
    assert.equal(outcome.accepted, 3);
    assert.deepEqual(outcome.rejected, [{
      index: 2,
      reason:
        'field type conflict: input field "v" on measurement "mem" is type float, already exists as type integer',
    }]);
  } finally {
    await engine.close();
    await Deno.remove(dir, { recursive: true });
  }
});
