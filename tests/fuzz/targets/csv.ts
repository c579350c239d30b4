/**
 * CSV (src/ingest/csv_points.ts): `decodeCsvStream` ends or throws a `ParseError` (broken CSV,
 * with its line) or a `ValidationError` (a header that does not fit the options); every point
 * keeps core's contract, every refused row is named by its record number; and the outcome does
 * not depend on how the stream was cut into chunks.
 * @module
 */
import fc from "fast-check";
import { ParseError, type Point, ValidationError } from "../../../src/core/mod.ts";
import { type CsvOptions, decodeCsvStream, type IngestIssue } from "../../../src/ingest/mod.ts";
import { structuredAndMutated } from "../_mutate.ts";
import { checkPoints, pointsText } from "../_points.ts";
import { hashBytes } from "../_random.ts";
import { bytesOfAll, CSV_SAMPLES, CSV_TOKENS } from "../_samples.ts";
import { count, demand, expectOnlyAsync, type FuzzTarget } from "../_target.ts";

const enc = new TextEncoder();
const NOW = { ms: 1_700_000_000_000, subMs: 0 };

const column = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom("time", "measurement", "host", "region", "usage", "n") },
  {
    weight: 2,
    arbitrary: fc.constantFrom("", "__proto__", "constructor", "toString", "a,b", 'a"b', "\u00e9"),
  },
);

const cell = fc.oneof(
  fc.constantFrom("", "a", "cpu", "0.5", "-3", "+4", "1e3", "1e400", ".5", "1.", "true", "FALSE"),
  fc.constantFrom("9223372036854775807", "9223372036854775808", "18446744073709551616", "-0"),
  fc.constantFrom("2023-03-15T13:20:00Z", "1678886400", "1678886400000000000", "x", " 1 "),
  fc.string({ maxLength: 10, unit: "binary" }),
);

/** A cell as written: bare, or quoted with quotes doubled (then it may hold , " and newlines). */
const written = fc.tuple(cell, fc.boolean()).map(([c, quoted]) =>
  quoted || /[",\r\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c
);

/** A CSV body: a header, rows of about its width, CRLF or LF, maybe a BOM. */
export const csvBodies: fc.Arbitrary<string> = fc.record({
  header: fc.array(column, { minLength: 1, maxLength: 6 }),
  rows: fc.array(fc.array(written, { maxLength: 7 }), { maxLength: 12 }),
  eol: fc.constantFrom("\n", "\r\n", "\r"),
  bom: fc.boolean(),
}).map(({ header, rows, eol, bom }) =>
  (bom ? "\ufeff" : "") + [header.join(","), ...rows.map((r) => r.join(","))].join(eol) + eol
);

/** Inputs of the CSV fuzzer (also the HTTP fuzzer's CSV bodies). */
export const csvInputs = structuredAndMutated(
  csvBodies.map((t) => enc.encode(t)),
  bytesOfAll(CSV_SAMPLES),
  CSV_TOKENS,
);

/** The request options a body is decoded with (picked by its bytes, so a file replays). */
const OPTIONS: Omit<CsvOptions, "defaultTime">[] = [
  {},
  { tags: ["host"] },
  { tags: ["host", "region"], measurement: "m" },
  { measurement: "m", precision: "s", inferRows: 2, batchRows: 2 },
  { types: { usage: "integer" }, measurement: "m" },
  { types: { n: "unsigned", usage: "boolean" }, timeColumn: "n", measurementColumn: "host" },
];

async function decode(
  chunks: Uint8Array[],
  options: CsvOptions,
): Promise<{ points: Point[]; errors: IngestIssue[] }> {
  const points: Point[] = [], errors: IngestIssue[] = [];
  for await (const b of decodeCsvStream(ReadableStream.from(chunks), options)) {
    points.push(...b.points);
    errors.push(...b.errors);
  }
  return { points, errors };
}

function chunksOf(body: Uint8Array): Uint8Array[] {
  let h = hashBytes(body);
  const out: Uint8Array[] = [];
  for (let at = 0; at < body.length;) {
    h = Math.imul(h ^ (h >>> 13), 0x5bd1e995) >>> 0;
    const size = 1 + (h % 64);
    out.push(body.subarray(at, at + size));
    at += size;
  }
  return out;
}

/** The outcome as text: points and errors, or the error thrown. */
async function outcome(chunks: Uint8Array[], options: CsvOptions): Promise<string> {
  const r = await expectOnlyAsync(() => decode(chunks, options), [ParseError, ValidationError])
    .catch((e) => {
      throw e;
    });
  if (r === undefined) return "refused";
  checkPoints(r.points, "csv");
  for (const e of r.errors) {
    demand(
      Number.isInteger(e.record) && e.record! >= 1 && typeof e.reason === "string" &&
        e.reason !== "",
      () => `a malformed row error ${JSON.stringify(e)}`,
    );
  }
  return `${pointsText(r.points)} ${JSON.stringify(r.errors)}`;
}

export const csvTarget: FuzzTarget = {
  name: "csv",
  about: "decodeCsvStream throws only ParseError/ValidationError; points valid; chunking " +
    "changes nothing",
  inputs: csvInputs,
  open() {
    const outcomes: Record<string, number> = {};
    return Promise.resolve({
      outcomes,
      async check(body: Uint8Array) {
        const options = { ...OPTIONS[hashBytes(body) % OPTIONS.length], defaultTime: NOW };
        const whole = await outcome([body], options);
        count(
          outcomes,
          whole === "refused" ? "refused" : whole.startsWith("[]") ? "no points" : "points",
        );
        const split = await outcome(chunksOf(body), options);
        demand(
          split === whole,
          () => `chunked CSV decodes differently: ${split.slice(0, 300)} vs ${whole.slice(0, 300)}`,
        );
      },
      close: () => Promise.resolve(),
    });
  },
};
