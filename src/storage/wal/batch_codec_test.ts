import assert from "node:assert/strict";
import fc from "fast-check";
import {
  CorruptionError,
  type Field,
  FieldType,
  type FieldValue,
  type Point,
  silentLogger,
  type Tag,
} from "../../core/mod.ts";
import { plainPoints } from "../../core/testing/mod.ts";
import { denoFileSystem, systemClock } from "../../runtime/mod.ts";
import { RecordType, StorageEngine } from "../engine.ts";
import {
  decodeIndexedWriteBatch,
  decodeWriteBatch,
  encodeWriteBatch,
  type WriteBatch,
  WriteBatchLayout,
} from "./batch_codec.ts";
import { frameRecord } from "./wal.ts";

/**
 * The plain layout exactly as WAL version 1 wrote it (the encoder of that version, kept here to
 * make version-1 records).
 */
function encodePlainV1(batch: WriteBatch): Uint8Array {
  const parts: number[] = [];
  const view = new DataView(new ArrayBuffer(8));
  const bytes = (n: number) => parts.push(...new Uint8Array(view.buffer, 0, n));
  const u8 = (v: number) => parts.push(v);
  const u16 = (v: number) => (view.setUint16(0, v, true), bytes(2));
  const u32 = (v: number) => (view.setUint32(0, v, true), bytes(4));
  const f64 = (v: number) => (view.setFloat64(0, v, true), bytes(8));
  const str = (s: string) => {
    const utf8 = new TextEncoder().encode(s);
    u32(utf8.length);
    parts.push(...utf8);
  };
  const value = (type: FieldType, v: FieldValue) => {
    if (type === FieldType.Float) f64(v as number);
    else if (type === FieldType.Integer || type === FieldType.Unsigned) {
      if (typeof v === "number") (u8(0), f64(v));
      else (u8(1), view.setBigInt64(0, BigInt.asIntN(64, v as bigint), true), bytes(8));
    } else if (type === FieldType.String) str(v as string);
    else u8(v ? 1 : 0);
  };
  str(batch.database);
  str(batch.retentionPolicy);
  u32(batch.points.length);
  for (const p of batch.points) {
    str(p.measurement);
    u16(p.tags.length);
    for (const t of p.tags) (str(t.key), str(t.value));
    u16(p.fields.length);
    for (const f of p.fields) (str(f.key), u8(f.type), value(f.type, f.value));
    f64(p.timeMs);
    u32(p.timeSubMs);
  }
  return new Uint8Array(parts);
}

/**
 * The interned layout exactly as WAL version 2 wrote it before the series layout (record type 3
 * without the marker), kept here to make such records.
 */
function encodeInternedV2(batch: WriteBatch): Uint8Array {
  const strings: string[] = [];
  const index = new Map<string, number>();
  const body: number[] = [];
  const view = new DataView(new ArrayBuffer(8));
  const push = (into: number[], n: number) => into.push(...new Uint8Array(view.buffer, 0, n));
  const u8 = (v: number) => body.push(v);
  const u16 = (v: number) => (view.setUint16(0, v, true), push(body, 2));
  const u32 = (v: number, into = body) => (view.setUint32(0, v, true), push(into, 4));
  const f64 = (v: number) => (view.setFloat64(0, v, true), push(body, 8));
  const idx = (s: string) => {
    let i = index.get(s);
    if (i === undefined) index.set(s, i = strings.push(s) - 1);
    u32(i);
  };
  const inline = (s: string) => {
    const utf8 = new TextEncoder().encode(s);
    u32(utf8.length);
    body.push(...utf8);
  };
  idx(batch.database);
  idx(batch.retentionPolicy);
  u32(batch.points.length);
  for (const p of batch.points) {
    idx(p.measurement);
    u16(p.tags.length);
    for (const t of p.tags) (idx(t.key), idx(t.value));
    u16(p.fields.length);
    for (const f of p.fields) {
      idx(f.key);
      u8(f.type);
      const v = f.value;
      if (f.type === FieldType.Float) f64(v as number);
      else if (f.type === FieldType.Integer || f.type === FieldType.Unsigned) {
        if (typeof v === "number") (u8(0), f64(v));
        else (u8(1), view.setBigInt64(0, BigInt.asIntN(64, v as bigint), true), push(body, 8));
      } else if (f.type === FieldType.String) inline(v as string);
      else u8(v ? 1 : 0);
    }
    f64(p.timeMs);
    u32(p.timeSubMs);
  }
  const head: number[] = [];
  u32(strings.length, head);
  for (const s of strings) {
    const utf8 = new TextEncoder().encode(s);
    u32(utf8.length, head);
    head.push(...utf8);
  }
  return new Uint8Array([...head, ...body]);
}

