/**
 * Per-measurement `max_bytes`: the plan (which instant the oldest data goes up to), and the
 * engine: only the offending measurement loses its oldest data, the bytes leave the disk at
 * once, a query started before reads what it started with, and a reopen keeps it all.
 */
import assert from "node:assert/strict";
import { sizeCutoffMs } from "../../src/storage/measurement_size.ts";
import { DirColdStore, type StorageEngine } from "../../src/storage/mod.ts";
import { denoFileSystem } from "../../src/runtime/mod.ts";
import { dump, filesUnder, HOUR_MS, hourPoints, openEngine, T0, TestClock } from "./_tier_util.ts";

const HOUR_NS = 3_600_000_000_000n;
const NOW = T0 + 6 * HOUR_MS;

Deno.test("sizeCutoffMs: the oldest blocks go until the rest fits, equal ends together", () => {
  const blocks = [
    { maxMs: 30, bytes: 10 },
    { maxMs: 10, bytes: 10 },
    { maxMs: 20, bytes: 10 },
    { maxMs: 20, bytes: 10 },
  ];
  assert.equal(sizeCutoffMs(blocks, 40), undefined);
  assert.equal(sizeCutoffMs(blocks, 0), undefined, "0 is no limit");
  assert.equal(sizeCutoffMs(blocks, 35), 10);
  assert.equal(sizeCutoffMs(blocks, 30), 10);
  assert.equal(sizeCutoffMs(blocks, 25), 20, "both blocks ending at 20 go");
  assert.equal(sizeCutoffMs(blocks, 1), 30);
});

/** An engine with 5 hourly groups of cpu and mem (hourPoints: hosts h0, h2 cpu; h1, h3 mem). */
async function filled(): Promise<{ dir: string; engine: StorageEngine }> {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-msize-" });
  const engine = await openEngine(dir, new TestClock(NOW));
  await engine.createDatabase("db");
  await engine.createRetentionPolicy("db", {
    name: "rp",
    durationNs: 0n,
    shardGroupDurationNs: HOUR_NS,
    replicaN: 1,
    isDefault: true,
  });
  for (let h = 0; h < 5; h++) {
    // The first hour in one segment (rewritten in place), the others in two (merged).
    const points = hourPoints(h);
    const cut = h === 0 ? points.length : 1200;
    await engine.write("db", "rp", points.slice(0, cut));
    await engine.flush();
    if (cut < points.length) {
      await engine.write("db", "rp", points.slice(cut));
      await engine.flush();
    }
  }
  return { dir, engine };
}

const timeOf = (line: string) => Number(line.split(" ").at(-2)!.split(".")[0]);
const of = (lines: string[], m: string) => lines.filter((l) => l.startsWith(`${m},`));

async function segmentBytes(dir: string): Promise<number> {
  let n = 0;
  for (const p of await filesUnder(`${dir}/data`, /\.seg$/)) n += (await Deno.stat(p)).size;
  return n;
}

