/**
 * Every decoder besides line protocol's (JSON, NDJSON, CSV, protobuf, remote_write) hands out
 * packed points whose layouts come from the caller's `FieldLayouts`: the points of the same
 * field keys, types and order share one frozen layout object, within a body and across bodies
 * given the same cache, and each point keeps its own values (its tags are shared Tag objects).
 * @module
 */
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import {
  type FieldLayout,
  FieldLayouts,
  FieldType,
  type FieldValue,
  PackedPoint,
  type Point,
} from "../core/mod.ts";
import {
  FieldSchema,
  PointSchema,
  TagSchema,
  WriteRequestSchema,
} from "../rpc/gen/epochnexus/ingest/v1/ingest_pb.ts";
import { decodeCsvStream } from "./csv_points.ts";
import { decodeJsonPoints } from "./json_points.ts";
import { NdjsonDecoder } from "./ndjson.ts";
import { decodeProtobufWrite } from "./protobuf_points.ts";
import { decodePromWrite } from "./prom_remote_write.ts";
import { promWriteRequest } from "./_prom_test_util.ts";

const EPOCH = { ms: 0, subMs: 0 };
const enc = new TextEncoder();
const F = FieldType.Float, I = FieldType.Integer;

/** A record: host tag, fields as [key, type, value]. */
type Rec = [host: string, fields: [string, FieldType, number][]];

/**
 * The body every format that can say it decodes: the layout groups are [0, 1, 5] (u,s floats),
 * [2] (s,u: another order), [3] (u an integer), [4] (fewer fields).
 */
const RECORDS: Rec[] = [
  ["a", [["u", F, 1.5], ["s", F, 2.5]]],
  ["b", [["u", F, 3.5], ["s", F, 4.5]]],
  ["a", [["s", F, 5.5], ["u", F, 6.5]]],
  ["a", [["u", I, 7], ["s", F, 8.5]]],
  ["a", [["u", F, 9.5]]],
  ["c", [["u", F, 10.5], ["s", F, 11.5]]],
];
const GROUPS = [[0, 1, 5], [2], [3], [4]];

const jsonRecord = ([host, fields]: Rec) =>
  JSON.stringify({
    measurement: "cpu",
    tags: { host },
    fields: Object.fromEntries(fields.map(([k, t, v]) => [k, t === I ? { integer: v } : v])),
  });

function protobufBody(records: Rec[]): Uint8Array {
  return toBinary(
    WriteRequestSchema,
    create(WriteRequestSchema, {
      points: records.map(([host, fields]) =>
        create(PointSchema, {
          measurement: "cpu",
          tags: [create(TagSchema, { key: "host", value: host })],
          fields: fields.map(([key, t, v]) =>
            create(FieldSchema, {
              key,
              value: t === I
                ? { case: "intValue", value: BigInt(v) }
                : { case: "floatValue", value: v },
            })
          ),
        })
      ),
    }),
  );
}

/** The decoders that can say every record of RECORDS, each over one body. */
const DECODERS: [string, (records: Rec[], layouts: FieldLayouts) => Promise<Point[]>][] = [
  ["JSON", (records, layouts) =>
    Promise.resolve(
      decodeJsonPoints(`[${records.map(jsonRecord).join(",")}]`, { defaultTime: EPOCH, layouts })
        .points,
    )],
  ["NDJSON", (records, layouts) => {
    const decoder = new NdjsonDecoder({ defaultTime: EPOCH, layouts });
    const batch = decoder.push(enc.encode(records.map(jsonRecord).join("\n") + "\n"));
    assert.deepEqual(batch.errors, []);
    return Promise.resolve(batch.points);
  }],
  ["protobuf", (records, layouts) =>
    Promise.resolve(
      decodeProtobufWrite(protobufBody(records), { defaultTime: EPOCH, layouts }).batch.points,
    )],
];

/** What a point says: its fields as `key:type=value`. */
const said = (p: Point) => p.fields.map((f) => `${f.key}:${f.type}=${f.value}`).join();

function packedOf(points: Point[], what: string): PackedPoint[] {
  return points.map((p, i) => {
    assert.ok(p instanceof PackedPoint, `${what}: point ${i} is packed`);
    return p;
  });
}