const sample: Point[] = [{
  measurement: "cpu load",
  tags: [{ key: "host", value: "server,1" }, { key: "région", value: "é" }],
  fields: [
    { key: "f", type: FieldType.Float, value: -0.000123 },
    { key: "i", type: FieldType.Integer, value: -9223372036854775808n },
    { key: "j", type: FieldType.Integer, value: 42 },
    { key: "u", type: FieldType.Unsigned, value: 18446744073709551615n },
    { key: "s", type: FieldType.String, value: 'say "hi"\n' + "é".repeat(100) },
    { key: "b", type: FieldType.Boolean, value: true },
  ],
  timeMs: -1,
  timeSubMs: 999_999,
}, {
  measurement: "cpu load",
  tags: [{ key: "host", value: "server,1" }, { key: "région", value: "x".repeat(70) + "é" }],
  fields: [{ key: "f", type: FieldType.Float, value: 1.5 }, {
    key: "b",
    type: FieldType.Boolean,
    value: false,
  }],
  timeMs: 1_700_000_000_000,
  timeSubMs: 1,
}];

Deno.test("write batch codec: the series layout stores each string, series and shape once", () => {
  const batch = { database: "db", retentionPolicy: "autogen", points: sample };
  const bytes = encodeWriteBatch(batch);
  assert.deepEqual(plainBatch(decodeWriteBatch(bytes, "x", 0)), batch);
  const view = new DataView(bytes.buffer);
  assert.equal(view.getUint32(0, true), 0xffffffff);
  // db, autogen, cpu load, host, server,1, région, é, f, i, j, u, s, b, the 71-char value.
  assert.equal(view.getUint32(4, true), 14);
  // Many points of one series: far smaller than the interned layout, which is far smaller than
  // the plain one. Series layout: 8 bytes of indexes, 8 + 1 of values, 12 of time per point.
  const many = { ...batch, points: Array.from({ length: 100 }, () => sample[1]) };
  const series = encodeWriteBatch(many).length;
  const interned = encodeInternedV2(many).length, plain = encodePlainV1(many).length;
  assert.ok(interned < plain / 2, `interned ${interned} bytes, plain ${plain}`);
  assert.ok(series < 30 * 100 + 200, `series layout ${series} bytes`);
  assert.ok(series < interned / 1.5, `series layout ${series} bytes, interned ${interned}`);
});

Deno.test("write batch codec: interned records of WAL version 2 still decode", () => {
  const batch = { database: "db", retentionPolicy: "autogen", points: sample };
  const bytes = encodeInternedV2(batch);
  assert.equal(new DataView(bytes.buffer).getUint32(0, true), 14);
  assert.deepEqual(plainBatch(decodeWriteBatch(bytes, "x", 0, WriteBatchLayout.Interned)), batch);
});

Deno.test("write batch codec: version-1 plain records still decode", () => {
  const batch = { database: "db", retentionPolicy: "autogen", points: sample };
  assert.deepEqual(
    plainBatch(decodeWriteBatch(encodePlainV1(batch), "x", 0, WriteBatchLayout.Plain)),
    batch,
  );
});

Deno.test("write batch codec: any batch round-trips in every layout", () => {
  const text = fc.string({ unit: "binary", maxLength: 80 });
  const field = fc.oneof(
    fc.record({ key: text, type: fc.constant(FieldType.Float), value: fc.double() }, {
      noNullPrototype: true,
    }),
    fc.record({
      key: text,
      type: fc.constant(FieldType.Integer),
      value: fc.oneof(fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n), fc.maxSafeInteger()),
    }, { noNullPrototype: true }),
    fc.record({ key: text, type: fc.constant(FieldType.String), value: text }, {
      noNullPrototype: true,
    }),
    fc.record({ key: text, type: fc.constant(FieldType.Boolean), value: fc.boolean() }, {
      noNullPrototype: true,
    }),
  );
  const point = fc.record({
    measurement: fc.constantFrom("cpu", "mem", "é"),
    tags: fc.array(
      fc.record({ key: fc.constantFrom("a", "b"), value: text }, { noNullPrototype: true }),
      { maxLength: 3 },
    ),
    fields: fc.array(field, { minLength: 1, maxLength: 4 }),
    timeMs: fc.integer({ min: -1e12, max: 1e13 }),
    timeSubMs: fc.integer({ min: 0, max: 999_999 }),
  }, { noNullPrototype: true });
  fc.assert(
    fc.property(fc.array(point, { maxLength: 40 }), (points) => {
      const batch = { database: "d", retentionPolicy: "r", points: points as Point[] };
      assert.deepEqual(plainBatch(decodeWriteBatch(encodeWriteBatch(batch), "x", 0)), batch);
      assertIndexesName(batch);
      assert.deepEqual(plainBatch(decodeWriteBatch(encodeInternedV2(batch), "x", 0)), batch);
      assert.deepEqual(
        plainBatch(decodeWriteBatch(encodePlainV1(batch), "x", 0, WriteBatchLayout.Plain)),
        batch,
      );
    }),
    { numRuns: 200 },
  );
});

