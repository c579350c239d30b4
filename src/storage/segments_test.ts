import assert from "node:assert/strict";
import { type Clock, FieldType, type Point, silentLogger, type Tag } from "../core/mod.ts";
import { denoFileSystem } from "../runtime/mod.ts";
import { computeBlockStats } from "./codecs/mod.ts";
import { CpuBudget } from "./compaction_plan.ts";
import { type EngineOptions, StorageEngine } from "./engine.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ALL = [-(2n ** 63n), 2n ** 63n - 1n] as const;

function fakeClock(startMs: number): Clock & { ms: number } {
  const c = {
    ms: startMs,
    nowMs: () => c.ms,
    nowNanos: () => BigInt(c.ms) * 1_000_000n,
    monotonicMs: () => c.ms,
  };
  return c;
}

const NOW = 1_700_000_000_000;

function open(dir: string, clock: Clock = fakeClock(NOW), extra: Partial<EngineOptions> = {}) {
  return StorageEngine.open({
    dir,
    fs: denoFileSystem,
    clock,
    logger: silentLogger,
    maintenanceIntervalMs: 0,
    blockValues: 10,
    ...extra,
  });
}

function pt(host: string, v: number, timeMs: number, m = "cpu"): Point {
  return {
    measurement: m,
    tags: [{ key: "host", value: host }],
    fields: [{ key: "v", type: FieldType.Float, value: v }],
    timeMs,
    timeSubMs: 0,
  };
}

async function read(engine: StorageEngine, host = "a", rp = "autogen", m = "cpu") {
  const out: [number, unknown][] = [];
  for (const shard of engine.shards("db", rp, ...ALL)) {
    const s = shard.series(m).find((x) => x.tags[0].value === host);
    if (!s) continue;
    const c = await shard.readField(s, "v", ...ALL);
    for (let i = 0; i < (c?.length ?? 0); i++) out.push([c!.timesMs[i], c!.values[i]]);
  }
  return out;
}

async function files(dir: string, suffix: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      if (e.isDirectory) await walk(`${d}/${e.name}`);
      else if (e.name.endsWith(suffix)) out.push(`${d}/${e.name}`);
    }
  };
  await walk(dir);
  return out.sort();
}

const series = (n: number, host = "a", start = NOW - DAY, v0 = 0) =>
  Array.from({ length: n }, (_, i) => pt(host, v0 + i * 1.5, start + i * 1000));

Deno.test("segments: flush writes a segment, trims the WAL, and restart reads it back", async () => {
  const dir = await Deno.makeTempDir();
  const engine = await open(dir);
  await engine.createDatabase("db");
  await engine.write("db", undefined, series(35));
  const before = await read(engine);
  await engine.flush();
  assert.equal(engine.stats().segments, 1);
  assert.equal(engine.stats().headValues, 0);
  assert.deepEqual(await read(engine), before);
  assert.equal((await files(dir, ".seg")).length, 1);
  assert.equal((await files(`${dir}/wal`, ".wal")).length, 1, "WAL before the cut removed");
  await engine.close();
  const reopened = await open(dir);
  assert.deepEqual(await read(reopened), before);
  assert.equal(reopened.stats().headValues, 0, "nothing replayed into the head");
  await reopened.close();
});

Deno.test("segments: last write wins across segments and head, also after restart", async () => {
  const dir = await Deno.makeTempDir();
  const engine = await open(dir);
  await engine.createDatabase("db");
  await engine.write("db", undefined, [pt("a", 1, NOW - 5000), pt("a", 1, NOW - 4000)]);
  await engine.flush();
  await engine.write("db", undefined, [pt("a", 2, NOW - 4000), pt("a", 2, NOW - 3000)]);
  await engine.flush();
  await engine.write("db", undefined, [pt("a", 3, NOW - 3000)]);
  const expected = [[NOW - 5000, 1], [NOW - 4000, 2], [NOW - 3000, 3]];
  assert.deepEqual(await read(engine), expected);
  await engine.close();
  const reopened = await open(dir);
  assert.deepEqual(await read(reopened), expected);
  assert.equal(await reopened.compact(), 0, "two segments are below the fanout");
  await reopened.close();
});

Deno.test("segments: writes go on while a flush runs", async () => {
  const dir = await Deno.makeTempDir();
  const engine = await open(dir);
  await engine.createDatabase("db");
  await engine.write("db", undefined, series(50));
  const flushing = engine.flush();
  await engine.write("db", undefined, series(50, "a", NOW - DAY + 100_000, 1000));
  await flushing;
  assert.equal((await read(engine)).length, 100);
  await engine.close();
  const reopened = await open(dir);
  assert.equal((await read(reopened)).length, 100);
  await reopened.close();
});

