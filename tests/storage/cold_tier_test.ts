/**
 * The cold tier in one engine, on both stores (a folder and s3rver): groups past `cold_after`
 * are rewritten as cold segments and moved; answers are identical before the move, after it
 * and after a reopen; late writes into a cold group are read beside it and moved again; a
 * flipped bit in a cold block is reported with its object and offset.
 */
import assert from "node:assert/strict";
import { CorruptionError } from "../../src/core/mod.ts";
import { denoFileSystem } from "../../src/runtime/mod.ts";
import { type ColdStore, DirColdStore } from "../../src/storage/mod.ts";
import {
  dump,
  filesUnder,
  HOUR_MS,
  hourPoints,
  openEngine,
  startS3,
  T0,
  TestClock,
} from "./_tier_util.ts";

const HOUR_NS = 3_600_000_000_000n;

async function exercise(store: ColdStore, flip: (key: string, at: number) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  const clock = new TestClock(T0 + 6 * HOUR_MS);
  const options = { coldStore: store, coldPrefix: "n1/" };
  let engine = await openEngine(dir, clock, options);
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
    if (h !== 4) await engine.flush(); // the group of hour 4 stays in the head
  }
  const before = await dump(engine, "db", "rp");
  const hot = engine.retentionPolicies("db")[1] ?? engine.retentionPolicies("db")[0];
  assert.equal((await engine.enforceTiering("db")).moved, 0, "no cold_after: nothing moves");
  await engine.alterRetentionPolicy("db", "rp", { coldAfterNs: 3n * HOUR_NS });
  // Groups ending at or before now - 3h: hours 0, 1, 2.
  assert.equal((await engine.enforceTiering("db")).moved, 3);
  assert.equal((await engine.enforceTiering("db")).moved, 0, "moved groups stay moved");
  const view = engine.retentionPolicies("db").find((p) => p.name === "rp")!;
  assert.equal(view.coldAfterNs, 3n * HOUR_NS);
  assert.ok(
    view.coldBytes > 0 && view.bytes < hot.bytes,
    JSON.stringify(view, (_, v) => typeof v === "bigint" ? String(v) : v),
  );
  const objects = (await store.list("n1/")).filter((o) => o.key.endsWith(".cseg"));
  assert.equal(objects.length, 3);
  const localSegments = await filesUnder(`${dir}/data`, /\.seg$/);
  for (const h of [0, 1, 2]) {
    assert.ok(
      !localSegments.some((p) => p.includes(`/${T0 + h * HOUR_MS}_`)),
      `hour ${h} has no local segment left`,
    );
  }
  assert.deepEqual(await dump(engine, "db", "rp"), before, "identical after the move");
  await engine.close();
  engine = await openEngine(dir, clock, options);
  assert.deepEqual(await dump(engine, "db", "rp"), before, "identical after reopen");

  // A late write into a cold group is read beside the object, and moved with it next time.
  const late = hourPoints(1, 1, 1).map((p) => ({ ...p, timeMs: p.timeMs + 1500 }));
  assert.equal((await engine.write("db", "rp", late)).accepted, 1);
  const withLate = await dump(engine, "db", "rp");
  assert.equal(withLate.length, before.length + 3);
  // Flushed beside the object, across a reopen (a segment newer than the object's generation).
  await engine.flush();
  await engine.close();
  engine = await openEngine(dir, clock, options);
  assert.deepEqual(await dump(engine, "db", "rp"), withLate, "late write beside the object");
  assert.equal((await engine.enforceTiering("db")).moved, 1);
  assert.deepEqual(await dump(engine, "db", "rp"), withLate);
  // The superseded object is unnamed now: the sweep removes it (no grace here).
  assert.equal(await engine.sweepColdObjects(0), 1);
  assert.equal((await store.list("n1/")).length, 3);
  assert.deepEqual(await dump(engine, "db", "rp"), withLate);
  await engine.close();

  // A flipped bit in a block of a cold object: the read fails naming the object and offset.
  const [first] = await store.list("n1/");
  const at = 8 + 4 + 10; // inside the first block's payload (after header and crc)
  await flip(first.key, at);
  engine = await openEngine(dir, clock, options);
  const error = await dump(engine, "db", "rp").then(() => undefined, (e) => e);
  assert.ok(error instanceof CorruptionError, `expected corruption, got ${error}`);
  assert.equal(error.details?.offset, 8, String(error));
  assert.ok(String(error.message).includes(first.key), error.message);
  assert.ok(String(error.details?.file).includes(store.name), String(error.details?.file));
  await engine.close();
  await Deno.remove(dir, { recursive: true });
}

Deno.test("cold tier on a directory store: moved, identical answers, reopen, bit flip", async () => {
  const coldDir = await Deno.makeTempDir();
  const store = new DirColdStore(denoFileSystem, coldDir);
  await exercise(store, async (key, at) => {
    const path = `${coldDir}/${key}`;
    const bytes = await Deno.readFile(path);
    bytes[at] ^= 0x10;
    await Deno.writeFile(path, bytes);
  });
  await Deno.remove(coldDir, { recursive: true });
});

Deno.test("cold tier on S3 (s3rver): moved, identical answers, reopen, bit flip", async () => {
  const s3 = await startS3();
  try {
    const store = s3.store("tier");
    await exercise(store, async (key, at) => {
      const size = (await store.size(key))!;
      const bytes = await store.read(key, 0, size);
      bytes[at] ^= 0x10;
      await store.put(key, bytes);
    });
  } finally {
    await s3.close();
  }
});
