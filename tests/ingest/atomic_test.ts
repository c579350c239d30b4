/**
 * `?atomic=true` (and the Connect IngestService's `atomic`) is all or nothing for every kind of
 * rejection: a record that does not decode, a schema (pipeline) rejection, a field type that
 * conflicts with stored data. In every format, one bad record among good ones writes nothing
 * (no dead letter either) and the answer names the bad record.
 */
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { setup } from "./_app.ts";
import { bodies, pbBody, pbPoint } from "./_bodies.ts";
import {
  IngestService,
  WriteRequestSchema,
} from "../../src/rpc/gen/epochnexus/ingest/v1/ingest_pb.ts";

const NDJSON = "application/x-ndjson";
const PROTOBUF = "application/x-protobuf";

/** Schema of measurement `m`: a float `value` of at most 100; rejects go to `m_rejected`. */
const SCHEMAS = { m: { dead_letter: true, fields: { value: { type: "float", max: 100 } } } };

Deno.test("atomic=true: a schema rejection writes nothing (no dead letter), in every format", async () => {
  const { post, rows, close } = await setup({ schemas: SCHEMAS });
  try {
    for (const [type, body, where, query] of bodies({ value: 1 }, { value: 500 })) {
      const r = await post(`/ingest?atomic=true&${query}`, type, body);
      assert.equal(r.status, 400, `${type}: ${r.text}`);
      assert.equal(r.json.error.accepted, 0, type);
      const refusal = r.json.error.errors[0].reason;
      assert.match(refusal, /^atomic write refused: nothing was written \(1 bad of 2 points; /);
      assert.match(
        refusal,
        new RegExp(`first: ${where.source}schema violation in m: field_max on "value"`),
        type,
      );
      assert.equal((await rows("SELECT * FROM m")).length, 0, `${type} wrote m`);
      assert.equal((await rows("SELECT * FROM m_rejected")).length, 0, `${type} dead letter`);
    }
    // The same body without atomic: the good record is written, the bad one dead-lettered.
    const partial = await post("/ingest?precision=s", "text/plain", "m value=1 1\nm value=500 2\n");
    assert.equal(partial.status, 400, partial.text);
    assert.equal(partial.json.error.accepted, 1);
    assert.equal((await rows("SELECT * FROM m")).length, 1);
    assert.equal((await rows("SELECT * FROM m_rejected")).length, 1);
  } finally {
    await close();
  }
});

Deno.test("atomic=true: a type conflict with stored data writes nothing, in every format", async () => {
  const { post, rows, close } = await setup();
  try {
    const stored = await post("/ingest?precision=s", "text/plain", "m value=0,flag=true 100\n");
    assert.equal(stored.status, 200, stored.text);
    for (const [type, body, where, query] of bodies({ value: 1 }, { value: 2, flag: 1.5 })) {
      const r = await post(`/ingest?atomic=true&${query}`, type, body);
      assert.equal(r.status, 400, `${type}: ${r.text}`);
      assert.equal(r.json.error.accepted, 0, type);
      assert.match(
        r.json.error.errors[0].reason,
        new RegExp(`first: ${where.source}field type conflict: input field "flag"`),
        type,
      );
      assert.equal((await rows("SELECT * FROM m")).length, 1, `${type} wrote m`);
    }
  } finally {
    await close();
  }
});

Deno.test("atomic=true: a record that does not decode writes nothing and is named, in every format", async () => {
  const { post, rows, close } = await setup();
  try {
    const cases: [string, BodyInit, RegExp, string][] = [
      ["application/json", '[{"measurement":"m","value":1},{"measurement":""}]', /record 2: /, ""],
      [NDJSON, '{"measurement":"m","value":1}\n{"nope":1}\n', /line 2: /, ""],
      ["text/plain", "m value=1 1\nm value=\n", /line 2: /, ""],
      ["text/csv", "measurement,value,time\nm,1,1\nm,x,2\n", /record 2: /, "types=value:float"],
      [PROTOBUF, pbBody([pbPoint({ value: 1 }, 1n), pbPoint({}, 2n)]), /record 2: /, ""],
    ];
    for (const [type, body, where, query] of cases) {
      const r = await post(`/ingest?atomic=true&${query}`, type, body);
      assert.equal(r.status, 400, `${type}: ${r.text}`);
      assert.equal(r.json.error.accepted, 0, type);
      assert.match(r.json.error.errors[0].reason, new RegExp(`first: ${where.source}`), type);
    }
    assert.equal((await rows("SELECT * FROM m")).length, 0);
  } finally {
    await close();
  }
});

Deno.test("protobuf over /ingest: the message's own atomic flag is all or nothing too", async () => {
  const { post, rows, close } = await setup({ schemas: SCHEMAS });
  try {
    const message = (atomic: boolean) =>
      toBinary(
        WriteRequestSchema,
        create(WriteRequestSchema, {
          atomic,
          points: [pbPoint({ value: 1 }, 1n), pbPoint({ value: 500 }, 2n)],
        }),
      ) as Uint8Array<ArrayBuffer>;
    const r = await post("/ingest", PROTOBUF, message(true));
    assert.equal(r.status, 400, r.text);
    assert.match(r.json.error.errors[0].reason, /atomic write refused.*first: record 2: /);
    assert.equal((await rows("SELECT * FROM m")).length, 0);
    const partial = await post("/ingest", PROTOBUF, message(false));
    assert.equal(partial.json.error.accepted, 1, partial.text);
    assert.equal((await rows("SELECT * FROM m")).length, 1);
  } finally {
    await close();
  }
});

Deno.test("IngestService atomic: decode, schema and type-conflict rejections all write nothing", async () => {
  const { app, post, rows, close } = await setup({ schemas: SCHEMAS });
  try {
    const fetchApp = ((input: RequestInfo | URL, init?: RequestInit) =>
      app(new Request(input, init))) as typeof fetch;
    const client = createClient(
      IngestService,
      createConnectTransport({ baseUrl: "http://node", fetch: fetchApp, useBinaryFormat: true }),
    );
    assert.equal((await post("/ingest", "text/plain", "m value=0,flag=true 100\n")).status, 200);
    const cases: [string, ReturnType<typeof pbPoint>, RegExp][] = [
      ["decode", pbPoint({}, 2n), /a point needs a field/],
      ["schema", pbPoint({ value: 500 }, 2n), /field_max on "value"/],
      ["type conflict", pbPoint({ value: 2, flag: 1.5 }, 2n), /field type conflict/],
    ];
    for (const [what, bad, reason] of cases) {
      const answer = await client.write({ atomic: true, points: [pbPoint({ value: 1 }, 1n), bad] });
      assert.equal(answer.accepted, 0n, what);
      assert.equal(answer.rejected, 1n, what);
      assert.match(answer.errors[0].reason, /^atomic write refused: nothing was written/, what);
      assert.match(answer.errors[0].reason, reason, what);
      assert.equal(answer.errors[1].record, 2n, what);
      assert.match(answer.errors[1].reason, reason, what);
    }
    assert.equal((await rows("SELECT * FROM m")).length, 1);
    assert.equal((await rows("SELECT * FROM m_rejected")).length, 0);
    const ok = await client.write({
      atomic: true,
      points: [pbPoint({ value: 1 }, 1n), pbPoint({ value: 2 }, 2n)],
    });
    assert.equal(ok.accepted, 2n);
    assert.equal((await rows("SELECT * FROM m")).length, 3);
  } finally {
    await close();
  }
});
