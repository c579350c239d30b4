/**
 * Doubling tests (see doubling_test.ts and `_doubling.ts`) for the other parsers: JSON, NDJSON,
 * CSV, protobuf, remote_write, WAL records and segment files, each on inputs that are long in
 * the way its parser is most likely to be slow (many records, many bad records, one long value,
 * one record of many parts, small chunks). 4n taking 7 times n or more fails.
 */
import snappy from "snappyjs";
import { FieldType, type Point } from "../../src/core/mod.ts";
import { CrashFileSystem } from "../../src/core/testing/mod.ts";
import {
  decodeCsvStream,
  decodeJsonPoints,
  decodePromWrite,
  decodeProtobufWrite,
  NdjsonDecoder,
  uncompressSnappy,
} from "../../src/ingest/mod.ts";
import {
  BlockCache,
  encodeSegment,
  SegmentReader,
  type SegmentSeriesInput,
} from "../../src/storage/segment/mod.ts";
import { decodeWriteBatch, encodeWriteBatch, WriteBatchLayout } from "../../src/storage/wal/mod.ts";
import { assertDoublingLinear } from "./_doubling.ts";
import { ProtoWriter } from "./targets/_proto.ts";
import { column } from "./targets/segment.ts";

const enc = new TextEncoder();
const EPOCH = { ms: 0, subMs: 0 };
const compress = (snappy as { compress(b: Uint8Array): Uint8Array }).compress;

/** Runs each case as a step: [name, make, run, first n, largest n]. */
async function steps<T>(
  t: Deno.TestContext,
  cases: [string, (n: number) => T, (input: T) => unknown, number, number?][],
): Promise<void> {
  for (const [name, make, run, n, maxN] of cases) {
    await t.step(name, async () => void await assertDoublingLinear(name, make, run, { n, maxN }));
  }
}

/**
 * Tags of one point, at most (n); 4n of about 10 bytes each is a series key past line
 * protocol's limit of 65,535 bytes. Beyond that, one point of 32,000 to 128,000 tags grows by
 * about 2.4 per doubling in protobuf and remote_write (the young-generation GC copies every live
 * tag object again at each scavenge): see /work/notes/fuzz.md.
 */
const MAX_TAGS_N = 2000;

/** Two CSV rows, the first holding bytes that are not UTF-8. */
const BAD_UTF8_ROWS = new Uint8Array([
  ...new TextEncoder().encode("1678886400"),
  0xfe,
  0xff,
  0xff,
  0xff,
  ...new TextEncoder().encode(",m,1\n1678886400000\n"),
]);

/** `head` then `n` copies of `unit`. */
function repeated(head: Uint8Array, unit: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(head.length + unit.length * n);
  out.set(head);
  for (let i = 0; i < n; i++) out.set(unit, head.length + i * unit.length);
  return out;
}

/** `body` cut into chunks of `size` bytes. */
function chunks(body: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < body.length; at += size) out.push(body.subarray(at, at + size));
  return out;
}

Deno.test("doubling: JSON", async (t) => {
  const json = (b: string) => {
    try {
      return decodeJsonPoints(b, { defaultTime: EPOCH });
    } catch (error) {
      return error; // a body that is not JSON is refused whole: that is its outcome
    }
  };
  await steps(t, [
    [
      "many records",
      (n) =>
        `[${Array(n).fill('{"measurement":"m","tags":{"h":"a"},"fields":{"v":1.5}}').join(",")}]`,
      json,
      500,
    ],
    [
      "many bad records",
      (n) => `[${Array(n).fill('{"measurement":"m","x":1},{"fields":{"v":[]}}').join(",")}]`,
      json,
      500,
    ],
    [
      "a long string of escapes",
      (n) => `[{"measurement":"m","fields":{"s":"${'\\"\\u00e9\\n'.repeat(n)}"}}]`,
      json,
      1000,
    ],
    [
      "one record of many fields",
      (n) =>
        `[{"measurement":"m","fields":{${
          Array.from({ length: n }, (_, i) => `"f${i}":${i}`).join(",")
        }}}]`,
      json,
      500,
    ],
    [
      "a syntax error after a long body",
      (n) => `[${'{"measurement":"m","value":1},'.repeat(n)}}`,
      json,
      500,
    ],
  ]);
});

