/**
 * Every length field of a WAL record at and past its limit: what the writer accepts reads back,
 * what it cannot hold is refused before the write is acknowledged (one point, not the batch),
 * and the reader takes exactly what is past the limits for damage.
 */
import assert from "node:assert/strict";
import {
  CorruptionError,
  type Field,
  FieldType,
  type Point,
  silentLogger,
  StorageError,
  type Tag,
} from "../../core/mod.ts";
import { plainPoints } from "../../core/testing/mod.ts";
import { denoFileSystem, systemClock } from "../../runtime/mod.ts";
import { StorageEngine } from "../engine.ts";
import { decodeWriteBatch, encodeWriteBatch, encodeWriteRecords } from "./batch_codec.ts";
import { MAX_POINT_FIELDS, MAX_POINT_TAGS, MAX_RECORD_BYTES, walPointProblem } from "./limits.ts";
import { frameRecord, RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES, WriteAheadLog } from "./wal.ts";

const NOW_MS = 1_700_000_000_000;

function pointWith(tagCount: number, fieldCount: number, measurement = "m"): Point {
  const tags: Tag[] = Array.from({ length: tagCount }, (_, i) => ({
    key: `t${String(i).padStart(5, "0")}`,
    value: "v",
  }));
  const fields: Field[] = Array.from({ length: fieldCount }, (_, i) => ({
    key: `f${i}`,
    type: FieldType.Float,
    value: i,
  }));
  return { measurement, tags, fields, timeMs: NOW_MS, timeSubMs: 0 };
}

const batchOf = (points: Point[]) => ({ database: "db", retentionPolicy: "autogen", points });

Deno.test("WAL limits: a point with 65535 tags and 65535 fields reads back; one more is refused", () => {
  const widest = pointWith(MAX_POINT_TAGS, MAX_POINT_FIELDS);
  assert.equal(walPointProblem(widest), undefined);
  const back = decodeWriteBatch(encodeWriteBatch(batchOf([widest])), "test", 0).points[0];
  assert.equal(back.tags.length, MAX_POINT_TAGS);
  assert.equal(back.fields.length, MAX_POINT_FIELDS);
  assert.deepEqual(back.fields.at(-1), widest.fields.at(-1));
  assert.deepEqual(back.tags.at(-1), widest.tags.at(-1));

  const tooManyFields = pointWith(1, MAX_POINT_FIELDS + 1);
  assert.equal(
    walPointProblem(tooManyFields),
    "too many fields: 65536 > 65535 (the most a point may have)",
  );
  const tooManyTags = pointWith(MAX_POINT_TAGS + 1, 1);
  assert.equal(
    walPointProblem(tooManyTags),
    "too many tags: 65536 > 65535 (the most a point may have)",
  );
  // The encoder never writes a count its u16 would wrap: a caller that skipped the check is a bug.
  assert.throws(() => encodeWriteBatch(batchOf([tooManyFields])), /^Error: BUG: .*65536 fields/);
  assert.throws(() => encodeWriteBatch(batchOf([tooManyTags])), /^Error: BUG: .*65536 tags/);
});

Deno.test("WAL limits: records are at most maxBytes; a point bigger alone is left out", () => {
  const big = (n: number): Point => ({
    measurement: "m",
    tags: [],
    fields: [{ key: "s", type: FieldType.String, value: "x".repeat(n) }],
    timeMs: NOW_MS + n,
    timeSubMs: 0,
  });
  const points = [big(10), big(400), big(20), big(5000), big(30), big(40)];
  // The size of a record holding exactly the 400-byte point: it fits at that limit, not below.
  const exact = encodeWriteBatch(batchOf([points[1]])).length;
  for (const limit of [exact, exact - 1]) {
    const { parts, tooLarge } = encodeWriteRecords(batchOf(points), limit);
    assert.deepEqual(tooLarge, limit === exact ? [3] : [1, 3], `limit ${limit}`);
    const covered: number[] = [];
    for (const { payload, from, to } of parts) {
      assert.ok(payload.length <= limit, `a part of ${payload.length} bytes at limit ${limit}`);
      assert.deepEqual(
        plainPoints(decodeWriteBatch(payload, "test", 0).points),
        points.slice(from, to),
      );
      for (let i = from; i < to; i++) covered.push(i);
    }
    assert.deepEqual(
      [...covered, ...tooLarge].sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5],
      "every point is in one part or refused",
    );
  }
  const whole = encodeWriteRecords(batchOf(points));
  assert.equal(whole.parts.length, 1, "under the real limit a batch is one record");
  assert.deepEqual(whole.tooLarge, []);
});

