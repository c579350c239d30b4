import assert from "node:assert/strict";
import { TooLargeError, ValidationError } from "../core/mod.ts";
import { STREAM_READ_BYTES } from "../ingest/mod.ts";
import { bodyStream, readBody } from "./body.ts";
import { gunzipInPieces } from "./gunzip.ts";

async function gzip(data: Uint8Array | string): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([data as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** `bytes` in chunks of `chunkBytes`, counting what the reader took. */
function chunked(bytes: Uint8Array<ArrayBuffer>, chunkBytes: number) {
  const read = { bytes: 0 };
  let at = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      const chunk = bytes.slice(at, at + chunkBytes);
      at += chunk.length;
      read.bytes += chunk.length;
      controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
  return { stream, read };
}

/** The chunks' count, total and largest size. */
async function sizes(stream: ReadableStream<Uint8Array>) {
  let total = 0, largest = 0, count = 0;
  for await (const chunk of stream) {
    total += chunk.length;
    largest = Math.max(largest, chunk.length);
    count++;
  }
  return { total, largest, count };
}

Deno.test("a streamed gzip bomb comes out in pieces of one read, whatever its ratio", async () => {
  const raw = 48 * 1024 * 1024;
  const bomb = await gzip(new Uint8Array(raw)); // ~48 kB: every 32 kB chunk inflates to 32 MiB
  for (const encoding of ["gzip", "x-gzip"]) {
    const { stream } = chunked(bomb, 32 * 1024);
    const request = new Request("http://node/write", {
      method: "POST",
      headers: { "content-encoding": encoding },
      body: stream,
    });
    const seen = await sizes(bodyStream(request, 1 << 30));
    assert.equal(seen.total, raw, encoding);
    assert.ok(
      seen.largest <= STREAM_READ_BYTES,
      `${encoding}: a chunk of ${seen.largest} bytes (${seen.count} chunks)`,
    );
  }
});

Deno.test("the gunzip reads its source only as its output is taken", async () => {
  const member = await gzip(new Uint8Array(16 * 1024 * 1024)); // ~16 kB
  const bomb = new Uint8Array(16 * member.length); // 16 members: 256 MiB in ~256 kB
  for (let i = 0; i < 16; i++) bomb.set(member, i * member.length);
  const { stream, read } = chunked(bomb, 1024);
  const reader = gunzipInPieces(stream, { pieceBytes: 4096 }).getReader();
  const first = await reader.read();
  assert.equal(first.value?.length, 4096);
  // Give an inflater that ignores the consumer time to run on (it would read the whole bomb).
  for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setTimeout(resolve, 5));
  // The inflater's input buffer (64 KiB) fills, then nothing more is read: the source is not
  // read on (and inflated into memory) ahead of the consumer.
  assert.ok(read.bytes <= 96 * 1024, `${read.bytes} compressed bytes read for one 4 kB piece`);
  await reader.cancel();
});

Deno.test("a whole gzip body is read in pieces and still stops at its limit", async () => {
  const lines = "m v=1\n".repeat(50_000);
  const body = await gzip(lines);
  const whole = await readBody(
    new Request("http://node", {
      method: "POST",
      headers: { "content-encoding": "gzip" },
      body: chunked(body, 100).stream,
    }),
    1_000_000,
  );
  assert.equal(new TextDecoder().decode(whole), lines);
  const bomb = await gzip(new Uint8Array(10_000_000));
  await assert.rejects(
    readBody(
      new Request("http://node", {
        method: "POST",
        headers: { "content-encoding": "gzip" },
        body: bomb,
      }),
      1_000_000,
    ),
    TooLargeError,
  );
});

Deno.test("concatenated gzip members are read one after the other", async () => {
  const both = new Uint8Array([...await gzip("a v=1 1\n"), ...await gzip("b v=2 2\n")]);
  for (const chunkBytes of [1, 7, both.length]) {
    const text = await new Response(gunzipInPieces(chunked(both, chunkBytes).stream)).text();
    assert.equal(text, "a v=1 1\nb v=2 2\n", `in chunks of ${chunkBytes}`);
  }
});

Deno.test("corrupt gzip bodies are a ValidationError that says what is wrong", async () => {
  const good = await gzip("m v=1 1\n");
  const cases: [string, Uint8Array<ArrayBuffer>, RegExp][] = [
    ["not gzip", new TextEncoder().encode("m v=1 1\n"), /corrupt gzip body: incorrect header/],
    ["cut short", good.slice(0, good.length - 4), /corrupt gzip body: unexpected end of file/],
    ["trailing bytes", new Uint8Array([...good, 0, 0, 0]), /3 bytes after the end of its gzip/],
  ];
  for (const [name, bytes, message] of cases) {
    await assert.rejects(
      new Response(gunzipInPieces(chunked(bytes, 5).stream)).arrayBuffer(),
      (error: Error) => {
        assert.ok(error instanceof ValidationError, `${name}: ${error}`);
        assert.match(error.message, message, name);
        return true;
      },
    );
    const request = new Request("http://node", {
      method: "POST",
      headers: { "content-encoding": "gzip" },
      body: bytes,
    });
    await assert.rejects(readBody(request, 1000), /cannot read request body: corrupt gzip body/);
  }
});

Deno.test("the source's own error comes through, and cancelling cancels the source", async () => {
  const broken = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.error(new Error("connection reset"));
    },
  });
  await assert.rejects(new Response(gunzipInPieces(broken)).arrayBuffer(), /connection reset/);
  let cancelled: unknown;
  const endless = new ReadableStream<Uint8Array>({
    start(controller) {
      gzip(new Uint8Array(1 << 20)).then((bytes) => controller.enqueue(bytes.slice(0, 1000)));
    },
    cancel(reason) {
      cancelled = reason;
    },
  });
  const reader = gunzipInPieces(endless).getReader();
  await reader.read();
  await reader.cancel("enough");
  assert.equal(cancelled, "enough");
});

Deno.test("a corrupt or trailing-garbage body stops reading its source when it errors", async () => {
  const good = await gzip("m v=1 1\n");
  const cases: [string, number][] = [["trailing zeros", 0], ["not gzip after a member", 1]];
  for (const [name, fill] of cases) {
    // A member, then an endless run of bytes that inflate to nothing: the body limits count
    // inflated bytes only, so the wrapper must stop reading when it refuses the body.
    let reads = 0, cancelled = false;
    const source = new ReadableStream<Uint8Array>({
      pull(controller) {
        reads++;
        if (reads === 1) controller.enqueue(good);
        else if (reads < 100_000) controller.enqueue(new Uint8Array(64 * 1024).fill(fill));
        else controller.close();
      },
      cancel() {
        cancelled = true;
      },
    }, { highWaterMark: 0 });
    await assert.rejects(new Response(gunzipInPieces(source)).arrayBuffer(), ValidationError);
    const readsAtError = reads;
    const deadline = Date.now() + 5_000;
    while (!cancelled && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.ok(cancelled, `${name}: the source is not cancelled (${reads} reads)`);
    assert.ok(reads <= readsAtError + 2, `${name}: ${reads - readsAtError} reads after the error`);
  }
});
