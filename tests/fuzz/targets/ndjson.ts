/**
 * NDJSON (src/ingest/ndjson.ts): `NdjsonDecoder`, fed a body in chunks cut anywhere, never
 * throws; its points keep core's contract, its errors name a line; and the points and errors do
 * not depend on where the chunks were cut (one chunk versus many).
 * @module
 */
import type { Point } from "../../../src/core/mod.ts";
import { type IngestIssue, NdjsonDecoder } from "../../../src/ingest/mod.ts";
import { structuredAndMutated } from "../_mutate.ts";
import { checkPoints, pointsText } from "../_points.ts";
import { hashBytes } from "../_random.ts";
import { bytesOfAll, JSON_TOKENS, NDJSON_SAMPLES } from "../_samples.ts";
import { count, demand, type FuzzTarget } from "../_target.ts";
import { ndjsonBodies } from "./_json_gen.ts";

const enc = new TextEncoder();
const NOW = { ms: 1_700_000_000_000, subMs: 0 };
/** Small, so the overlong-line path runs too. */
const MAX_LINE = 4096;

/** Inputs of the NDJSON fuzzer (also the HTTP fuzzer's NDJSON bodies). */
export const ndjsonInputs = structuredAndMutated(
  ndjsonBodies.map((t) => enc.encode(t)),
  bytesOfAll(NDJSON_SAMPLES),
  [...JSON_TOKENS, "\n", "\r\n", "\ufeff"],
);

function decode(chunks: Uint8Array[]): { points: Point[]; errors: IngestIssue[] } {
  const decoder = new NdjsonDecoder({ defaultTime: NOW, maxLineBytes: MAX_LINE });
  const points: Point[] = [], errors: IngestIssue[] = [];
  for (const c of chunks) {
    const b = decoder.push(c);
    points.push(...b.points);
    errors.push(...b.errors);
  }
  const last = decoder.finish();
  points.push(...last.points);
  errors.push(...last.errors);
  return { points, errors };
}

function chunksOf(body: Uint8Array): Uint8Array[] {
  let h = hashBytes(body);
  const out: Uint8Array[] = [];
  for (let at = 0; at < body.length;) {
    h = Math.imul(h ^ (h >>> 13), 0x5bd1e995) >>> 0;
    const size = 1 + (h % 3 === 0 ? h % 5 : h % 301);
    out.push(body.subarray(at, at + size));
    at += size;
  }
  return out;
}

export const ndjsonTarget: FuzzTarget = {
  name: "ndjson",
  about: "NdjsonDecoder never throws, points valid, errors name lines, chunking changes nothing",
  inputs: ndjsonInputs,
  open() {
    const outcomes: Record<string, number> = {};
    return Promise.resolve({
      outcomes,
      check(body: Uint8Array) {
        const whole = decode([body]);
        checkPoints(whole.points, "ndjson");
        count(outcomes, whole.points.length > 0 ? "points" : "no points");
        let lines = 1;
        for (const b of body) if (b === 10) lines++;
        for (const e of whole.errors) {
          demand(
            Number.isInteger(e.line) && e.line! >= 1 && e.line! <= lines && e.reason !== "",
            () => `a malformed error ${JSON.stringify(e)} (body of ${lines} lines)`,
          );
        }
        const split = decode(chunksOf(body));
        demand(
          pointsText(split.points) === pointsText(whole.points),
          "chunked NDJSON decodes to other points than the whole body",
        );
        demand(
          JSON.stringify(split.errors) === JSON.stringify(whole.errors),
          () =>
            `chunked NDJSON reports other errors: ${JSON.stringify(split.errors).slice(0, 300)} ` +
            `vs ${JSON.stringify(whole.errors).slice(0, 300)}`,
        );
      },
      close: () => Promise.resolve(),
    });
  },
};