Deno.test("segments: shards() returns only the shard groups meeting the range", async () => {
  const engine = await open(await Deno.makeTempDir());
  await engine.createDatabase("db");
  // autogen (infinite): 7-day groups
  await engine.write("db", undefined, [pt("a", 1, NOW - 30 * DAY), pt("a", 2, NOW - DAY)]);
  assert.equal(engine.shards("db", "autogen", ...ALL).length, 2);
  const ns = (ms: number) => BigInt(ms) * 1_000_000n;
  assert.equal(engine.shards("db", "autogen", ns(NOW - 2 * DAY), ns(NOW)).length, 1);
  assert.equal(engine.shards("db", "autogen", ns(NOW - 400 * DAY), ns(NOW - 300 * DAY)).length, 0);
  await engine.close();
});

Deno.test("segments: block summaries for whole blocks, columns for cut ones; same totals", async () => {
  const engine = await open(await Deno.makeTempDir());
  await engine.createDatabase("db");
  await engine.write("db", undefined, series(35));
  await engine.flush();
  await engine.write("db", undefined, series(5, "a", NOW - DAY + 100_000, 100));
  const ns = (ms: number) => BigInt(ms) * 1_000_000n;
  const [shard] = engine.shards("db", "autogen", ...ALL);
  const s = shard.series("cpu")[0];
  const min = ns(NOW - DAY + 5000), max = ns(NOW);
  const parts = await shard.readFieldSummaries(s, "v", min, max);
  const kinds = parts.map((p) => p.kind);
  // blocks of 10: [0,10) cut by the range, [10,20) [20,30) whole, [30,35) whole, then the head
  assert.deepEqual(kinds, ["column", "summary", "summary", "summary", "column"]);
  let count = 0, sum = 0;
  for (const p of parts) {
    if (p.kind === "summary") {
      count += p.count;
      sum += p.sum as number;
    } else {
      count += p.column.length;
      for (const v of p.column.values as Float64Array) sum += v;
    }
  }
  const column = await shard.readField(s, "v", min, max);
  assert.equal(count, column!.length);
  assert.equal(sum, (column!.values as Float64Array).reduce((a, b) => a + b, 0));
  // Overlapping sources: one merged column, so a duplicate is never counted twice.
  await engine.write("db", undefined, [pt("a", 99, NOW - DAY + 12_000)]);
  const [again] = engine.shards("db", "autogen", ...ALL);
  const merged = await again.readFieldSummaries(s, "v", min, max);
  assert.deepEqual(merged.map((p) => p.kind), ["column"]);
  assert.equal((merged[0] as { column: { length: number } }).column.length, column!.length);
  await engine.close();
});

Deno.test("segments: deletes hide points in segments and head, after restart and compaction", async () => {
  const dir = await Deno.makeTempDir();
  const engine = await open(dir, fakeClock(NOW), { compactionFanout: 2 });
  await engine.createDatabase("db");
  await engine.write("db", undefined, [...series(20), ...series(20, "b")]);
  await engine.flush();
  await engine.write("db", undefined, series(5, "a", NOW - DAY + 50_000, 500));
  const ns = (ms: number) => BigInt(ms) * 1_000_000n;
  await engine.deleteSeries("db", {
    measurements: ["cpu"],
    seriesFilter: (_m, tags) => tags[0].value === "a",
    minNs: ns(NOW - DAY + 5000),
    maxNs: ns(NOW - DAY + 51_000),
    dropSeries: false,
  });
  const expectA = series(5).map((p) => [p.timeMs, p.fields[0].value]).concat(
    series(5, "a", NOW - DAY + 50_000, 500).slice(2).map((p) => [p.timeMs, p.fields[0].value]),
  );
  assert.deepEqual(await read(engine), expectA);
  assert.equal((await read(engine, "b")).length, 20, "other series untouched");
  // A later write inside the deleted range is visible (the tombstone is older).
  await engine.write("db", undefined, [pt("a", 7, NOW - DAY + 6000)]);
  const withLater = [...expectA, [NOW - DAY + 6000, 7]].sort((x, y) =>
    (x[0] as number) - (y[0] as number)
  );
  assert.deepEqual(await read(engine), withLater);
  await engine.close();
  const reopened = await open(dir, fakeClock(NOW), { compactionFanout: 2 });
  assert.deepEqual(await read(reopened), withLater);
  await reopened.flush();
  assert.equal(await reopened.compact(), 1);
  assert.equal(reopened.stats().segments, 1);
  assert.deepEqual(await read(reopened), withLater);
  // DROP SERIES forgets the series.
  await reopened.deleteSeries("db", {
    measurements: ["cpu"],
    seriesFilter: (_m, tags) => tags[0].value === "b",
    minNs: ALL[0],
    maxNs: ALL[1],
    dropSeries: true,
  });
  const [shard] = reopened.shards("db", "autogen", ...ALL);
  assert.deepEqual(shard.series("cpu").map((s) => s.tags[0].value), ["a"]);
  await reopened.close();
  const third = await open(dir);
  const [s3] = third.shards("db", "autogen", ...ALL);
  assert.deepEqual(s3.series("cpu").map((s) => s.tags[0].value), ["a"]);
  assert.deepEqual(await read(third, "b"), []);
  await third.close();
});

