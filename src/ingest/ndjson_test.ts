import assert from "node:assert/strict";
import fc from "fast-check";
import { NdjsonDecoder } from "./ndjson.ts";
import type { DecodedBatch } from "./batches.ts";

const EPOCH = { ms: 0, subMs: 0 };
const enc = new TextEncoder();

function decodeChunks(body: Uint8Array, cuts: number[], maxLineBytes?: number): DecodedBatch {
  const d = new NdjsonDecoder({ defaultTime: EPOCH, maxLineBytes });
  const out: DecodedBatch = { points: [], errors: [], origins: [], bytes: 0 };
  let at = 0;
  for (const cut of [...cuts.filter((c) => c < body.length).sort((a, b) => a - b), body.length]) {
    const b = d.push(body.slice(at, cut));
    at = cut;
    out.points.push(...b.points);
    out.errors.push(...b.errors);
    out.origins!.push(...b.origins!);
  }
  const last = d.finish();
  out.points.push(...last.points);
  out.errors.push(...last.errors);
  out.origins!.push(...last.origins!);
  return out;
}

Deno.test("ndjson: the same points and errors however the body is cut into chunks", () => {
  const body = enc.encode(
    "\ufeff" +
      '{"measurement":"é","value":1,"timestamp":1}\r\n' +
      "\n" +
      '{"measurement":"m","value":' + "\n" +
      '{"measurement":"m","tags":{"k":"ü"},"value":2}\n' +
      "   \n" +
      '{"measurement":"m","fields":{"x":{"integer":"9223372036854775807"}}}',
  );
  const whole = decodeChunks(body, []);
  assert.equal(whole.points.length, 3);
  assert.deepEqual(whole.origins, [1, 4, 6]);
  assert.deepEqual(whole.errors.map((e) => e.line), [3]);
  assert.equal(whole.points[2].fields[0].value, 9223372036854775807n);
  fc.assert(
    fc.property(fc.array(fc.nat(body.length), { maxLength: 12 }), (cuts) => {
      assert.deepEqual(decodeChunks(body, cuts), whole);
    }),
    { numRuns: 300 },
  );
});

Deno.test("ndjson: an overlong line is reported once and skipped, chunked or not", () => {
  const long = `{"measurement":"m","value":1,"tags":{"k":"${"x".repeat(300)}"}}`;
  const body = enc.encode(
    `{"measurement":"m","value":1}\n${long}\n{"measurement":"m","value":2}\n`,
  );
  for (const cuts of [[], [10], [40, 80, 120, 200, 330], [31, 32, 33]]) {
    const r = decodeChunks(body, cuts, 100);
    assert.equal(r.points.length, 2, `cuts ${cuts}`);
    assert.deepEqual(r.origins, [1, 3]);
    assert.deepEqual(r.errors, [{
      line: 2,
      reason: "line longer than 100 bytes (the limit): skipped",
    }]);
  }
});
