/**
 * The Connect IngestService holds the limits `/ingest` holds, and answers bad input as bad input:
 * a message past `max_body_bytes` is `resource_exhausted` (HTTP 413 for a unary Connect call)
 * and nothing is stored, a stream past `max_stream_bytes` is refused there, and bytes that are not a
 * protobuf message are `invalid_argument` (HTTP 400), in Connect, Connect streaming and gRPC-Web.
 * Before: a 40 MB message was stored, garbage was a 500 `internal`.
 */
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { createFetchClient, encodeEnvelope } from "@connectrpc/connect/protocol";
import { createTransport } from "@connectrpc/connect/protocol-connect";
import { setup } from "./_app.ts";
import { connectGzip } from "../../src/http/connect_gzip.ts";
import {
  FieldSchema,
  IngestService,
  PointSchema,
  WriteRequestSchema,
  WriteStreamRequestSchema,
} from "../../src/rpc/gen/epochnexus/ingest/v1/ingest_pb.ts";

const PATH = "http://node/epochnexus.ingest.v1.IngestService";

function point(measurement: string, text: string, t: bigint) {
  return create(PointSchema, {
    measurement,
    fields: [create(FieldSchema, { key: "s", value: { case: "stringValue", value: text } })],
    timeUnixNano: t,
  });
}

Deno.test("IngestService: a message past max_body_bytes is resource_exhausted, nothing stored", async () => {
  const { app, rows, close } = await setup({ maxBodyBytes: 1_000_000 });
  try {
    const big = toBinary(
      WriteRequestSchema,
      create(WriteRequestSchema, { points: [point("big", "x".repeat(1_500_000), 1n)] }),
    );
    const raw = await app(
      new Request(`${PATH}/Write`, {
        method: "POST",
        headers: { "content-type": "application/proto" },
        body: big,
      }),
    );
    assert.equal(raw.status, 413);
    assert.deepEqual(await raw.json(), {
      code: "resource_exhausted",
      message: "request message is larger than max_body_bytes (1000000 bytes); send smaller writes",
    });
    const fetchApp = ((input: RequestInfo | URL, init?: RequestInit) =>
      app(new Request(input, init))) as typeof fetch;
    for (
      const transport of [
        createConnectTransport({ baseUrl: "http://node", fetch: fetchApp }),
        createGrpcWebTransport({ baseUrl: "http://node", fetch: fetchApp }),
      ]
    ) {
      const client = createClient(IngestService, transport);
      await assert.rejects(
        client.write({ points: [point("big", "x".repeat(1_500_000), 2n)] }),
        (e) =>
          e instanceof ConnectError && e.code === Code.ResourceExhausted,
      );
      // Under the limit the same call is written.
      const answer = await client.write({ points: [point("small", "y", 3n)] });
      assert.equal(answer.accepted, 1n);
    }
    assert.deepEqual(await rows("SELECT count(s) FROM big"), []);
    assert.equal((await rows("SELECT s FROM small")).length, 1);
  } finally {
    await close();
  }
});

/** A Connect client of the in-process app over the Connect protocol, sending gzip or not. */
function inProcessClient(app: (r: Request) => Promise<Response>, gzip: boolean) {
  const fetchApp =
    ((input: RequestInfo | URL, init?: RequestInit) =>
      app(new Request(input, init))) as typeof fetch;
  return createClient(
    IngestService,
    createTransport({
      httpClient: createFetchClient(fetchApp),
      baseUrl: "http://node",
      useBinaryFormat: true,
      interceptors: [],
      acceptCompression: gzip ? [connectGzip] : [],
      compressMinBytes: gzip ? 0 : 1024,
      readMaxBytes: 16 * 1024 * 1024,
      writeMaxBytes: 16 * 1024 * 1024,
      sendCompression: gzip ? connectGzip : null,
    }),
  );
}

Deno.test("IngestService: a stream past max_stream_bytes is refused there", async () => {
  const { app, rows, close } = await setup({ ingest: { maxStreamBytes: 50_000 } });
  try {
    const client = inProcessClient(app, false);
    const messages = async function* () {
      for (let m = 0; m < 10; m++) {
        yield create(WriteStreamRequestSchema, {
          points: [point("streamed", "z".repeat(10_000), BigInt(m + 1))],
        });
      }
    };
    await assert.rejects(
      client.writeStream(messages()),
      (e) =>
        e instanceof ConnectError && e.code === Code.ResourceExhausted &&
        /more than 50000 bytes \(the limit, max_stream_bytes\): refused from message 5 on/
          .test(e.message),
    );
    // The four messages before were still in the batch being filled: none was committed.
    assert.deepEqual(await rows("SELECT count(s) FROM streamed"), []);
  } finally {
    await close();
  }
});

