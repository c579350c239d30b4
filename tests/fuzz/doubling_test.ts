/**
 * Each parser, on families of worst-case inputs, takes about twice the CPU time for twice the
 * input (security issue #12: a quadratic path is a denial of service). `_doubling.ts` measures;
 * 4n taking 7 times n or more (three attempts) fails. Families already guarded elsewhere are not
 * repeated: thousands of unsorted tags and repeated fields in line protocol
 * (line_protocol_cost_test.ts), InfluxQL's ANDs, field lists, strings and statements
 * (parse_scaling_test.ts).
 */
import { LineProtocolDecoder, parseLineProtocol } from "../../src/ingest/mod.ts";
import { parseQuery } from "../../src/query/mod.ts";
import { cutLiterals } from "../../src/query/statement_templates.ts";
import { assertDoublingLinear } from "./_doubling.ts";

const enc = new TextEncoder();
/** Fields of one point, at most (n): see the case "many distinct fields". */
const MAX_FIELDS_N = 8_000;
const EPOCH = { ms: 0, subMs: 0 };

/** Feeds `body` to a streaming decoder in chunks of `size` bytes. */
function decodeInChunks(body: Uint8Array, size: number): void {
  const decoder = new LineProtocolDecoder({ defaultTime: EPOCH });
  for (let at = 0; at < body.length; at += size) decoder.push(body.subarray(at, at + size));
  decoder.finish();
}

Deno.test("doubling: line protocol", async (t) => {
  /** [name, make, run, first n, largest n]. */
  const cases: [string, (n: number) => Uint8Array, (b: Uint8Array) => unknown, number, number?][] =
    [
      [
        "many lines",
        (n) => enc.encode("cpu,host=a,region=b usage=0.5,count=3i 1\n".repeat(n)),
        (b) => parseLineProtocol(b, { defaultTime: EPOCH }),
        1000,
      ],
      [
        "a long string of escapes",
        (n) => enc.encode(`m s="${'\\"\\\\'.repeat(n)}" 1`),
        (b) => parseLineProtocol(b, { defaultTime: EPOCH }),
        1000,
      ],
      [
        "a long escaped measurement and tag",
        (n) => enc.encode(`m${"\\ \\,".repeat(n)},t=${"\\=\\ ".repeat(n)} v=1 1`),
        (b) => parseLineProtocol(b, { defaultTime: EPOCH }),
        1000,
      ],
      [
        "many distinct fields",
        (n) => enc.encode("m " + Array.from({ length: n }, (_, i) => `f${i}=${i}i`).join(",")),
        (b) => parseLineProtocol(b, { defaultTime: EPOCH }),
        1000,
        // 4n = 32,000 fields (a 300 KB point). Past ~50,000 live field keys every young-generation
        // scavenge copies them all again and each doubling costs 2.2-7× (measured on 2.9.6), a
        // property of V8's collector and of no parser.
        MAX_FIELDS_N,
      ],
      [
        "many bad lines",
        (n) => enc.encode('m,=x v=1\nm v="\n1\nm v=tru\n'.repeat(n)),
        (b) => parseLineProtocol(b, { defaultTime: EPOCH }),
        500,
      ],
      [
        "one long line streamed in 256-byte chunks",
        (n) => enc.encode(`m s="${"x".repeat(n)}" 1\n`),
        (b) => decodeInChunks(b, 256),
        20_000,
      ],
      [
        "a string of newlines streamed in 64-byte chunks",
        (n) => enc.encode(`m s="${"a\n".repeat(n)}" 1\n`),
        (b) => decodeInChunks(b, 64),
        10_000,
      ],
    ];
  for (const [name, make, run, n, maxN] of cases) {
    await t.step(name, async () => void await assertDoublingLinear(name, make, run, { n, maxN }));
  }
});

/** Parses a query, keeping a syntax error as the outcome it is. */
function parseOrError(text: string): unknown {
  try {
    return parseQuery(text);
  } catch (error) {
    return error;
  }
}

Deno.test("doubling: InfluxQL", async (t) => {
  const cases: [string, (n: number) => string, number][] = [
    [
      "a long identifier before a syntax error",
      (n) => `SELECT mean(${"u".repeat(n)}) FROM (SELECT v FROM cpu WHERE0 = 1)`,
      4000,
    ],
    // The place of an early end looked for the last word with /[A-Za-z0-9_µ]+$/, which tries
    // every start in a long run of word characters: quadratic (found by tests/fuzz).
    ["a long word, then an early end", (n) => `SELECT ${"u".repeat(n)} +`, 4000],
    ["a long quoted identifier of escapes", (n) => `SELECT "${'\\"'.repeat(n)}" FROM m`, 1000],
    ["a long regex", (n) => `SELECT v FROM m WHERE host =~ /${"a\\/".repeat(n)}/`, 1000],
    ["an unterminated string", (n) => `SELECT v FROM m WHERE host = '${"x\\'".repeat(n)}`, 1000],
    ["comments", (n) => `SELECT v /* ${"*".repeat(n)} */ FROM m -- ${"-".repeat(n)}`, 1000],
    [
      "groups nested near the limit, side by side",
      (n) =>
        `SELECT v FROM m WHERE ${
          Array(n).fill(`${"(".repeat(150)}v${")".repeat(150)}`).join(" OR ")
        }`,
      4,
    ],
  ];
  for (const [name, make, n] of cases) {
    await t.step(
      name,
      async () => void await assertDoublingLinear(name, make, parseOrError, { n }),
    );
  }
});

Deno.test("doubling: the statement templates' literal scan over many quoted names", async () => {
  // Each quoted name once looked back for a backslash from its end to the text's start.
  const make = (n: number) =>
    `SELECT ${Array.from({ length: n }, () => '"a"').join(",")} FROM m WHERE h = 'x'`;
  await assertDoublingLinear("many quoted names", make, cutLiterals, { n: 1000 });
});
