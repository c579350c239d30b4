/**
 * Bytes that are not UTF-8 are refused where they are, in every text format, as line protocol
 * refuses them: NDJSON names the line (and the byte's column), JSON and CSV the record; the
 * valid lines and records around them are kept. Before, NDJSON, JSON and CSV stored U+FFFD in
 * their place without a word.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type { DecodedBatch } from "./batches.ts";
import { decodeCsvStream } from "./csv_points.ts";
import { decodeJsonPoints } from "./json_points.ts";
import { NdjsonDecoder } from "./ndjson.ts";
import { firstInvalidUtf8, scanUtf8, Utf8Watch } from "./_utf8.ts";

const EPOCH = { ms: 0, subMs: 0 };
const enc = new TextEncoder();
const strict = new TextDecoder("utf-8", { fatal: true });

/** Text with raw bytes spliced in: `bytes("a", [0xff], "b")`. */
function bytes(...parts: (string | number[])[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) out.push(...(typeof p === "string" ? enc.encode(p) : p));
  return new Uint8Array(out);
}

/** Cuts `body` at `cuts` into chunks. */
function chunks(body: Uint8Array, cuts: number[]): Uint8Array[] {
  const bounds = [...new Set(cuts.filter((c) => c > 0 && c < body.length))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let at = 0;
  for (const cut of [...bounds, body.length]) {
    out.push(body.slice(at, cut));
    at = cut;
  }
  return out;
}

Deno.test("utf8: the scan finds exactly what a fatal TextDecoder refuses, first offset included", () => {
  const byte = fc.oneof(
    fc.integer({ min: 0, max: 255 }),
    fc.constantFrom(0xc2, 0xe0, 0xed, 0xf0, 0xf4, 0xf5, 0x80, 0xbf, 0x9f, 0xa0, 0x8f, 0x90),
  );
  fc.assert(
    fc.property(fc.array(byte, { maxLength: 12 }), (list) => {
      const b = new Uint8Array(list);
      let valid = true;
      try {
        strict.decode(b);
      } catch {
        valid = false;
      }
      const first = firstInvalidUtf8(b);
      assert.equal(first < 0, valid, `${list}`);
      // Everything before the first bad byte decodes; the scan's offsets are ascending.
      if (first >= 0) strict.decode(b.subarray(0, first));
      const { invalid } = scanUtf8(b, true);
      assert.deepEqual(invalid, [...invalid].sort((x, y) => x - y));
    }),
    { numRuns: 5000 },
  );
});

Deno.test("utf8: a watched stream finds the same offsets however it is cut", async () => {
  const body = bytes("aé", [0xff], "€x", [0xe2, 0x82], "y𝄞", [0xf0, 0x9d], "z", [0xc3]);
  const whole = scanUtf8(body, true).invalid;
  assert.deepEqual(whole, [3, 8, 15, 18]);
  await fc.assert(
    fc.asyncProperty(fc.array(fc.nat(body.length), { maxLength: 8 }), async (cuts) => {
      const watch = new Utf8Watch();
      const parts = chunks(body, cuts);
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          for (const p of parts) c.enqueue(p);
          c.close();
        },
      });
      for await (const _ of stream.pipeThrough(watch.stream())) { /* drain */ }
      assert.deepEqual(watch.invalid, whole, `cuts ${cuts}`);
    }),
    { numRuns: 300 },
  );
});

