/**
 * Line protocol (src/ingest/line_protocol.ts): `parseLineProtocol` on the whole body never
 * throws, every point it returns keeps core's contract and every error names a line and a
 * column; the streaming `LineProtocolDecoder`, fed the same body cut into chunks, decodes exactly
 * the same points and errors; each decoded point, formatted back (`formatLineProtocol`), parses
 * to itself (but for the documented limits: names with a backslash or a newline, a measurement
 * starting with `#`).
 * @module
 */
import fc from "fast-check";
import type { Point, Precision } from "../../../src/core/mod.ts";
import {
  formatLineProtocol,
  type LineError,
  LineProtocolDecoder,
  parseLineProtocol,
} from "../../../src/ingest/mod.ts";
import { bytesOf, structuredAndMutated } from "../_mutate.ts";
import { checkPoints, pointsText } from "../_points.ts";
import { hashBytes } from "../_random.ts";
import { bytesOfAll, LINE_PROTOCOL_SAMPLES, LINE_PROTOCOL_TOKENS } from "../_samples.ts";
import { demand, type FuzzTarget } from "../_target.ts";

const NOW = { ms: 1_700_000_000_000, subMs: 123_456 };
const PRECISIONS: Precision[] = ["ns", "u", "ms", "s", "m", "h"];

/** A name as written in a line: plain, escaped, unicode or invalid UTF-8. */
const name: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("cpu", "m", "host", "region", "usage_user", "value") },
  {
    weight: 4,
    arbitrary: fc.array(
      fc.constantFrom(
        "a",
        "b",
        "Z",
        "0",
        "_",
        "\\,",
        "\\ ",
        "\\=",
        '\\"',
        "\\\\",
        "\\",
        ",",
        "=",
        " ",
        '"',
        "#",
        "\t",
        "\u00e9",
        "\u{1f600}",
        "\u0000",
      ),
      { minLength: 1, maxLength: 12 },
    ).map((parts) => parts.join("")),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      Uint8Array.of(0xff),
      Uint8Array.of(0xc3),
      Uint8Array.of(0xed, 0xa0, 0x80),
      Uint8Array.of(0xf4, 0x90, 0x80, 0x80),
    ),
  },
  { weight: 1, arbitrary: fc.nat(300).map((n) => "k".repeat(n + 1)) },
);

/** A field value as written: every type, every spelling, the edges of every range. */
const fieldValue: fc.Arbitrary<string> = fc.oneof(
  fc.double().map((v) => String(v)),
  fc.double({ noDefaultInfinity: true, noNaN: true }).map((v) => v.toExponential()),
  fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map((v) => `${v}i`),
  fc.bigInt({ min: -1n, max: 2n ** 65n }).map((v) => `${v}u`),
  fc.constantFrom(
    "1",
    "-1.5",
    ".5",
    "1.",
    "-0",
    "+1",
    "1e309",
    "-1e309",
    "4.9e-324",
    "1e-400",
    "NaN",
    "Inf",
    "-Inf",
    "inf",
    "9223372036854775807i",
    "9223372036854775808i",
    "-9223372036854775808i",
    "-9223372036854775809i",
    "18446744073709551615u",
    "18446744073709551616u",
    "-1u",
    "1.5i",
    "0x10",
    "t",
    "T",
    "true",
    "True",
    "TRUE",
    "f",
    "F",
    "false",
    "False",
    "FALSE",
    "tru",
    "",
    '"',
    '""',
  ),
  fc.array(
    fc.constantFrom("a", " ", ",", "=", "\\", '\\"', "\\\\", "\n", "\\n", "\u00e9", "\u{1f600}"),
    { maxLength: 20 },
  ).map((parts) => `"${parts.join("")}"`),
  fc.nat(100).map((n) => `"${'\\"'.repeat(n)}"`),
);

