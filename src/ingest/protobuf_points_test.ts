import assert from "node:assert/strict";
import fc from "fast-check";
import { create, toBinary } from "@bufbuild/protobuf";
import { FieldType, instantFromNanos, MAX_TIME_NS, MIN_TIME_NS } from "../core/mod.ts";
import {
  FieldSchema,
  PointSchema,
  TagSchema,
  WriteRequestSchema,
} from "../rpc/gen/epochnexus/ingest/v1/ingest_pb.ts";
import { plainPoints } from "../core/testing/mod.ts";
import { decodeProtobufWrite } from "./protobuf_points.ts";

const EPOCH = { ms: 0, subMs: 0 };

Deno.test("protobuf: any int64 time, int64 and uint64 round-trip exactly (generated encoder)", () => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: MIN_TIME_NS, max: MAX_TIME_NS }),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.string({ minLength: 1, maxLength: 20 }),
      (time, int, uint, float, name) => {
        const bytes = toBinary(
          WriteRequestSchema,
          create(WriteRequestSchema, {
            database: "d",
            points: [create(PointSchema, {
              measurement: name,
              tags: [create(TagSchema, { key: "k", value: name })],
              fields: [
                create(FieldSchema, { key: "i", value: { case: "intValue", value: int } }),
                create(FieldSchema, { key: "u", value: { case: "uintValue", value: uint } }),
                create(FieldSchema, { key: "f", value: { case: "floatValue", value: float } }),
              ],
              timeUnixNano: time,
            })],
          }),
        );
        const { database, batch } = decodeProtobufWrite(bytes, { defaultTime: EPOCH });
        assert.equal(database, "d");
        assert.deepEqual(batch.errors, []);
        const p = batch.points[0];
        const t = instantFromNanos(time);
        assert.deepEqual([p.timeMs, p.timeSubMs], [t.ms, t.subMs]);
        assert.equal(p.measurement, name);
        assert.equal(BigInt(p.fields[0].value as number | bigint), int);
        assert.equal(p.fields[0].type, FieldType.Integer);
        assert.equal(BigInt(p.fields[1].value as number | bigint), uint);
        assert.equal(p.fields[1].type, FieldType.Unsigned);
        assert.ok(Object.is(p.fields[2].value, float));
        // Safe integers are numbers, larger ones bigints.
        assert.equal(
          typeof p.fields[0].value,
          Number.isSafeInteger(Number(int)) && BigInt(Number(int)) === int ? "number" : "bigint",
        );
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("protobuf: times outside InfluxDB's range, bad points and truncation", () => {
  const request = create(WriteRequestSchema, {
    points: [
      create(PointSchema, {
        measurement: "m",
        fields: [create(FieldSchema, { key: "v", value: { case: "floatValue", value: 1 } })],
        timeUnixNano: 2n ** 63n - 1n,
      }),
      create(PointSchema, {
        measurement: "m",
        fields: [create(FieldSchema, { key: "v", value: { case: "floatValue", value: 1 } })],
        timeUnixNano: -(2n ** 63n),
      }),
      create(PointSchema, {
        measurement: "m",
        fields: [
          create(FieldSchema, { key: "v", value: { case: "floatValue", value: 1 } }),
          create(FieldSchema, { key: "v", value: { case: "boolValue", value: true } }),
        ],
      }),
      create(PointSchema, {
        measurement: "m",
        fields: [create(FieldSchema, { key: "v", value: { case: "floatValue", value: NaN } })],
      }),
      create(PointSchema, { fields: [create(FieldSchema, { key: "v" })] }),
      create(PointSchema, {
        measurement: "ok",
        tags: [
          create(TagSchema, { key: "b", value: "2" }),
          create(TagSchema, { key: "a", value: "1" }),
        ],
        fields: [create(FieldSchema, { key: "v", value: { case: "stringValue", value: "é" } })],
      }),
    ],
  });
  const bytes = toBinary(WriteRequestSchema, request);
  const { batch } = decodeProtobufWrite(bytes, { defaultTime: { ms: 5, subMs: 6 } });
  assert.deepEqual(batch.errors.map((e) => [e.record, e.field, e.reason]), [
    [1, "time_unix_nano", "time outside range -9223372036854775806 - 9223372036854775806"],
    [2, "time_unix_nano", "time outside range -9223372036854775806 - 9223372036854775806"],
    [3, "v", 'field "v" given twice'],
    [4, "v", 'field "v": NaN is not a finite float'],
    [5, "v", 'field "v" has no value'],
  ]);
  assert.deepEqual(plainPoints(batch.points), [{
    measurement: "ok",
    tags: [{ key: "a", value: "1" }, { key: "b", value: "2" }],
    fields: [{ key: "v", type: FieldType.String, value: "é" }],
    timeMs: 5,
    timeSubMs: 6,
  }]);
  assert.deepEqual(batch.origins, [6]);
  for (const cut of [1, 7, bytes.length - 1]) {
    assert.throws(
      () => decodeProtobufWrite(bytes.subarray(0, cut), { defaultTime: EPOCH }),
      /malformed protobuf WriteRequest at byte \d+/,
    );
  }
});