Deno.test("WAL limits: the writer refuses a record past 512 MiB; the reader takes such a length for damage", async () => {
  // Allocated lazily and never touched: refused before anything is copied.
  assert.throws(() => frameRecord(3, new Uint8Array(MAX_RECORD_BYTES + 1)), StorageError);

  const dir = await Deno.makeTempDir();
  const open = () =>
    WriteAheadLog.open({ fs: denoFileSystem, dir, logger: silentLogger }, () => {});
  const wal = await open();
  await wal.append(2, new TextEncoder().encode("one"));
  await wal.append(2, new TextEncoder().encode("two"));
  await wal.close();
  const path = `${dir}/00000001.wal`;
  const intact = await Deno.readFile(path);
  const lengthAt = (bytes: Uint8Array, length: number) => {
    const copy = bytes.slice();
    new DataView(copy.buffer).setUint32(SEGMENT_HEADER_BYTES, length, true);
    return copy;
  };
  // At the limit, a length that runs past the end of the last segment is a torn tail: cut.
  await Deno.writeFile(path, lengthAt(intact, MAX_RECORD_BYTES));
  await (await open()).close();
  assert.equal((await Deno.readFile(path)).length, SEGMENT_HEADER_BYTES);
  // Past the limit, with intact bytes after it, it is damage: the start stops, naming the offset.
  await Deno.writeFile(path, lengthAt(intact, MAX_RECORD_BYTES + 1));
  await assert.rejects(
    open(),
    (e) =>
      e instanceof CorruptionError && e.offset === SEGMENT_HEADER_BYTES &&
      /record length 536870913 is impossible/.test(e.message),
  );
  assert.equal(RECORD_HEADER_BYTES, 9);
});

Deno.test("engine: a point the WAL cannot hold is rejected alone, before the write is acknowledged", async () => {
  const dir = await Deno.makeTempDir();
  // No field limit: the widest point the WAL holds is what is tested.
  const open = () =>
    StorageEngine.open({
      dir,
      fs: denoFileSystem,
      clock: systemClock,
      logger: silentLogger,
      maxFieldsPerMeasurement: 0,
    });
  const engine = await open();
  await engine.createDatabase("db");
  const good = (v: number): Point => ({
    measurement: "ok",
    tags: [{ key: "host", value: "a" }],
    fields: [{ key: "v", type: FieldType.Float, value: v }],
    timeMs: NOW_MS + v,
    timeSubMs: 0,
  });
  const widest = pointWith(1, MAX_POINT_FIELDS, "widest");
  const outcome = await engine.write("db", undefined, [
    good(1),
    pointWith(1, MAX_POINT_FIELDS + 1, "wide"),
    good(2),
    widest,
    good(3),
  ]);
  assert.equal(outcome.accepted, 4);
  assert.deepEqual(outcome.rejected, [
    { index: 1, reason: "too many fields: 65536 > 65535 (the most a point may have)" },
  ]);
  // No close: as after kill -9, the next start replays the WAL, and it must read back.
  const again = await open();
  try {
    const [shard] = again.shards("db", "autogen", -(2n ** 62n), 2n ** 62n);
    const read = async (m: string, field: string) => {
      const [series] = shard.series(m);
      if (series === undefined) return undefined;
      const column = await shard.readField(series, field, -(2n ** 62n), 2n ** 62n);
      return column === undefined ? undefined : Array.from(column.values.slice(0, column.length));
    };
    assert.deepEqual(await read("ok", "v"), [1, 2, 3]);
    assert.deepEqual(await read("widest", `f${MAX_POINT_FIELDS - 1}`), [MAX_POINT_FIELDS - 1]);
    assert.equal(await read("wide", "f0"), undefined);
  } finally {
    await again.close();
    await engine.close();
  }
});