const timestamp: fc.Arbitrary<string> = fc.oneof(
  fc.constant(""),
  fc.bigInt({ min: -(2n ** 63n) - 10n, max: 2n ** 63n + 10n }).map((v) => ` ${v}`),
  fc.constantFrom(
    " 0",
    " 1678886400000000000",
    " 1678886400",
    " -9223372036854775806",
    " 9223372036854775806",
    " 9223372036854775807",
    " -9223372036854775807",
    " -9223372036854775808",
    " 99999999999999999999999",
    " 1.5",
    " -0",
    " +1",
    " 1e9",
    " 12a",
    "  1",
    " 1 2",
  ),
);

/** One line: mostly valid shapes, with the separators and counts pushed around. */
const line: fc.Arbitrary<Uint8Array> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      measurement: name,
      tags: fc.array(fc.tuple(name, name), { maxLength: 6 }),
      fields: fc.array(fc.tuple(name, fieldValue), { minLength: 1, maxLength: 6 }),
      time: timestamp,
      lead: fc.constantFrom("", "", "", " ", "\t", "  "),
    }).map(({ measurement, tags, fields, time, lead }) => {
      const parts: (string | Uint8Array)[] = [lead, measurement];
      for (const [k, v] of tags) parts.push(",", k, "=", v);
      fields.forEach(([k, v], i) => parts.push(i === 0 ? " " : ",", k, "=", v));
      parts.push(time);
      return bytesOf(...parts);
    }),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom("# comment", "", "   ", "\t# indented", "m").map(bytesOf),
  },
);

/**
 * One large line (about one input in a hundred): many tags or fields (past InfluxDB's
 * 65,535-byte key, in an order a sort must fix, repeated), a very long key, or a long string of
 * escapes.
 */
const largeLine: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.record({
    tags: fc.constantFrom(0, 10, 1000, 20_000, 65_536),
    fields: fc.constantFrom(1, 10, 1000, 20_000, 65_536),
    reversed: fc.boolean(),
    repeat: fc.boolean(),
  }).map(({ tags, fields, reversed, repeat }) => {
    let out = "m";
    for (let i = 0; i < tags; i++) out += `,t${reversed ? tags - i : i}=v`;
    out += " ";
    for (let i = 0; i < fields; i++) out += `${i ? "," : ""}f${repeat ? i % 7 : i}=${i}i`;
    return bytesOf(out, " 1");
  }),
  fc.constantFrom(65_535, 65_536, 70_000, 1_000_000).map((n) => bytesOf("k".repeat(n), " v=1")),
  fc.constantFrom(1000, 100_000, 500_000).map((n) => bytesOf(`m s="${'\\"'.repeat(n)}"`)),
  fc.constantFrom(1000, 100_000).map((n) => bytesOf(`m${",a\\,\\ \\==b".repeat(n)} v=1`)),
);

/** A body: lines joined by newlines (LF or CRLF), sometimes without a final newline. */
export const lineProtocolBodies: fc.Arbitrary<Uint8Array> = fc.record({
  lines: fc.array(line, { minLength: 1, maxLength: 12 }),
  crlf: fc.boolean(),
  final: fc.boolean(),
}).map(({ lines, crlf, final }) => {
  const parts: Uint8Array[] = [];
  const nl = bytesOf(crlf ? "\r\n" : "\n");
  lines.forEach((l, i) => {
    if (i > 0) parts.push(nl);
    parts.push(l);
  });
  if (final) parts.push(nl);
  return bytesOf(...parts);
});

/** Inputs of the line-protocol fuzzers (also the HTTP fuzzer's `/write` bodies). */
export const lineProtocolInputs: fc.Arbitrary<Uint8Array> = structuredAndMutated(
  fc.oneof({ weight: 99, arbitrary: lineProtocolBodies }, { weight: 1, arbitrary: largeLine }),
  bytesOfAll(LINE_PROTOCOL_SAMPLES),
  LINE_PROTOCOL_TOKENS,
);

