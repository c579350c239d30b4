/**
 * A Connect ingest call reserves what it holds of the in-flight byte bound, as a streamed
 * /ingest does: one read, then the message bytes its batches hold; not two whole batches up
 * front (16 MiB by default, which let only 16 calls in at once under the 256 MiB bound).
 */
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import { setup } from "./_app.ts";
import {
  FieldSchema,
  PointSchema,
  WriteRequestSchema,
  WriteStreamRequestSchema,
} from "../../src/rpc/gen/epochnexus/ingest/v1/ingest_pb.ts";

const WRITE_STREAM = "http://node/epochnexus.ingest.v1.IngestService/WriteStream";
const WRITE = "http://node/epochnexus.ingest.v1.IngestService/Write";
const READ_BYTES = 64 * 1024; // STREAM_READ_BYTES: what a call reserves before any message

/** A WriteStream message of one point, in its Connect envelope. */
function message(measurement: string, text: string, t: bigint): Uint8Array {
  const request = create(WriteStreamRequestSchema, {
    points: [create(PointSchema, {
      measurement,
      fields: [create(FieldSchema, { key: "s", value: { case: "stringValue", value: text } })],
      timeUnixNano: t,
    })],
  });
  return encodeEnvelope(0, toBinary(WriteStreamRequestSchema, request));
}

/** The value of an unlabelled gauge in a /metrics text. */
function gauge(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  assert.ok(line, `${name} in /metrics`);
  return Number(line.slice(name.length + 1));
}

/** The error of a Connect streaming answer's end-of-stream frame, or undefined. */
async function streamError(response: Response): Promise<unknown> {
  if (response.status !== 200) return `${response.status} ${await response.text()}`;
  const frames = new Uint8Array(await response.arrayBuffer());
  for (let at = 0; at + 5 <= frames.length;) {
    const length = new DataView(frames.buffer, frames.byteOffset + at + 1, 4).getUint32(0);
    if (frames[at] & 0x02) {
      const end = JSON.parse(new TextDecoder().decode(frames.subarray(at + 5, at + 5 + length)));
      return end.error;
    }
    at += 5 + length;
  }
  return "no end-of-stream frame";
}

Deno.test("40 concurrent Connect WriteStream calls are admitted under the default byte bound", async () => {
  const node = await setup(); // max_queued_write_bytes: 256 MiB, ingest_batch_bytes: 8 MiB
  const CALLS = 40;
  try {
    // No call sends a message until every call is admitted (its body pulled once); a call
    // refused with resource_exhausted never pulls, so the gate opens at its deadline.
    let pulled = 0;
    let open!: () => void;
    const allAdmitted = new Promise<void>((resolve) => open = resolve);
    const deadline = setTimeout(open, 10_000);
    const body = (c: number) => {
      let sent = false;
      return new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (!sent && ++pulled === CALLS) open();
          await allAdmitted;
          if (sent) return controller.close();
          sent = true;
          controller.enqueue(message("rpc", `call ${c}`, BigInt(c + 1)));
        },
      }, { highWaterMark: 0 });
    };
    const answers = Array.from({ length: CALLS }, (_, c) =>
      node.app(
        new Request(WRITE_STREAM, {
          method: "POST",
          headers: { "content-type": "application/connect+proto" },
          body: body(c),
        }),
      ));
    await allAdmitted;
    clearTimeout(deadline);
    const reserved = gauge((await node.call("/metrics")).text, "epochnexus_write_bytes_reserved");
    const errors = (await Promise.all((await Promise.all(answers)).map(streamError)))
      .filter((e) => e !== undefined);
    assert.deepEqual(errors, []);
    assert.equal(pulled, CALLS);
    // Every call holds one read and no message yet.
    assert.equal(reserved, CALLS * READ_BYTES);
    assert.equal((await node.rows("SELECT count(s) FROM rpc"))[0][1], CALLS);
    const after = gauge((await node.call("/metrics")).text, "epochnexus_write_bytes_reserved");
    assert.equal(after, 0, "released at the end");
  } finally {
    await node.close();
  }
});