Deno.test("segments: retention policies persist; old points rejected; expired groups dropped", async () => {
  const dir = await Deno.makeTempDir();
  const clock = fakeClock(NOW);
  const engine = await open(dir, clock);
  await engine.createDatabase("db");
  const H = 3_600_000_000_000n;
  await engine.createRetentionPolicy("db", {
    name: "short",
    durationNs: 2n * H,
    shardGroupDurationNs: 0n,
    replicaN: 1,
    isDefault: true,
  });
  await assert.rejects(
    () =>
      engine.createRetentionPolicy("db", {
        name: "short",
        durationNs: 3n * H,
        shardGroupDurationNs: 0n,
        replicaN: 1,
        isDefault: false,
      }),
    /retention policy already exists/,
  );
  await assert.rejects(
    () =>
      engine.createRetentionPolicy("db", {
        name: "tiny",
        durationNs: H / 2n,
        shardGroupDurationNs: 0n,
        replicaN: 1,
        isDefault: false,
      }),
    /at least 1h0m0s/,
  );
  const out = await engine.write("db", undefined, [
    pt("a", 1, NOW - 3 * HOUR),
    pt("a", 2, NOW - HOUR),
  ]);
  assert.deepEqual(out, {
    accepted: 1,
    rejected: [{ index: 0, reason: "points beyond retention policy" }],
  });
  assert.deepEqual(await read(engine, "a", "short"), [[NOW - HOUR, 2]]);
  const [policy] = engine.retentionPolicies("db").filter((r) => r.name === "short");
  assert.equal(policy.shardGroupDurationNs, H, "1 h groups under 2 days");
  await engine.alterRetentionPolicy("db", "short", { durationNs: 4n * H });
  await engine.flush();
  await engine.close();

  const reopened = await open(dir, clock);
  assert.equal(reopened.defaultRetentionPolicy("db"), "short");
  assert.equal(
    reopened.retentionPolicies("db").find((r) => r.name === "short")!.durationNs,
    4n * H,
  );
  assert.deepEqual(await read(reopened, "a", "short"), [[NOW - HOUR, 2]]);
  clock.ms = NOW + 4 * HOUR;
  assert.equal(await reopened.expireShardGroups(), 1);
  assert.deepEqual(await read(reopened, "a", "short"), []);
  assert.equal((await files(dir, ".seg")).length, 0, "the group's files are gone");
  await reopened.dropRetentionPolicy("db", "short");
  assert.deepEqual(reopened.retentionPolicies("db").map((r) => r.name), ["autogen"]);
  await reopened.close();
  const third = await open(dir, clock);
  assert.deepEqual(third.retentionPolicies("db").map((r) => r.name), ["autogen"]);
  await third.close();
});

Deno.test("segments: series limits reject only the points beyond them", async () => {
  const engine = await open(await Deno.makeTempDir(), fakeClock(NOW), {
    maxSeriesPerDatabase: 2,
    maxValuesPerTag: 0,
  });
  await engine.createDatabase("db");
  const out = await engine.write("db", undefined, [
    pt("a", 1, NOW),
    pt("b", 1, NOW),
    pt("c", 1, NOW),
    pt("a", 2, NOW + 1),
  ]);
  assert.equal(out.accepted, 3);
  assert.deepEqual(out.rejected, [{
    index: 2,
    reason: "max-series-per-database limit exceeded: (2)",
  }]);
  await engine.close();
  const tags = await open(await Deno.makeTempDir(), fakeClock(NOW), { maxValuesPerTag: 1 });
  await tags.createDatabase("db");
  const r = await tags.write("db", undefined, [pt("a", 1, NOW), pt("b", 1, NOW)]);
  assert.match(r.rejected[0].reason, /^max-values-per-tag limit exceeded \(1\/1\): .*tag="host"/);
  await tags.close();
});

