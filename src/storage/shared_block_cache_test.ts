import assert from "node:assert/strict";
import { FieldType, type Point, silentLogger } from "../core/mod.ts";
import { denoFileSystem, systemClock } from "../runtime/mod.ts";
import { StorageEngine } from "./engine.ts";
import { BlockCache } from "./segment/mod.ts";

const ALL = [-(2n ** 63n), 2n ** 63n - 1n] as const;

function points(value: number): Point[] {
  return Array.from({ length: 50 }, (_, i) => ({
    measurement: "cpu",
    tags: [{ key: "host", value: "a" }],
    fields: [{ key: "v", type: FieldType.Float, value: value + i }],
    timeMs: 1_700_000_000_000 + i * 1000,
    timeSubMs: 0,
  }));
}

async function firstValue(engine: StorageEngine): Promise<unknown> {
  const [shard] = engine.shards("db", "autogen", ...ALL);
  const series = shard.series("cpu")[0];
  const column = await shard.readField(series, "v", ...ALL);
  return column?.values[0];
}

Deno.test("shared block cache: an engine closed forgets its blocks; files rewritten under the same names are read anew", async () => {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-shared-cache-" });
  const cache = new BlockCache(10_000);
  const open = () =>
    StorageEngine.open({
      dir,
      fs: denoFileSystem,
      clock: systemClock,
      logger: silentLogger,
      blockCache: cache,
    });
  try {
    const first = await open();
    await first.createDatabase("db");
    await first.write("db", undefined, points(100));
    await first.flush();
    assert.equal(await firstValue(first), 100);
    assert.ok(cache.size > 0, "the read went through the shared cache");
    await first.close({ flush: false });
    assert.equal(cache.size, 0);

    // As a replica replaced by another's files: the same segment names, other blocks.
    await Deno.remove(dir, { recursive: true });
    await Deno.mkdir(dir);
    const second = await open();
    await second.createDatabase("db");
    await second.write("db", undefined, points(700));
    await second.flush();
    assert.equal(await firstValue(second), 700);
    await second.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