Deno.test("doubling: NDJSON in 64-byte chunks", async (t) => {
  const ndjson = (parts: Uint8Array[]) => {
    const d = new NdjsonDecoder({ defaultTime: EPOCH });
    for (const p of parts) d.push(p);
    d.finish();
  };
  await steps(t, [
    [
      "many lines",
      (n) => chunks(enc.encode('{"measurement":"m","tags":{"h":"a"},"value":1}\n'.repeat(n)), 64),
      ndjson,
      500,
    ],
    [
      "many malformed lines",
      (n) => chunks(enc.encode('{"measurement":"m",\n{"x":1}\n\ufeff[]\n'.repeat(n)), 64),
      ndjson,
      500,
    ],
    [
      "one long line",
      (n) => chunks(enc.encode(`{"measurement":"m","value":"${"x".repeat(n)}"}\n`), 64),
      ndjson,
      5000,
    ],
  ]);
});

Deno.test("doubling: CSV in 64-byte chunks", async (t) => {
  const csv = async (parts: Uint8Array[]) => {
    for await (const _ of decodeCsvStream(ReadableStream.from(parts), { defaultTime: EPOCH })) {
      // drained
    }
  };
  await steps(t, [
    [
      "many rows",
      (n) => chunks(enc.encode("measurement,time,host,v\n" + "m,1,a,1.5\n".repeat(n)), 64),
      csv,
      200,
    ],
    [
      "many bad rows",
      (n) =>
        chunks(
          enc.encode(
            "time,measurement,host,region,usage,count\n" + "2023-03-15T13:2count\n".repeat(n),
          ),
          64,
        ),
      csv,
      200,
    ],
    [
      "a long quoted value of doubled quotes",
      (n) => chunks(enc.encode(`measurement,s\nm,"${'a""'.repeat(n)}"\n`), 64),
      csv,
      1000,
    ],
    [
      // Type inference tried the float pattern on it: quadratic backtracking before 2af8808.
      "a long digit run in a cell whose type is inferred",
      (n) => chunks(enc.encode(`measurement,v\nm,"${"1".repeat(n)}x"\n`), 64),
      csv,
      1000,
    ],
    [
      // One chunk: each refused row spliced the bad offsets it passed off the list of them all
      // (quadratic before; found by the CSV fuzz, seed 31, input 315666).
      "many rows holding bad UTF-8, in one chunk",
      (n) => [repeated(enc.encode("time,measurement,v\n"), BAD_UTF8_ROWS, n)],
      csv,
      // From 10,000: below that V8 trims the front of a small list in place (cheap).
      10_000,
    ],
    [
      // csv-parse built an error object for each row narrower than the first: 30-100 µs each.
      "many short ragged rows",
      (n) => chunks(enc.encode("measurement,time,host,v\n" + "m\nm,1\n".repeat(n)), 64),
      csv,
      200,
    ],
  ]);
});

Deno.test("doubling: protobuf", async (t) => {
  const decode = (b: Uint8Array) => decodeProtobufWrite(b, { defaultTime: EPOCH });
  const point = (tags: number) => {
    const p = new ProtoWriter().bytes(1, "m");
    // Tags in reverse order: the decoder must sort them.
    for (let i = tags; i > 0; i--) p.bytes(2, new ProtoWriter().bytes(1, `t${i}`).bytes(2, "v"));
    return p.bytes(3, new ProtoWriter().bytes(1, "f").double(2, 1.5)).int(4, 1n);
  };
  await steps(t, [
    [
      "many points",
      (n) => {
        const w = new ProtoWriter(), p = point(2).finish();
        for (let i = 0; i < n; i++) w.bytes(3, p);
        return w.finish();
      },
      decode,
      500,
    ],
    [
      "one point of many tags, reversed",
      (n) => new ProtoWriter().bytes(3, point(n)).finish(),
      decode,
      250,
      MAX_TAGS_N,
    ],
  ]);
});