Deno.test("segments: a flipped bit in a block is a CorruptionError with file and offset", async () => {
  const dir = await Deno.makeTempDir();
  const engine = await open(dir);
  await engine.createDatabase("db");
  await engine.write("db", undefined, series(25));
  await engine.flush();
  await engine.close();
  const [path] = await files(dir, ".seg");
  const bytes = await Deno.readFile(path);
  bytes[8 + 4 + 6] ^= 0x10; // inside the first block's payload
  await Deno.writeFile(path, bytes);
  const reopened = await open(dir);
  await assert.rejects(() => read(reopened), (e: Error & { file?: string; offset?: number }) => {
    assert.equal(e.name, "CorruptionError");
    assert.equal(e.file, path);
    assert.equal(e.offset, 8);
    return true;
  });
  // Blocks after the damaged one stay readable.
  const [shard] = reopened.shards("db", "autogen", ...ALL);
  const s = shard.series("cpu")[0];
  const ns = (ms: number) => BigInt(ms) * 1_000_000n;
  const tail = await shard.readField(s, "v", ns(NOW - DAY + 10_000), ALL[1]);
  assert.equal(tail?.length, 15);
  await reopened.close();
  // Damage in the index stops the start, naming the file.
  bytes[8 + 4 + 6] ^= 0x10;
  bytes[bytes.length - 30] ^= 0x01;
  await Deno.writeFile(path, bytes);
  await assert.rejects(() => open(dir), (e: Error & { file?: string }) => {
    assert.equal(e.name, "CorruptionError");
    assert.equal(e.file, path);
    assert.match(e.message, /index checksum mismatch/);
    return true;
  });
});

Deno.test("segments: compaction merges levels, keeps the newest duplicate, leaves no inputs", async () => {
  const dir = await Deno.makeTempDir();
  const engine = await open(dir, fakeClock(NOW), { compactionFanout: 3 });
  await engine.createDatabase("db");
  for (let i = 0; i < 3; i++) {
    await engine.write("db", undefined, [pt("a", i, NOW - 10_000), pt("a", i, NOW - 9000 + i)]);
    await engine.flush();
  }
  assert.equal(engine.stats().segments, 3);
  const before = await read(engine);
  assert.deepEqual(before[0], [NOW - 10_000, 2]);
  assert.equal(await engine.compact(), 1);
  assert.equal(engine.stats().segments, 1);
  assert.deepEqual(await read(engine), before);
  assert.deepEqual((await files(dir, ".seg")).map((p) => p.slice(p.lastIndexOf("/") + 1)), [
    "0000000001-0000000003.seg",
  ]);
  await engine.close();
  const reopened = await open(dir);
  assert.deepEqual(await read(reopened), before);
  await reopened.close();
});

Deno.test("segments: stats say when flush and compaction are settled (what benches wait on)", async () => {
  const dir = await Deno.makeTempDir();
  const engine = await open(dir, fakeClock(NOW), { compactionFanout: 3 });
  await engine.createDatabase("db");
  const settled = () => {
    const s = engine.stats();
    return s.headValues === 0 && !s.flushing && s.compactionsPending === 0;
  };
  assert.ok(settled());
  for (let i = 0; i < 3; i++) {
    await engine.write("db", undefined, [pt("a", i, NOW - 10_000 + i)]);
    assert.ok(!settled(), `head holds a value after write ${i}`);
    const flushing = engine.flush();
    assert.equal(engine.stats().flushing, true);
    await flushing;
    assert.equal(engine.stats().flushing, false);
  }
  assert.equal(engine.stats().compactionsPending, 1);
  assert.ok(!settled(), "three level-0 segments are one merge to run");
  const compacting = engine.compact();
  assert.equal(engine.stats().compactionsPending, 1, "a running merge is still pending");
  assert.equal(await compacting, 1);
  assert.equal(engine.stats().compactionsPending, 0);
  assert.ok(settled());
  await engine.close();
});

