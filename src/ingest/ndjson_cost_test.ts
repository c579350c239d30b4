/**
 * What a body of malformed NDJSON lines costs beside one of good lines. A bad line built two
 * Errors with their stack traces (JSON.parse's and a ParseError): 25-45x the CPU of a good line,
 * and 300 KB of short bad lines took 3 s of CPU (fuzz ndjson seed 31, input 136097). Now ~9x:
 * the validator runs first after a bad line and no Error is built. CPU timings: see
 * _cost_test_util.ts.
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

function decode(body: Uint8Array): number {
  const decoder = new NdjsonDecoder({ defaultTime: { ms: 0, subMs: 0 } });
  const out = decoder.push(body);
  return out.points.length + out.errors.length + decoder.finish().errors.length;
}

Deno.test("ndjson cost: a malformed line costs at most ~10x a good one, not an Error each", () => {
  assert.equal(decode(good), LINES);
  assert.equal(decode(bad), LINES);
  let goodMs = Infinity, badMs = Infinity;
  for (let r = 0; r < 3; r++) {
    goodMs = Math.min(goodMs, cpuTimeOf(() => decode(good)));
    badMs = Math.min(badMs, cpuTimeOf(() => decode(bad)));
  }
  assert.ok(
    badMs < 15 * goodMs,
    `${LINES} malformed lines took ${badMs.toFixed(1)} ms of CPU, ${LINES} good ones ` +
      `${goodMs.toFixed(1)} ms (x${(badMs / goodMs).toFixed(2)}, limit x15)`,
  );
});