Deno.test("ndjson: a line that is not UTF-8 is refused with its line and column, chunked or not", () => {
  const body = bytes(
    '{"measurement":"m","value":1}\n',
    '{"measurement":"m","tags":{"k":"a',
    [0xff],
    'b"},"value":2}\n',
    '{"measurement":"é","value":3}\n',
    '{"measurement":"m","value":4,"tags":{"k":"',
    [0xe2, 0x82],
    '"}}',
  );
  const run = (cuts: number[]) => {
    const decoder = new NdjsonDecoder({ defaultTime: EPOCH });
    const out: DecodedBatch = { points: [], errors: [], origins: [], bytes: 0 };
    for (const chunk of [...chunks(body, cuts)]) {
      const b = decoder.push(chunk);
      out.points.push(...b.points);
      out.errors.push(...b.errors);
      out.origins!.push(...b.origins!);
    }
    const last = decoder.finish();
    out.points.push(...last.points);
    out.errors.push(...last.errors);
    out.origins!.push(...last.origins!);
    return out;
  };
  const whole = run([]);
  assert.deepEqual(whole.origins, [1, 3]);
  assert.equal(whole.points[1].measurement, "é");
  assert.deepEqual(whole.errors, [
    {
      line: 2,
      column: 34,
      reason: "invalid UTF-8 at byte 34 of the line (byte 0xff): the line is skipped",
    },
    {
      line: 4,
      column: 43,
      reason: "invalid UTF-8 at byte 43 of the line (byte 0xe2): the line is skipped",
    },
  ]);
  fc.assert(
    fc.property(fc.array(fc.nat(body.length), { maxLength: 6 }), (cuts) => {
      assert.deepEqual(run(cuts), whole);
    }),
    { numRuns: 200 },
  );
});

Deno.test("json: a record that is not UTF-8 is refused by number, the others kept", () => {
  const body = bytes(
    '[{"measurement":"m","value":1},\n {"measurement":"m","tags":{"k":"',
    [0xc0, 0xaf],
    '"},"value":2},\n {"measurement":"\\"[,","value":3}]',
  );
  const { points, errors } = decodeJsonPoints(body, { defaultTime: EPOCH });
  assert.deepEqual(points.map((p) => p.fields[0].value), [1, 3]);
  assert.deepEqual(errors, [
    { record: 1, reason: "not valid UTF-8: byte 0xc0 at offset 65 of the body" },
  ]);
  // The same in the piece-by-piece parsing of big arrays, and for one object alone.
  const sliced = decodeJsonPoints(body, { defaultTime: EPOCH, slicedParseChars: 0 });
  assert.deepEqual(sliced.errors, errors);
  const single = decodeJsonPoints(bytes('{"measurement":"', [0xff], '","value":1}'), {
    defaultTime: EPOCH,
  });
  assert.deepEqual(single.errors, [
    { record: 0, reason: "not valid UTF-8: byte 0xff at offset 16 of the body" },
  ]);
});

Deno.test("csv: a row that is not UTF-8 is refused by record; a bad header refuses the body", async () => {
  const decode = async (body: Uint8Array, cuts: number[] = []) => {
    const parts = chunks(body, cuts);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (const p of parts) c.enqueue(p);
        c.close();
      },
    });
    const out: DecodedBatch = { points: [], errors: [], origins: [], bytes: 0 };
    for await (const b of decodeCsvStream(stream, { defaultTime: EPOCH, tags: ["host"] })) {
      out.points.push(...b.points);
      out.errors.push(...b.errors);
      out.origins!.push(...b.origins!);
    }
    return out;
  };
  const body = bytes(
    "measurement,host,v\n",
    "m,a,1\n",
    "m,b",
    [0xed, 0xa0, 0x80], // an encoded surrogate: not UTF-8
    ",2\n",
    'm,"é\n,",3\n',
  );
  const whole = await decode(body);
  assert.deepEqual(whole.origins, [1, 3]);
  assert.equal(whole.points[1].tags[0].value, "é\n,");
  assert.deepEqual(whole.errors, [
    { record: 2, reason: "not valid UTF-8 (a bad byte at offset 28 of the body)" },
  ]);
  for (const cuts of [[29], [30], [31], [26, 30, 33], [40, 41]]) {
    assert.deepEqual(await decode(body, cuts), whole, `cuts ${cuts}`);
  }
  await assert.rejects(
    decode(bytes("measurement,h", [0xff], ",v\nm,a,1\n")),
    /^ValidationError: CSV header: not valid UTF-8 \(a bad byte at offset 13 of the body\)/,
  );
});