Deno.test("segments: inputs left by a compaction interrupted before their removal are dropped on start", async () => {
  const dir = await Deno.makeTempDir();
  const engine = await open(dir, fakeClock(NOW), { compactionFanout: 2 });
  await engine.createDatabase("db");
  await engine.write("db", undefined, [pt("a", 1, NOW - 3000), pt("a", 1, NOW - 2000)]);
  await engine.flush();
  await engine.write("db", undefined, [pt("a", 2, NOW - 2000)]);
  await engine.flush();
  // A tombstone applied by the compaction: the old inputs must not bring the point back.
  await engine.deleteSeries("db", {
    minNs: BigInt(NOW - 3000) * 1_000_000n,
    maxNs: BigInt(NOW - 3000) * 1_000_000n,
    dropSeries: false,
  });
  const inputs = await files(dir, ".seg");
  const saved = await Promise.all(inputs.map((p) => Deno.readFile(p)));
  assert.equal(await engine.compact(), 1);
  const expected = [[NOW - 2000, 2]];
  assert.deepEqual(await read(engine), expected);
  await engine.close();
  // The crash: the output is durable, the inputs are still there.
  await Promise.all(inputs.map((p, i) => Deno.writeFile(p, saved[i])));
  assert.equal((await files(dir, ".seg")).length, 3);
  const reopened = await open(dir);
  assert.deepEqual(await read(reopened), expected);
  assert.equal(reopened.stats().segments, 1);
  assert.equal((await files(dir, ".seg")).length, 1);
  await reopened.close();
});

Deno.test("segments: a delete racing a flush cut still hides the frozen head's points", async () => {
  const dir = await Deno.makeTempDir();
  const engine = await open(dir);
  await engine.createDatabase("db");
  await engine.write("db", undefined, [pt("a", 1, NOW - 1000), pt("a", 2, NOW - 500)]);
  const flushing = engine.flush(); // the cut is queued before the delete record
  await engine.deleteSeries("db", {
    minNs: BigInt(NOW - 1000) * 1_000_000n,
    maxNs: BigInt(NOW - 1000) * 1_000_000n,
    dropSeries: false,
  });
  await flushing;
  assert.deepEqual(await read(engine), [[NOW - 500, 2]]);
  await engine.close();
  const reopened = await open(dir);
  assert.deepEqual(await read(reopened), [[NOW - 500, 2]]);
  await reopened.close();
});

Deno.test("segments: a query's view taken before a compaction still reads after the swap", async () => {
  const engine = await open(await Deno.makeTempDir(), fakeClock(NOW), { compactionFanout: 2 });
  await engine.createDatabase("db");
  await engine.write("db", undefined, series(30));
  await engine.flush();
  await engine.write("db", undefined, series(30, "a", NOW - DAY + 300_000));
  await engine.flush();
  const [view] = engine.shards("db", "autogen", ...ALL);
  const s = view.series("cpu")[0];
  assert.equal(await engine.compact(), 1);
  const column = await view.readField(s, "v", ...ALL);
  assert.equal(column?.length, 60);
  await engine.close();
});

Deno.test("segments: DROP MEASUREMENT forgets its series and fields; a new type is then accepted", async () => {
  const dir = await Deno.makeTempDir();
  const engine = await open(dir);
  await engine.createDatabase("db");
  await engine.write("db", undefined, [pt("a", 1, NOW - 1000), pt("a", 1, NOW - 1000, "other")]);
  await engine.flush();
  await engine.write("db", undefined, [pt("b", 2, NOW - 900)]);
  await engine.deleteSeries("db", {
    measurements: ["cpu"],
    minNs: ALL[0],
    maxNs: ALL[1],
    dropSeries: true,
  });
  const [shard] = engine.shards("db", "autogen", ...ALL);
  assert.deepEqual(shard.measurements(), ["other"]);
  assert.equal(shard.fieldTypes("cpu").size, 0);
  const typed = {
    ...pt("a", 0, NOW - 800),
    fields: [{ key: "v", type: FieldType.String, value: "now a string" }],
  };
  assert.deepEqual(await engine.write("db", undefined, [typed]), { accepted: 1, rejected: [] });
  await engine.close();
  const reopened = await open(dir);
  const [again] = reopened.shards("db", "autogen", ...ALL);
  assert.deepEqual(again.measurements(), ["cpu", "other"]);
  assert.equal(again.fieldTypes("cpu").get("v"), FieldType.String);
  await reopened.close();
});