/** Asserts `layouts[i]` is one object within each group and differs between groups. */
function assertGroups(layouts: FieldLayout[], groups: number[][], what: string): void {
  for (const group of groups) {
    for (const i of group) {
      assert.equal(layouts[i], layouts[group[0]], `${what}: point ${i} shares point ${group[0]}'s`);
    }
  }
  assert.equal(new Set(layouts).size, groups.length, `${what}: one layout per group`);
  for (const layout of layouts) {
    assert.ok(Object.isFrozen(layout) && Object.isFrozen(layout.keys), `${what}: frozen`);
    assert.ok(Object.isFrozen(layout.types), `${what}: frozen types`);
  }
}

Deno.test("packed decoders: JSON, NDJSON and protobuf points of the same fields share one layout, and only those", async () => {
  for (const [name, decode] of DECODERS) {
    const layouts = new FieldLayouts();
    const points = packedOf(await decode(RECORDS, layouts), name);
    assert.deepEqual(
      points.map(said),
      RECORDS.map(([, fields]) => fields.map(([k, t, v]) => `${k}:${t}=${v}`).join()),
      name,
    );
    assertGroups(points.map((p) => p.layout), GROUPS, name);
    // Each point has values of its own; the points of a series share their Tag objects.
    assert.notEqual(points[0].values, points[1].values, name);
    assert.equal(points[2].tags[0], points[0].tags[0], `${name}: one Tag per key and value`);
    // Another body with the same cache (a server's, per database): the same layout objects.
    const again = packedOf(await decode([RECORDS[3], RECORDS[0]], layouts), name);
    assert.equal(again[0].layout, points[3].layout, `${name}: across bodies`);
    assert.equal(again[1].layout, points[0].layout, `${name}: across bodies`);
    // Another cache: layouts of its own.
    const other = packedOf(await decode([RECORDS[0]], new FieldLayouts()), name);
    assert.notEqual(other[0].layout, points[0].layout, `${name}: another cache`);
  }
});

Deno.test("packed decoders: CSV rows of the same filled columns share one layout, and only those", async () => {
  const body = "time,measurement,host,u,s\n" +
    "1,cpu,a,1.5,2.5\n2,cpu,b,3.5,4.5\n3,cpu,a,,5.5\n4,cpu,a,6.5,\n5,cpu,c,7.5,8.5\n";
  const layouts = new FieldLayouts();
  const decode = async (text: string) => {
    const points: Point[] = [];
    const stream = ReadableStream.from([enc.encode(text)]);
    const options = { defaultTime: EPOCH, tags: ["host"], layouts };
    for await (const batch of decodeCsvStream(stream, options)) {
      assert.deepEqual(batch.errors, []);
      points.push(...batch.points);
    }
    return packedOf(points, "CSV");
  };
  const points = await decode(body);
  assert.deepEqual(points.map(said), [
    "u:1=1.5,s:1=2.5",
    "u:1=3.5,s:1=4.5",
    "s:1=5.5",
    "u:1=6.5",
    "u:1=7.5,s:1=8.5",
  ]);
  assertGroups(points.map((p) => p.layout), [[0, 1, 4], [2], [3]], "CSV");
  const again = await decode("measurement,host,u,s\ncpu,z,0.5,0.25\n");
  assert.equal(again[0].layout, points[0].layout, "CSV: across bodies");
});

Deno.test("packed decoders: every remote_write sample shares the layout of one float `value`, with JSON's", () => {
  const layouts = new FieldLayouts();
  const body = Uint8Array.from([
    ...promWriteRequest([["__name__", "up"], ["job", "a"]], 3),
    ...promWriteRequest([["__name__", "load"], ["job", "b"]], 2),
  ]);
  const points = packedOf(decodePromWrite(body, { layouts }).batch.points, "remote_write");
  assert.deepEqual(points.map((p) => [p.measurement, said(p), p.timeMs]), [
    ["up", "value:1=1", 1],
    ["up", "value:1=2", 2],
    ["up", "value:1=3", 3],
    ["load", "value:1=1", 1],
    ["load", "value:1=2", 2],
  ]);
  assertGroups(points.map((p) => p.layout), [[0, 1, 2, 3, 4]], "remote_write");
  const values = new Set<readonly FieldValue[]>(points.map((p) => p.values));
  assert.equal(values.size, points.length, "each sample has values of its own");
  // A JSON point of the same one field, through the same cache, shares it too.
  const json = decodeJsonPoints('{"measurement":"up","value":1}', { defaultTime: EPOCH, layouts });
  assert.equal((json.points[0] as PackedPoint).layout, points[0].layout);
});