function checkErrors(errors: readonly LineError[], lines: number, where: string): void {
  for (const e of errors) {
    demand(
      Number.isInteger(e.line) && e.line >= 1 && e.line <= lines &&
        Number.isInteger(e.column) && e.column >= 1 && typeof e.reason === "string" &&
        e.reason !== "" && typeof e.text === "string",
      () => `${where}: a malformed error ${JSON.stringify(e)} (body of ${lines} lines)`,
    );
  }
}

/** Names line protocol cannot carry (line_protocol_format.ts says so). */
function formattable(p: Point): boolean {
  const bad = (s: string) => s.includes("\\") || s.includes("\n");
  return !bad(p.measurement) && !p.measurement.startsWith("#") &&
    !p.tags.some((t) => bad(t.key) || bad(t.value)) && !p.fields.some((f) => bad(f.key));
}

/** Cuts `body` into chunks at places derived from its bytes (so a regression replays them). */
function chunksOf(body: Uint8Array): Uint8Array[] {
  let h = hashBytes(body);
  const out: Uint8Array[] = [];
  for (let at = 0; at < body.length;) {
    h = Math.imul(h ^ (h >>> 13), 0x5bd1e995) >>> 0;
    const size = 1 + (h % 4 === 0 ? h % 3 : h % 97);
    out.push(body.subarray(at, at + size));
    at += size;
  }
  return out;
}

export const lineProtocolTarget: FuzzTarget = {
  name: "line-protocol",
  about: "parseLineProtocol and the chunked LineProtocolDecoder agree, never throw, " +
    "and return only valid points that format back to themselves",
  inputs: lineProtocolInputs,
  open() {
    return Promise.resolve({
      check(body: Uint8Array) {
        const precision = PRECISIONS[hashBytes(body) % PRECISIONS.length];
        const whole = parseLineProtocol(body, { defaultTime: NOW, precision });
        let lines = 1;
        for (const b of body) if (b === 10) lines++;
        checkPoints(whole.points, "parse");
        checkErrors(whole.errors, lines, "parse");
        // The same bytes at an unaligned offset, ending their buffer (as a network chunk may).
        const shifted = new Uint8Array(body.length + 1);
        shifted.set(body, 1);
        const moved = parseLineProtocol(shifted.subarray(1), { defaultTime: NOW, precision });
        demand(
          pointsText(moved.points) === pointsText(whole.points) &&
            JSON.stringify(moved.errors) === JSON.stringify(whole.errors),
          "the body parses differently at another offset of its buffer",
        );

        const decoder = new LineProtocolDecoder({ defaultTime: NOW, precision });
        const points: Point[] = [], errors: LineError[] = [];
        for (const chunk of chunksOf(body)) {
          const r = decoder.push(chunk);
          points.push(...r.points);
          errors.push(...r.errors);
        }
        const last = decoder.finish();
        points.push(...last.points);
        errors.push(...last.errors);
        demand(
          pointsText(points) === pointsText(whole.points),
          "the chunked decoder's points differ from the whole body's",
        );
        demand(
          JSON.stringify(errors) === JSON.stringify(whole.errors),
          () =>
            `the chunked decoder's errors differ: ${JSON.stringify(errors).slice(0, 300)} vs ${
              JSON.stringify(whole.errors).slice(0, 300)
            }`,
        );

        for (const p of whole.points) {
          if (!formattable(p)) continue;
          const text = formatLineProtocol(p, "ns");
          const again = parseLineProtocol(new TextEncoder().encode(text), { defaultTime: NOW });
          demand(
            again.errors.length === 0 && pointsText(again.points) === pointsText([p]),
            () =>
              `formatted point does not parse back: ${text.slice(0, 200)} -> ${
                JSON.stringify(again.errors).slice(0, 200)
              } ${pointsText(again.points).slice(0, 200)} vs ${pointsText([p]).slice(0, 200)}`,
          );
        }
      },
      close: () => Promise.resolve(),
    });
  },
};