Deno.test("segments: tombstones are pruned once compaction applied them, and stay applied", async () => {
  const dir = await Deno.makeTempDir();
  const engine = await open(dir, fakeClock(NOW), { compactionFanout: 2 });
  await engine.createDatabase("db");
  await engine.write("db", undefined, [pt("a", 1, NOW - 3000), pt("a", 1, NOW - 2000)]);
  await engine.flush();
  await engine.write("db", undefined, [pt("a", 2, NOW - 1000)]);
  await engine.flush();
  const ms = (t: number) => BigInt(t) * 1_000_000n;
  await engine.deleteSeries("db", {
    minNs: ms(NOW - 3000),
    maxNs: ms(NOW - 3000),
    dropSeries: false,
  });
  assert.equal(engine.pruneTombstones(), 0, "two segments still need it");
  assert.equal(await engine.compact(), 1);
  assert.equal(engine.pruneTombstones(), 0, "the merge ends at the tombstone's generation");
  await engine.write("db", undefined, [pt("a", 3, NOW - 500)]);
  await engine.flush();
  await engine.write("db", undefined, [pt("a", 4, NOW - 400)]);
  await engine.flush();
  assert.equal(await engine.compact(), 1); // the two newest level-0 segments
  assert.equal(await engine.compact(), 1); // level 1 + level 1 -> level 2, past the tombstone
  assert.equal(engine.pruneTombstones(), 1);
  const expected = [[NOW - 2000, 1], [NOW - 1000, 2], [NOW - 500, 3], [NOW - 400, 4]];
  assert.deepEqual(await read(engine), expected);
  await engine.flush();
  await engine.close();
  const reopened = await open(dir);
  assert.deepEqual(await read(reopened), expected);
  await reopened.close();
});

Deno.test("segments: a failed flush (disk full) keeps the data readable and in the WAL; the next one writes it", async () => {
  const dir = await Deno.makeTempDir();
  let failures = 1;
  const fs = {
    ...denoFileSystem,
    writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
      if (path.endsWith(".seg") && failures-- > 0) {
        return Promise.reject(new Error("No space left on device (os error 28)"));
      }
      return denoFileSystem.writeFileAtomic(path, data);
    },
  };
  const engine = await open(dir, fakeClock(NOW), { fs });
  await engine.createDatabase("db");
  await engine.write("db", undefined, series(20));
  await assert.rejects(() => engine.flush(), /No space left/);
  await engine.write("db", undefined, series(5, "a", NOW - DAY + 100_000, 100));
  assert.equal((await read(engine)).length, 25, "the frozen head stays readable");
  assert.equal((await files(dir, ".seg")).length, 0);
  await engine.close();
  const reopened = await open(dir, fakeClock(NOW), { fs });
  assert.equal((await read(reopened)).length, 25, "the WAL was not trimmed");
  await reopened.flush();
  assert.equal(reopened.stats().headValues, 0);
  await reopened.close();
  // And within one process: the next flush writes the frozen head left behind.
  failures = 1;
  const third = await open(dir, fakeClock(NOW), { fs });
  await third.write("db", undefined, series(5, "b"));
  await assert.rejects(() => third.flush());
  await third.flush();
  assert.equal(third.stats().headValues, 0);
  assert.equal((await read(third, "b")).length, 5);
  await third.close();
  const fourth = await open(dir);
  assert.equal((await read(fourth)).length, 25);
  assert.equal((await read(fourth, "b")).length, 5);
  await fourth.close();
});

/** A clock that advances `stepMs` at every reading, and sleeps that advance it. */
function tickingTime(stepMs: number) {
  const t = {
    ms: NOW,
    sleeps: [] as number[],
    nowMs: () => t.ms,
    nowNanos: () => BigInt(Math.round(t.ms)) * 1_000_000n,
    monotonicMs: () => (t.ms += stepMs),
    sleep: (ms: number) => {
      t.sleeps.push(ms);
      t.ms += ms;
      return Promise.resolve();
    },
  };
  return t;
}

Deno.test("CPU budget: work of 1 ms steps at share 0.25 sleeps 3 ms per ms, in ~10 ms slices", async () => {
  const time = tickingTime(0);
  const budget = new CpuBudget(time, { share: 0.25 });
  const start = time.ms;
  for (let i = 0; i < 1000; i++) {
    time.ms += 1; // one step of work
    if (budget.due()) await budget.pause();
  }
  assert.equal(budget.busyMs, 1000);
  assert.equal(budget.sleptMs, 3000);
  assert.equal(time.sleeps.length, 100);
  assert.ok(time.sleeps.every((ms) => ms === 30), `sleeps ${time.sleeps.slice(0, 5)}`);
  assert.equal(time.ms - start, 4000, "the work held a quarter of the wall time");
  assert.throws(() => new CpuBudget(time, { share: 0 }), RangeError);
  assert.throws(() => new CpuBudget(time, { share: 1.5 }), RangeError);
  const full = new CpuBudget(time, { share: 1 });
  time.ms += 50;
  await full.pause();
  assert.equal(full.sleptMs, 0);
  assert.equal(time.sleeps.at(-1), 0, "share 1 still gives the event loop a turn");
});