Deno.test("write batch codec: an index past its table is a corruption error", () => {
  const encode = () => encodeWriteBatch({ database: "db", retentionPolicy: "rp", points: sample });
  // Marker, string count and strings; then database and policy indexes, the series table (a
  // u32 count, then per series 4 + 2 + 8 per tag bytes), the shape table, the points.
  const layout = (bytes: Uint8Array) => {
    const view = new DataView(bytes.buffer);
    let pos = 8;
    for (let i = 0; i < view.getUint32(4, true); i++) pos += 4 + view.getUint32(pos, true);
    const database = pos;
    const seriesTable = database + 8;
    let shapeTable = seriesTable + 4;
    for (let i = 0; i < view.getUint32(seriesTable, true); i++) {
      shapeTable += 6 + 8 * view.getUint16(shapeTable + 4, true);
    }
    let points = shapeTable + 4;
    for (let i = 0; i < view.getUint32(shapeTable, true); i++) {
      points += 2 + 5 * view.getUint16(points, true);
    }
    return { view, database, seriesTable, shapeTable, firstPoint: points + 4 };
  };
  const cases: [(l: ReturnType<typeof layout>) => void, RegExp][] = [
    [(l) => l.view.setUint32(l.database, 999, true), /string index 999 .* table of 14 strings/],
    [(l) => l.view.setUint32(l.firstPoint, 7, true), /series index 7 .* table of 2 series\b/],
    [(l) => l.view.setUint32(l.firstPoint + 4, 9, true), /shape index 9 .* table of 2 shapes/],
  ];
  for (const [damage, message] of cases) {
    const bytes = encode();
    damage(layout(bytes));
    assert.throws(
      () => decodeWriteBatch(bytes, "f.wal", 8),
      (e) => e instanceof CorruptionError && message.test(e.message),
      String(message),
    );
  }
  for (const cut of [3, 30, 200, encode().length - 1]) {
    assert.throws(() => decodeWriteBatch(encode().subarray(0, cut), "f.wal", 8), CorruptionError);
  }
});

Deno.test("write batch codec: a string that is not UTF-8 is a corruption error, not a TypeError", () => {
  // The strict TextDecoder's TypeError escaped decodeWriteBatch, so a damaged record whose
  // checksum held stopped the engine's start with a TypeError. Found by tests/fuzz.
  const bytes = encodeWriteBatch({ database: "db", retentionPolicy: "rp", points: sample });
  // The string table starts at byte 8: the first string's length, then its bytes ("db").
  bytes[12] = 0xff;
  for (const layout of [WriteBatchLayout.Interned, WriteBatchLayout.Plain]) {
    assert.throws(
      () => decodeWriteBatch(bytes, "f.wal", 8, layout),
      (e) =>
        e instanceof CorruptionError && /not valid UTF-8|truncated|past the table/.test(e.message),
    );
  }
  assert.throws(
    () => decodeWriteBatch(bytes, "f.wal", 8),
    /corrupt data in f.wal at offset 8: the string of 2 bytes at byte 12 is not valid UTF-8/,
  );
});

Deno.test("write batch codec: a point count the payload cannot hold is refused before allocating", () => {
  // A damaged count of 30 million made the plain layout's decoder allocate the points array
  // (240 MB, half a second) before finding the payload too short. Found by tests/fuzz.
  const bytes = new Uint8Array(12 + 21);
  const view = new DataView(bytes.buffer);
  view.setUint32(8, 30_000_000, true); // empty database and policy, then the count
  view.setUint32(12, 1, true); // one whole point follows: "m", no tags, no fields, a time
  bytes[16] = 0x6d;
  assert.throws(
    () => decodeWriteBatch(bytes, "f.wal", 8, WriteBatchLayout.Plain),
    /write record payload truncated at byte 12$/,
  );
});

