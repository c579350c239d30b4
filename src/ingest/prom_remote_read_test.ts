import assert from "node:assert/strict";
import snappyjs from "snappyjs";
import { ParseError } from "../core/mod.ts";
import {
  compressSnappy,
  decodePromReadRequest,
  decodePromReadResponse,
  encodePromReadRequest,
  encodePromReadResponse,
  type PromReadRequest,
  type PromReadSeries,
} from "./prom_remote_read.ts";
import { uncompressSnappy } from "./prom_remote_write.ts";

Deno.test("remote_read: a ReadRequest round-trips, negative and 64-bit times included", () => {
  const request: PromReadRequest = {
    queries: [
      {
        startMs: -1_500,
        endMs: 1_700_000_000_123,
        matchers: [
          { type: "EQ", name: "__name__", value: "up" },
          { type: "NEQ", name: "job", value: "" },
          { type: "RE", name: "instance", value: "h.*é" },
          { type: "NRE", name: "le", value: "+Inf|1" },
        ],
      },
      { startMs: 0, endMs: 0, matchers: [] },
    ],
    acceptedResponseTypes: [0, 1],
  };
  assert.deepEqual(decodePromReadRequest(encodePromReadRequest(request)), request);
  // By hand, from remote.proto: queries = 1, accepted_response_types = 2 (packed here);
  // Query.start_timestamp_ms = 1, end = 2.
  const packed = Uint8Array.of(0x0a, 0x04, 0x08, 0x05, 0x10, 0x07, 0x12, 0x01, 0x01);
  assert.deepEqual(decodePromReadRequest(packed), {
    queries: [{ startMs: 5, endMs: 7, matchers: [] }],
    acceptedResponseTypes: [1],
  });
});

Deno.test("remote_read: a ReadResponse round-trips; field numbers as types.proto has them", () => {
  const series: PromReadSeries[] = [{
    labels: [{ name: "__name__", value: "up" }, { name: "job", value: "ü" }],
    timestampsMs: [-1, 0, 1_700_000_000_000],
    values: [1.5, -0, 1e300],
  }, { labels: [{ name: "__name__", value: "x" }], timestampsMs: [], values: [] }];
  const bytes = encodePromReadResponse([series, []]);
  assert.deepEqual(decodePromReadResponse(bytes), [series, []]);
  // One result, one series, label {a: b}, sample {value 1.0, timestamp 2}.
  const one = encodePromReadResponse([[{
    labels: [{ name: "a", value: "b" }],
    timestampsMs: [2],
    values: [1],
  }]]);
  const double1 = [0, 0, 0, 0, 0, 0, 0xf0, 0x3f];
  assert.deepEqual([...one], [
    0x0a,
    0x17, // ReadResponse.results = 1
    0x0a,
    0x15, // QueryResult.timeseries = 1
    0x0a,
    0x06,
    0x0a,
    0x01,
    0x61,
    0x12,
    0x01,
    0x62, // TimeSeries.labels = 1 {name = 1, value = 2}
    0x12,
    0x0b,
    0x09,
    ...double1,
    0x10,
    0x02, // TimeSeries.samples = 2 {value = 1, timestamp = 2}
  ]);
});

Deno.test("remote_read: bad protobuf is a ParseError naming the message and byte", () => {
  assert.throws(
    () => decodePromReadRequest(Uint8Array.of(0x0a, 0x09, 1)),
    (e) => e instanceof ParseError && /remote_read ReadRequest at byte 2/.test(e.message),
  );
  assert.throws(
    () => decodePromReadRequest(Uint8Array.of(0x0a, 0x02, 0x1a, 0x02, 0x08, 0x09)),
    (e) => e instanceof ParseError && /runs past the end|unknown matcher type/.test(e.message),
  );
});

Deno.test("compressSnappy: what it compresses comes back, through ours and snappyjs", () => {
  const uncompress = (snappyjs as { uncompress(b: Uint8Array): Uint8Array }).uncompress;
  const random = Uint8Array.from({ length: 200_003 }, (_, i) => (i * 7919 + (i >> 3)) & 0xff);
  for (const n of [0, 1, 60, 61, 256, 257, 65536, 65537, 200_003]) {
    const data = random.subarray(0, n);
    const packed = compressSnappy(data);
    assert.deepEqual(uncompressSnappy(packed, 1 << 20), data, `${n} bytes`);
    assert.deepEqual(uncompress(packed), data, `${n} bytes (snappyjs)`);
  }
});
