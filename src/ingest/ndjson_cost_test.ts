/**
 * What a body of malformed NDJSON lines costs beside one of good lines. A bad line built two
 * Errors with their stack traces (JSON.parse's and a ParseError): 33-45x the CPU of a good line
 * (19x when every other line is valid JSON), and 300 KB of short bad lines took 2.5 s of CPU
 * (fuzz ndjson seed 31, input 136097). Now 9-11x (5x): no Error is built, and once over 1 line
 * in 8 is malformed the syntax validator goes first. CPU timings: see _cost_test_util.ts.
 */
import assert from "node:assert/strict";
import { NdjsonDecoder } from "./ndjson.ts";
import { cpuTimeOf } from "./_cost_test_util.ts";

const enc = new TextEncoder();
const LINES = 5_000;
const good = enc.encode('{"measurement":"m","value":1}\n'.repeat(LINES));
const BAD_LINES = ['{"}', "tru1}", '{"me1}\r', '{"mea\u0000', '{"measurement":"m","value":1'];
const bad = enc.encode(
  Array.from({ length: LINES }, (_, i) => BAD_LINES[i % BAD_LINES.length]).join("\n") + "\n",
);
/** Malformed lines between JSON lines that are no record (fuzz ndjson seed 31, input 289326). */
const alternating = enc.encode('{"broken": \n{"mmeasuue": 1}\n'.repeat(LINES / 2));

function decode(body: Uint8Array): number {
  const decoder = new NdjsonDecoder({ defaultTime: { ms: 0, subMs: 0 } });
  const out = decoder.push(body);
  return out.points.length + out.errors.length + decoder.finish().errors.length;
}

const BODIES = [["malformed", bad, 20], ["malformed and no-record", alternating, 12]] as const;
for (const [what, body, limit] of BODIES) {
  Deno.test(`ndjson cost: ${what} lines cost at most ${limit}x good ones, not an Error each`, () => {
    assert.equal(decode(good), LINES);
    assert.equal(decode(body), LINES);
    let goodMs = Infinity, badMs = Infinity;
    for (let r = 0; r < 3; r++) {
      goodMs = Math.min(goodMs, cpuTimeOf(() => decode(good)));
      badMs = Math.min(badMs, cpuTimeOf(() => decode(body)));
    }
    assert.ok(
      badMs < limit * goodMs,
      `${LINES} ${what} lines took ${badMs.toFixed(1)} ms of CPU, ${LINES} good ones ` +
        `${goodMs.toFixed(1)} ms (x${(badMs / goodMs).toFixed(2)}, limit x${limit})`,
    );
  });
}
