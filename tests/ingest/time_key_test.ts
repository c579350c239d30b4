/**
 * A tag or field named `time` is refused per point in every format, with InfluxDB 1.6's message,
 * and the other points of the request are written. Before, such a point was stored and then
 * hidden from `SELECT *` (its `time` column is the timestamp).
 */
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import snappy from "snappyjs";
import { setup } from "./_app.ts";
import {
  FieldSchema,
  PointSchema,
  TagSchema,
  WriteRequestSchema,
} from "../../src/rpc/gen/epochnexus/ingest/v1/ingest_pb.ts";

const TAG = 'invalid tag key: input tag "time" on measurement "m" is invalid';
const FIELD = 'invalid field name: input field "time" on measurement "m" is invalid';

/** A remote_write WriteRequest of series (labels, one sample at `ms`), encoded by hand. */
function promWrite(series: [Record<string, string>, number][]): Uint8Array<ArrayBuffer> {
  const enc = new TextEncoder();
  const varint = (out: number[], v: number) => {
    while (v >= 0x80) {
      out.push((v % 128) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(v);
  };
  const field = (out: number[], tag: number, payload: number[]) => {
    out.push(tag);
    varint(out, payload.length);
    out.push(...payload);
  };
  const request: number[] = [];
  for (const [labels, ms] of series) {
    const ts: number[] = [];
    for (const [name, value] of Object.entries(labels)) {
      const label: number[] = [];
      field(label, 0x0a, [...enc.encode(name)]);
      field(label, 0x12, [...enc.encode(value)]);
      field(ts, 0x0a, label);
    }
    const sample = [0x09, ...new Uint8Array(new Float64Array([1]).buffer), 0x10];
    varint(sample, ms);
    field(ts, 0x12, sample);
    field(request, 0x0a, ts);
  }
  return (snappy as { compress(b: Uint8Array): Uint8Array<ArrayBuffer> }).compress(
    new Uint8Array(request),
  );
}

Deno.test("a tag or field named time is refused in every format, the rest written", async () => {
  const { post, call, rows, close } = await setup();
  try {
    await call("/query?q=CREATE%20DATABASE%20d", { method: "POST" });

    // /write answers exactly as InfluxDB 1.6.7 (tests/differential/write_test.ts compares).
    const lp = await post("/write?db=d&precision=s", "text/plain", "m,time=x v=1 1\nm v=2 2\n");
    assert.deepEqual([lp.status, lp.json], [400, { error: `partial write: ${TAG} dropped=1` }]);
    const lpField = await post("/write?db=d&precision=s", "text/plain", "m time=1 3\nm v=4 4\n");
    assert.deepEqual(lpField.json, { error: `partial write: ${FIELD} dropped=1` });

    const cases: [string, string, BodyInit, { record?: number; line?: number }[]][] = [
      [
        "/ingest?db=d&precision=s",
        "application/json",
        JSON.stringify([
          { measurement: "m", tags: { time: "x" }, value: 1, timestamp: 5 },
          { measurement: "m", fields: { time: 1.5 }, timestamp: 6 },
          { measurement: "m", fields: { v: 7 }, timestamp: 7 },
        ]),
        [{ record: 1 }, { record: 2 }],
      ],
      [
        "/ingest?db=d&precision=s",
        "application/x-ndjson",
        '{"measurement":"m","fields":{"v":8},"timestamp":8}\n' +
        '{"measurement":"m","tags":{"time":"x"},"value":1,"timestamp":9}\n' +
        '{"measurement":"m","fields":{"time":1,"v":2},"timestamp":10}\n',
        [{ line: 2 }, { line: 3 }],
      ],
      [
        "/ingest?db=d&precision=s&time_column=ts&tags=time&types=v:float",
        "text/csv",
        "ts,measurement,time,v\n11,m,x,1\n12,m,,12\n",
        [{ record: 1 }],
      ],
      [
        "/ingest?db=d&precision=s&time_column=ts&types=v:float",
        "text/csv",
        "ts,measurement,time,v\n13,m,1,\n14,m,,14\n",
        [{ record: 1 }],
      ],
      [
        "/ingest?db=d",
        "application/x-protobuf",
        toBinary(
          WriteRequestSchema,
          create(WriteRequestSchema, {
            points: [
              create(PointSchema, {
                measurement: "m",
                tags: [create(TagSchema, { key: "time", value: "x" })],
                fields: [
                  create(FieldSchema, { key: "v", value: { case: "floatValue", value: 1 } }),
                ],
                timeUnixNano: 15_000_000_000n,
              }),
              create(PointSchema, {
                measurement: "m",
                fields: [
                  create(FieldSchema, { key: "time", value: { case: "floatValue", value: 1 } }),
                ],
                timeUnixNano: 16_000_000_000n,
              }),
              create(PointSchema, {
                measurement: "m",
                fields: [
                  create(FieldSchema, { key: "v", value: { case: "floatValue", value: 17 } }),
                ],
                timeUnixNano: 17_000_000_000n,
              }),
            ],
          }),
        ),
        [{ record: 1 }, { record: 2 }],
      ],
    ];
    for (const [path, type, body, where] of cases) {
      const answer = await post(path, type, body);
      assert.equal(answer.status, 400, `${type}: ${answer.text}`);
      const errors = answer.json.error.errors as { reason: string }[];
      assert.deepEqual(
        errors.map(({ reason: _, ...at }) => at),
        where,
        `${type}: ${answer.text}`,
      );
      for (const e of errors) assert.ok([TAG, FIELD].includes(e.reason), `${type}: ${e.reason}`);
    }

    // remote_write: a series with a label named time is refused, the others written.
    const prom = await post(
      "/api/v1/prom/write?db=d",
      "application/x-protobuf",
      promWrite([[{ __name__: "m", time: "x" }, 18_000], [{ __name__: "m" }, 19_000]]),
      { "content-encoding": "snappy" },
    );
    assert.equal(prom.status, 400, prom.text);
    assert.deepEqual(prom.json.error.errors, [{ record: 1, reason: TAG }]);

    // Only the good points were stored, and SELECT * shows all of them.
    const stored = await rows("SELECT * FROM m", "d");
    assert.deepEqual(
      stored.map((r) => Number(r[0]) / 1e9),
      [2, 4, 7, 8, 12, 14, 17, 19],
    );
    const keys = await call("/query?db=d&q=SHOW%20FIELD%20KEYS;SHOW%20TAG%20KEYS", {
      method: "POST",
    });
    assert.deepEqual(keys.json.results[0].series[0].values, [["v", "float"], ["value", "float"]]);
    assert.equal(keys.json.results[1].series, undefined, "no tag key at all");
  } finally {
    await close();
  }
});