Deno.test("segments: compaction keeps to its CPU share (fake clock) and still completes", async () => {
  for (const share of [0.25, 0.5]) {
    const dir = await Deno.makeTempDir();
    const time = tickingTime(0.2); // every clock reading costs 200 µs of "work"
    const engine = await open(dir, time, {
      compactionFanout: 4,
      compactionCpuShare: share,
      sleep: time.sleep,
    });
    await engine.createDatabase("db");
    for (let f = 0; f < 4; f++) {
      const batch: Point[] = [];
      for (let h = 0; h < 300; h++) batch.push(pt(`h${h}`, f * 1000 + h, NOW - DAY + f * 1000));
      await engine.write("db", undefined, batch);
      await engine.flush();
    }
    assert.equal(engine.stats().segments, 4);
    time.sleeps.length = 0;
    assert.equal(await engine.compact(), 1);
    const stats = engine.stats();
    assert.equal(stats.segments, 1, "compaction completed");
    assert.equal(stats.values, 1200);
    assert.ok(time.sleeps.length >= 3, `slept ${time.sleeps.length} times`);
    const slept = time.sleeps.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(slept - stats.compactionSleptMs) < 1e-6);
    const used = stats.compactionBusyMs / (stats.compactionBusyMs + stats.compactionSleptMs);
    assert.ok(Math.abs(used - share) < 1e-9, `share ${share}: used ${used}`);
    assert.deepEqual((await read(engine, "h7")).map(([, v]) => v), [7, 1007, 2007, 3007]);
    await engine.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Four flushed segments of hosts h0..h299, one value each (value f in the f-th). */
async function flushFourSegments(engine: StorageEngine): Promise<void> {
  for (let f = 0; f < 4; f++) {
    const batch: Point[] = [];
    for (let h = 0; h < 300; h++) batch.push(pt(`h${h}`, f, NOW - DAY + f * 1000));
    await engine.write("db", undefined, batch);
    await engine.flush();
  }
}

Deno.test("segments: close stops a compaction at its next slice; its inputs stay", async () => {
  const dir = await Deno.makeTempDir();
  const time = tickingTime(0.05);
  let engine: StorageEngine | undefined;
  let closing: Promise<void> | undefined;
  engine = await open(dir, time, {
    compactionFanout: 4,
    sleep: (ms) => {
      closing ??= engine!.close(); // close while the merge sleeps
      return time.sleep(ms);
    },
  });
  await engine.createDatabase("db");
  await flushFourSegments(engine);
  assert.equal(await engine.compact(), 0, "stopped");
  await closing;
  assert.equal((await files(dir, ".seg")).length, 4);
  engine = await open(dir);
  assert.equal(engine.stats().values, 1200);
  await engine.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("segments: a DELETE and DROP SERIES logged while the merge loads its series still hold after it, pruning and restart", async () => {
  const dir = await Deno.makeTempDir();
  const time = tickingTime(0.2);
  const hosts = (from: number, to: number) => (_m: string, tags: readonly Tag[]) => {
    const h = Number(tags[0].value.slice(1));
    return h >= from && h < to;
  };
  const counts = async (e: StorageEngine) => {
    const out = new Map<string, number>();
    for (const shard of e.shards("db", "autogen", ...ALL)) {
      for (const s of shard.series("cpu")) {
        const n = (await shard.readField(s, "v", ...ALL))?.length ?? 0;
        if (n > 0) out.set(s.tags[0].value, (out.get(s.tags[0].value) ?? 0) + n);
      }
    }
    return out;
  };
  let engine: StorageEngine | undefined;
  let sleeps = 0, midway: Promise<void> | undefined;
  engine = await open(dir, time, {
    compactionFanout: 4,
    sleep: async (ms) => {
      // The third pause: some series are merged (and encoded), the rest not yet loaded.
      if (++sleeps === 3) {
        midway = (async () => {
          const all = { minNs: ALL[0], maxNs: ALL[1] };
          await engine!.deleteSeries("db", {
            ...all,
            seriesFilter: hosts(0, 100),
            dropSeries: false,
          });
          await engine!.deleteSeries("db", {
            ...all,
            seriesFilter: hosts(100, 200),
            dropSeries: true,
          });
          await engine!.write("db", undefined, [pt("h250", 9, NOW - DAY + 9000)]);
          await engine!.flush(); // a newer generation than the merge's inputs
        })();
        await midway;
      }
      await time.sleep(ms);
    },
  });
  await engine.createDatabase("db");
  await flushFourSegments(engine);
  assert.equal(await engine.compact(), 1);
  await midway;
  assert.ok(sleeps > 3, `the deletes came mid-merge (${sleeps} pauses)`);
  const expected = new Map<string, number>();
  for (let h = 200; h < 300; h++) expected.set(`h${h}`, h === 250 ? 5 : 4);
  assert.deepEqual(await counts(engine), expected, "after the merge");
  await engine.compact(); // the merge and the flush after the deletes
  engine.pruneTombstones();
  assert.deepEqual(await counts(engine), expected, "after pruning");
  await engine.close();
  engine = await open(dir);
  assert.deepEqual(await counts(engine), expected, "after restart");
  await engine.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("segments: a damaged block met while the merge loads a series fails the step: no output, every input kept", async () => {
  const dir = await Deno.makeTempDir();
  let engine = await open(dir, fakeClock(NOW), { compactionFanout: 4 });
  await engine.createDatabase("db");
  await flushFourSegments(engine);
  await engine.close();
  const inputs = await files(`${dir}/data`, ""); // every file, a temporary one too
  assert.equal(inputs.length, 4);
  // A byte of a block a quarter into one input (blocks first, the index at the end).
  const bytes = await Deno.readFile(inputs[2]);
  bytes[bytes.length >> 2] ^= 0xff;
  await Deno.writeFile(inputs[2], bytes);
  engine = await open(dir, fakeClock(NOW), { compactionFanout: 4 });
  await assert.rejects(() => engine.compact(), /block checksum mismatch/);
  assert.deepEqual(await files(`${dir}/data`, ""), inputs);
  assert.equal(engine.stats().segments, 4);
  await engine.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("segments: block summaries after restart equal the blocks' own statistics (int64 extremes, NaN, -0, sub-ms)", async () => {
  const dir = await Deno.makeTempDir();
  let engine = await open(dir);
  await engine.createDatabase("db");
  const INT = [2n ** 63n - 1n, -(2n ** 63n), 5, -7, 2 ** 53 - 1, 0] as const;
  const FLOAT = [-0, NaN, 1.5, 100, 0, 0.1 + 0.2, -1e300] as const;
  const points: Point[] = Array.from({ length: 47 }, (_, i) => ({
    measurement: "cpu",
    tags: [{ key: "host", value: "a" }],
    fields: [
      { key: "i", type: FieldType.Integer, value: INT[(i * 5) % INT.length] },
      { key: "v", type: FieldType.Float, value: FLOAT[(i * 3) % FLOAT.length] },
    ],
    timeMs: NOW - DAY + i * 1000 + (i % 3),
    timeSubMs: i % 2 ? 0 : 999_999 - i,
  }));
  await engine.write("db", undefined, points);
  await engine.flush();
  await engine.close();
  engine = await open(dir);
  try {
    const [shard] = engine.shards("db", "autogen", ...ALL);
    const s = shard.series("cpu")[0];
    for (const field of ["i", "v"]) {
      const parts = await shard.readFieldSummaries(s, field, ...ALL);
      const column = (await shard.readField(s, field, ...ALL))!;
      assert.deepEqual(parts.map((p) => p.kind), Array(5).fill("summary"));
      let at = 0;
      for (const p of parts) {
        if (p.kind !== "summary") continue;
        const n = p.count;
        const values = column.values instanceof Float64Array
          ? column.values.subarray(at, at + n)
          : column.values.slice(at, at + n);
        const want = computeBlockStats({
          type: column.type,
          timesMs: column.timesMs.subarray(at, at + n),
          timesSubMs: column.timesSubMs.subarray(at, at + n),
          values,
        });
        const got = { ...p } as Record<string, unknown>;
        delete got.kind, delete got.minTimeOfMin, delete got.minTimeOfMax;
        if (typeof want.sum === "bigint" && want.sum >= -(2n ** 53n) && want.sum < 2n ** 53n) {
          want.sum = Number(want.sum);
        }
        assert.deepStrictEqual(got, { ...want }, `${field} block at ${at}`);
        at += n;
      }
      assert.equal(at, column.length);
    }
  } finally {
    await engine.close();
    await Deno.remove(dir, { recursive: true });
  }
});
