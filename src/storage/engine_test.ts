import assert from "node:assert/strict";
import { FieldType, type Point, silentLogger } from "../core/mod.ts";
import { denoFileSystem, systemClock } from "../runtime/mod.ts";
import { StorageEngine } from "./engine.ts";

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
