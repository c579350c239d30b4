/**
 * Prometheus remote_write with payloads made by an independent encoder (buf, from the
 * published remote.proto/types.proto in testdata/, compressed by snappyjs), and the Connect
 * IngestService called by @connectrpc/connect-web (unary) and a Connect transport over the
 * node's fetch handler (client streaming).
 */
import assert from "node:assert/strict";
import snappy from "snappyjs";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { createFetchClient } from "@connectrpc/connect/protocol";
import { createTransport } from "@connectrpc/connect/protocol-connect";
import { setup } from "./_app.ts";
import {
  FieldSchema,
  IngestService,
  PointSchema,
  TagSchema,
  WriteStreamRequestSchema,
} from "../../src/rpc/gen/epochnexus/ingest/v1/ingest_pb.ts";

const compress = (snappy as { compress(b: Uint8Array): Uint8Array<ArrayBuffer> }).compress;
const ROOT = new URL("../../", import.meta.url).pathname;
const BUF =
  `${ROOT}node_modules/.deno/@bufbuild+buf-linux-x64@1.75.0/node_modules/@bufbuild/buf-linux-x64/bin/buf`;

/** Encodes a remote_write WriteRequest given as proto3 JSON with buf and the published protos. */
async function encodeWithBuf(request: unknown): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/in.json`, JSON.stringify(request));
    const out = await new Deno.Command(BUF, {
      args: [
        "convert",
        ".",
        "--type",
        "prometheus.WriteRequest",
        "--from",
        `${dir}/in.json#format=json`,
        "--to",
        `${dir}/out.binpb`,
      ],
      cwd: `${ROOT}tests/ingest/testdata`,
    }).output();
    if (out.code !== 0) throw new Error(new TextDecoder().decode(out.stderr));
    return await Deno.readFile(`${dir}/out.binpb`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("remote_write: a buf-encoded, snappy-compressed payload becomes queryable points", async () => {
  const { post, rows, close } = await setup();
  try {
    const payload = await encodeWithBuf({
      timeseries: [
        {
          labels: [
            { name: "__name__", value: "node_cpu_seconds_total" },
            { name: "job", value: "node" },
            { name: "cpu", value: "0" },
            { name: "empty", value: "" },
          ],
          samples: [
            { value: 12.5, timestamp: "1700000000000" },
            { value: 13.25, timestamp: "1700000015000" },
            { value: "NaN", timestamp: "1700000030000" }, // a staleness marker: skipped
          ],
        },
        {
          labels: [{ name: "__name__", value: "up" }, { name: "job", value: "node" }],
          samples: [{ value: 1, timestamp: "-1000" }],
        },
        { labels: [{ name: "job", value: "nameless" }], samples: [{ value: 1, timestamp: "1" }] },
      ],
      metadata: [{ type: "COUNTER", metricFamilyName: "node_cpu_seconds_total", help: "x" }],
    });
    const headers = { "content-encoding": "snappy", "x-prometheus-remote-write-version": "0.1.0" };
    const r = await post(
      "/api/v1/prom/write",
      "application/x-protobuf",
      compress(payload),
      headers,
    );
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.accepted, 3);
    assert.deepEqual(r.json.error.errors, [
      { record: 3, field: "__name__", reason: "series has no __name__ label" },
    ]);
    assert.deepEqual(await rows('SELECT cpu, job, "value" FROM node_cpu_seconds_total'), [
      [1700000000000000000, "0", "node", 12.5],
      [1700000015000000000, "0", "node", 13.25],
    ]);
    assert.deepEqual(await rows("SELECT value FROM up"), [[-1000000000, 1]]);

    const good = await encodeWithBuf({
      timeseries: [{
        labels: [{ name: "__name__", value: "up" }, { name: "job", value: "b" }],
        samples: [{ value: 0, timestamp: "1700000000000" }],
      }],
    });
    const ok = await post("/api/v1/prom/write", "application/x-protobuf", compress(good), headers);
    assert.equal(ok.status, 204, ok.text);
  } finally {
    await close();
  }
});