Deno.test("a Connect WriteStream call's reservation follows the messages its batch holds", async () => {
  const node = await setup();
  try {
    const reserved = async () =>
      gauge((await node.call("/metrics")).text, "epochnexus_write_bytes_reserved");
    const messages = [1, 2, 3].map((m) => message("held", "x".repeat(100_000), BigInt(m)));
    const seen: number[] = [];
    let next = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        seen.push(await reserved()); // the messages before this pull were decoded
        if (next === messages.length) return controller.close();
        controller.enqueue(messages[next++]);
      },
    }, { highWaterMark: 0 });
    const answer = await node.app(
      new Request(WRITE_STREAM, {
        method: "POST",
        headers: { "content-type": "application/connect+proto" },
        body,
      }),
    );
    assert.equal(await streamError(answer), undefined);
    // One read, then each 100 kB message the batch (8 MiB, 5,000 points) holds until the end.
    const wire = messages[0].length - 5; // a message's bytes without its envelope
    assert.equal(seen[0], READ_BYTES, `before any message: ${seen}`);
    assert.equal(seen.at(-1), READ_BYTES + 3 * wire, `after three messages: ${seen}`);
    assert.equal(await reserved(), 0, "released at the end");
    assert.equal((await node.rows("SELECT count(s) FROM held"))[0][1], 3);
  } finally {
    await node.close();
  }
});

Deno.test("unary Connect Write calls are admitted by their declared size before a byte is read", async () => {
  // A unary call is read whole before it is decoded: 20 concurrent 4 MB calls held 80 MB of
  // bodies (and 2.7 GB of RSS once parsed) under an 8 MiB bound, reserving nothing meanwhile.
  const node = await setup({ ingest: { maxQueuedBytes: 1024 * 1024 } });
  const CALLS = 5;
  try {
    const point = (c: number) =>
      create(PointSchema, {
        measurement: "unary",
        fields: [create(FieldSchema, {
          key: "s",
          value: { case: "stringValue", value: `${c}`.padEnd(400_000, "x") },
        })],
        timeUnixNano: BigInt(c + 1),
      });
    const bodies = Array.from(
      { length: CALLS },
      (_, c) => toBinary(WriteRequestSchema, create(WriteRequestSchema, { points: [point(c)] })),
    );
    // No body is handed over until the refusals are in (or 5 s passed).
    let open!: () => void;
    const gate = new Promise<void>((resolve) => open = resolve);
    const pulled = new Set<number>();
    const answers = bodies.map((bytes, c) =>
      node.app(
        new Request(WRITE, {
          method: "POST",
          headers: {
            "content-type": "application/proto",
            "connect-protocol-version": "1",
            "content-length": String(bytes.length),
          },
          body: new ReadableStream<Uint8Array>({
            async pull(controller) {
              pulled.add(c);
              await gate;
              controller.enqueue(bytes);
              controller.close();
            },
          }, { highWaterMark: 0 }),
        }),
      ).then(async (r) => ({
        c,
        status: r.status,
        body: r.status === 200 ? (await r.body?.cancel(), undefined) : await r.json(),
      }))
    );
    const refused: { c: number; status: number; body?: { code: string; message: string } }[] = [];
    for (const a of answers) a.then((r) => r.status !== 200 && refused.push(r));
    const deadline = Date.now() + 5_000;
    while (refused.length < CALLS - 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const reserved = gauge((await node.call("/metrics")).text, "epochnexus_write_bytes_reserved");
    open();
    const all = await Promise.all(answers);
    // 2 × ~400 kB fit the 1 MiB bound; the third would not: it and the rest are refused at once.
    assert.equal(reserved, bodies[0].length + bodies[1].length, "the first two, as declared");
    assert.deepEqual(all.map((a) => a.status), [200, 200, 429, 429, 429]);
    for (const r of refused) {
      assert.equal(r.body?.code, "resource_exhausted");
      assert.match(
        r.body!.message,
        /^too many bytes in flight \(\d+ \+ \d+, the limit is 1048576\)/,
      );
      assert.ok(!pulled.has(r.c), `refused call ${r.c} was not read`);
    }
    assert.equal((await node.rows("SELECT count(s) FROM unary"))[0][1], 2);
    assert.equal(
      gauge((await node.call("/metrics")).text, "epochnexus_write_bytes_reserved"),
      0,
      "released at the end",
    );
  } finally {
    await node.close();
  }
});
