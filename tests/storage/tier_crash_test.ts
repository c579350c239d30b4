/**
 * kill -9 at every step of a move to the cold store (temp, upload, switch, delete; on the
 * directory store and on s3rver) and of a size-retention drop (record logged, files half
 * removed): a real process (_tier_crash_child.ts) runs the engine and kills itself at the step;
 * the restarted engine holds every value, each group readable from exactly one place (its
 * local segments or its object, never both, no object left unnamed), and tiering then completes.
 */
import assert from "node:assert/strict";
import { denoFileSystem } from "../../src/runtime/mod.ts";
import { type ColdStore, DirColdStore, type StorageEngine } from "../../src/storage/mod.ts";
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
const CHILD = new URL("./_tier_crash_child.ts", import.meta.url).pathname;
const NOW = T0 + 6 * HOUR_MS;

/** Runs the child until it kills itself at `step`; fails if it ends any other way. */
async function runChildUntil(dir: string, cold: string, step: string): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, dir, cold, step, String(NOW)],
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const { signal, code, stdout, stderr } = await child.output();
  const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assert.equal(signal, "SIGKILL", `child did not die at ${step} (exit ${code}):\n${text}`);
}

/** A fresh engine folder with 5 hourly groups flushed, the policy as `settings` says. */
async function prepare(
  store: ColdStore | undefined,
  settings: { coldAfterNs?: bigint; maxBytes?: (total: number) => number },
): Promise<{ dir: string; before: string[] }> {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-tier-crash-" });
  const engine = await openEngine(dir, new TestClock(NOW), { coldStore: store });
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
  const total = engine.retentionPolicies("db").find((p) => p.name === "rp")!.bytes;
  await engine.alterRetentionPolicy("db", "rp", {
    coldAfterNs: settings.coldAfterNs,
    maxBytes: settings.maxBytes?.(total),
  });
  const before = await dump(engine, "db", "rp");
  // Close without a flush: the policy change stays in the WAL, replayed by the child.
  await engine.close({ flush: false });
  return { dir, before };
}

/** Each group is read from one place: cold groups have no local segment, and vice versa. */
async function checkOnePlace(engine: StorageEngine, dir: string, store: ColdStore) {
  const named = new Set<string>();
  for (const shard of engine.shards("db", "rp", -(2n ** 63n), 2n ** 63n - 1n)) {
    const folder = `/${shard.startMs}_${shard.endMs - shard.startMs}`;
    const local = (await filesUnder(`${dir}/data`, /\.seg$/)).filter((p) => p.includes(folder));
    const objects = (await store.list("")).filter((o) => o.key.includes(`${folder}/`));
    if (objects.length > 0) {
      assert.equal(objects.length, 1, `group ${folder}: ${objects.length} objects`);
      assert.deepEqual(local, [], `group ${folder} has an object and local segments (two places)`);
      named.add(objects[0].key);
    } else {
      assert.ok(local.length > 0, `group ${folder} has neither local segments nor an object`);
    }
  }
  const all = (await store.list("")).map((o) => o.key);
  assert.deepEqual(all.sort(), [...named].sort(), "no cold object is left unnamed");
}

async function coldCrashAt(step: string, store: ColdStore, cold: string) {
  const { dir, before } = await prepare(store, { coldAfterNs: 3n * HOUR_NS });
  await runChildUntil(dir, cold, step);
  let engine = await openEngine(dir, new TestClock(NOW), { coldStore: store });
  assert.deepEqual(await dump(engine, "db", "rp"), before, `${step}: values after the kill`);
  await checkOnePlace(engine, dir, store);
  assert.deepEqual(await filesUnder(`${dir}/data`, /\.tmp$/), [], `${step}: temp files left`);
  await engine.enforceTiering("db");
  await checkOnePlace(engine, dir, store);
  assert.equal((await store.list("")).length, 3, `${step}: the three old groups are cold`);
  await engine.close();
  engine = await openEngine(dir, new TestClock(NOW), { coldStore: store });
  assert.deepEqual(await dump(engine, "db", "rp"), before, `${step}: values once moved`);
  await engine.close();
  await Deno.remove(dir, { recursive: true });
}

const COLD_STEPS = ["cold:temp", "cold:upload", "cold:switch", "cold:delete"];

Deno.test("kill -9 at every step of a move to a directory cold store loses nothing", async () => {
  for (const step of COLD_STEPS) {
    const coldDir = await Deno.makeTempDir({ prefix: "epochnexus-cold-" });
    await coldCrashAt(step, new DirColdStore(denoFileSystem, coldDir), coldDir);
    await Deno.remove(coldDir, { recursive: true });
  }
});

Deno.test("kill -9 at every step of a move to S3 (s3rver) loses nothing", async () => {
  for (const step of COLD_STEPS) {
    const s3 = await startS3();
    try {
      await coldCrashAt(step, s3.store(), s3.endpoint);
    } finally {
      await s3.close();
    }
  }
});

Deno.test("kill -9 during a size-retention drop: the oldest stay dropped, the rest intact", async () => {
  for (const step of ["size:logged", "size:removing"]) {
    const coldDir = await Deno.makeTempDir({ prefix: "epochnexus-cold-" });
    const store = new DirColdStore(denoFileSystem, coldDir);
    const { dir, before } = await prepare(undefined, {
      maxBytes: (total) => Math.floor(total * 0.5),
    });
    await runChildUntil(dir, coldDir, step);
    const engine = await openEngine(dir, new TestClock(NOW));
    // The first drop's record was durable before the kill: that group is gone for good.
    const starts = engine.shards("db", "rp", -(2n ** 63n), 2n ** 63n - 1n).map((s) =>
      (s.startMs - T0) / HOUR_MS
    );
    assert.ok(!starts.includes(0), `${step}: the oldest group came back: ${starts}`);
    const folders = (await filesUnder(`${dir}/data`, /\.seg$/)).map((p) => p.split("/").at(-2));
    assert.ok(!folders.includes(`${T0}_${HOUR_MS}`), `${step}: the dropped group's files remain`);
    const horizon = T0 + starts[0] * HOUR_MS;
    const kept = before.filter((l) => Number(l.split(" ").at(-2)!.split(".")[0]) >= horizon);
    assert.deepEqual(await dump(engine, "db", "rp"), kept, `${step}: the kept groups' values`);
    await engine.enforceTiering("db");
    const view = engine.retentionPolicies("db").find((p) => p.name === "rp")!;
    assert.ok(view.bytes <= view.maxBytes, `${step}: ${view.bytes} > ${view.maxBytes}`);
    await engine.close();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(coldDir, { recursive: true });
    void store;
  }
});
