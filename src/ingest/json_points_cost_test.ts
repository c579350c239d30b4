/**
 * What a hostile JSON body costs: linear in its records, in short steps, with a bounded list of
 * errors (a 10 MB array of numbers took 27 s and 1.1 GB, building one Error with its stack per
 * record). CPU timings and generous bounds: see _cost_test_util.ts.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { ParseError } from "../core/mod.ts";
import { decodeJsonPoints, JsonBodyDecoder, parseJson } from "./json_points.ts";
import { threadCpu } from "../core/testing/mod.ts";
import { assertDoublesLinearly, timeOf } from "./_cost_test_util.ts";

const EPOCH = { ms: 0, subMs: 0 };

/** An array of `n` numbers: every record is bad. */
const numbers = (n: number) => "[" + "1,".repeat(n - 1) + "1]";
/** An array of `n` empty objects: every record is bad (no measurement). */
const empties = (n: number) => "[" + "{},".repeat(n - 1) + "{}]";

/**
 * Decodes `text` as the /ingest handler does (pieces of 256K characters, slices of 2000
 * records); returns the errors counted and the longest single step, in milliseconds of this
 * thread's CPU (on a loaded machine a step's wall time is mostly waiting for a core).
 */
function decodeInSteps(text: string): { errors: number; listed: number; longestStep: number } {
  const decoder = new JsonBodyDecoder(text, { defaultTime: EPOCH, slicedParseChars: 0 });
  let errors = 0, listed = 0, longestStep = 0;
  const step = (f: () => unknown) => {
    const start = threadCpu();
    const out = f();
    const used = threadCpu(start);
    longestStep = Math.max(longestStep, (used.user + used.system) / 1000);
    return out;
  };
  while (!step(() => decoder.parseMore(256 * 1024))) { /* the handler lets others run here */ }
  while (decoder.remaining > 0) {
    const slice = step(() => decoder.decode(2000)) as ReturnType<typeof decoder.decode>;
    errors += slice.errors.length + slice.unlistedErrors;
    listed += slice.errors.length;
  }
  return { errors, listed, longestStep };
}

for (const [what, body] of [["numbers", numbers], ["empty objects", empties]] as const) {
  Deno.test(`json cost: a big array of ${what} is decoded in linear time, in short steps`, () => {
    const n = 400_000;
    const small = body(n), large = body(2 * n);
    let result: ReturnType<typeof decodeInSteps> | undefined;
    let shortest = Infinity; // the longest step of the quietest run (a loaded machine pauses)
    const { large: t2 } = assertDoublesLinearly(what, () => decodeInSteps(small), () => {
      result = decodeInSteps(large);
      shortest = Math.min(shortest, result.longestStep);
    });
    assert.deepEqual([result!.errors, result!.listed], [2 * n, 1000], "all counted, 1000 listed");
    assert.ok(t2 < 5000, `${2 * n} bad records took ${t2.toFixed(0)} ms of CPU`);
    assert.ok(shortest < 500, `a step took ${shortest.toFixed(0)} ms`);
  });
}

Deno.test("json cost: a body just under the piece-by-piece size is parsed whole, quickly", () => {
  const text = empties(300_000); // 900 KB: one JSON.parse
  let result: ReturnType<typeof decodeJsonPoints> | undefined;
  const ms = timeOf(() => result = decodeJsonPoints(text, { defaultTime: EPOCH }));
  assert.equal(result!.unlistedErrors, 300_000 - 1000);
  assert.ok(ms < 1000, `${ms.toFixed(0)} ms`);
});

Deno.test("json: the decoder hands out slices, errors listed up to maxErrors over all of them", () => {
  const text = JSON.stringify([
    { measurement: "m", value: 1 },
    2,
    { measurement: "m", value: 3 },
    4,
    5,
    { measurement: "m", value: 6 },
  ]);
  const decoder = new JsonBodyDecoder(text, { defaultTime: EPOCH, maxErrors: 2 });
  const slices = [];
  while (decoder.remaining > 0) slices.push(decoder.decode(4));
  assert.deepEqual(
    slices.map((s) => [s.records, s.errors.map((e) => e.record), s.unlistedErrors]),
    [[[0, 2], [1, 3], 0], [[5], [], 1]],
  );
  assert.equal(slices[0].errors[0].reason, "expected an object, got the number 2");
});

/** The records of a body parsed piece by piece, `chars` at a time, or the ParseError. */
function piecewise(text: string, chars: number): unknown[] | ParseError {
  try {
    const decoder = new JsonBodyDecoder(text, { defaultTime: EPOCH, slicedParseChars: 0 });
    for (let k = 0; k < text.length + 2 && !decoder.parseMore(chars); k++) { /* more */ }
    // The parsed records, through the decoder's own errors (each names its value).
    const out = decoder.decode();
    return [...out.errors.map((e) => e.record), ...out.records].sort((a, b) => a - b);
  } catch (e) {
    if (e instanceof ParseError) return e;
    throw e;
  }
}

Deno.test("json: property: parsing piece by piece finds the records JSON.parse finds", () => {
  fc.assert(
    fc.property(
      fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 8 }),
      fc.constantFrom(0, 1, 2, 3, 4, 5, 6),
      fc.nat(40),
      (values, indent, chars) => {
        const text = JSON.stringify(values, null, indent);
        assert.deepEqual(piecewise(text, chars), values.map((_, i) => i), text);
        // and the values themselves, exact integers included
        const decoder = new JsonBodyDecoder(text, { defaultTime: EPOCH, slicedParseChars: 0 });
        while (!decoder.parseMore(chars + 1)) { /* more */ }
        assert.equal(decoder.remaining, (parseJson(text) as unknown[]).length);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("json: property: piece by piece, malformed arrays are refused as JSON.parse refuses them", () => {
  const piece = fc.constantFrom("{", "}", "[", "]", ",", ":", '"a"', '"', "1", " ", "\\", '"\\""');
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 10 }), fc.nat(8), (pieces, chars) => {
      const text = "[" + pieces.join("");
      let valid = true;
      try {
        valid = Array.isArray(JSON.parse(text));
      } catch {
        valid = false;
      }
      const got = piecewise(text, chars);
      assert.equal(!(got instanceof ParseError), valid, JSON.stringify(text));
      if (got instanceof ParseError) {
        assert.match(got.message, /^malformed JSON at line \d+, column \d+/);
      }
    }),
    { numRuns: 3000 },
  );
});