Deno.test("engine replays plain and interned records, then appends series-layout ones", async () => {
  const dir = await Deno.makeTempDir();
  const open = () =>
    StorageEngine.open({ dir, fs: denoFileSystem, clock: systemClock, logger: silentLogger });
  const first = await open();
  await first.createDatabase("db");
  await first.close();
  // Turn the active segment into one version 1 wrote: version byte 1, a plain write record.
  const names: string[] = [];
  for await (const e of Deno.readDir(`${dir}/wal`)) names.push(e.name);
  const path = `${dir}/wal/${names.sort().at(-1)}`;
  const segment = await Deno.readFile(path);
  assert.equal(segment[4], 2);
  segment[4] = 1;
  const old: Point = {
    measurement: "cpu",
    tags: [{ key: "host", value: "a" }],
    fields: [{ key: "v", type: FieldType.Integer, value: -9223372036854775808n }],
    timeMs: 1_700_000_000_000,
    timeSubMs: 7,
  };
  const record = frameRecord(
    RecordType.Write,
    encodePlainV1({ database: "db", retentionPolicy: "autogen", points: [old] }),
  );
  // Then an interned record as version 2 wrote it before the series layout.
  const later: Point = { ...old, timeSubMs: 8, fields: [{ ...old.fields[0], value: 3 }] };
  const interned = frameRecord(
    RecordType.WriteInterned,
    encodeInternedV2({ database: "db", retentionPolicy: "autogen", points: [later] }),
  );
  const v1 = new Uint8Array(segment.length + record.length + interned.length);
  v1.set(segment);
  v1.set(record, segment.length);
  v1.set(interned, segment.length + record.length);
  await Deno.writeFile(path, v1);

  const values = async (engine: StorageEngine) => {
    const out: unknown[] = [];
    for (const shard of engine.shards("db", "autogen", -(2n ** 63n), 2n ** 63n - 1n)) {
      for (const series of shard.series("cpu")) {
        const column = await shard.readField(series, "v", -(2n ** 63n), 2n ** 63n - 1n);
        for (let i = 0; i < (column?.length ?? 0); i++) {
          out.push([column!.timesMs[i], column!.timesSubMs[i], column!.values[i]]);
        }
      }
    }
    return out;
  };
  const second = await open();
  assert.deepEqual(await values(second), [
    [1_700_000_000_000, 7, -9223372036854775808n],
    [1_700_000_000_000, 8, 3],
  ]);
  // Last write wins across the record types and layouts (the new record: series layout).
  await second.write("db", undefined, [{ ...old, fields: [{ ...old.fields[0], value: 5 }] }]);
  await second.close();
  const third = await open();
  assert.deepEqual(await values(third), [[1_700_000_000_000, 7, 5], [1_700_000_000_000, 8, 3]]);
  await third.close();
});

Deno.test("write batch codec: a batch bigger than the kept buffers, then a small one", () => {
  const long = "x".repeat(300);
  const points: Point[] = Array.from({ length: 20_000 }, (_, i) => ({
    measurement: "m",
    tags: [{ key: "k", value: String(i % 7) }],
    fields: [{ key: "s", type: FieldType.String, value: long + i }],
    timeMs: i,
    timeSubMs: 0,
  }));
  const big = { database: "db", retentionPolicy: "rp", points };
  const bytes = encodeWriteBatch(big);
  assert.ok(bytes.length > 6_000_000);
  assert.deepEqual(plainBatch(decodeWriteBatch(bytes, "x", 0)), big);
  const small = { database: "db", retentionPolicy: "rp", points: sample };
  assert.deepEqual(plainBatch(decodeWriteBatch(encodeWriteBatch(small), "x", 0)), small);
});

Deno.test("write batch: points sharing Tag objects and field keys in other shapes keep theirs", () => {
  // The encoder finds series by their first Tag object and shapes by their first key: points
  // that share some of those but differ elsewhere must still come back exactly.
  const a = { key: "a", value: "1" }, b = { key: "b", value: "2" }, c = { key: "c", value: "3" };
  const f = (key: string, value: number): Field => ({ key, type: FieldType.Float, value });
  const point = (measurement: string, tags: Tag[], fields: Field[]): Point => ({
    measurement,
    tags,
    fields,
    timeMs: 1,
    timeSubMs: 2,
  });
  const shared = [a, b];
  const points: Point[] = [
    point("m", shared, [f("x", 1), f("y", 2)]),
    point("m", shared, [f("y", 3), f("x", 4)]),
    point("m", [a, c], [f("x", 5)]),
    point("n", [a], [f("x", 6), f("y", 7), f("z", 8)]),
    point("n", [a, b, c], [f("z", 9)]),
    point("m", [], [f("x", 10)]),
    point("m", [a, b], [f("x", 11)]),
    // The same keys with other types (another measurement): another shape.
    point("q", [a, b], [{ key: "x", type: FieldType.Integer, value: 12 }]),
    point("q", [a, b], [{ key: "x", type: FieldType.String, value: "13" }]),
  ];
  const batch = { database: "db", retentionPolicy: "rp", points };
  assert.deepEqual(plainBatch(decodeWriteBatch(encodeWriteBatch(batch), "f", 0)), batch);
});

