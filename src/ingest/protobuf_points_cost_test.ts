/**
 * What a protobuf point of many fields costs: linear (a 40,000-field point took 14 s, its keys
 * compared pairwise). CPU timings and generous bounds: see _cost_test_util.ts.
 */
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { decodeProtobufWrite } from "./protobuf_points.ts";
import { assertDoublesLinearly } from "./_cost_test_util.ts";
import {
  FieldSchema,
  PointSchema,
  WriteRequestSchema,
} from "../rpc/gen/epochnexus/ingest/v1/ingest_pb.ts";

const EPOCH = { ms: 0, subMs: 0 };

/** One point of `n` float fields; `repeat` makes the last key the same as field `repeat`'s. */
function wide(n: number, repeat?: number): Uint8Array {
  const fields = Array.from({ length: n }, (_, i) =>
    create(FieldSchema, {
      key: `f${i === n - 1 && repeat !== undefined ? repeat : i}`,
      value: { case: "floatValue", value: i },
    }));
  return toBinary(
    WriteRequestSchema,
    create(WriteRequestSchema, { points: [create(PointSchema, { measurement: "m", fields })] }),
  );
}

Deno.test("protobuf cost: a point of tens of thousands of fields decodes in linear time", () => {
  const small = wide(20_000), large = wide(40_000);
  const t = assertDoublesLinearly(
    "fields",
    () => decodeProtobufWrite(small, { defaultTime: EPOCH }),
    () => decodeProtobufWrite(large, { defaultTime: EPOCH }),
  );
  assert.ok(t.large < 1000, `40,000 fields took ${t.large.toFixed(0)} ms of CPU`);
  assert.equal(
    decodeProtobufWrite(large, { defaultTime: EPOCH }).batch.points[0].fields.length,
    40_000,
  );
});

Deno.test("protobuf: a field given twice is found among few fields and among many", () => {
  for (const n of [5, 17, 20_000]) {
    const { batch } = decodeProtobufWrite(wide(n, 3), { defaultTime: EPOCH });
    assert.deepEqual(batch.errors, [{ record: 1, field: "f3", reason: 'field "f3" given twice' }]);
    assert.equal(batch.points.length, 0);
  }
});
