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

Deno.test("ndjson: the line limit counts bytes, not characters, chunked or not", () => {
  // 3 two-byte characters: 30 characters of line but 33 bytes.
  const line = `{"measurement":"m","value":"${"é".repeat(3)}"}`;
  assert.equal(line.length, 33);
  const bytes = enc.encode(line).length;
  assert.equal(bytes, 36);
  const body = enc.encode(`${line}\n${line}\n`);
  for (const [limit, points] of [[bytes, 2], [bytes - 1, 0], [line.length, 0]] as const) {
    for (const cuts of [[], [5], [bytes + 3], [20, 40, 60]]) {
      const r = decodeChunks(body, cuts, limit);
      assert.equal(r.points.length, points, `limit ${limit}, cuts ${cuts}`);
      assert.equal(r.errors.length, 2 - points, `limit ${limit}, cuts ${cuts}`);
    }
  }
  // The body's BOM counts as bytes of line 1, as a chunk holding it does.
  const withBom = enc.encode(`\ufeff${line}\n`);
  for (const cuts of [[], [2], [10]]) {
    assert.equal(decodeChunks(withBom, cuts, bytes + 2).points.length, 0, `cuts ${cuts}`);
    assert.equal(decodeChunks(withBom, cuts, bytes + 3).points.length, 1, `cuts ${cuts}`);
  }
});

Deno.test("ndjson: an integer literal past a float's range is refused, the other lines kept", () => {
  const body = enc.encode(
    `{"measurement":"m","fields":{"x":${"9".repeat(400)}}}\n{"measurement":"m","value":2}\n`,
  );
  const r = decodeChunks(body, []);
  assert.deepEqual(r.origins, [2]);
  assert.deepEqual(r.errors, [{
    line: 1,
    field: "fields.x",
    reason:
      'field "x": an integer of 400 digits is out of range (a float holds up to about 1.8e308)',
  }]);
});

Deno.test("ndjson: a line is judged the same after a malformed line as after a good one", () => {
  const probes = [
    '{"measurement":"m","value":1}',
    "7",
    '{"measurement":"m","value":1',
    '{"measurement":"m","value":tru}',
    "[".repeat(6000) + "]".repeat(6000), // deeper than the syntax validator goes
    '"\\u12"',
  ];
  for (const probe of probes) {
    const outcome = (before: string) => {
      const r = decodeChunks(enc.encode(`${before}\n${probe}\n`), []);
      const points = r.points.filter((_, i) => r.origins![i] === 2);
      return { points, errors: r.errors.filter((e) => e.line === 2) };
    };
    assert.deepEqual(outcome('{"}'), outcome('{"measurement":"m","value":0}'), probe.slice(0, 40));
  }
});
