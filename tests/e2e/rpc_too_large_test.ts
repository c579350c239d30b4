/**
 * A Connect Write past `max_body_bytes`, sent to a real server, is answered as `/write` answers a
 * body too large: HTTP 413, with the code Connect and gRPC clients expect for it
 * (`resource_exhausted`) and the limit named. Before: HTTP 429, which HTTP clients and proxies
 * retry later, for a message that would be refused every time.
 */
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { startServer } from "../_server.ts";
import {
  FieldSchema,
  IngestService,
  PointSchema,
  WriteRequestSchema,
} from "../../src/rpc/gen/epochnexus/ingest/v1/ingest_pb.ts";

function request(text: string) {
  const field = create(FieldSchema, { key: "s", value: { case: "stringValue", value: text } });
  return create(WriteRequestSchema, {
    points: [create(PointSchema, { measurement: "m", fields: [field], timeUnixNano: 1n })],
  });
}

Deno.test("a Connect Write past max_body_bytes is 413 resource_exhausted on a real server", async () => {
  const server = await startServer({ env: { EPOCHNEXUS_MAX_BODY_BYTES: "100000" } });
  try {
    const body = toBinary(WriteRequestSchema, request("x".repeat(150_000)));
    const raw = await fetch(`${server.url}/epochnexus.ingest.v1.IngestService/Write`, {
      method: "POST",
      headers: { "content-type": "application/proto" },
      body,
    });
    assert.equal(raw.status, 413);
    assert.deepEqual(await raw.json(), {
      code: "resource_exhausted",
      message: `request message of ${body.length} bytes is larger than max_body_bytes ` +
        `(100000 bytes); send smaller writes`,
    });
    const client = createClient(IngestService, createConnectTransport({ baseUrl: server.url }));
    await assert.rejects(
      client.write(request("y".repeat(150_000))),
      (e) => e instanceof ConnectError && e.code === Code.ResourceExhausted,
    );
    assert.equal((await client.write(request("small"))).accepted, 1n);
  } finally {
    await server.stop();
  }
});
