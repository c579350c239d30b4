/**
 * The storage engine satisfies the query room's QueryStore contract, optional methods included
 * (a compile-time check: this file fails `deno check` when the shapes drift apart), and a query
 * through the real executor path sees flushed segments, the head and deletes alike.
 */
import assert from "node:assert/strict";
import { FieldType, silentLogger } from "../../src/core/mod.ts";
import type { QueryStore, ShardReader } from "../../src/query/store.ts";
import { denoFileSystem, systemClock } from "../../src/runtime/mod.ts";
import { StorageEngine } from "../../src/storage/mod.ts";

Deno.test("storage engine implements QueryStore with block summaries, policies and deletes", async () => {
  const engine = await StorageEngine.open({
    dir: await Deno.makeTempDir(),
    fs: denoFileSystem,
    clock: systemClock,
    logger: silentLogger,
    maintenanceIntervalMs: 0,
  });
  const store: QueryStore & Required<Pick<QueryStore, "deleteSeries" | "createRetentionPolicy">> =
    engine;
  await store.createDatabase("db");
  await store.createRetentionPolicy("db", {
    name: "rp",
    durationNs: 0n,
    shardGroupDurationNs: 0n,
    replicaN: 1,
    isDefault: false,
  });
  const now = systemClock.nowMs();
  await engine.write(
    "db",
    "rp",
    [0, 1, 2].map((i) => ({
      measurement: "m",
      tags: [{ key: "k", value: "a" }],
      fields: [{ key: "f", type: FieldType.Integer, value: i + 1 }],
      timeMs: now - 1000 + i,
      timeSubMs: 0,
    })),
  );
  await engine.flush();
  const readers: ShardReader[] = store.shards("db", "rp", 0n, 2n ** 63n - 1n);
  const [reader] = readers;
  const [series] = reader.series("m");
  const parts = await reader.readFieldSummaries!(series, "f", 0n, 2n ** 63n - 1n);
  assert.deepEqual(parts.map((p) => p.kind === "summary" ? [p.count, p.sum, p.min, p.max] : p), [
    [3, 6, 1, 3],
  ]);
  await store.deleteSeries("db", { minNs: 0n, maxNs: 2n ** 63n - 1n, dropSeries: true });
  assert.deepEqual(store.shards("db", "rp", 0n, 2n ** 63n - 1n)[0].series("m"), []);
  await engine.close();
});
