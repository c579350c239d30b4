/**
 * Size retention in one engine: past a policy's MAX_BYTES (or the database's limit) the oldest
 * shard groups go first, whole, the newest is kept, the total stays under the limit plus one
 * group, writes into the dropped range are beyond retention, and all of it holds after reopen.
 */
import assert from "node:assert/strict";
import { dump, filesUnder, HOUR_MS, hourPoints, openEngine, T0, TestClock } from "./_tier_util.ts";
import { planSizeDrops } from "../../src/storage/size_retention.ts";

const HOUR_NS = 3_600_000_000_000n;

Deno.test("size retention plan: oldest first, newest kept, database limit across policies", () => {
  const g = (policy: string, h: number, bytes: number) => ({
    policy,
    startMs: h,
    endMs: h + 1,
    bytes,
  });
  const groups = [g("a", 0, 50), g("a", 1, 50), g("a", 2, 50), g("b", 0.5, 40), g("b", 3, 40)];
  const limits = (a: number, db: number) => ({
    policyMaxBytes: new Map([["a", a]]),
    databaseMaxBytes: db,
  });
  assert.deepEqual(planSizeDrops(groups, limits(100, 0)).map((x) => x.startMs), [0]);
  assert.deepEqual(planSizeDrops(groups, limits(10, 0)).map((x) => x.startMs), [0, 1]);
  assert.deepEqual(planSizeDrops(groups, limits(0, 0)), []);
  // Database: 230 bytes > 150: a.0 (ends 1), then b.0.5 (ends 1.5); the newest of each stays.
  assert.deepEqual(planSizeDrops(groups, limits(0, 150)).map((x) => x.startMs), [0, 0.5]);
  assert.deepEqual(planSizeDrops(groups, limits(0, 1)).map((x) => x.startMs), [0, 0.5, 1]);
});

Deno.test("size retention: oldest groups dropped first, total under limit + one group, reopen", async () => {
  const dir = await Deno.makeTempDir();
  const clock = new TestClock(T0 + 12 * HOUR_MS);
  let engine = await openEngine(dir, clock);
  await engine.createDatabase("db");
  await engine.createRetentionPolicy("db", {
    name: "rp",
    durationNs: 0n,
    shardGroupDurationNs: HOUR_NS,
    replicaN: 1,
    isDefault: true,
  });
  const groupBytes: number[] = [];
  for (let h = 0; h < 10; h++) {
    await engine.write("db", "rp", hourPoints(h));
    await engine.flush();
    const view = engine.retentionPolicies("db").find((p) => p.name === "rp")!;
    groupBytes.push(view.bytes - groupBytes.reduce((a, b) => a + b, 0));
  }
  const total = groupBytes.reduce((a, b) => a + b, 0);
  const biggest = Math.max(...groupBytes);
  const limit = Math.floor(total * 0.45);
  assert.equal((await engine.enforceTiering("db")).dropped, 0, "no limit: nothing dropped");
  await engine.alterRetentionPolicy("db", "rp", { maxBytes: limit });
  const before = await dump(engine, "db", "rp");
  // The oldest group's folder as it was: a power loss may undo its (unsynced) removal.
  const oldest = (await filesUnder(dir, /\.seg$/)).find((f) => f.includes(`/${T0}_${HOUR_MS}/`))!;
  const oldestDir = oldest.slice(0, oldest.lastIndexOf("/"));
  await Deno.mkdir(`${dir}/saved`);
  await Deno.copyFile(oldest, `${dir}/saved/seg`);
  const { dropped } = await engine.enforceTiering("db");
  assert.ok(dropped >= 5, `dropped ${dropped} of 10 groups`);
  const check = async () => {
    const view = engine.retentionPolicies("db").find((p) => p.name === "rp")!;
    assert.equal(view.maxBytes, limit);
    assert.ok(view.bytes <= limit + biggest, `${view.bytes} > ${limit} + ${biggest}`);
    assert.ok(view.bytes <= limit, `${view.bytes} over the limit ${limit}`);
    const starts = engine.shards("db", "rp", -(2n ** 63n), 2n ** 63n - 1n).map((s) => s.startMs);
    // The newest groups are the ones left, contiguous up to the last.
    assert.deepEqual(starts, starts.map((_, i) => T0 + (10 - starts.length + i) * HOUR_MS));
    const horizon = T0 + (10 - starts.length) * HOUR_MS;
    const after = await dump(engine, "db", "rp");
    const kept = before.filter((line) => Number(line.split(" ").at(-2)!.split(".")[0]) >= horizon);
    assert.deepEqual(after, kept, "the newest groups' data is untouched");
    return horizon;
  };
  const horizon = await check();
  // A point in the dropped range is beyond retention (it would only be dropped again).
  const late = await engine.write("db", "rp", hourPoints(0, 1, 1));
  assert.equal(late.accepted, 0);
  assert.equal(late.rejected[0].reason, "points beyond retention policy");
  assert.equal((await engine.write("db", "rp", hourPoints(9, 1, 1))).accepted, 1);
  await engine.close();
  // The dropped folder comes back after the catalog file no longer lists the drop's record:
  // the policy's size horizon drops it again at open.
  await Deno.mkdir(oldestDir, { recursive: true });
  await Deno.copyFile(`${dir}/saved/seg`, oldest);
  engine = await openEngine(dir, clock);
  assert.equal(await check(), horizon);
  assert.equal((await engine.enforceTiering("db")).dropped, 0, "within the limit after reopen");
  await engine.close();
});

Deno.test("size retention: a database limit drops the oldest groups across policies", async () => {
  const dir = await Deno.makeTempDir();
  const clock = new TestClock(T0 + 12 * HOUR_MS);
  const engine = await openEngine(dir, clock);
  await engine.createDatabase("db");
  for (const name of ["a", "b"]) {
    await engine.createRetentionPolicy("db", {
      name,
      durationNs: 0n,
      shardGroupDurationNs: HOUR_NS,
      replicaN: 1,
      isDefault: false,
    });
  }
  for (let h = 0; h < 6; h++) {
    await engine.write("db", h % 2 === 0 ? "a" : "b", hourPoints(h));
    await engine.flush();
  }
  const size = () => engine.retentionPolicies("db").reduce((n, p) => n + p.bytes, 0);
  const total = size();
  const limit = Math.floor(total * 0.55);
  const { dropped } = await engine.enforceTiering("db", { databaseMaxBytes: limit });
  assert.equal(dropped, 3);
  const starts = (rp: string) =>
    engine.shards("db", rp, -(2n ** 63n), 2n ** 63n - 1n).map((s) => (s.startMs - T0) / HOUR_MS);
  assert.deepEqual(starts("a"), [4]);
  assert.deepEqual(starts("b"), [3, 5]);
  assert.ok(size() <= limit);
  await engine.close();
});