Deno.test("doubling: remote_write", async (t) => {
  const series = (labels: number) => {
    const s = new ProtoWriter();
    s.bytes(1, new ProtoWriter().bytes(1, "__name__").bytes(2, "up"));
    for (let i = labels; i > 0; i--) s.bytes(1, new ProtoWriter().bytes(1, `l${i}`).bytes(2, "v"));
    return s.bytes(2, new ProtoWriter().double(1, 1).int(2, 1678886400000n));
  };
  const decode = (b: Uint8Array) => decodePromWrite(uncompressSnappy(b, 256 * 1024 * 1024));
  await steps(t, [
    [
      "many series, snappy",
      (n) => {
        const w = new ProtoWriter(), s = series(3).finish();
        for (let i = 0; i < n; i++) w.bytes(1, s);
        return compress(w.finish());
      },
      decode,
      500,
    ],
    [
      "one series of many labels, reversed",
      (n) => compress(new ProtoWriter().bytes(1, series(n)).finish()),
      decode,
      250,
      MAX_TAGS_N,
    ],
  ]);
});

Deno.test("doubling: WAL records", async (t) => {
  const points = (n: number, text: string): Point[] =>
    Array.from({ length: n }, (_, i) => ({
      measurement: "cpu",
      tags: [{ key: "host", value: `h${i % 50}` }],
      fields: [
        { key: "v", type: FieldType.Float, value: i / 3 },
        { key: "s", type: FieldType.String, value: text },
      ],
      timeMs: 1_700_000_000_000 + i,
      timeSubMs: 0,
    }));
  const batch = (p: Point[]) =>
    encodeWriteBatch({ database: "db", retentionPolicy: "rp", points: p });
  await steps(t, [
    [
      "many points, interned",
      (n) => batch(points(n, "x")),
      (b) => decodeWriteBatch(b, "f.wal", 8, WriteBatchLayout.Interned),
      500,
    ],
    [
      "one long string",
      (n) => batch(points(1, "\u00e9x".repeat(n))),
      (b) => decodeWriteBatch(b, "f.wal", 8, WriteBatchLayout.Interned),
      5000,
    ],
  ]);
});

Deno.test("doubling: segment files", async (t) => {
  const fs = new CrashFileSystem();
  await fs.mkdir("/s");
  let files = 0;
  const write = (series: SegmentSeriesInput[], blockValues: number) => {
    const path = `/s/${++files}.seg`;
    return { path, bytes: encodeSegment(series, { level: 0, blockValues }) };
  };
  const seriesOf = (i: number, n: number): SegmentSeriesInput => ({
    key: `cpu,host=h${i}`,
    measurement: "cpu",
    tags: [{ key: "host", value: `h${i}` }],
    fields: new Map([["v", column(FieldType.Float, n, 1_700_000_000_000, 10, i)]]),
  });
  const read = async (file: { path: string; bytes: Uint8Array }) => {
    await fs.writeFileAtomic(file.path, file.bytes);
    const reader = await SegmentReader.open(fs, file.path, new BlockCache(1000));
    try {
      for (const [, s] of reader.series) {
        for (const [, f] of s.fields) {
          for (const meta of f.blocks) await reader.readBlock(f.type, meta);
        }
      }
    } finally {
      await reader.close();
    }
  };
  await steps(t, [
    [
      "many series",
      (n) => write(Array.from({ length: n }, (_, i) => seriesOf(i, 2)), 1000),
      read,
      100,
    ],
    ["one series of many blocks", (n) => write([seriesOf(0, n)], 8), read, 500],
  ]);
});