/** A decoded batch with plain points, to compare with the literal it was encoded from. */
function plainBatch(batch: WriteBatch): WriteBatch {
  return { ...batch, points: plainPoints(batch.points) };
}

/** The point indexes of a batch's series layout name each point's own series and shape. */
function assertIndexesName(batch: WriteBatch): void {
  const { batch: decoded, indexes } = decodeIndexedWriteBatch(encodeWriteBatch(batch), "x", 0);
  assert.deepEqual(plainBatch(decoded), plainBatch(batch));
  assert.ok(indexes !== null, "the series layout has point indexes");
  const seriesOf = new Map<number, string>(), shapeOf = new Map<number, string>();
  for (let i = 0; i < batch.points.length; i++) {
    const { measurement, tags, fields } = batch.points[i];
    const series = JSON.stringify([measurement, tags]);
    const shape = JSON.stringify(fields.map((f) => [f.key, f.type]));
    assert.ok(indexes.series[i] < indexes.seriesCount && indexes.shapes[i] < indexes.shapeCount);
    assert.equal(seriesOf.get(indexes.series[i]) ?? series, series, `series of point ${i}`);
    assert.equal(shapeOf.get(indexes.shapes[i]) ?? shape, shape, `shape of point ${i}`);
    seriesOf.set(indexes.series[i], series);
    shapeOf.set(indexes.shapes[i], shape);
  }
}

Deno.test("write batch codec: point indexes name one series and shape per point, older layouts have none", () => {
  const batch = { database: "db", retentionPolicy: "autogen", points: sample };
  // Points of one series share their Tag objects (as parsed and decoded points do): one index.
  const many = decodeWriteBatch(
    encodeWriteBatch({ ...batch, points: [...sample, ...sample, ...sample] }),
    "x",
    0,
  );
  const { indexes } = decodeIndexedWriteBatch(encodeWriteBatch(many), "x", 0);
  assert.deepEqual(indexes?.series, new Uint32Array([0, 1, 0, 1, 0, 1]));
  assert.equal(indexes?.seriesCount, 2);
  assert.deepEqual(indexes?.shapes, new Uint32Array([0, 1, 0, 1, 0, 1]));
  assertIndexesName(many);
  assert.equal(decodeIndexedWriteBatch(encodeInternedV2(batch), "x", 0).indexes, null);
  const plain = decodeIndexedWriteBatch(encodePlainV1(batch), "x", 0, WriteBatchLayout.Plain);
  assert.equal(plain.indexes, null);
});

Deno.test("batch codec: a batch of many shapes that share their first key encodes in linear time", () => {
  // Sparse fields: every point a shape of its own. A list of shapes per first key, compared
  // one by one, made the shared-first-key batch 13-20x slower than the distinct one.
  const batchOf = (keysOf: (i: number) => string[]): WriteBatch => ({
    database: "db",
    retentionPolicy: "rp",
    points: Array.from({ length: 8000 }, (_, i) => ({
      measurement: "m",
      tags: [],
      fields: keysOf(i).map((key) => ({ key, type: FieldType.Float, value: i })),
      timeMs: i,
      timeSubMs: 0,
    })),
  });
  const time = (batch: WriteBatch): number => {
    const start = performance.now();
    const bytes = encodeWriteBatch(batch);
    const took = performance.now() - start;
    assert.deepEqual(plainBatch(decodeWriteBatch(bytes, "x", 0)), batch);
    return took;
  };
  time(batchOf((i) => [`w${i}`, "v"])); // warm up
  const distinct = time(batchOf((i) => [`a${i}`, "v"]));
  const shared = time(batchOf((i) => ["v", `a${i}`]));
  assert.ok(shared < 5 * distinct + 50, `shared first key ${shared} ms, distinct ${distinct} ms`);
});
