import assert from "node:assert/strict";
import { TooLargeError } from "../core/mod.ts";
import { decodeLineProtocolStream } from "./line_protocol_stream.ts";

const EPOCH = { ms: 0, subMs: 0 };

/** Streams `text` in chunks of `size` bytes. */
function chunked(text: string, size: number): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.slice(at, at += size));
    },
  });
}

Deno.test("line protocol stream: an over-long line is refused naming its line and byte offset", async () => {
  // The first record's string spans two physical lines: the long one is line 5 (as errors count).
  const head = 'a s="x\ny" 1\nb v=2 2\nc v=3 3\n';
  const body = head + `d v="${"x".repeat(5000)}" 4\ne v=5 5\n`;
  for (const size of [7, 64, 1000]) {
    let points = 0;
    await assert.rejects(
      (async () => {
        const stream = decodeLineProtocolStream(chunked(body, size), {
          defaultTime: EPOCH,
          maxLineBytes: 1000,
        });
        for await (const batch of stream) points += batch.points.length;
      })(),
      (e) => {
        assert.ok(e instanceof TooLargeError);
        assert.equal(
          e.message,
          "line protocol: a line longer than 1000 bytes (the limit) starts at line 5 " +
            `(byte offset ${head.length} of the body)`,
        );
        assert.deepEqual(e.details, { limit: 1000, line: 5, offset: head.length });
        return true;
      },
      `chunks of ${size}`,
    );
    assert.equal(points, 3, "the lines before were decoded");
  }
});