Deno.test("remote_write: bad snappy, snappy bombs and garbage are refused", async () => {
  const { post, close } = await setup({ maxBodyBytes: 1000 });
  try {
    const type = "application/x-protobuf";
    const bomb = compress(new Uint8Array(100_000));
    const big = await post("/api/v1/prom/write", type, bomb, { "content-encoding": "snappy" });
    assert.equal(big.status, 413, big.text);
    const bad = await post("/api/v1/prom/write", type, new Uint8Array([5, 0xff, 0xff]));
    assert.equal(bad.status, 400);
    assert.match(bad.json.error.message, /malformed snappy data/);
    const garbage = await post(
      "/api/v1/prom/write",
      type,
      compress(new Uint8Array([0x0a, 0x09, 1])),
    );
    assert.equal(garbage.status, 400);
    assert.match(garbage.json.error.message, /malformed protobuf remote_write WriteRequest/);
  } finally {
    await close();
  }
});

function point(measurement: string, host: string, value: number, t: bigint) {
  return create(PointSchema, {
    measurement,
    tags: [create(TagSchema, { key: "host", value: host })],
    fields: [create(FieldSchema, { key: "v", value: { case: "floatValue", value } })],
    timeUnixNano: t,
  });
}

Deno.test("IngestService: unary over Connect and gRPC-Web (connect-web), client streaming", async () => {
  const { app, rows, close } = await setup();
  try {
    const fetchApp = ((input: RequestInfo | URL, init?: RequestInit) =>
      app(new Request(input, init))) as typeof fetch;
    for (
      const transport of [
        createConnectTransport({ baseUrl: "http://node", fetch: fetchApp }),
        createConnectTransport({ baseUrl: "http://node", fetch: fetchApp, useBinaryFormat: true }),
        createGrpcWebTransport({ baseUrl: "http://node", fetch: fetchApp }),
      ]
    ) {
      const client = createClient(IngestService, transport);
      const answer = await client.write({
        points: [point("rpc", "a", 1, 1n), create(PointSchema, { measurement: "rpc" })],
      });
      assert.equal(answer.accepted, 1n);
      assert.equal(answer.rejected, 1n);
      assert.equal(answer.errors[0].record, 2n);
      assert.equal(answer.errors[0].reason, "a point needs a field");
    }
    assert.equal((await rows("SELECT * FROM rpc")).length, 1);

    const streaming = createTransport({
      httpClient: createFetchClient(fetchApp),
      baseUrl: "http://node",
      useBinaryFormat: true,
      interceptors: [],
      acceptCompression: [],
      compressMinBytes: 1024,
      readMaxBytes: 16 * 1024 * 1024,
      writeMaxBytes: 16 * 1024 * 1024,
      sendCompression: null,
    });
    const client = createClient(IngestService, streaming);
    const batches = async function* () {
      for (let b = 0; b < 5; b++) {
        const points = [];
        for (let i = 0; i < 100; i++) {
          points.push(point("rpcs", `h${i}`, b, BigInt(b + 1)));
        }
        if (b === 3) {
          points.push(create(PointSchema, { measurement: "rpcs" }));
        }
        yield create(WriteStreamRequestSchema, { points });
      }
    };
    const answer = await client.writeStream(batches());
    assert.equal(answer.accepted, 500n);
    assert.equal(answer.rejected, 1n);
    assert.equal(answer.errors[0].record, 401n); // 1-based across the stream
    assert.equal((await rows("SELECT count(v) FROM rpcs"))[0][1], 500);

    const missing = createClient(
      IngestService,
      createConnectTransport({ baseUrl: "http://node", fetch: fetchApp }),
    );
    await assert.rejects(
      missing.write({ database: "nope", points: [point("x", "a", 1, 1n)] }),
      /database not found: nope/,
    );
  } finally {
    await close();
  }
});