Deno.test("IngestService: bytes that are not a protobuf message are invalid_argument, in every protocol", async () => {
  const { app, close } = await setup();
  try {
    const garbage = new Uint8Array([0xff, 0xff, 0xff, 0x01, 0x02]);
    const connect = await app(
      new Request(`${PATH}/Write`, {
        method: "POST",
        headers: { "content-type": "application/proto" },
        body: garbage,
      }),
    );
    assert.equal(connect.status, 400);
    const body = await connect.json();
    assert.equal(body.code, "invalid_argument");
    assert.match(body.message, /^parse binary: /);

    // Connect streaming: the error is in the end-of-stream message.
    const stream = await app(
      new Request(`${PATH}/WriteStream`, {
        method: "POST",
        headers: { "content-type": "application/connect+proto" },
        body: encodeEnvelope(0, garbage),
      }),
    );
    const frames = new Uint8Array(await stream.arrayBuffer());
    assert.equal(frames[0] & 0x02, 0x02, "an end-of-stream frame");
    const end = JSON.parse(new TextDecoder().decode(frames.subarray(5)));
    assert.equal(end.error.code, "invalid_argument");

    // gRPC-Web: the status is in the trailer frame.
    const web = await app(
      new Request(`${PATH}/Write`, {
        method: "POST",
        headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
        body: encodeEnvelope(0, garbage),
      }),
    );
    const trailer = new TextDecoder().decode(new Uint8Array(await web.arrayBuffer()).subarray(5));
    assert.match(trailer, /^grpc-status: 3\r?$/m);
    assert.match(trailer, /^grpc-message: parse%20binary/m);

    // The other errors keep their codes: an unknown database is still not_found.
    const missing = await app(
      new Request(`${PATH}/Write`, {
        method: "POST",
        headers: { "content-type": "application/proto" },
        body: toBinary(
          WriteRequestSchema,
          create(WriteRequestSchema, { database: "nope", points: [point("m", "v", 1n)] }),
        ),
      }),
    );
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).code, "not_found");
  } finally {
    await close();
  }
});

/** `bytes` gzipped. */
async function gzip(bytes: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("IngestService: gzip messages are accepted, and refused once they inflate past max_body_bytes", async () => {
  const { app, rows, close } = await setup({ maxBodyBytes: 1_000_000 });
  try {
    const post = async (body: Uint8Array) => {
      const r = await app(
        new Request(`${PATH}/Write`, {
          method: "POST",
          headers: { "content-type": "application/proto", "content-encoding": "gzip" },
          body: await gzip(body),
        }),
      );
      return { status: r.status, text: await r.text() };
    };
    const small = toBinary(
      WriteRequestSchema,
      create(WriteRequestSchema, { points: [point("zipped", "z", 1n)] }),
    );
    const ok = await post(small);
    assert.equal(ok.status, 200, ok.text); // before: 501, `supported: ` and nothing listed
    assert.equal((await rows("SELECT s FROM zipped")).length, 1);
    // 1.5 MB that gzip to a few KB: refused as a plain message past the limit is.
    const bomb = toBinary(
      WriteRequestSchema,
      create(WriteRequestSchema, { points: [point("bomb", "x".repeat(1_500_000), 2n)] }),
    );
    const refused = await post(bomb);
    assert.equal(refused.status, 413, refused.text);
    assert.deepEqual(JSON.parse(refused.text), {
      code: "resource_exhausted",
      message: "request message is larger than max_body_bytes (1000000 bytes); send smaller writes",
    });
    const garbage = await app(
      new Request(`${PATH}/Write`, {
        method: "POST",
        headers: { "content-type": "application/proto", "content-encoding": "gzip" },
        body: new Uint8Array([1, 2, 3, 4]),
      }),
    );
    assert.equal(garbage.status, 400, await garbage.text());
    // A Connect client sending gzip (its compression option) is answered.
    const client = inProcessClient(app, true);
    assert.equal((await client.write({ points: [point("client", "c", 3n)] })).accepted, 1n);
    // A stream of gzip messages too (Connect-Content-Encoding).
    const streamed = await client.writeStream((async function* () {
      for (let m = 0; m < 3; m++) {
        yield { points: [point("client", "s", BigInt(10 + m))] };
      }
    })());
    assert.equal(streamed.accepted, 3n);
    assert.deepEqual(await rows("SELECT count(s) FROM bomb"), []);
  } finally {
    await close();
  }
});