Deno.test("a measurement over its max_bytes loses its oldest data only, bytes freed at once", async () => {
  const { dir, engine } = await filled();
  const before = await dump(engine, "db", "rp");
  const cpuBytes = engine.measurementBytes("db").get("cpu")!;
  const memBytes = engine.measurementBytes("db").get("mem")!;
  assert.ok(cpuBytes > 0 && memBytes > 0);
  const diskBefore = await segmentBytes(dir);
  // A query's view taken before the limit applies.
  const early = engine.shards("db", "rp", -(2n ** 63n), 2n ** 63n - 1n)[0];
  const earlySeries = early.series("cpu");
  const limit = Math.floor(cpuBytes * 0.55);

  await engine.enforceTiering("db", { measurements: new Map([["cpu", limit]]) });
  let sizes = engine.measurementBytes("db");
  assert.ok(sizes.get("cpu")! <= limit, `cpu ${sizes.get("cpu")} > ${limit}`);
  assert.ok(sizes.get("cpu")! >= limit - cpuBytes * 0.25, `too much went: ${sizes.get("cpu")}`);
  assert.equal(sizes.get("mem"), memBytes, "mem's blocks untouched");
  const diskAfter = await segmentBytes(dir);
  assert.ok(
    diskBefore - diskAfter >= (cpuBytes - limit) * 0.9,
    `the disk kept the bytes: ${diskBefore} -> ${diskAfter}`,
  );

  const after = await dump(engine, "db", "rp");
  assert.deepEqual(of(after, "mem"), of(before, "mem"), "mem's values untouched");
  const cpuAfter = of(after, "cpu");
  const horizon = Math.min(...cpuAfter.map(timeOf));
  assert.ok(horizon > T0, "cpu's oldest data went");
  assert.deepEqual(
    cpuAfter,
    of(before, "cpu").filter((l) => timeOf(l) >= horizon),
    "cpu: everything after the oldest kept instant is whole",
  );
  // The early view still reads the oldest hour (its segments stay open, later deletes unseen).
  const column = await early.readField(earlySeries[0], "v", -(2n ** 63n), 2n ** 63n - 1n);
  assert.equal(column?.length, 600, "a query started before the limit reads what it started with");
  // A second pass has nothing to do (no segment rewritten).
  const files = await filesUnder(`${dir}/data`, /\.seg$/);
  await engine.enforceTiering("db", { measurements: new Map([["cpu", limit]]) });
  assert.deepEqual(await filesUnder(`${dir}/data`, /\.seg$/), files);
  await engine.close();

  const reopened = await openEngine(dir, new TestClock(NOW));
  assert.deepEqual(await dump(reopened, "db", "rp"), after, "the same after a reopen");
  sizes = reopened.measurementBytes("db");
  assert.ok(sizes.get("cpu")! <= limit);
  await reopened.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a measurement's bytes in the cold store count toward its max_bytes and leave it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-msize-cold-" });
  const coldDir = await Deno.makeTempDir({ prefix: "epochnexus-msize-cold-store-" });
  const engine = await openEngine(dir, new TestClock(NOW), {
    coldStore: new DirColdStore(denoFileSystem, coldDir),
  });
  try {
    await engine.createDatabase("db");
    await engine.createRetentionPolicy("db", {
      name: "rp",
      durationNs: 0n,
      shardGroupDurationNs: HOUR_NS,
      replicaN: 1,
      isDefault: true,
    });
    for (let h = 0; h < 5; h++) {
      await engine.write("db", "rp", hourPoints(h));
      await engine.flush();
    }
    // Hours 0-2 (ended 3 h before NOW or more) go cold; 3 and 4 stay local.
    const cold = { rp: { coldAfterNs: 170n * 60n * 1_000_000_000n } };
    assert.equal((await engine.enforceTiering("db", { policies: cold })).moved, 3);
    const before = await dump(engine, "db", "rp");
    const localCpu = (await filesUnder(`${dir}/data`, /\.seg$/)).length;
    assert.ok(localCpu > 0, "hours 3 and 4 are local");
    const cpuBytes = engine.measurementBytes("db").get("cpu")!;
    const memBytes = engine.measurementBytes("db").get("mem")!;
    const limit = Math.floor(cpuBytes * 0.75);

    await engine.enforceTiering("db", { policies: cold, measurements: new Map([["cpu", limit]]) });
    const sizes = engine.measurementBytes("db");
    assert.ok(sizes.get("cpu")! <= limit, `cpu ${sizes.get("cpu")} > ${limit} (of ${cpuBytes})`);
    assert.equal(sizes.get("mem"), memBytes, "mem's blocks kept their bytes");
    const after = await dump(engine, "db", "rp");
    assert.deepEqual(of(after, "mem"), of(before, "mem"), "mem untouched");
    const cpuAfter = of(after, "cpu");
    assert.ok(cpuAfter.length < of(before, "cpu").length, "cpu lost its oldest points");
    const first = timeOf(cpuAfter[0]);
    assert.deepEqual(cpuAfter, of(before, "cpu").filter((l) => timeOf(l) >= first));
    assert.ok(first < T0 + 3 * HOUR_MS, "the limit was met inside the cold hours");
    // A second pass has nothing to do.
    await engine.enforceTiering("db", { policies: cold, measurements: new Map([["cpu", limit]]) });
    assert.deepEqual(await dump(engine, "db", "rp"), after);
  } finally {
    await engine.close();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(coldDir, { recursive: true });
  }
});
